use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;
use pin_project_lite::pin_project;
use principal::{Clock, Timestamp};
use tonic::Status;
use tower_auth::VerifiedPrincipal;
use tower_auth::authenticate::audit;

pin_project! {
    /// A request stream whose messages are authorized only while the caller's Principal
    /// is valid: the first message that arrives on or after the Principal's `expires_at`
    /// (by `clock`) is not passed on; the stream answers `UNAUTHENTICATED`
    /// (`credentials expired`) instead, logs one audit event, and ends.
    ///
    /// The layer verifies a call once, when it starts; a long-lived stream outlives its
    /// credentials unless the service asks for this check, by wrapping its inbound
    /// stream.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tonic::{Request, Response, Status, Streaming};
    /// use tonic_auth::PrincipalExt;
    /// use tonic_auth::server::UntilExpiry;
    ///
    /// async fn chat(request: Request<Streaming<String>>) -> Result<Response<()>, Status> {
    ///     let principal = request.principal()?.clone();
    ///     let clock = Arc::new(principal::SystemClock);
    ///     let inbound = UntilExpiry::new(request.into_inner(), &principal, clock);
    ///     // ... read `inbound`: past the Principal's expiry it yields UNAUTHENTICATED, then ends.
    /// #   let _ = inbound;
    ///     Ok(Response::new(()))
    /// }
    /// # let _ = chat;
    /// ```
    #[must_use = "streams do nothing unless polled"]
    pub struct UntilExpiry<S> {
        #[pin]
        inner: S,
        expires_at: Timestamp,
        // For the audit event when the stream ends (an `Arc` clone).
        principal: VerifiedPrincipal,
        clock: Arc<dyn Clock>,
        ended: bool,
    }
}

impl<S> UntilExpiry<S> {
    /// `inner`, authorized until `principal` expires by `clock` (the verifiers' clock).
    pub fn new(inner: S, principal: &VerifiedPrincipal, clock: Arc<dyn Clock>) -> Self {
        UntilExpiry {
            inner,
            expires_at: principal.expires_at(),
            principal: principal.clone(),
            clock,
            ended: false,
        }
    }
}

impl<S, T> Stream for UntilExpiry<S>
where
    S: Stream<Item = Result<T, Status>>,
{
    type Item = Result<T, Status>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        if *this.ended {
            return Poll::Ready(None);
        }
        let item = match this.inner.poll_next(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(None) => {
                *this.ended = true;
                return Poll::Ready(None);
            }
            Poll::Ready(Some(item)) => item,
        };
        // Checked when the message arrives: one that arrives after the expiry is never
        // handed to the service, whenever the stream began.
        if this.clock.now() >= *this.expires_at {
            *this.ended = true;
            // The same event as every decision (tower-auth's audit), with the call's ids.
            let principal = &*this.principal;
            if tower_auth::context::with_current(|ctx| {
                audit::expired_during_call(principal, Some(ctx));
            })
            .is_none()
            {
                audit::expired_during_call(principal, None);
            }
            return Poll::Ready(Some(Err(Status::unauthenticated("credentials expired"))));
        }
        Poll::Ready(Some(item))
    }
}

impl<S> fmt::Debug for UntilExpiry<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UntilExpiry")
            .field("expires_at", &self.expires_at)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}
