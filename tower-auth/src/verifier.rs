//! The [`Verifier`] trait: a request's [`Credentials`] in, a [`VerifiedPrincipal`] or an
//! [`AuthError`] out; and [`VerifierChain`], several verifiers tried in order.
//!
//! # Ready or pending
//!
//! Verification may wait (an unknown `kid` triggers a shared key refetch, introspection
//! calls the issuer), so it is async; but most verdicts are known at once (a token-cache
//! hit, a key already loaded). [`VerifyFuture`] is therefore a named future with two
//! forms: [`VerifyFuture::ready`] carries a verdict already reached, without allocating,
//! and [`VerifyFuture::pending`] boxes a future that must wait. The boxed form keeps the
//! trait object safe: layers and chains hold `Arc<dyn Verifier>` and mix verifiers of
//! different types. A caller that can act synchronously asks
//! [`VerifyFuture::into_ready`] first and awaits only what is really pending (the
//! authenticate layer does, so a cache hit costs it no box and no copy).
//!
//! The pending future owns what it needs (`'static`): the verifier copies the part of the
//! [`Credentials`] it still has to read, only on that slow path. So a caller keeps the
//! future as it is, one box per waiting verification, never a second one around it.
//!
//! # Who can implement it
//!
//! Anyone can implement `Verifier`, but only this crate can construct a
//! [`VerifiedPrincipal`] from nothing. An implementation outside tower-auth cannot mint
//! a success for a token of its own choosing; what it can do is return a
//! `VerifiedPrincipal` it was given, by a verifier of this crate or by a request it saw
//! earlier (the type is `Clone`, like any proof that can be passed around). So a
//! `Verifier` is trusted code: install only verifiers you wrote or reviewed, typically
//! wrappers around the ones in here (logging, routing, rate limits...). See
//! [`crate::verified`] for what the wrapper does and does not guarantee.
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
use std::task::{Context, Poll};

use crate::credentials::Credentials;
use crate::error::AuthError;
use crate::verified::{Pattern, VerifiedPrincipal};

/// What a verification concludes: the verified Principal, or why not.
pub type Verdict = Result<VerifiedPrincipal, AuthError>;

/// The future a [`Verifier`] returns: a verdict already known ([`ready`](Self::ready),
/// no allocation) or one that must wait ([`pending`](Self::pending), boxed).
///
/// ```
/// use tower_auth::{AuthError, VerifyFuture};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// // A verdict known at once can be taken without awaiting.
/// let known = VerifyFuture::ready(Err(AuthError::BadSignature));
/// assert!(matches!(known.into_ready(), Ok(Err(AuthError::BadSignature))));
///
/// // One that must wait is awaited like any future.
/// let waiting = VerifyFuture::pending(async { Err(AuthError::UnknownIssuer) });
/// let waiting = waiting.into_ready().unwrap_err();
/// assert!(matches!(waiting.await, Err(AuthError::UnknownIssuer)));
/// # });
/// ```
#[must_use = "a verification does nothing unless awaited or taken with `into_ready`"]
pub struct VerifyFuture {
    state: VerifyState,
}

enum VerifyState {
    /// The verdict, until polled (then `None`).
    Ready(Option<Verdict>),
    Pending(Pin<Box<dyn Future<Output = Verdict> + Send + 'static>>),
}

impl VerifyFuture {
    /// A verdict already reached: resolves on the first poll, allocates nothing.
    pub fn ready(verdict: Verdict) -> Self {
        VerifyFuture {
            state: VerifyState::Ready(Some(verdict)),
        }
    }

    /// A verification that may wait: `future` is boxed (once). It owns what it reads.
    pub fn pending(future: impl Future<Output = Verdict> + Send + 'static) -> Self {
        VerifyFuture {
            state: VerifyState::Pending(Box::pin(future)),
        }
    }

    /// The verdict if it is already known, or `self` back to be awaited. A pending
    /// verification is not polled, so a caller may drop it unstarted.
    pub fn into_ready(self) -> Result<Verdict, Self> {
        match self.state {
            VerifyState::Ready(Some(verdict)) => Ok(verdict),
            state => Err(VerifyFuture { state }),
        }
    }

    /// Whether the verdict is already known (polling will not wait).
    pub fn is_ready(&self) -> bool {
        matches!(self.state, VerifyState::Ready(Some(_)))
    }
}

impl Future for VerifyFuture {
    type Output = Verdict;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Verdict> {
        match &mut self.state {
            VerifyState::Ready(verdict) => match verdict.take() {
                Some(verdict) => Poll::Ready(verdict),
                // Polled after completion: a caller bug; never resolve twice.
                None => Poll::Pending,
            },
            VerifyState::Pending(future) => future.as_mut().poll(cx),
        }
    }
}

impl fmt::Debug for VerifyFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            VerifyState::Ready(Some(_)) => "ready",
            VerifyState::Ready(None) => "done",
            VerifyState::Pending(_) => "pending",
        };
        f.debug_tuple("VerifyFuture").field(&state).finish()
    }
}

