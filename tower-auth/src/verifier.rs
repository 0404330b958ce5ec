//! The [`Verifier`] trait: a bearer token in, a [`VerifiedPrincipal`] or an [`AuthError`]
//! out; and [`VerifierChain`], several verifiers tried in order.
//!
//! # Why a boxed future
//!
//! Verification may wait (an unknown `kid` triggers a shared key refetch, introspection
//! calls the issuer), so it is async. The trait returns `Pin<Box<dyn Future>>` rather
//! than an `async fn` / RPITIT so that it stays object safe: layers and chains hold
//! `Arc<dyn Verifier>` and mix verifiers of different types. The allocation costs tens of
//! nanoseconds, small next to a signature check and within the budget of a cache hit.
//!
//! # Who can implement it
//!
//! Anyone can implement `Verifier`, but only this crate can construct a
//! [`VerifiedPrincipal`], so an implementation outside tower-auth can only delegate to
//! the verifiers in here (wrap one to add logging, routing, rate limits...). It cannot
//! approve a token on its own: there is no fake success to return.
//!
//! # The chain rule
//!
//! [`VerifierChain`] asks its verifiers in order. A verifier that finds the token is not
//! its business (not its format, or an issuer it is not configured for) *declines* with
//! [`AuthError::UnknownIssuer`] or [`AuthError::UnsupportedTokenFormat`]
//! ([`AuthError::is_decline`]), and the chain asks the next one. The first verifier that
//! does not decline decides: its success is the chain's success, its error is the
//! chain's error, and no later verifier is asked (fail closed: a token that one
//! verifier has rejected is never given a second chance elsewhere). If every verifier
//! declines, the chain fails with the last decline.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::error::AuthError;
use crate::verified::{Pattern, VerifiedPrincipal};

/// The future a [`Verifier`] returns.
pub type VerifyFuture<'a> =
    Pin<Box<dyn Future<Output = Result<VerifiedPrincipal, AuthError>> + Send + 'a>>;

/// Turns a bearer token into a [`VerifiedPrincipal`], or refuses it.
///
/// Implementations must fail closed: every path that does not positively establish the
/// token's validity returns an error. A verifier returns a *decline*
/// ([`AuthError::is_decline`]) only for tokens that are not its business, never for a
/// token it recognises and finds bad; see the [module docs](self) for the chain rule.
///
/// Verifiers of this crate: the JWT verifier (patterns 1 and 2); more to come. A
/// [`VerifierChain`] is itself a verifier.
pub trait Verifier: Send + Sync + 'static {
    /// Verify `token` (the bearer credential, without the `Bearer ` prefix).
    fn verify<'a>(&'a self, token: &'a str) -> VerifyFuture<'a>;

    /// The trust pattern this verifier implements. A [`VerifierChain`] reports its
    /// first verifier's pattern; the [`VerifiedPrincipal`] it returns carries the pattern
    /// of the verifier that actually decided.
    fn pattern(&self) -> Pattern;
}

impl<V: Verifier + ?Sized> Verifier for Arc<V> {
    fn verify<'a>(&'a self, token: &'a str) -> VerifyFuture<'a> {
        (**self).verify(token)
    }

    fn pattern(&self) -> Pattern {
        (**self).pattern()
    }
}

impl<V: Verifier + ?Sized> Verifier for Box<V> {
    fn verify<'a>(&'a self, token: &'a str) -> VerifyFuture<'a> {
        (**self).verify(token)
    }

    fn pattern(&self) -> Pattern {
        (**self).pattern()
    }
}

/// Verifiers tried in order; the first that does not decline decides (see the
/// [module docs](self)).
///
/// A chain is never empty: it starts from one verifier and grows with
/// [`then`](Self::then).
///
/// ```
/// use std::sync::Arc;
/// use tower_auth::{AuthError, Pattern, Verifier, VerifierChain, VerifyFuture};
///
/// /// A verifier that declines everything (for instance one whose issuer is not this
/// /// token's): it can only ever say "not mine".
/// struct NotMine;
/// impl Verifier for NotMine {
///     fn verify<'a>(&'a self, _token: &'a str) -> VerifyFuture<'a> {
///         Box::pin(async { Err(AuthError::UnknownIssuer) })
///     }
///     fn pattern(&self) -> Pattern {
///         Pattern::JwtPassthrough
///     }
/// }
///
/// /// A verifier that recognises every token and finds it bad.
/// struct Rejects;
/// impl Verifier for Rejects {
///     fn verify<'a>(&'a self, _token: &'a str) -> VerifyFuture<'a> {
///         Box::pin(async { Err(AuthError::BadSignature) })
///     }
///     fn pattern(&self) -> Pattern {
///         Pattern::InternalJwt
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// // Nobody claims the token: the last decline.
/// let chain = VerifierChain::new(Arc::new(NotMine)).then(Arc::new(NotMine));
/// assert!(matches!(chain.verify("t").await, Err(AuthError::UnknownIssuer)));
///
/// // The second verifier claims it and rejects it: the chain stops there, fail closed.
/// let chain = VerifierChain::new(Arc::new(NotMine)).then(Arc::new(Rejects));
/// assert!(matches!(chain.verify("t").await, Err(AuthError::BadSignature)));
/// # });
/// ```
#[derive(Clone)]
pub struct VerifierChain {
    verifiers: Vec<Arc<dyn Verifier>>,
}

impl VerifierChain {
    /// A chain of one verifier.
    pub fn new(first: Arc<dyn Verifier>) -> Self {
        VerifierChain {
            verifiers: vec![first],
        }
    }

    /// The chain with `next` asked after the verifiers already in it.
    pub fn then(mut self, next: Arc<dyn Verifier>) -> Self {
        self.verifiers.push(next);
        self
    }

    /// How many verifiers the chain holds (at least one).
    pub fn len(&self) -> usize {
        self.verifiers.len()
    }

    /// Always `false`: a chain holds at least one verifier.
    pub fn is_empty(&self) -> bool {
        self.verifiers.is_empty()
    }
}

impl Verifier for VerifierChain {
    fn verify<'a>(&'a self, token: &'a str) -> VerifyFuture<'a> {
        Box::pin(async move {
            // Only reachable with an empty chain, which the constructors prevent.
            let mut last_decline = AuthError::UnsupportedTokenFormat;
            for verifier in &self.verifiers {
                match verifier.verify(token).await {
                    Err(error) if error.is_decline() => last_decline = error,
                    decided => return decided,
                }
            }
            Err(last_decline)
        })
    }

    fn pattern(&self) -> Pattern {
        self.verifiers
            .first()
            .map_or(Pattern::JwtPassthrough, |first| first.pattern())
    }
}

impl fmt::Debug for VerifierChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifierChain")
            .field(
                "patterns",
                &self
                    .verifiers
                    .iter()
                    .map(|v| v.pattern())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}
