//! # tonic-auth
//!
//! Baton for gRPC. It will hold thin glue over `tower-auth`: tonic server and client
//! interceptors and layers, `x-principal-bin` binary metadata, the mapping of Baton
//! errors to `UNAUTHENTICATED` and `PERMISSION_DENIED`, and the mTLS peer's SPIFFE
//! workload identity (pattern 5). Interceptors are synchronous; anything that may
//! wait (a key refetch, introspection, minting) runs in a tower layer.
#![deny(missing_docs)]