/// Turns a request's [`Credentials`] into a [`VerifiedPrincipal`], or refuses them.
///
/// Implementations must fail closed: every path that does not positively establish the
/// credentials' validity returns an error. A verifier returns a *decline*
/// ([`AuthError::is_decline`]) only for credentials that are not its business (nothing of
/// its kind was presented, another token format, an issuer it does not serve), never for
/// a credential it recognises and finds bad; see the [module docs](self) for the chain
/// rule.
///
/// Verifiers of this crate: the JWT verifier (patterns 1 and 2), the introspection
/// verifier (pattern 3) and the passport verifier (pattern 4). A [`VerifierChain`] is
/// itself a verifier.
pub trait Verifier: Send + Sync + 'static {
    /// Verify `credentials`. Answer [`VerifyFuture::ready`] when the verdict needs no
    /// waiting, so callers can skip a box and an await; a pending future copies what it
    /// still needs from `credentials`.
    fn verify(&self, credentials: &Credentials<'_>) -> VerifyFuture;

    /// The trust pattern this verifier implements. A [`VerifierChain`] reports its
    /// first verifier's pattern; the [`VerifiedPrincipal`] it returns carries the pattern
    /// of the verifier that actually decided.
    fn pattern(&self) -> Pattern;
}

impl<V: Verifier + ?Sized> Verifier for Arc<V> {
    fn verify(&self, credentials: &Credentials<'_>) -> VerifyFuture {
        (**self).verify(credentials)
    }

    fn pattern(&self) -> Pattern {
        (**self).pattern()
    }
}

