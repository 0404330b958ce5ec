//! Fixtures shared by Baton's criterion benchmarks and size checks.
//!
//! The reference principal and passport come from `principal_proto::fixtures`; this
//! crate adds what only comparisons need, such as the equivalent JWT.
#![deny(missing_docs)]

pub mod patterns;

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use principal::Principal;

/// Polls a future that must not wait, once, with a no-op waker: the benchmarks measure
/// the work, not a runtime.
///
/// # Panics
///
/// When the future waits (a benchmark set up wrong).
pub fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("a benchmarked future waited"),
    }
}

/// The HMAC secret used for every symmetric signature in the benchmarks.
pub const BENCH_SECRET: [u8; 32] = [0x5a; 32];

/// The equivalent JWT of a Principal: its claims (`Principal::to_claims`), signed HS256.
///
/// HS256 has the shortest signature of the JWT algorithms (32 bytes), so it is the
/// strictest size comparison for a passport.
///
/// ```
/// use principal::Timestamp;
/// let now = Timestamp::from_unix_seconds(1_700_000_000);
/// let principal = principal_proto::fixtures::reference_principal(now)?;
/// let jwt = benches::equivalent_jwt_hs256(&principal)?;
/// assert_eq!(jwt.split('.').count(), 3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// When the claims cannot be serialised or signed.
pub fn equivalent_jwt_hs256(principal: &Principal) -> Result<String, jsonwebtoken::errors::Error> {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &principal.to_claims(),
        &EncodingKey::from_secret(&BENCH_SECRET),
    )
}

/// The JSON payload of the equivalent JWT: what a verifier maps after the signature check.
///
/// # Errors
/// When the claims cannot be serialised.
pub fn reference_claims_json(principal: &Principal) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(&principal.to_claims())
}
