//! # tower-auth
//!
//! The engine of Baton. It will hold:
//!
//! - verifiers: external JWTs against an issuer's JWKS (pattern 1), internal minted
//!   JWTs (pattern 2), RFC 7662 introspection (pattern 3) and passports (pattern 4);
//! - key caches that never lock or touch the network on the hot path;
//! - minting of internal tokens, RFC 8693 token exchange and revocation;
//! - the tower layers: `authenticate` (server side), `propagate` (client side) and
//!   `require` (authorization), with an axum extractor behind the `axum` feature.
#![deny(missing_docs)]
