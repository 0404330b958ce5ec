//! Unit tests of the exchange decision.
