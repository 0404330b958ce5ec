//! # principal-proto
//!
//! The wire form of a Baton Principal (package `baton.principal.v1`, schema in
//! `proto/` at the workspace root): prost types, conversions to and from the
//! model, and the Passport codec with its signing envelope.
//!
//! - [`proto`]: the generated prost types. The generated Rust is checked in
//!   (`src/gen/`), so no `protoc` and no build script are needed; the test
//!   `tests/codegen_current.rs` proves it matches the schema.
//! - [`Passport`]: a [`Principal`](principal::Principal) bound to one request,
//!   one audience and a short lifetime; [`Passport::encode`], and
//!   [`Passport::decode_unsigned`], which checks size, lifetime, expiry, audience and
//!   every invariant of the model, and which takes a [`TrustedPeer`]: the
//!   caller's statement that the transport peer is authenticated and allowlisted
//!   (an unsigned passport is safe for no other reason). [`Passport::reissue_for`]
//!   turns a verified passport into the next hop's, to re-sign per hop.
//! - [`header`]: the `x-principal-bin` form, standard base64 written without
//!   padding and read with or without it (the gRPC `-bin` rule), on HTTP and gRPC alike,
//!   and the sender's size limit ([`HeaderLimit`](header::HeaderLimit), 4 KiB by default,
//!   under the 8 KiB of metadata a gRPC peer accepts): a Principal too large for it is
//!   refused where its passport is made ([`PassportError::PrincipalTooLarge`]), never sent.
//! - [`PassportKeyRing`] and [`PassportVerifier`]: the `SignedPassport`
//!   envelope, HMAC-SHA256 or Ed25519 with key ids, rotation without downtime.
//!   Verification is over the exact bytes received, binds algorithm and key id,
//!   takes the algorithm from the key, and compares MACs in constant time.
//!
//! For implementations in other languages, the schema's comments state every
//! rule an encoder must follow, and `proto/testdata/` holds test vectors (a
//! Principal as JSON, its passport bytes, signed headers with test-only keys,
//! the descriptor set), which `tests/vectors.rs` keeps current and
//! `proto/testdata/check.py` checks with Python's protobuf.
//!
//! Every decoder returns a typed [`PassportError`] on bad input (malformed,
//! oversized, truncated, tampered, expired, wrongly keyed) and never panics.
//! Decoding borrows from the input (no intermediate prost structs): only what
//! the model keeps is allocated. It follows protobuf except that a singular
//! field that occurs twice is refused rather than "last one wins"; canonical
//! encoders never write one twice, and the wire form's set-like lists must be
//! strictly ascending (see `proto/baton/principal/v1/principal.proto`).
//!
//! ```
//! use principal::Timestamp;
//! use principal_proto::{KeyId, PassportKeyRing, PassportSigningKey, fixtures};
//!
//! let now = Timestamp::from_unix_seconds(1_700_000_000);
//! let ring = PassportKeyRing::new(PassportSigningKey::hmac_sha256(KeyId::new("k1")?, &[42; 32])?);
//!
//! // Edge: sign and send.
//! let header = ring.sign_header(&fixtures::reference_passport(now)?)?;
//! // Next hop: verify and decode.
//! let options = fixtures::reference_decode_options()?;
//! let passport = ring.verifier().verify_header(&header, &options, now)?;
//! assert!(passport.principal().has_scope("orders:read"));
//!
//! // A minute and a half later the passport has expired.
//! let error = ring.verifier().verify_header(&header, &options, now.add_seconds(90)).unwrap_err();
//! assert_eq!(error.reason(), "expired");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## HMAC-SHA256 or Ed25519
//!
//! An HMAC secret signs as well as it verifies. Shared by every hop, it lets
//! **any one compromised hop mint a passport for any Principal and any audience,
//! undetectably**: the forgery is exactly what an honest signer would send, under
//! the same key id, and every other hop accepts it. With Ed25519 a verifier holds
//! only public keys; a compromised hop can sign only as itself, under its own key
//! id, which verifiers that do not trust it refuse. So use **Ed25519 across
//! hops**, each service with its own key (re-signing per hop with
//! [`Passport::reissue_for`]) and verifiers that know the public keys by key id;
//! keep HMAC for a signer and verifier inside one trust boundary.
//!
//! ## Features
//!
//! | feature | adds |
//! | --- | --- |
//! | `fixtures` | module `fixtures`: the reference passport, for benchmarks and examples |
#![deny(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod convert;
mod error;
#[cfg(feature = "fixtures")]
pub mod fixtures;
pub mod header;
mod keys;
mod passport;
mod ring;
mod wire;

/// The prost types of `baton.principal.v1`, generated from `proto/`.
///
/// Decode them only through [`PassportVerifier::verify`] or [`Passport::decode_unsigned`]
/// (or `Principal::try_from`), which check what prost does not.
#[allow(clippy::all, clippy::pedantic)]
pub mod proto {
    include!("gen/baton.principal.v1.rs");
}

pub use error::{ConfigError, PassportError};
pub use keys::{
    KeyId, MIN_HMAC_SECRET_LEN, PassportSigningKey, PassportVerifyingKey, SignatureAlgorithm,
};
pub use passport::{
    DEFAULT_LEEWAY_SECONDS, DEFAULT_MAX_LIFETIME_SECONDS, DEFAULT_MAX_PASSPORT_BYTES,
    DecodeOptions, MAX_LEEWAY_SECONDS, MAX_LIFETIME_SECONDS, MAX_PASSPORT_BYTES, MAX_PEER_ID_LEN,
    MIN_PASSPORT_BYTES, Passport, RequestId, TrustedPeer,
};
pub use ring::{PassportForm, PassportKeyRing, PassportVerifier, SIGNED_ENVELOPE_OVERHEAD};
