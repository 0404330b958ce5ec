//! The proof that a verifier of this crate accepted a request's credentials.
//!
//! [`VerifiedPrincipal`] is the only thing the authenticate layer puts into request
//! extensions and the only thing extractors read.
//!
//! # What is guaranteed, and what is not
//!
//! - **Only this crate can make one from nothing.** The constructor is `pub(crate)`: a
//!   Principal that a handler, a middleware or a spoofed header assembled cannot be
//!   turned into a `VerifiedPrincipal` (DESIGN §2, the rustls "proof" idea with a
//!   payload). Every value traces back to a successful verification by a verifier of
//!   this crate.
//! - **It is not bound to a request or a token.** It is `Clone` and records neither the
//!   request nor the credential it came from. Any code that is given one (a middleware,
//!   a handler, a custom [`Verifier`](crate::verifier::Verifier) wrapping ours) can keep
//!   it and put it into another request's extensions, or return it from `verify` for
//!   another token; `http::Extensions` can even be cloned whole. So the guarantee is
//!   "some verifier of this crate accepted this Principal once, and it has not passed
//!   its `exp`", not "this request's credentials are this Principal's". Code that runs
//!   beside the layer is trusted code.
//! - **What the authenticate layer checks, and where**
//!   ([`AuthenticateService`](crate::authenticate::AuthenticateService)`::call`): it
//!   first removes any `VerifiedPrincipal` (and any
//!   [`RequestContext`](crate::context::RequestContext)) already in the request's
//!   extensions (put there by an outer layer), then verifies the request's own `Authorization` header
//!   and inserts the verdict on it, or in optional mode lets an anonymous request on
//!   without one. So behind the layer, and as long as nothing between it and the
//!   handler inserts one, the `VerifiedPrincipal` a handler reads is the verdict on that
//!   request's bearer token. Nothing re-checks that binding later: the extractors
//!   ([`extract`](crate::extract), feature `axum`) read whatever the extensions hold.
//!
//! Other crates that verify (tonic-auth's gRPC layers, for instance) get their
//! `VerifiedPrincipal` by calling a tower-auth [`Verifier`](crate::verifier::Verifier);
//! a new way of verifying (say, mTLS workload identity) becomes a verifier inside
//! tower-auth that takes the peer's evidence as input, not a public constructor.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use principal::{Audience, Principal, ServiceId};

use crate::peer::SpiffeId;

/// Which of the five trust patterns (DESIGN §4) verified a Principal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Pattern {
    /// 1. An external JWT verified against its issuer's JWKS.
    JwtPassthrough,
    /// 2. An internal JWT minted by the edge for this hop.
    InternalJwt,
    /// 3. An opaque token checked by RFC 7662 introspection.
    Introspection,
    /// 4. A Passport (serialized Principal) carried between hops.
    Passport,
    /// 5. The mTLS peer's workload identity (SPIFFE ID).
    Workload,
}

impl Pattern {
    /// A stable snake_case name for logs and metrics.
    ///
    /// ```
    /// assert_eq!(tower_auth::Pattern::JwtPassthrough.as_str(), "jwt_passthrough");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Pattern::JwtPassthrough => "jwt_passthrough",
            Pattern::InternalJwt => "internal_jwt",
            Pattern::Introspection => "introspection",
            Pattern::Passport => "passport",
            Pattern::Workload => "workload",
        }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who the calling service is, as the hop's credentials establish it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CallerIdentity {
    /// A Baton service: the service that minted the internal JWT, or that signed the
    /// passport (by its key id).
    Service(ServiceId),
    /// A workload authenticated by mutual TLS (its certificate's SPIFFE ID).
    Workload(SpiffeId),
}

impl fmt::Display for CallerIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallerIdentity::Service(id) => fmt::Display::fmt(id, f),
            CallerIdentity::Workload(id) => fmt::Display::fmt(id, f),
        }
    }
}

