//! Shared fixtures for Baton's criterion benchmarks.
