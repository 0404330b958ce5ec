//! # principal-proto
//!
//! The wire form of a Baton Principal (package `baton.principal.v1`): prost types,
//! conversions to and from the model, and the Passport codec with its signing envelope.
#![deny(missing_docs)]
