//! # tower-auth
//!
//! The engine of Baton: it turns a bearer credential into a verified
//! [`Principal`](principal::Principal) and puts it where handlers can read it.
//!
//! | module | what it holds |
//! | --- | --- |
//! | [`jwt`] | [`JwtVerifier`](jwt::JwtVerifier): external JWTs against each issuer's keys (pattern 1), with the checks and their order documented there |
//! | [`introspect`] | [`IntrospectionVerifier`](introspect::IntrospectionVerifier): opaque tokens by RFC 7662 introspection (pattern 3), after the JWT verifier in a chain; client authentication, a cache bounded by `exp` and a maximum, a short negative cache, a single flight per token, failures told apart |
//! | [`passport`] | [`PassportHeaderVerifier`](passport::PassportHeaderVerifier): the `x-principal-bin` passport (pattern 4), signed (key ring by key id, live rotation) or unsigned from an allowlisted mTLS peer, bound to the request's `x-request-id` |
//! | [`jwks`] | per-issuer key sets behind an `ArcSwap` (lock-free lookup), JWKS fetch and OIDC/RFC 8414 discovery, background refresh, single-flight refetch on an unknown `kid`, bounded staleness |
//! | [`credentials`], [`peer`] | what a request presents to the verifiers (bearer token, `x-principal-bin`, `x-baton-internal-token`, the mTLS peer), and the peer's SPIFFE identity with the allowlist shared by HTTP and gRPC |
//! | [`authenticate`] | [`AuthenticateLayer`](authenticate::AuthenticateLayer): strips spoofable headers, reads the request's [`Credentials`], verifies, inserts a [`VerifiedPrincipal`] and makes the request context current, answers RFC 6750 challenges, one audit event per decision; [`StripHeadersLayer`](authenticate::StripHeadersLayer): the same header stripping for every route of a router, the unauthenticated ones and the fallback included |
//! | [`client_auth`] | [`ClientAuth`](client_auth::ClientAuth): how this service authenticates to an authorization server (`client_secret_basic`, `client_secret_post`, bearer), shared by introspection and token exchange; secrets redacted, headers sensitive |
//! | `extract` | the axum extractor `Authenticated` and `Option<Authenticated>` (feature `axum`) |
//! | [`context`] | the current request's [`RequestContext`](context::RequestContext) (verified Principal, request id, trace context) in a task-local scoped around the future that serves it; [`context::spawn`] carries it into spawned tasks |
//! | [`trace`] | W3C `traceparent`/`tracestate` and `x-request-id`: validated, passed on untouched, generated when absent or invalid |
//! | [`revocation`] | the [`RevocationCheck`](revocation::RevocationCheck) consulted on every verification, an in-memory [`Denylist`](revocation::Denylist) updated in place, with expiring entries, and the [`RevocationMirror`](revocation::RevocationMirror) a source keeps in step in the background (the STS feed by [`FeedPoller`](revocation::FeedPoller), Redis with `revocation-redis`), its age known: past a maximum, fail closed (503) or degrade, loudly |
//! | [`token_cache`] | the verified-token cache: never more trusting than a fresh verification |
//! | [`verifier`], [`verified`], [`error`] | the [`Verifier`] trait and chain; the wrapper whose constructor only this crate's verifiers call (code holding one can still clone it: it shows that a verification happened, not for which request); the one error type with its HTTP mapping (`scope` on `insufficient_scope`, `Retry-After` on 503) |
//! | `dev_idp` | a development identity provider on loopback (feature `dev-idp`), for examples and tests; never for production |
//! | [`exchange`] | [`TokenExchangeClient`](exchange::TokenExchangeClient): RFC 8693 token exchange at a security token service (client authentication, `issued_token_type` checked, RFC 6749 errors typed), results cached per request digest until shortly before expiry, one call per burst, refreshed ahead of expiry; used by [`Route::exchanged`](propagate::Route::exchanged) |
//! | [`mint`] | internal JWT minting (pattern 2): [`InternalIssuer`](mint::InternalIssuer) signs ES256/EdDSA `at+jwt` tokens from a Principal, with key rotation; [`JwksService`](mint::JwksService) serves its JWKS and discovery document; [`MintCache`](mint::MintCache) mints once per (Principal, audience) per token lifetime |
//! | [`propagate`] | [`PropagateLayer`](propagate::PropagateLayer): the client side; per destination (an explicit allowlist), the current Principal as a passport (signed, forwarded in a trust domain, or unsigned toward allowlisted mTLS peers), a minted internal JWT, the original bearer token, or nothing; identity headers set by the caller's own code never leave; `x-request-id` and trace context passed on |
//! | `mtls` | workload identity from mutual TLS (pattern 5, feature `mtls`): the SPIFFE ID of a client certificate, a rustls server configuration that requires and verifies client certificates, and a listener for `axum::serve` that puts the peer's [`PeerIdentity`](peer::PeerIdentity) into every request of its connection |
//! | [`sts`] | [`TokenExchangeService`](sts::TokenExchangeService): an embeddable security token service; RFC 8693 token exchange (client authentication, subject and actor verified by any verifier, audience/scope/`may_act`/depth/kind policy, minted by the internal issuer with the `act` chain extended), RFC 7662 introspection and RFC 7009 revocation of what it issued, a versioned revocation feed, RFC 8414 metadata |
//! | [`agent_keys`] | agent credentials: API keys shown once, stored as a hash with a lookup id, bound to an agent, the human it acts for, a scope grant and an expiry, revocable; the [`AgentKeyStore`](agent_keys::AgentKeyStore) trait with an in-memory store and a SQLite one (feature `agent-keys-sqlite`); the [`HumanDirectory`](agent_keys::HumanDirectory) the token exchange service asks whether the human still exists; exchanged at the STS for the human with the agent acting ([`AgentSession`](exchange::AgentSession): a fresh token per sub-request) |
//! | [`metrics`] | the names, types, labels and meaning of every metric recorded through the `metrics` facade (feature `metrics`), and their recording points |
//! | [`require`] | [`RequireLayer`](require::RequireLayer): authorization after authentication; [`Requirement`](require::Requirement)s over scopes, roles (delegation aware), tenant, kinds, delegation depth and the calling workload's SPIFFE ID, composed with and / or / not, per route or per path with deny by default; 403 `insufficient_scope` naming the required scopes; one audit event per decision |
//! | [`resource_metadata`] | RFC 9728 protected resource metadata: [`ResourceMetadata`](resource_metadata::ResourceMetadata) (checked and serialised once), served by [`ResourceMetadataService`](resource_metadata::ResourceMetadataService) at `/.well-known/oauth-protected-resource`, its URL in the challenges' `resource_metadata` |
//! | [`policy`] | the [`Policy`](policy::Policy) trait for external decision engines (Principal, action, resource) and [`PolicyLayer`](policy::PolicyLayer), fail closed; a Cedar adapter with feature `cedar`: the Principal, its delegation chain and the calling workload as Cedar entities, schema-validated policy files, reloaded without restart keeping the last good set |
//! | `config` | the service configuration from a TOML file (feature `config`): every section turned into the builders' own outputs; unknown fields are errors; errors name the file, line, column and field; secrets only from files or the environment |
//! | [`manual`] | the attacks on token verification and header propagation, how each is avoided, and why the defaults are what they are |
//!
//! The [`jwt`] module's example wires a verifier and the layer end to end, with an
//! accepted and a refused request.
//!
//! ## Features
//!
//! | feature | adds |
//! | --- | --- |
//! | `axum` | the `extract` module |
//! | `dev-idp` | the `dev_idp` module (axum, tokio networking) |
//! | `mtls` | the `mtls` module (rustls with aws-lc-rs, tokio-rustls, x509-parser, axum) |
//! | `metrics` | counters, histograms and gauges through the `metrics` facade (see [`metrics`]); without it the recording calls compile to nothing |
//! | `agent-keys-sqlite` | `agent_keys::SqliteAgentKeyStore` (rusqlite with SQLite compiled from source: needs a C compiler) |
//! | `cedar` | `policy::cedar`: Cedar policies (`cedar-policy`, in process) |
//! | `config` | the `config` module (the `toml` crate, parsing and serde only) |
//! | `revocation-redis` | `revocation::redis`: the revocation list through Redis pub/sub and a snapshot key, subscriber and publisher (the `redis` crate, tokio only) |
//!
//! No feature changes a security default.
#![deny(missing_docs)]

// Module declarations: one line each, kept in this block; add yours with a one-line edit.
pub mod agent_keys;
mod answer;
pub mod authenticate;
pub mod client_auth;
#[cfg(feature = "config")]
pub mod config;
pub mod context;
pub mod credentials;
pub mod dev_idp;
pub mod error;
pub mod exchange;
#[cfg(feature = "axum")]
pub mod extract;
mod http_client;
pub mod introspect;
pub mod jwks;
pub mod jwt;
pub mod manual;
pub mod metrics;
pub mod mint;
#[cfg(feature = "mtls")]
pub mod mtls;
pub mod passport;
pub mod peer;
pub mod policy;
pub mod propagate;
pub mod require;
pub mod resource_metadata;
pub mod revocation;
pub mod sts;
pub mod token_cache;
pub mod trace;
pub mod verified;
pub mod verifier;
pub use credentials::Credentials;
pub use error::{AuthError, Challenge};
pub use verified::{Caller, CallerIdentity, Pattern, VerifiedPrincipal};
pub use verifier::{Verdict, Verifier, VerifierChain, VerifyFuture};