impl<V: Verifier + ?Sized> Verifier for Box<V> {
    fn verify(&self, credentials: &Credentials<'_>) -> VerifyFuture {
        (**self).verify(credentials)
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
/// use tower_auth::credentials::Credentials;
/// use tower_auth::{AuthError, Pattern, Verifier, VerifierChain, VerifyFuture};
///
/// /// A verifier that declines everything (for instance one whose issuer is not this
/// /// token's): it can only ever say "not mine".
/// struct NotMine;
/// impl Verifier for NotMine {
///     fn verify(&self, _credentials: &Credentials<'_>) -> VerifyFuture {
///         VerifyFuture::ready(Err(AuthError::UnknownIssuer))
///     }
///     fn pattern(&self) -> Pattern {
///         Pattern::JwtPassthrough
///     }
/// }
///
/// /// A verifier that recognises every token and finds it bad.
/// struct Rejects;
/// impl Verifier for Rejects {
///     fn verify(&self, _credentials: &Credentials<'_>) -> VerifyFuture {
///         // A verifier that must wait (a network call) answers `pending`.
///         VerifyFuture::pending(async { Err(AuthError::BadSignature) })
///     }
///     fn pattern(&self) -> Pattern {
///         Pattern::InternalJwt
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// // Nobody claims the token: the last decline.
/// let chain = VerifierChain::new(Arc::new(NotMine)).then(Arc::new(NotMine));
/// assert!(matches!(chain.verify(&Credentials::bearer("t")).await, Err(AuthError::UnknownIssuer)));
///
/// // The second verifier claims it and rejects it: the chain stops there, fail closed.
/// let chain = VerifierChain::new(Arc::new(NotMine)).then(Arc::new(Rejects));
/// assert!(matches!(chain.verify(&Credentials::bearer("t")).await, Err(AuthError::BadSignature)));
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
    fn verify(&self, credentials: &Credentials<'_>) -> VerifyFuture {
        // Only reachable with an empty chain, which the constructors prevent.
        let mut last_decline = AuthError::UnsupportedTokenFormat;
        // Ask synchronously while verdicts are ready; from the first verifier that has to
        // wait, go on asynchronously by the same rule.
        for (index, verifier) in self.verifiers.iter().enumerate() {
            match verifier.verify(credentials).into_ready() {
                Ok(Err(error)) if error.is_decline() => last_decline = error,
                Ok(decided) => return VerifyFuture::ready(decided),
                Err(pending) => {
                    let rest = &self.verifiers[index + 1..];
                    if rest.is_empty() {
                        // The last verifier's verdict is the chain's: no second box.
                        return pending;
                    }
                    let rest = rest.to_vec();
                    let credentials = credentials.to_owned_credentials();
                    return VerifyFuture::pending(async move {
                        let mut last_decline = match pending.await {
                            Err(error) if error.is_decline() => error,
                            decided => return decided,
                        };
                        for verifier in rest {
                            match verifier.verify(&credentials.credentials()).await {
                                Err(error) if error.is_decline() => last_decline = error,
                                decided => return decided,
                            }
                        }
                        Err(last_decline)
                    });
                }
            }
        }
        VerifyFuture::ready(Err(last_decline))
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::verified::testing::{FailsWith, OneToken};

    const GOOD: &str = "good.token.here";

    /// Answers like `inner`, but always through a pending future that yields once.
    struct Waits(Arc<dyn Verifier>);

    impl Verifier for Waits {
        fn verify(&self, credentials: &Credentials<'_>) -> VerifyFuture {
            let inner = Arc::clone(&self.0);
            let credentials = credentials.to_owned_credentials();
            VerifyFuture::pending(async move {
                tokio::task::yield_now().await;
                inner.verify(&credentials.credentials()).await
            })
        }

        fn pattern(&self) -> Pattern {
            self.0.pattern()
        }
    }

    fn declines() -> Arc<dyn Verifier> {
        Arc::new(FailsWith(|| AuthError::UnknownIssuer))
    }

    #[test]
    fn a_chain_of_ready_verifiers_answers_ready() {
        let chain = VerifierChain::new(declines()).then(OneToken::new(GOOD));
        let verdict = chain
            .verify(&Credentials::bearer(GOOD))
            .into_ready()
            .expect("ready");
        assert!(verdict.is_ok());
        let verdict = chain
            .verify(&Credentials::bearer("bad"))
            .into_ready()
            .expect("ready");
        assert!(matches!(verdict, Err(AuthError::BadSignature)));
        // Everyone declines: the last decline, ready.
        let chain = VerifierChain::new(declines())
            .then(Arc::new(FailsWith(|| AuthError::UnsupportedTokenFormat)));
        let verdict = chain
            .verify(&Credentials::bearer(GOOD))
            .into_ready()
            .expect("ready");
        assert!(matches!(verdict, Err(AuthError::UnsupportedTokenFormat)));
    }

    #[tokio::test]
    async fn a_chain_goes_on_after_a_pending_verifier_by_the_same_rule() {
        // A pending decline: the next verifier decides.
        let chain = VerifierChain::new(Arc::new(Waits(declines()))).then(OneToken::new(GOOD));
        let future = chain.verify(&Credentials::bearer(GOOD));
        assert!(!future.is_ready());
        assert!(future.await.is_ok());

        // A pending refusal decides: the verifier after it is never asked.
        let after = OneToken::new(GOOD);
        let chain = VerifierChain::new(Arc::new(Waits(Arc::new(FailsWith(|| {
            AuthError::BadSignature
        })))))
        .then(after.clone());
        assert!(matches!(
            chain.verify(&Credentials::bearer(GOOD)).await,
            Err(AuthError::BadSignature)
        ));
        assert_eq!(after.calls(), 0);

        // Declines all the way, the last one pending: its decline is the verdict.
        let chain =
            VerifierChain::new(declines()).then(Arc::new(Waits(Arc::new(FailsWith(|| {
                AuthError::UnsupportedTokenFormat
            })))));
        assert!(matches!(
            chain.verify(&Credentials::bearer(GOOD)).await,
            Err(AuthError::UnsupportedTokenFormat)
        ));
    }

    #[tokio::test]
    async fn a_verify_future_resolves_once() {
        let mut future = VerifyFuture::ready(Err(AuthError::BadSignature));
        assert!(future.is_ready());
        assert_eq!(format!("{future:?}"), "VerifyFuture(\"ready\")");
        assert!((&mut future).await.is_err());
        assert!(!future.is_ready());
        assert_eq!(format!("{future:?}"), "VerifyFuture(\"done\")");
        let pending = VerifyFuture::pending(async { Err(AuthError::BadSignature) });
        assert_eq!(format!("{pending:?}"), "VerifyFuture(\"pending\")");
    }

    #[tokio::test]
    async fn a_pending_last_verifier_is_returned_as_it_is() {
        // Its verdict is the chain's whatever it is, so the chain adds no future around it.
        let chain = VerifierChain::new(declines()).then(Arc::new(Waits(OneToken::new(GOOD))));
        let future = chain.verify(&Credentials::bearer(GOOD));
        assert!(!future.is_ready());
        assert!(future.await.is_ok());
        let chain = VerifierChain::new(declines()).then(Arc::new(Waits(declines())));
        assert!(matches!(
            chain.verify(&Credentials::bearer(GOOD)).await,
            Err(AuthError::UnknownIssuer)
        ));
    }
}
