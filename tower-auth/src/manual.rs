//! The tower-auth manual: the attacks on token verification and header propagation, how
//! Baton avoids each, and why the defaults are what they are.
//!
//! This module holds no code. Each entry names the check and links to where it lives;
//! `tests/hostile_tokens.rs`, `tests/hostile_proptest.rs`, `tests/jwks_*.rs` and
//! `tests/authenticate_headers.rs` show every rejection below with its exact error.
//!
//! # Attacks, and how Baton avoids them
//!
//! ## `alg: none`
//!
//! A token whose header says `"alg": "none"` carries no signature; a verifier that
//! believes the header accepts anything. Baton reads `alg` through a closed list of JWA
//! names (RFC 7518 §3.1, RFC 8037 §3.1) spelled exactly as there: `none`, `None`,
//! `NONE` and every unknown name are refused at the header, before any key is looked up,
//! with [`AuthError::UnsupportedAlgorithm`]. A token with an empty signature is refused
//! as [`AuthError::MalformedToken`] even when its `alg` is a real one.
//!
//! ## Algorithm confusion (HS256 signed with a public key)
//!
//! The classic attack takes an issuer's RSA or EC *public* key, uses its bytes as an
//! HMAC secret and signs `"alg": "HS256"`; a verifier that lets the header pick the
//! algorithm then checks the HMAC with that same public key and accepts. In Baton **the
//! algorithm comes from the key, never from the token**:
//!
//! - every [`VerificationKey`] has the one algorithm its JWK fixes
//!   ([`VerificationKey::algorithm`]: its `alg`, or the one its key type implies), and
//!   the signature is checked with that algorithm; the header only has to agree, or the
//!   token is refused with [`AuthError::AlgorithmMismatch`];
//! - each issuer has an allow-list ([`IssuerConfigBuilder::algorithms`]), checked against
//!   the header *before* the key lookup, so a disallowed `alg` cannot even cause a
//!   refetch ([`AuthError::UnsupportedAlgorithm`]);
//! - HMAC keys come only from configured secrets
//!   ([`IssuerConfigBuilder::hmac_secrets`]): a fetched JWKS never yields one (an `oct`
//!   JWK is dropped as [`DropReason::SymmetricKeyInFetchedSet`], and
//!   [`KeySetPolicyBuilder::allowed_algorithms`] refuses HMAC names with
//!   [`JwksConfigError::HmacForFetchedKeys`]); an issuer never mixes HMAC and asymmetric
//!   algorithms ([`ConfigError::MixedAlgorithmFamilies`],
//!   [`ConfigError::HmacWithoutSecrets`], [`ConfigError::AsymmetricWithSecrets`],
//!   [`ConfigError::HmacKeyInStaticSet`]).
//!
//! Secrets shorter than their hash output are refused when configured
//! ([`JwksConfigError::SecretTooShort`], RFC 7518 §3.2), and RSA keys under 2048 bits are
//! dropped from key sets ([`DropReason::RsaKeyTooSmall`]).
//!
//! ## Key injection through the header (`jku`, `x5u`, `jwk`, `x5c`)
//!
//! These header parameters let a token say where its key is, or carry the key itself; an
//! attacker points them at a key of their own. Baton **never reads them**: the header is
//! parsed into `alg`, `kid`, `typ` and `crit` only, and every other member is ignored.
//! Keys come only from the issuer's configured source ([`IssuerConfig::key_source`]: a
//! JWKS URL, discovery, RFC 8414 metadata, a static [`KeySet`] or HMAC secrets). A header
//! is at most [`MAX_HEADER_BYTES`] decoded, so an embedded `jwk` costs nothing either.
//!
//! ## `kid` tricks
//!
//! - **Another issuer's `kid`.** The issuer is chosen first, by exact `iss`, and the `kid`
//!   is looked up in that issuer's key set only. Two issuers with keys of the same name
//!   are not confused: a token of issuer B claiming issuer A is checked with A's key of
//!   that name and fails ([`AuthError::BadSignature`]); a `kid` only B has is
//!   [`AuthError::UnknownKeyId`] for A.
//! - **Unknown-`kid` floods.** An unknown `kid` may mean the IdP rotated keys, so
//!   [`KeyCache::key_for`] refetches, but at most once per
//!   [`RefreshPolicy::unknown_kid_cooldown`]; lookups for the same `kid` share that one
//!   fetch (single flight), and any other miss inside the cooldown is answered at once,
//!   without waiting behind the fetch in flight. A thousand made-up `kid`s cost the IdP
//!   one request and wait for nothing, and a known key is still read from a lock-free
//!   snapshot. [`JwtVerifier::verify_sync`]
//!   never fetches at all.
//! - **Oversized or empty `kid`.** No JWK with an empty `kid` or one over 256 bytes is kept
//!   ([`DropReason::InvalidKeyId`]), so such a `kid` is refused without a refetch, and
//!   errors repeat at most 64 bytes of any header value an attacker chose.
//! - **No `kid`.** Allowed only when the issuer's set has exactly one key;
//!   otherwise [`KeyError::MissingKeyId`], with no refetch.
//!
//! ## `crit`
//!
//! `crit` lists extensions the verifier must understand or refuse (RFC 7515 §4.1.11).
//! Baton understands none, so any `crit` is refused with [`AuthError::UnknownCritical`]
//! (an empty list is [`AuthError::MalformedToken`]): an extension that changes the
//! meaning of a token is never silently ignored.
//!
//! ## Expired and not-yet-valid tokens
//!
//! `exp` is required ([`AuthError::MissingClaim`]) and must be ahead of the verifier's
//! clock ([`AuthError::Expired`]); `nbf` must not be ahead of it
//! ([`AuthError::NotYetValid`]), nor `iat` ([`AuthError::IssuedInFuture`]). The leeway
//! for clock skew is [`DEFAULT_LEEWAY`] and can be set per issuer
//! ([`IssuerConfigBuilder::leeway`]) but never beyond [`MAX_LEEWAY`]
//! ([`ConfigError::LeewayTooLarge`]), so no configuration keeps an expired token alive
//! for long. Time comes from the [`Clock`](principal::Clock) given to the verifier
//! ([`JwtVerifierBuilder::clock`]), never from the token.
//!
//! ## Audience and issuer confusion
//!
//! - **A token for another service.** `aud` is required and at least one of its values
//!   must be among the issuer's configured audiences ([`AuthError::WrongAudience`]); an
//!   issuer must be configured with at least one audience ([`ConfigError::NoAudiences`]).
//!   The only way out is the named escape hatch
//!   [`IssuerConfigBuilder::insecure_skip_audience_check`].
//! - **An unknown issuer.** `iss` must equal a configured issuer exactly; otherwise the
//!   verifier declines with [`AuthError::UnknownIssuer`] (a [`VerifierChain`] asks the
//!   next verifier, and the last decline is the rejection).
//! - **A mapping that names another issuer.** The Principal the claim mapping builds must
//!   carry the configured issuer ([`AuthError::WrongIssuer`]).
//! - **An ID token or other JWT used as an access token.** Require the access-token type
//!   with [`IssuerConfigBuilder::require_typ`] (`at+jwt`, RFC 9068 §4); a token without it
//!   is [`AuthError::WrongType`].
//!
//! ## Identity capture through claims
//!
//! A trusted issuer can still be made to say things its users chose. The claim mapping
//! ([`ClaimMapping`](principal::ClaimMapping), one per issuer) reads none of them as
//! identity:
//!
//! - **A service from another issuer.** A service id derived from a client id depends on
//!   the issuer (`svc-{client_id}-{digest}`, [`ServiceId::derive`](principal::ServiceId::derive)),
//!   so a partner IdP's `gateway` is not the internal one; only the operator names a
//!   service outright, per issuer ([`ClaimMapping::with_service`](principal::ClaimMapping::with_service)).
//!   A client id that is not already a slug is refused, never folded (`Payments`,
//!   `payments_`, `payments.` are not `payments`).
//! - **A user who looks like a service.** Only markers the IdP alone writes make a service
//!   (`gty`, `idtyp`, Keycloak's service-account `client_id`); never a `sub` equal to
//!   `client_id` or `azp`, a `service-account-` user name, or a missing `sub`. `sub` is
//!   required (RFC 9068 §2.2) unless an issuer opts out with
//!   [`insecure_allow_missing_sub`](principal::ClaimMapping::insecure_allow_missing_sub).
//! - **Actors in another issuer's namespace.** An `act.iss` must be the token's `iss` or
//!   allowed ([`ClaimMapping::with_actor_issuer`](principal::ClaimMapping::with_actor_issuer)).
//! - **One party under two kinds.** Derived ids include the kind, and an actor with the
//!   subject's issuer and `sub` is the subject acting for itself: refused.
//! - **Raw grants read as permissions.** Inside a Principal, an actor's grant is its
//!   effective grant.
//!
//! ## Spoofed `x-principal-bin` and internal-token headers
//!
//! Between hops Baton carries the Principal in [`PRINCIPAL_HEADER`] (`x-principal-bin`),
//! and a deployment may carry internal tokens in [`INTERNAL_TOKEN_HEADER`]. An outside
//! caller sending these must never become that Principal. [`AuthenticateLayer`] removes
//! every value of both headers (and any added with
//! [`AuthenticateLayer::strip_headers`]) before anything reads the request. A service
//! behind the edge reads them with [`AuthenticateLayer::internal`](crate::authenticate::AuthenticateLayer::internal),
//! and only through its verifiers: they are removed from the request before the handler
//! runs, so nothing the handler forwards can carry them on. Only this crate's verifiers can make a
//! [`VerifiedPrincipal`] from nothing (its constructor is private), and the layer removes
//! any that reached it in the extensions before inserting its own verdict on the
//! request's credentials; a copy is an ordinary value, though, so code running behind the
//! layer is trusted not to move one between requests. Two `Authorization` headers are refused even when equal
//! ([`AuthError::DuplicateAuthorizationHeaders`]), so no two parts of a stack can read
//! different credentials; and in optional mode ([`AuthenticateLayer::optional`]) a bad
//! token is refused, never downgraded to anonymous.
//!
//! ## Passports: forged, replayed, or sent unsigned (pattern 4)
//!
//! Behind [`AuthenticateLayer::internal`](crate::authenticate::AuthenticateLayer::internal)
//! the [`PassportHeaderVerifier`] reads `x-principal-bin` (`tests/passport_verifier.rs`,
//! `tests/passport_http.rs`):
//!
//! - **Unsigned passports** prove nothing about their author. They are decoded only when
//!   the transport peer (the SPIFFE ID a TLS acceptor authenticated) is on the
//!   configured allowlist; without a peer the verdict is
//!   [`AuthError::UnsignedPassportWithoutPeer`], off the list
//!   [`AuthError::UnsignedPassportPeerNotAllowed`], and the bytes are never decoded.
//!   principal-proto enforces the same rule in its API: its only unsigned decoder,
//!   `Passport::decode_unsigned`, takes a `TrustedPeer`, the caller's written statement
//!   that it checked the peer.
//! - **Signed passports** are checked over the exact bytes received, with the algorithm
//!   of the key the key id names (never the envelope's), before anything inside is
//!   decoded; an unknown or retired key id, another key under a known id, or one flipped
//!   bit is [`AuthError::InvalidPassport`].
//! - **Replay to another request** is refused: the passport's request id must equal the
//!   request's `x-request-id` ([`AuthError::PassportRequestIdMismatch`],
//!   [`AuthError::MissingRequestId`]). **Replay to another service** is refused by the
//!   audience, except inside a trust domain whose services share the domain's audience
//!   by design; re-sign per hop where a passport should reach one service only.
//! - **A compromised hop** holding an HMAC secret shared by all hops can mint a passport
//!   for any Principal and audience that every other hop accepts, undetectably. With
//!   Ed25519 a hop holds only public keys of others and can sign only as itself, under
//!   its own key id, which names it as the [`Caller`](crate::Caller). Use Ed25519 across
//!   hops.
//!
//! ## Workload identity: a certificate that is not what it claims (pattern 5)
//!
//! With the feature `mtls`, `mtls::MtlsAcceptor` turns a mutual-TLS connection into a
//! [`PeerIdentity`](crate::peer::PeerIdentity), the gate for unsigned passports
//! (`tests/mtls_http.rs`, and the unit tests of `mtls`):
//!
//! - **No certificate, or a chain the configured CA did not sign**: rustls aborts the
//!   handshake (`mtls::server_config` requires a client certificate and never offers
//!   to skip it); the peer gets no TLS session at all.
//! - **Ambiguous identity**: an X.509-SVID carries exactly one URI SAN. A certificate
//!   with none, with two (even a `spiffe://` and an `https://` one), with a SPIFFE ID
//!   that fails the specification's rules, or with a second subject-alternative-name
//!   extension is refused; nothing picks "the first one".
//! - **Another trust domain**: a workload certified by a CA the service trusts for
//!   another domain is refused by an exact comparison of trust domains (no suffix
//!   match: `a.prod.example` is not `prod.example`), before any allowlist is consulted.
//! - **A refused peer never reaches a handler**: the connection is closed and its reason
//!   logged under `baton::mtls`; it cannot degrade to an anonymous request.
//! - **Slow handshakes**: each runs in its own task with a timeout, and their number is
//!   bounded, so a silent client neither blocks other clients nor holds memory for long.
//!
//! ## The verified-token cache never trusts more than a fresh verification
//!
//! [`TokenCache`] lets a token seen again skip the signature check, so it must never
//! answer differently from a fresh verification:
//!
//! - its key is SHA-256 over a fingerprint of the verifier's configuration and the token,
//!   so a verdict under one configuration is never a hit for another; it stores digests,
//!   never tokens;
//! - each entry records what its verdict depended on: the issuer, the key that checked
//!   the signature (and the key-set version it was current in) and the revocation-list
//!   version, each read *before* the verification began, so a change during it is
//!   re-checked later, never missed;
//! - a hit requires the issuer's key set to be servable still: once the IdP has been
//!   unreachable beyond the maximum staleness, a cached token is refused like a fresh
//!   one (an entry lives at most until `min(exp, serve_until)`);
//! - after a key-set change a hit checks that its own key is still there, unchanged (a
//!   key removed, perhaps compromised, stops its tokens on the next request); after a
//!   revocation change ([`Denylist::update`]) it checks the Principal against the
//!   current list; neither flushes the other entries;
//! - an entry serves only while `now < exp`, with no leeway: the cache never extends a
//!   token's life;
//! - only verified tokens get in, and it is bounded in entries and estimated bytes
//!   ([`TokenCacheConfig::max_entries`]), so an attacker cannot grow it.
//!   [`TokenCacheConfig::disabled`] turns it off.
//!
//! ## JWKS fetch hardening
//!
//! The key source is the root of trust, so fetching it is locked down ([`jwks`](crate::jwks)):
//!
//! - **https only**, except loopback hosts (`127.0.0.0/8`, `::1`, `localhost`) for
//!   development ([`JwksConfigError::InsecureScheme`]); URLs with credentials are refused
//!   ([`JwksConfigError::UrlHasCredentials`]); a discovered `jwks_uri` obeys the same rule,
//!   and may use `http` only when the issuer itself is on loopback
//!   ([`JwksError::InsecureJwksUri`]); an issuer configured with a JWKS URL is held to the
//!   scheme rule too;
//! - **no redirects**: a redirect could send the fetch to a host the operator never named
//!   ([`JwksError::RedirectRefused`]);
//! - **bounded bodies**, counted while reading, chunked or not
//!   ([`RefreshPolicy::max_body_bytes`], [`JwksError::BodyTooLarge`]), a JSON content type
//!   or none ([`JwksError::UnexpectedContentType`]), at most
//!   [`KeySetPolicy::max_keys`] keys, counted while reading ([`JwksError::TooManyKeys`]),
//!   IdP text cut to 256 bytes in errors and logs, and a bounded wait
//!   ([`RefreshPolicy::fetch_timeout`] per HTTP request, [`JwksError::Timeout`]);
//! - **issuer match on discovery**: the metadata's `issuer` must equal the configured
//!   issuer exactly (OIDC Discovery §4.3, RFC 8414 §3.3; [`JwksError::IssuerMismatch`]);
//! - **bounded staleness**: when the IdP fails, the last good set keeps serving, but only
//!   until [`RefreshPolicy::max_staleness`] past its expiry; then lookups fail closed
//!   ([`KeyError::Stale`], answered as [`AuthError::KeySourceUnavailable`], HTTP 503), so
//!   a key the IdP withdrew cannot stay trusted because the IdP became unreachable;
//! - **garbage keeps the last good set**: a failed or malformed answer never replaces
//!   working keys, and a set with no usable key is refused ([`JwksError::NoUsableKeys`]);
//!   a JWK carrying private members is dropped ([`DropReason::PrivateKeyMaterial`]).
//!
//! ## Opaque-token introspection (pattern 3)
//!
//! An [`IntrospectionVerifier`](crate::introspect::IntrospectionVerifier) sends tokens to
//! an authorization server and trusts its answer, so the call and the answer are held to
//! the JWKS fetch's rules and more ([`introspect`](crate::introspect)):
//!
//! - **tokens go only where they belong**: a JWT-shaped token is declined, so in a chain
//!   a JWT the JWT verifier did not claim (another issuer's) is never handed to this
//!   authorization server; the endpoint is `https` (or loopback `http`) and carries no
//!   credentials in its URL; redirects are never followed (they would carry the token
//!   and the client's secret elsewhere) and refuse the request;
//! - **fail closed, told apart**: `active: false`, a timeout, an error status, a
//!   redirect, an unreachable endpoint, an answer that is not an RFC 7662 JSON object
//!   with a boolean `active` (a member sent twice, which parsers read differently,
//!   included), or one over 64 KiB: each refuses, under its own reason;
//! - **`active: true` is not enough**: `exp` is required and checked with the leeway,
//!   `nbf` and `iat` too, `aud` must be accepted, a present `iss` must be the configured
//!   server, a `refresh_token` is no access token, and the revocation list applies;
//! - **the cache never vouches longer than the server would**: its key is a digest of the
//!   endpoint, the configuration and the token (a token one endpoint accepted is never a
//!   hit for another, even in a shared cache; tokens are never stored), an `active`
//!   answer lives until `exp` and at most `max_ttl` (the revocation latency the operator
//!   accepts), and only `active: false` is cached negatively, briefly;
//! - **floods cost one call**: the verifications of one token share one call (single
//!   flight), and an `active: false` answer serves from the negative cache;
//! - the client's secret is never in `Debug`, and its header value is marked sensitive.
//!
//! ## Token exchange, the client side (RFC 8693)
//!
//! A [`TokenExchangeClient`](crate::exchange::TokenExchangeClient) hands the caller's
//! token to a security token service and attaches what comes back to an outgoing call,
//! so both directions are held to rules ([`exchange`](crate::exchange)):
//!
//! - **the subject token goes only to the endpoint named**: `https` (or loopback `http`),
//!   no credentials in the URL, redirects never followed (a 3xx refuses: following it
//!   would carry the token and the client's secret elsewhere), through the crate's one
//!   hardened HTTP client (timeouts, a bounded answer);
//! - **a token of the kind asked for, or none**: `issued_token_type` is required and must
//!   be the `requested_token_type` sent (an ID token or a refresh token is never sent as
//!   if it were an access token); `token_type` must be `Bearer` (or `N_A`, which the
//!   propagate route refuses), so a sender-constrained token (`DPoP`) is never sent bare;
//! - **errors say little and hold no token**: an RFC 6749 error answer becomes its code
//!   ([`OAuthErrorCode`](crate::exchange::OAuthErrorCode)); `error_description`, which a
//!   server may fill with the request it received, is never read;
//! - **the cache never mixes callers**: its key is a SHA-256 digest over the subject and
//!   actor tokens, their types, the audiences, resources, scopes and requested type (the
//!   tokens themselves are not kept as keys), so one caller's token is never served to
//!   another, nor for another audience; a token is served until shortly before its
//!   `expires_in`, and an RFC 6749 refusal of a refresh (`invalid_grant`: the subject
//!   token was revoked) drops the cached token at once;
//! - **fail closed on the way out**: an exchanged propagate route whose exchange fails
//!   refuses the outgoing call ([`PropagateError::Exchange`](crate::propagate::PropagateError::Exchange)):
//!   nothing is sent, neither the original token nor a stale one.
//!
//! ## Token exchange, the service side (RFC 8693)
//!
//! A token service turns one credential into another, so every way to get more out than
//! went in is closed by [`TokenExchangeService`](crate::sts::TokenExchangeService)
//! ([`sts`](crate::sts)):
//!
//! - **an unknown or impersonating client**: every request authenticates the client
//!   (`client_secret_basic` or `client_secret_post`, never both); secrets are held as
//!   SHA-256 digests and compared in constant time, and an unknown id costs the same hash
//!   and comparison as a known one; the answer is `invalid_client` (401) whatever failed;
//! - **a token for a service the client may not reach**: exactly one target, from the
//!   client's own allowlist (an empty list admits nothing); the minted token carries
//!   exactly that one `aud`, so a receiving hop refuses it anywhere else;
//! - **more rights out than in**: the scopes are the requested ones, within the subject's
//!   and the actor's own, never wider (`invalid_scope`); the actor's `act` grant is
//!   narrowed alike, and the lifetime is the issuer's minutes, never past the subject's
//!   or the actor's expiry;
//! - **an actor nobody allowed**: the subject's `may_act`, when present, must name the
//!   actor (an object with `sub`, and `iss` if given; any other shape names nobody); the
//!   operator's kind policy decides who may act for whom (by default an agent or a
//!   service for a human, a service for an agent; a human for nobody); an actor token
//!   that is itself delegated is refused; the chain never grows past its maximum, and the
//!   model refuses an actor twice in one chain or an actor that is the subject;
//! - **a revoked token, exchanged again**: a token of the service's own that it revoked
//!   is refused as a subject or actor whatever the configured verifier says, and the
//!   verifiers' own revocation lists apply to the others;
//! - **tokens in answers or logs**: an error is only an RFC 6749 `error` code, with no
//!   description that could echo input; every answer is `Cache-Control: no-store`; the
//!   record of issued tokens keys on the SHA-256 of the token, never the token, and the
//!   audit event names ids, the `jti` and the reason.
//!
//! ## Secrets never in `Debug` or logs
//!
//! Tokens are never logged: the one audit event per decision
//! ([`AUDIT_TARGET`]) carries ids, pattern, outcome and reason, and the error's message,
//! which repeats at most short, bounded echoes of header values and `iss`. Types that hold
//! key material print it redacted: [`SymmetricKey`] and [`VerificationKey`] show
//! `[redacted]`, a token-cache key shows four bytes of its digest, and a URL's credentials
//! are removed before an error names it. A bearer token kept for passthrough
//! ([`BearerToken`](crate::context::BearerToken)) prints as `BearerToken(<redacted>)`.
//!
//! ## Identity leaking to the wrong destination (the propagate layer)
//!
//! An outgoing call is where a service can hand its caller's identity to someone who
//! should not have it: a handler that copies its incoming headers onto a request to a
//! third party, a token meant for one service sent to another, a passthrough bearer token
//! that reaches a partner API. [`PropagateLayer`](crate::propagate::PropagateLayer):
//!
//! - removes `authorization`, `x-principal-bin` and `x-baton-internal-token` from every
//!   outgoing request, whatever the caller's code set, before anything else;
//! - attaches identity only to destinations on its explicit allowlist, matched by exact
//!   authority (host, case-insensitive, and port; the port defaulted from the scheme, a
//!   URI with user info or an invalid port matches nothing), each with the form its route
//!   names: a passport for that destination's audience, a minted JWT whose one `aud` is
//!   that destination (replayed elsewhere, it is refused by audience), or the original
//!   bearer token only on routes that ask for it, and only when the authenticate layer was
//!   told to keep it ([`keep_bearer_token`](crate::authenticate::AuthenticateLayer::keep_bearer_token))
//!   and the Principal came from that very token;
//! - takes the Principal from the current request context only, never from a header or
//!   a default: without one it sends nothing (a `debug` event says so), or refuses the
//!   call on a route that requires a Principal.
//!
//! ## A Principal leaking from one request into another
//!
//! A server task serves many requests one after another (HTTP/1.1 keep-alive), and one
//! task may poll several requests' futures (HTTP/2, `join!`). The current request's
//! context is therefore never stored in a thread-local or a global: it rides with the
//! future that serves the request ([`RequestContext::scope`](crate::context::RequestContext::scope),
//! a tokio task-local set only while that future is polled, as `tracing` does with
//! spans). Between two polls, and for the next request, there is none: outside a scope
//! [`context::current_principal`](crate::context::current_principal) is `None`, never a
//! default Principal. A spawned task starts without one unless the helper
//! ([`context::spawn`](crate::context::spawn)) carries it explicitly, and a future
//! carried from where there was none runs with none wherever it is polled. The layer
//! removes any `RequestContext` already in the extensions, as it removes a
//! `VerifiedPrincipal`.
//!
//! # Why the defaults are so
//!
//! | default | value | why |
//! | --- | --- | --- |
//! | clock leeway ([`DEFAULT_LEEWAY`]) | 30 s | covers the skew of NTP-synchronized hosts; a token is accepted at most 30 s past `exp` |
//! | leeway cap ([`MAX_LEEWAY`]) | 300 s | more would keep expired (perhaps stolen) tokens alive for minutes |
//! | token size, layer and verifier ([`DEFAULT_MAX_TOKEN_BYTES`](crate::authenticate::DEFAULT_MAX_TOKEN_BYTES)) | 8 KiB | access tokens are typically 1-2 KiB; refused before anything parses it, so a huge token costs nothing |
//! | token size cap ([`MAX_MAX_TOKEN_BYTES`]) | 64 KiB | the same reason, for issuers with large tokens |
//! | header size ([`MAX_HEADER_BYTES`]) | 4 KiB decoded | real headers are under 200 bytes |
//! | error echo of token values | 64 bytes | enough to debug a `kid` or `alg`; an attacker cannot write much into logs |
//! | `aud` check | on, one audience required | a token for another service is the commonest confusion |
//! | allowed algorithms ([`KeySetPolicy::ASYMMETRIC_ALGORITHMS`]) | RS256/384/512, PS256/384/512, ES256/384, EdDSA | every asymmetric JWS algorithm jsonwebtoken verifies; HMAC only from configured secrets |
//! | minimum RSA modulus ([`KeySetPolicy::min_rsa_bits`]) | 2048 bits | RFC 7518 §3.3; cannot be lowered |
//! | unknown-`kid` cooldown ([`RefreshPolicy::DEFAULT_UNKNOWN_KID_COOLDOWN`]) | 30 s | a rotated key is picked up at once; a flood of made-up `kid`s costs the IdP two fetches a minute |
//! | maximum staleness ([`RefreshPolicy::DEFAULT_MAX_STALENESS`]) | 1 h | a short IdP outage is invisible; beyond an hour, removed keys must stop working |
//! | JWKS lifetime without `max-age` ([`RefreshPolicy::DEFAULT_TTL`]) | 5 min | rotations and removals show within minutes, at negligible IdP load |
//! | lifetime floor ([`RefreshPolicy::DEFAULT_MIN_TTL`]) | 1 min | `max-age=0` or `no-store` cannot make every instance hammer the IdP |
//! | lifetime ceiling ([`RefreshPolicy::DEFAULT_MAX_TTL`]) | 1 h | a removed key stops being accepted within the hour whatever `max-age` says |
//! | retry after a failed refresh ([`RefreshPolicy::DEFAULT_FAILURE_RETRY`]) | 30 s | a recovering IdP is noticed quickly without being stormed |
//! | fetch timeout ([`RefreshPolicy::DEFAULT_FETCH_TIMEOUT`]) | 5 s | per HTTP request, connect to last body byte (a fetch makes two when the metadata is due); a request waiting on a refetch of its `kid` waits for that fetch and the rest of one already running; other unknown `kid`s do not wait |
//! | JWKS body cap ([`RefreshPolicy::DEFAULT_MAX_BODY_BYTES`]) | 1 MiB | real key sets are a few KiB |
//! | keys per set ([`KeySetPolicy::DEFAULT_MAX_KEYS`]) | 64 | IdPs publish a handful; a huge set is an attack or a mistake |
//! | start-up ([`StartupPolicy`]) | fail if the keys cannot be loaded | a service that starts without keys refuses every token; going on is a choice ([`StartupPolicy::ContinueIfUnavailable`]) |
//! | verified-token cache ([`DEFAULT_MAX_ENTRIES`]) | on, 10 000 entries | a token is typically presented many times in its life; the bounds (entries, and 32 MiB estimated) keep memory small, and the per-entry dependencies keep the cache as strict as a fresh check |
//! | optional authentication | off | a request without credentials is refused unless a route opts in |
//! | stripped headers | `x-principal-bin`, `x-baton-internal-token` | an outside caller must never choose its own Principal |
//! | mTLS protocol (`mtls::server_config`) | TLS 1.3 only | both ends are our own services; no downgrade surface to keep |
//! | mTLS handshake timeout (`mtls::DEFAULT_HANDSHAKE_TIMEOUT`) | 10 s | a real handshake takes milliseconds; a silent client is dropped soon |
//! | handshakes at once (`mtls::DEFAULT_MAX_PENDING_HANDSHAKES`) | 1024 | past it, new connections wait in the kernel's backlog, not in memory |
//!
//! [`AuthError::UnsupportedAlgorithm`]: crate::AuthError::UnsupportedAlgorithm
//! [`AuthError::MalformedToken`]: crate::AuthError::MalformedToken
//! [`AuthError::AlgorithmMismatch`]: crate::AuthError::AlgorithmMismatch
//! [`AuthError::BadSignature`]: crate::AuthError::BadSignature
//! [`AuthError::UnknownKeyId`]: crate::AuthError::UnknownKeyId
//! [`AuthError::UnknownCritical`]: crate::AuthError::UnknownCritical
//! [`AuthError::MissingClaim`]: crate::AuthError::MissingClaim
//! [`AuthError::Expired`]: crate::AuthError::Expired
//! [`AuthError::NotYetValid`]: crate::AuthError::NotYetValid
//! [`AuthError::IssuedInFuture`]: crate::AuthError::IssuedInFuture
//! [`AuthError::WrongAudience`]: crate::AuthError::WrongAudience
//! [`AuthError::UnknownIssuer`]: crate::AuthError::UnknownIssuer
//! [`AuthError::WrongIssuer`]: crate::AuthError::WrongIssuer
//! [`AuthError::WrongType`]: crate::AuthError::WrongType
//! [`AuthError::DuplicateAuthorizationHeaders`]: crate::AuthError::DuplicateAuthorizationHeaders
//! [`AuthError::KeySourceUnavailable`]: crate::AuthError::KeySourceUnavailable
//! [`VerificationKey`]: crate::jwks::VerificationKey
//! [`VerificationKey::algorithm`]: crate::jwks::VerificationKey::algorithm
//! [`KeySet`]: crate::jwks::KeySet
//! [`KeyCache::key_for`]: crate::jwks::KeyCache::key_for
//! [`KeyError::MissingKeyId`]: crate::jwks::KeyError::MissingKeyId
//! [`KeyError::Stale`]: crate::jwks::KeyError::Stale
//! [`DropReason::SymmetricKeyInFetchedSet`]: crate::jwks::DropReason::SymmetricKeyInFetchedSet
//! [`DropReason::RsaKeyTooSmall`]: crate::jwks::DropReason::RsaKeyTooSmall
//! [`DropReason::InvalidKeyId`]: crate::jwks::DropReason::InvalidKeyId
//! [`DropReason::PrivateKeyMaterial`]: crate::jwks::DropReason::PrivateKeyMaterial
//! [`KeySetPolicyBuilder::allowed_algorithms`]: crate::jwks::KeySetPolicyBuilder::allowed_algorithms
//! [`KeySetPolicy::max_keys`]: crate::jwks::KeySetPolicy::max_keys
//! [`KeySetPolicy::min_rsa_bits`]: crate::jwks::KeySetPolicy::min_rsa_bits
//! [`KeySetPolicy::ASYMMETRIC_ALGORITHMS`]: crate::jwks::KeySetPolicy::ASYMMETRIC_ALGORITHMS
//! [`KeySetPolicy::DEFAULT_MAX_KEYS`]: crate::jwks::KeySetPolicy::DEFAULT_MAX_KEYS
//! [`RefreshPolicy::unknown_kid_cooldown`]: crate::jwks::RefreshPolicy::unknown_kid_cooldown
//! [`RefreshPolicy::max_body_bytes`]: crate::jwks::RefreshPolicy::max_body_bytes
//! [`RefreshPolicy::fetch_timeout`]: crate::jwks::RefreshPolicy::fetch_timeout
//! [`RefreshPolicy::max_staleness`]: crate::jwks::RefreshPolicy::max_staleness
//! [`RefreshPolicy::DEFAULT_UNKNOWN_KID_COOLDOWN`]: crate::jwks::RefreshPolicy::DEFAULT_UNKNOWN_KID_COOLDOWN
//! [`RefreshPolicy::DEFAULT_MAX_STALENESS`]: crate::jwks::RefreshPolicy::DEFAULT_MAX_STALENESS
//! [`RefreshPolicy::DEFAULT_TTL`]: crate::jwks::RefreshPolicy::DEFAULT_TTL
//! [`RefreshPolicy::DEFAULT_MIN_TTL`]: crate::jwks::RefreshPolicy::DEFAULT_MIN_TTL
//! [`RefreshPolicy::DEFAULT_MAX_TTL`]: crate::jwks::RefreshPolicy::DEFAULT_MAX_TTL
//! [`RefreshPolicy::DEFAULT_FAILURE_RETRY`]: crate::jwks::RefreshPolicy::DEFAULT_FAILURE_RETRY
//! [`RefreshPolicy::DEFAULT_FETCH_TIMEOUT`]: crate::jwks::RefreshPolicy::DEFAULT_FETCH_TIMEOUT
//! [`RefreshPolicy::DEFAULT_MAX_BODY_BYTES`]: crate::jwks::RefreshPolicy::DEFAULT_MAX_BODY_BYTES
//! [`StartupPolicy`]: crate::jwks::StartupPolicy
//! [`StartupPolicy::ContinueIfUnavailable`]: crate::jwks::StartupPolicy::ContinueIfUnavailable
//! [`SymmetricKey`]: crate::jwks::SymmetricKey
//! [`JwksConfigError::HmacForFetchedKeys`]: crate::jwks::JwksConfigError::HmacForFetchedKeys
//! [`JwksConfigError::SecretTooShort`]: crate::jwks::JwksConfigError::SecretTooShort
//! [`JwksConfigError::InsecureScheme`]: crate::jwks::JwksConfigError::InsecureScheme
//! [`JwksConfigError::UrlHasCredentials`]: crate::jwks::JwksConfigError::UrlHasCredentials
//! [`JwksError::InsecureJwksUri`]: crate::jwks::JwksError::InsecureJwksUri
//! [`JwksError::RedirectRefused`]: crate::jwks::JwksError::RedirectRefused
//! [`JwksError::BodyTooLarge`]: crate::jwks::JwksError::BodyTooLarge
//! [`JwksError::UnexpectedContentType`]: crate::jwks::JwksError::UnexpectedContentType
//! [`JwksError::TooManyKeys`]: crate::jwks::JwksError::TooManyKeys
//! [`JwksError::Timeout`]: crate::jwks::JwksError::Timeout
//! [`JwksError::IssuerMismatch`]: crate::jwks::JwksError::IssuerMismatch
//! [`JwksError::NoUsableKeys`]: crate::jwks::JwksError::NoUsableKeys
//! [`IssuerConfig::key_source`]: crate::jwt::IssuerConfig::key_source
//! [`IssuerConfigBuilder::algorithms`]: crate::jwt::IssuerConfigBuilder::algorithms
//! [`IssuerConfigBuilder::hmac_secrets`]: crate::jwt::IssuerConfigBuilder::hmac_secrets
//! [`IssuerConfigBuilder::leeway`]: crate::jwt::IssuerConfigBuilder::leeway
//! [`IssuerConfigBuilder::insecure_skip_audience_check`]: crate::jwt::IssuerConfigBuilder::insecure_skip_audience_check
//! [`IssuerConfigBuilder::require_typ`]: crate::jwt::IssuerConfigBuilder::require_typ
//! [`ConfigError::MixedAlgorithmFamilies`]: crate::jwt::ConfigError::MixedAlgorithmFamilies
//! [`ConfigError::HmacWithoutSecrets`]: crate::jwt::ConfigError::HmacWithoutSecrets
//! [`ConfigError::AsymmetricWithSecrets`]: crate::jwt::ConfigError::AsymmetricWithSecrets
//! [`ConfigError::HmacKeyInStaticSet`]: crate::jwt::ConfigError::HmacKeyInStaticSet
//! [`ConfigError::LeewayTooLarge`]: crate::jwt::ConfigError::LeewayTooLarge
//! [`ConfigError::NoAudiences`]: crate::jwt::ConfigError::NoAudiences
//! [`DEFAULT_LEEWAY`]: crate::jwt::DEFAULT_LEEWAY
//! [`MAX_LEEWAY`]: crate::jwt::MAX_LEEWAY
//! [`MAX_MAX_TOKEN_BYTES`]: crate::jwt::MAX_MAX_TOKEN_BYTES
//! [`MAX_HEADER_BYTES`]: crate::jwt::MAX_HEADER_BYTES
//! [`JwtVerifier::verify_sync`]: crate::jwt::JwtVerifier::verify_sync
//! [`JwtVerifierBuilder::clock`]: crate::jwt::JwtVerifierBuilder::clock
//! [`VerifierChain`]: crate::verifier::VerifierChain
//! [`PRINCIPAL_HEADER`]: crate::authenticate::PRINCIPAL_HEADER
//! [`INTERNAL_TOKEN_HEADER`]: crate::authenticate::INTERNAL_TOKEN_HEADER
//! [`AUDIT_TARGET`]: crate::authenticate::AUDIT_TARGET
//! [`AuthenticateLayer`]: crate::authenticate::AuthenticateLayer
//! [`AuthenticateLayer::strip_headers`]: crate::authenticate::AuthenticateLayer::strip_headers
//! [`AuthenticateLayer::insecure_keep_header`]: crate::authenticate::AuthenticateLayer::insecure_keep_header
//! [`AuthenticateLayer::optional`]: crate::authenticate::AuthenticateLayer::optional
//! [`VerifiedPrincipal`]: crate::verified::VerifiedPrincipal
//! [`TokenCache`]: crate::token_cache::TokenCache
//! [`TokenCacheConfig::max_entries`]: crate::token_cache::TokenCacheConfig::max_entries
//! [`TokenCacheConfig::disabled`]: crate::token_cache::TokenCacheConfig::disabled
//! [`DEFAULT_MAX_ENTRIES`]: crate::token_cache::DEFAULT_MAX_ENTRIES
//! [`Denylist::update`]: crate::revocation::Denylist::update
//! [`PassportHeaderVerifier`]: crate::passport::PassportHeaderVerifier
//! [`AuthError::UnsignedPassportWithoutPeer`]: crate::error::AuthError::UnsignedPassportWithoutPeer
//! [`AuthError::UnsignedPassportPeerNotAllowed`]: crate::error::AuthError::UnsignedPassportPeerNotAllowed
//! [`AuthError::InvalidPassport`]: crate::error::AuthError::InvalidPassport
//! [`AuthError::PassportRequestIdMismatch`]: crate::error::AuthError::PassportRequestIdMismatch
//! [`AuthError::MissingRequestId`]: crate::error::AuthError::MissingRequestId