/// The service that called this hop and the evidence for it (DESIGN §2: a service knows,
/// beside the Principal, which service called it and under which pattern).
///
/// ```
/// use principal::ServiceId;
/// use tower_auth::{Caller, CallerIdentity, Pattern};
///
/// let caller = Caller::new(CallerIdentity::Service("svc-edge".parse::<ServiceId>()?), Pattern::Passport);
/// assert_eq!(caller.to_string(), "svc-edge (passport)");
/// # Ok::<(), principal::IdError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Caller {
    identity: CallerIdentity,
    pattern: Pattern,
}

impl Caller {
    /// `identity`, established under `pattern`.
    pub fn new(identity: CallerIdentity, pattern: Pattern) -> Self {
        Caller { identity, pattern }
    }

    /// Who called.
    pub fn identity(&self) -> &CallerIdentity {
        &self.identity
    }

    /// Under which pattern the caller is known.
    pub fn pattern(&self) -> Pattern {
        self.pattern
    }
}

impl fmt::Display for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.identity, self.pattern)
    }
}

/// A Principal that a verifier of this crate accepted, with the pattern that accepted it.
///
/// Cheap to clone (an `Arc`). Dereferences to the [`Principal`]. Only verifiers inside
/// tower-auth construct one; once made it can be cloned and moved like any value, so it
/// proves a past verification, not which request it belongs to (see the
/// [module docs](self) for exactly what holds). Handlers get it from the
/// [`AuthenticateLayer`](crate::authenticate::AuthenticateLayer) through request
/// extensions or the axum extractor.
///
/// ```
/// use tower_auth::VerifiedPrincipal;
///
/// fn handler(request: &http::Request<()>) -> Option<String> {
///     // Behind the layer: its verdict on this request's bearer token (the layer removes
///     // any that arrived from outer layers). Outside this crate, no code can make one,
///     // though code given one could insert a copy.
///     let verified = request.extensions().get::<VerifiedPrincipal>()?;
///     Some(verified.id().to_string())
/// }
///
/// // A request the layer did not authenticate has none.
/// assert_eq!(handler(&http::Request::new(())), None);
/// ```
#[derive(Clone)]
pub struct VerifiedPrincipal {
    principal: Arc<Principal>,
    pattern: Pattern,
    caller: Option<Arc<Caller>>,
    /// The audience of the passport it was verified from (pattern 4): a route that
    /// forwards the received passport forwards only one made for its trust domain.
    passport_audience: Option<Audience>,
}

impl VerifiedPrincipal {
    /// Only this crate's verifiers call this, after verification succeeded.
    pub(crate) fn new(principal: Arc<Principal>, pattern: Pattern) -> Self {
        VerifiedPrincipal {
            principal,
            pattern,
            caller: None,
            passport_audience: None,
        }
    }

    /// The same verdict, verified from a passport made for `audience`.
    pub(crate) fn with_passport_audience(mut self, audience: Audience) -> Self {
        self.passport_audience = Some(audience);
        self
    }

    /// The audience of the passport this Principal was verified from, if it came from one.
    pub(crate) fn passport_audience(&self) -> Option<&Audience> {
        self.passport_audience.as_ref()
    }

    /// The same verdict, knowing which service called this hop.
    pub(crate) fn with_caller(mut self, caller: Caller) -> Self {
        self.caller = Some(Arc::new(caller));
        self
    }

    /// The service that called this hop, when the credentials establish one (a minted
    /// internal JWT, a signed passport, an mTLS peer); `None` at an edge, where the caller
    /// is an outside client.
    pub fn caller(&self) -> Option<&Caller> {
        self.caller.as_deref()
    }

    /// The verified Principal.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// The verified Principal, shared.
    pub fn principal_arc(&self) -> &Arc<Principal> {
        &self.principal
    }

    /// The trust pattern that verified it.
    pub fn pattern(&self) -> Pattern {
        self.pattern
    }

    /// The verified Principal, shared, without the wrapper.
    pub fn into_principal(self) -> Arc<Principal> {
        self.principal
    }
}

impl Deref for VerifiedPrincipal {
    type Target = Principal;

