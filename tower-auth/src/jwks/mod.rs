//! JWKS key handling: key sets, their per-issuer cache, fetching and discovery.
//!
//! # Pieces
//!
//! - [`VerificationKey`]: one key, with the algorithm its JWK fixes (never the token's
//!   header). Its JWK is decoded and checked when the set loads, in
//!   [`KeySet::from_jwks_json`]: base64url members, sizes, the RSA modulus length, and the
//!   key itself parsed by aws-lc (an RSA key's structure, an EC point on its curve). A key
//!   that fails is dropped then, never discovered bad at request time. The parsed key is
//!   kept and checks every signature; nothing about it is rebuilt per token. A
//!   [`jsonwebtoken::DecodingKey`] of it is kept for callers of `jsonwebtoken`.
//! - [`KeySet`]: an immutable set, from a JWKS document ([`KeySet::from_jwks_json`]) or
//!   from configured HMAC secrets ([`KeySet::from_symmetric_keys`]). Lookup by `kid` is a
//!   binary search over `&str`: no lock, no allocation.
//! - [`KeyCache`]: one issuer's current set behind an [`arc_swap::ArcSwap`], fetched from a
//!   [`JwksSource`] (a JWKS URL, OpenID Connect Discovery, or RFC 8414 metadata), or fixed
//!   ([`KeyCache::from_key_set`]).
//!
//! # Life cycle of a cache
//!
//! 1. **Warm.** [`KeyCache::warm`] fetches at start-up. [`StartupPolicy`] says whether a
//!    failure stops start-up (`FailIfUnavailable`, the default) or the service starts with
//!    no keys and rejects every token until a fetch succeeds (`ContinueIfUnavailable`).
//! 2. **Serve.** Lookups read the current snapshot with no lock and no network call. A
//!    token whose `kid` is unknown causes a refetch, at most one per
//!    `unknown_kid_cooldown`, and a `kid` still unknown after it is rejected. Whether a
//!    miss may refetch is decided without any lock: inside the cooldown, or while a refetch
//!    for another `kid` is in flight, the miss is answered at once; lookups for the `kid`
//!    the refetch in flight looks for share it (single flight).
//! 3. **Refresh.** A set expires after `Cache-Control: max-age` (less `Age`) held between
//!    `min_ttl` and `max_ttl`, or `default_ttl` without it. The background refresher
//!    ([`KeyCache::spawn_refresher`]) fetches then; and any lookup that finds the set due
//!    (expired but still servable) answers from it and starts one background refresh on
//!    the current tokio runtime (stale-while-revalidate), so a key the IdP removed stops
//!    verifying within the refresh period even without the refresher. A body equal to the
//!    last one is not parsed again; a set whose keys did not change keeps its version.
//! 4. **Stale.** When a fetch fails (unreachable, timeout, non-200, redirect, not JSON,
//!    too large, empty, no usable key) the last good set keeps serving and the typed
//!    [`JwksError`] is kept in [`KeySnapshot::last_error`]; the refresher (or a lookup)
//!    retries every `failure_retry`. A `jwks_uri` found by discovery is kept through
//!    failures; the metadata is read again every `rediscovery_interval`.
//! 5. **Fail closed.** Once the set is `max_staleness` past its expiry, lookups fail with
//!    [`KeyError::Stale`] until a fetch succeeds again.
//!
//! Every decision (is a refresh due, is the set fresh, servable, is a refetch allowed) is a
//! plain method taking `now` from a [`principal::Clock`], so tests move a `TestClock`.
//!
//! # Defaults, and why
//!
//! | policy | default | why |
//! | --- | --- | --- |
//! | `default_ttl` | 5 min | lifetime without `max-age`: rotations and removals show within minutes, at negligible IdP load |
//! | `min_ttl` | 1 min | floor: `max-age=0` or `no-cache` cannot make every instance hammer the IdP |
//! | `max_ttl` | 1 h | ceiling: a key the IdP removed (perhaps compromised) stops being accepted within an hour whatever `max-age` says |
//! | `unknown_kid_cooldown` | 30 s | a rotated key is picked up at once; a flood of made-up `kid`s costs the IdP two fetches a minute |
//! | `max_staleness` | 1 h | a short IdP outage is invisible; after an hour every token in circulation predates the outage's start, and removed keys must stop working |
//! | `failure_retry` | 30 s | a recovering IdP is noticed quickly without being stormed |
//! | `rediscovery_interval` | 15 min | a moved JWKS is found well within the maximum staleness; a JWKS outage adds no metadata requests |
//! | `fetch_timeout` | 5 s | bounds each HTTP request (metadata or JWKS), from connecting to the last body byte. A fetch makes two requests when the metadata is due; a lookup waiting on a refetch of its `kid` waits for that fetch and for the rest of one already running; other misses do not wait |
//! | `max_body_bytes` | 1 MiB | counted while reading; real JWKS are a few KiB |
//! | `max_keys` | 64 | real IdPs publish a handful; a huge set is an attack or a mistake |
//! | allowed algorithms | RS256/384/512, PS256/384/512, ES256/384, EdDSA | every asymmetric JWS algorithm jsonwebtoken verifies; HMAC only from configured secrets |
//! | `min_rsa_bits` | 2048 | RFC 7518 §3.3 |
//!
//! # Key rules
//!
//! A JWK is dropped, with a `tracing::warn!` and a [`DroppedKey`] in the [`KeySetLoad`],
//! when: it is `oct` (HMAC keys never come from a fetched JWKS, or a token signed with the
//! public key as an HMAC secret could pass) or carries private members; its `use` is not
//! `sig` or its `key_ops` lack `verify`; its `alg` is unknown, does not fit its `kty`, or is
//! not allowed for the issuer; its curve does not fit its `alg`; its RSA modulus is shorter
//! than 2048 bits or its key material is not a valid key; its `kid` repeats an earlier key's
//! (the first is kept); or it has no `kid` while the set has several keys (a token could not
//! name it; a single-key set may omit `kid`, and then tokens without `kid` use that key).
//!
//! A JWK without `alg` takes the algorithm its key implies: ES256 for P-256, ES384 for
//! P-384, EdDSA for Ed25519, and RS256 for RSA (RSA keys could serve six algorithms; RS256
//! is what IdPs mean when they leave `alg` out). If the issuer does not allow RS256, such
//! an RSA key is dropped.
//!
//! # Fetching
//!
//! Issuer, JWKS and discovered `jwks_uri` URLs must be `https`; `http` is accepted only for
//! loopback hosts (`127.0.0.0/8`, `::1`, `localhost`) for development and tests. A
//! discovered `jwks_uri` may use `http` only when the issuer itself is on loopback (an
//! `https` issuer's metadata cannot point the fetch at a plain-http local port). An issuer
//! configured with a JWKS URL (`IssuerConfig`) is held to the same scheme rule as one
//! that is discovered. Discovery checks that the metadata's `issuer` equals the
//! configured issuer exactly (OIDC Discovery §4.3, RFC 8414 §3.3). Redirects are not
//! followed; only `200` with a JSON content type (or none) is accepted; bodies are capped
//! while read, and `max_keys` while the set is read (members past it are counted, not
//! built). Text the IdP chooses (a URL it advertised, a parser message repeating its
//! document) is cut to 256 bytes before it goes into an error, and so into a log line.
//! The JWKS is fetched with the HTTP client's environment proxy settings, except for
//! loopback sources.
//!
//! # Crypto backend
//!
//! jsonwebtoken is built with its `aws_lc_rs` backend only (set once in the workspace);
//! with both or neither backend it would panic at the first verification. A test in
//! `tests/jwks_crypto_backend.rs` verifies real RS256, ES256 and EdDSA tokens to prove the
//! choice holds.

mod cache;
mod error;
mod fetch;
mod key;
mod policy;
mod refresher;
mod set;
mod source;

pub use cache::{KeyCache, KeyCacheBuilder, KeySnapshot, RefreshOutcome, WarmOutcome};
pub use error::{JwksConfigError, JwksError, KeyError};
pub use key::{DropReason, DroppedKey, VerificationKey};
pub(crate) use key::{MAX_SIGNATURE_BYTES, algorithm_from_name, echo};
pub use policy::{
    KeySetPolicy, KeySetPolicyBuilder, RefreshPolicy, RefreshPolicyBuilder, StartupPolicy,
    freshness_lifetime,
};
pub use refresher::RefresherHandle;
pub use set::{KeySet, KeySetLoad, SymmetricKey};
pub use source::{JwksSource, MetadataFlavour};
pub(crate) use source::{check_issuer_of_fetched_keys, url_rule};
