//! What a hop saw: [`HopView`] from a verified request, and [`Hop`], its JSON form at the
//! edge.

use serde::{Deserialize, Serialize};
use tonic::{Request, Status};
use tonic_auth::PrincipalExt;
use tower_auth::VerifiedPrincipal;
use tower_auth::context::RequestContext;
use tower_auth::peer::PeerIdentity;

use super::proto::HopView;

/// What the hop `service` saw of `request`, behind tonic-auth's `GrpcAuthenticateLayer`:
/// the verified Principal, the calling service its credential names, the mTLS peer the
/// transport authenticated, the pattern and the request id.
///
/// ```
/// use tonic::{Code, Request};
/// use examples::demo::hop_view;
///
/// // A request no authenticate layer saw: refused, never anonymous.
/// let error = hop_view("documents", &Request::new(())).unwrap_err();
/// assert_eq!(error.code(), Code::Internal);
/// ```
///
/// # Errors
/// tonic-auth's status when the request carries no verified Principal.
pub fn hop_view<T>(service: &str, request: &Request<T>) -> Result<HopView, Status> {
    let verified = request.principal()?;
    let peer = request
        .extensions()
        .get::<PeerIdentity>()
        .map(|peer| peer.spiffe_id().to_string());
    let request_id = request
        .extensions()
        .get::<RequestContext>()
        .map(|context| context.request_id().as_str().to_owned());
    Ok(view(service, verified, peer, request_id))
}

pub(crate) fn view(
    service: &str,
    verified: &VerifiedPrincipal,
    peer: Option<String>,
    request_id: Option<String>,
) -> HopView {
    HopView {
        service: service.to_owned(),
        principal_id: verified.id().to_string(),
        subject: verified.subject().to_owned(),
        kind: verified.kind().to_string(),
        delegation: verified
            .delegation()
            .iter()
            .map(|actor| actor.id().to_string())
            .collect(),
        acting: verified.acting().to_string(),
        acting_subject: match verified.current_actor() {
            Some(actor) => actor.subject().unwrap_or_default().to_owned(),
            None => verified.subject().to_owned(),
        },
        caller: verified
            .caller()
            .map(|caller| caller.identity().to_string())
            .unwrap_or_default(),
        peer: peer.unwrap_or_default(),
        pattern: verified.pattern().as_str().to_owned(),
        request_id: request_id.unwrap_or_default(),
    }
}

/// A [`HopView`] as JSON (the edge's answer), with absent values as `None`.
///
/// ```
/// use examples::demo::Hop;
/// use examples::demo::proto::HopView;
///
/// let hop = Hop::from(HopView { service: "audit".into(), caller: String::new(), ..Default::default() });
/// assert_eq!(hop.service, "audit");
/// assert_eq!(hop.caller, None);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)] // The fields are HopView's, documented there.
pub struct Hop {
    pub service: String,
    pub principal_id: String,
    pub subject: String,
    pub kind: String,
    pub delegation: Vec<String>,
    pub acting: String,
    pub acting_subject: String,
    pub caller: Option<String>,
    pub peer: Option<String>,
    pub pattern: String,
    pub request_id: String,
}

fn non_empty(value: String) -> Option<String> {
    (!value.is_empty()).then_some(value)
}

impl From<HopView> for Hop {
    fn from(view: HopView) -> Self {
        Hop {
            service: view.service,
            principal_id: view.principal_id,
            subject: view.subject,
            kind: view.kind,
            delegation: view.delegation,
            acting: view.acting,
            acting_subject: view.acting_subject,
            caller: non_empty(view.caller),
            peer: non_empty(view.peer),
            pattern: view.pattern,
            request_id: view.request_id,
        }
    }
}