    fn deref(&self) -> &Principal {
        &self.principal
    }
}

impl AsRef<Principal> for VerifiedPrincipal {
    fn as_ref(&self) -> &Principal {
        &self.principal
    }
}

impl fmt::Debug for VerifiedPrincipal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedPrincipal")
            .field("principal", &self.principal)
            .field("pattern", &self.pattern)
            .field("caller", &self.caller)
            .field("passport_audience", &self.passport_audience)
            .finish()
    }
}

/// Principals and verifiers for this crate's unit tests (they may call the `pub(crate)`
/// constructor; integration tests cannot).
#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod testing {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use principal::{Actor, Issuer, Principal, PrincipalId, Timestamp};

    use super::{Pattern, VerifiedPrincipal};
    use crate::credentials::Credentials;
    use crate::error::AuthError;
    use crate::verifier::{Verifier, VerifyFuture};

    pub(crate) const ISSUER: &str = "https://idp.test";
    pub(crate) const HUMAN: &str = "hm-0b7e2a50-3c1d-4f6e-8a9b-1c2d3e4f5a6b";
    pub(crate) const AGENT: &str = "am-1c2d3e4f-3c1d-4f6e-8a9b-0b7e2a505a6b";

    /// A human Principal acting through an agent, expiring at `expires_at`.
    pub(crate) fn principal(expires_at: i64) -> Principal {
        principal_with(expires_at, |builder| builder)
    }

    pub(crate) fn principal_with(
        expires_at: i64,
        customise: impl FnOnce(principal::PrincipalBuilder) -> principal::PrincipalBuilder,
    ) -> Principal {
        let id: PrincipalId = HUMAN.parse().unwrap();
        let agent: PrincipalId = AGENT.parse().unwrap();
        let builder = Principal::builder(id, Issuer::new(ISSUER).unwrap(), "alice")
            .issued_at(Timestamp::from_unix_seconds(0))
            .expires_at(Timestamp::from_unix_seconds(expires_at))
            .token_id("jti-1")
            .session_id("sid-1")
            .actor(Actor::new(agent));
        customise(builder).build().unwrap()
    }

    pub(crate) fn verified(expires_at: i64) -> VerifiedPrincipal {
        VerifiedPrincipal::new(Arc::new(principal(expires_at)), Pattern::JwtPassthrough)
    }

    /// Accepts exactly one token string, refuses every other with `BadSignature`, and
    /// counts its calls. The stand-in for a real verifier in layer tests.
    pub(crate) struct OneToken {
        pub(crate) token: &'static str,
        pub(crate) verified: VerifiedPrincipal,
        pub(crate) calls: AtomicUsize,
    }

    impl OneToken {
        pub(crate) fn new(token: &'static str) -> Arc<Self> {
            Arc::new(OneToken {
                token,
                verified: verified(i64::MAX),
                calls: AtomicUsize::new(0),
            })
        }

        pub(crate) fn calls(&self) -> usize {
            self.calls.load(Ordering::SeqCst)
        }
    }

    impl Verifier for OneToken {
        fn verify(&self, credentials: &Credentials<'_>) -> VerifyFuture {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let Some(token) = credentials.bearer_token() else {
                return VerifyFuture::ready(Err(AuthError::UnsupportedTokenFormat));
            };
            let outcome = if token == self.token {
                Ok(self.verified.clone())
            } else {
                Err(AuthError::BadSignature)
            };
            VerifyFuture::ready(outcome)
        }

        fn pattern(&self) -> Pattern {
            Pattern::JwtPassthrough
        }
    }

    /// Fails every token with the error `make` builds.
    pub(crate) struct FailsWith(pub(crate) fn() -> AuthError);

    impl Verifier for FailsWith {
        fn verify(&self, _credentials: &Credentials<'_>) -> VerifyFuture {
            VerifyFuture::ready(Err((self.0)()))
        }

        fn pattern(&self) -> Pattern {
            Pattern::InternalJwt
        }
    }
}
