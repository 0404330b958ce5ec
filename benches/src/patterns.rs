//! What the propagation benches (`benches/propagation.rs` over HTTP in process,
//! `benches/grpc.rs` over tonic) share: the edge's verified request context and the
//! verifiers and issuers of each pattern, built the same way for both.

use std::sync::{Arc, Mutex};

use http::{Request, Response};
use jsonwebtoken::Algorithm;
use principal::{Audience, ClaimMapping, Clock, Issuer, ServiceId, SystemClock};
use tower::util::BoxCloneService;
use tower::{Layer, ServiceExt, service_fn};
use tower_auth::Pattern;
use tower_auth::authenticate::AuthenticateLayer;
use tower_auth::context::{self, RequestContext};
use tower_auth::dev_idp::DevIdp;
use tower_auth::jwks::{KeySet, KeySetPolicy};
use tower_auth::jwt::{IssuerConfig, JwtVerifier};
use tower_auth::mint::{InternalIssuer, SigningAlgorithm, SigningKey};
use tower_auth::propagate::BoxError;
use tower_auth::token_cache::TokenCacheConfig;

use crate::ready;

/// The audience of the external token (the edge's API).
pub const EDGE_AUDIENCE: &str = "https://api.example.com";

/// The request id of the edge request (a passport carries it along the chain).
pub const REQUEST_ID: &str = "0d9c7e3a-5b1f-4c2e-9a8d-7f6e5d4c3b2a";

/// A boxed HTTP service of the benches' request and response types.
pub type Boxed = BoxCloneService<Request<String>, Response<String>, BoxError>;

/// A handler that keeps the request context it runs in, in `slot` (setup only).
pub fn recorder(slot: Arc<Mutex<Option<RequestContext>>>) -> Boxed {
    BoxCloneService::new(service_fn(move |_: Request<String>| {
        *slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = context::current();
        std::future::ready(Ok::<_, BoxError>(Response::new(String::new())))
    }))
}

/// The keys of a JWKS document.
///
/// # Panics
/// When `jwks` is no key set (a bench set up wrong).
pub fn key_set_json(jwks: &[u8]) -> KeySet {
    KeySet::from_jwks_json(jwks, &KeySetPolicy::default())
        .expect("a JWKS")
        .set
}

/// The reference Principal's token from `idp`, ES256: the external credential at the edge.
///
/// # Panics
/// When the IdP cannot sign (a bench set up wrong).
pub fn edge_token(idp: &DevIdp) -> String {
    let mut claims = principal_proto::fixtures::reference_principal(SystemClock.now())
        .expect("the reference principal")
        .to_claims();
    claims.iss = Some(idp.issuer().to_owned());
    idp.issue(
        serde_json::to_value(&claims).expect("claims as JSON"),
        Algorithm::ES256,
    )
    .expect("an ES256 token")
}

/// The verifier of the external token, as every passthrough hop (and the edge) has it.
///
/// # Panics
/// When the IdP's configuration is refused (a bench set up wrong).
pub fn external_verifier(idp: &DevIdp, cache: TokenCacheConfig) -> JwtVerifier {
    JwtVerifier::builder()
        .issuer(
            IssuerConfig::builder(Issuer::new(idp.issuer()).expect("issuer"))
                .audience(Audience::new(EDGE_AUDIENCE).expect("audience"))
                .static_keys(key_set_json(idp.jwks().to_string().as_bytes()))
                .build()
                .expect("issuer config"),
        )
        .token_cache(cache)
        .build()
        .expect("verifier")
}

/// A receiving hop's verifier of the internal JWTs `issuer` mints for `audience`.
///
/// # Panics
/// When the configuration is refused (a bench set up wrong).
pub fn internal_verifier(
    issuer: &InternalIssuer,
    minted_by: &ServiceId,
    audience: &Audience,
    cache: TokenCacheConfig,
) -> JwtVerifier {
    let jwks = serde_json::to_vec(&issuer.jwks()).expect("JWKS as JSON");
    JwtVerifier::builder()
        .issuer(
            IssuerConfig::builder(issuer.issuer().clone())
                .audience(audience.clone())
                .static_keys(key_set_json(&jwks))
                .algorithms([Algorithm::ES256])
                .require_typ("at+jwt")
                .claim_mapping(ClaimMapping::baton())
                .minted_by(minted_by.clone())
                .build()
                .expect("issuer config"),
        )
        .pattern(Pattern::InternalJwt)
        .token_cache(cache)
        .build()
        .expect("verifier")
}

/// An internal issuer `https://{name}.internal` with a fresh ES256 key.
///
/// # Panics
/// When `name` makes no issuer URL (a bench set up wrong).
pub fn internal_issuer(name: &str) -> InternalIssuer {
    InternalIssuer::builder(
        Issuer::new(format!("https://{name}.internal")).expect("issuer"),
        SigningKey::generate(SigningAlgorithm::Es256).expect("ES256 key"),
    )
    .build()
    .expect("internal issuer")
}

/// The edge's request context: the external ES256 `token` verified, the token kept for
/// passthrough routes, the request id [`REQUEST_ID`].
///
/// # Panics
/// When the edge refuses the token (a bench set up wrong).
pub fn edge_context(idp: &DevIdp, token: &str) -> RequestContext {
    let slot = Arc::new(Mutex::new(None));
    let edge = AuthenticateLayer::new(Arc::new(external_verifier(
        idp,
        TokenCacheConfig::disabled(),
    )))
    .keep_bearer_token()
    .layer(recorder(Arc::clone(&slot)));
    let request = Request::builder()
        .header("authorization", format!("Bearer {token}"))
        .header("x-request-id", REQUEST_ID)
        .body(String::new())
        .expect("a request");
    let response = ready(edge.oneshot(request)).expect("the edge answers");
    assert_eq!(response.status(), 200, "the edge accepts the token");
    let ctx = slot
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .take();
    ctx.expect("the edge's handler ran in a context")
}
