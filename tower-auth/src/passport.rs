//! Pattern 4: the `x-principal-bin` passport as a [`Verifier`].
//!
//! [`PassportHeaderVerifier`] reads [`Credentials::passport`] (declining when there is
//! none) and accepts a passport in one of two forms
//! ([`PassportForm`]):
//!
//! - **signed**, checked with principal-proto's key ring over the exact bytes received
//!   (HMAC-SHA256 or Ed25519, several keys by key id). Each key id maps to the
//!   [`ServiceId`] that signs with it, which becomes the hop's
//!   [`Caller`]. The keys live in an [`ArcSwap`](arc_swap::ArcSwap): rotate them with
//!   [`PassportHeaderVerifier::set_keys`] while requests are served (add the next key,
//!   switch the signer, retire the old key once its passports have expired);
//! - **unsigned**, only from a transport peer (the mTLS workload a TLS acceptor put in
//!   the request) on the configured [`PeerAllowlist`]. Without a peer, or from a peer off
//!   the list, it is refused, and its bytes are never decoded. The caller is then that
//!   workload.
//!
//! Either way the passport must name the configured audience, be within its lifetime by
//! the verifier's [`Clock`], and carry the request's `x-request-id` as its request id (a
//! request without one is refused). The sender chooses the form; choosing the other one
//! gains nothing (a signature still needs an accepted key, an unsigned passport still an
//! allowlisted peer).
//!
//! # The two modes (DESIGN §3)
//!
//! - **Forwarded unchanged inside a trust domain**: the edge signs one passport whose
//!   audience names the domain (say `shop.internal`), and every service of the domain
//!   configures that audience and the edge's public key. No per-service keys; any service
//!   of the domain can replay what it received to any other, which is the point.
//! - **Re-signed per hop**: each service configures its *own* audience and the public
//!   keys of the services that call it; a hop turns what it verified into the next
//!   hop's passport with [`Passport::reissue_for`](principal_proto::Passport::reissue_for)
//!   and signs it with its own Ed25519 key. A passport can then be used only by the hop
//!   it names, and every hop knows which service vouched for it.
//!
//! Prefer Ed25519 keys in both modes. An HMAC secret shared by every hop lets any one
//! compromised hop mint a passport for any Principal and any audience that every other
//! hop accepts, undetectably (see principal-proto's "HMAC-SHA256 or Ed25519").
//!
//! Use this verifier behind [`AuthenticateLayer::internal`](crate::authenticate::AuthenticateLayer::internal):
//! at an edge ([`AuthenticateLayer::new`](crate::authenticate::AuthenticateLayer::new))
//! `x-principal-bin` is stripped before any verifier runs, so a spoofed passport never
//! reaches it.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use arc_swap::ArcSwapOption;
use principal::{Clock, ServiceId, SystemClock};
use principal_proto::{
    ConfigError, DecodeOptions, KeyId, Passport, PassportForm, PassportVerifyingKey, TrustedPeer,
    header,
};

use crate::credentials::Credentials;
use crate::error::AuthError;
use crate::peer::PeerAllowlist;
use crate::verified::{Caller, CallerIdentity, Pattern, VerifiedPrincipal};
use crate::verifier::{Verdict, Verifier, VerifyFuture};

/// The passport keys a service accepts, each with the service that signs with it.
///
/// Never empty, and every key has a signer: a passport that verifies always names the
/// service that called. Cheap to clone (keys are reference-counted).
///
/// ```
/// use principal::ServiceId;
/// use principal_proto::{ConfigError, KeyId, PassportSigningKey};
/// use tower_auth::passport::PassportKeys;
///
/// let gateway = PassportSigningKey::ed25519_generate(KeyId::new("gateway-1")?)?;
/// let next = PassportSigningKey::ed25519_generate(KeyId::new("gateway-2")?)?;
/// let keys = PassportKeys::new(gateway.verifying_key(), "svc-gateway".parse::<ServiceId>()?)?
///     .with_key(next.verifying_key(), "svc-gateway".parse()?)?;
/// assert_eq!(keys.signer(&KeyId::new("gateway-2")?).map(|s| s.as_str()), Some("svc-gateway"));
///
/// // Refused: a key id twice; retiring a key that is not there, or the last one.
/// assert!(matches!(
///     keys.clone().with_key(next.verifying_key(), "svc-orders".parse()?),
///     Err(ConfigError::DuplicateKeyId { .. })
/// ));
/// assert!(matches!(keys.clone().without_key(&KeyId::new("nope")?), Err(ConfigError::UnknownKeyId { .. })));
/// let one = keys.without_key(&KeyId::new("gateway-1")?)?;
/// assert!(matches!(one.without_key(&KeyId::new("gateway-2")?), Err(ConfigError::NoKeys)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct PassportKeys {
    keys: principal_proto::PassportVerifier,
    signers: HashMap<KeyId, ServiceId>,
}

impl PassportKeys {
    /// Accept passports signed by `key`, from `signer`.
    ///
    /// # Errors
    /// None in practice (one key is never empty nor a duplicate); the `Result` is
    /// principal-proto's key set constructor's.
    pub fn new(key: PassportVerifyingKey, signer: ServiceId) -> Result<Self, ConfigError> {
        let signers = HashMap::from([(key.key_id().clone(), signer)]);
        Ok(PassportKeys {
            keys: principal_proto::PassportVerifier::new([key])?,
            signers,
        })
    }

    /// Accept passports signed by `key` as well, from `signer` (the next key before a
    /// rotation, or another service's key).
    ///
    /// # Errors
    /// [`ConfigError::DuplicateKeyId`] when a key with that key id is already accepted.
    pub fn with_key(
        mut self,
        key: PassportVerifyingKey,
        signer: ServiceId,
    ) -> Result<Self, ConfigError> {
        let key_id = key.key_id().clone();
        self.keys.add(key)?;
        self.signers.insert(key_id, signer);
        Ok(self)
    }

    /// Stop accepting passports signed by the key `key_id` (retire it once the passports
    /// it signed have expired).
    ///
    /// # Errors
    /// [`ConfigError::UnknownKeyId`] when no key has that id; [`ConfigError::NoKeys`] when
    /// it is the last one.
    pub fn without_key(mut self, key_id: &KeyId) -> Result<Self, ConfigError> {
        self.keys.retire(key_id)?;
        self.signers.remove(key_id);
        Ok(self)
    }

    /// The service that signs with `key_id`, if that key is accepted.
    pub fn signer(&self, key_id: &KeyId) -> Option<&ServiceId> {
        self.signers.get(key_id)
    }

    /// The accepted key ids.
    pub fn key_ids(&self) -> impl Iterator<Item = &KeyId> {
        self.keys.key_ids()
    }
}

/// Verifies the `x-principal-bin` passport of a request (pattern 4); see the
/// [module docs](self).
///
/// ```
/// use std::sync::Arc;
/// use principal::{Audience, ServiceId, TestClock, Timestamp};
/// use principal_proto::{DecodeOptions, KeyId, PassportKeyRing, PassportSigningKey};
/// use tower_auth::passport::{PassportHeaderVerifier, PassportKeys};
/// use tower_auth::{AuthError, CallerIdentity, Credentials, Verifier};
///
/// let now = Timestamp::from_unix_seconds(1_700_000_000);
/// // The edge signs with its own Ed25519 key; `orders` knows the public half by key id.
/// let edge = PassportKeyRing::new(PassportSigningKey::ed25519_generate(KeyId::new("edge-1")?)?);
/// let edge_public = edge.verifier().key(edge.current_key_id()).unwrap().clone();
/// let verifier = PassportHeaderVerifier::new(
///     DecodeOptions::new(Audience::new("orders")?),
///     PassportKeys::new(edge_public, "svc-edge".parse::<ServiceId>()?)?,
/// )
/// .clock(Arc::new(TestClock::new(now)));
///
/// let passport = principal_proto::fixtures::reference_passport(now)?; // audience "orders"
/// let header = edge.sign_header(&passport)?;
/// let request_id = passport.request_id().as_str();
///
/// let credentials = Credentials::none().with_passport(&header).with_request_id(request_id);
/// let verified = verifier.verify(&credentials).into_ready().unwrap()?;
/// assert_eq!(verified.id(), passport.principal().id());
/// assert!(matches!(
///     verified.caller().map(|caller| caller.identity()),
///     Some(CallerIdentity::Service(service)) if service.as_str() == "svc-edge"
/// ));
///
/// // Refused: the same passport for another request.
/// let replayed = Credentials::none().with_passport(&header).with_request_id("req-other");
/// assert!(matches!(
///     verifier.verify(&replayed).into_ready().unwrap(),
///     Err(AuthError::PassportRequestIdMismatch)
/// ));
/// // No passport at all: not this verifier's business (a chain asks the next one).
/// assert!(matches!(
///     verifier.verify(&Credentials::bearer("abc")).into_ready().unwrap(),
///     Err(AuthError::UnsupportedTokenFormat)
/// ));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct PassportHeaderVerifier {
    options: DecodeOptions,
    /// `None`: unsigned passports only ([`PassportHeaderVerifier::unsigned_only`]).
    keys: ArcSwapOption<PassportKeys>,
    unsigned_from: PeerAllowlist,
    clock: Arc<dyn Clock>,
}

impl PassportHeaderVerifier {
    /// A verifier of passports for the audience of `options` (a trust domain's audience,
    /// or this service's own), signed by one of `keys`. Unsigned passports are refused
    /// until [`unsigned_from`](Self::unsigned_from) allows some peers. Time comes from
    /// the system clock until [`clock`](Self::clock) sets another.
    pub fn new(options: DecodeOptions, keys: PassportKeys) -> Self {
        PassportHeaderVerifier {
            options,
            keys: ArcSwapOption::from_pointee(keys),
            unsigned_from: PeerAllowlist::default(),
            clock: Arc::new(SystemClock),
        }
    }

    /// A verifier that holds no signing key: it accepts only unsigned passports, and only
    /// from the transport peers on `peers` (exact SPIFFE IDs, as the mTLS acceptor
    /// authenticated them), for the audience of `options`. A signed passport is refused
    /// ([`AuthError::SignedPassportNotAccepted`]) until [`set_keys`](Self::set_keys) gives
    /// it keys. For a hop whose callers are trusted by mTLS alone (pattern 4 over
    /// pattern 5).
    ///
    /// ```
    /// use principal::{Audience, TestClock, Timestamp};
    /// use principal_proto::{DecodeOptions, KeyId, PassportKeyRing, PassportSigningKey};
    /// use tower_auth::passport::PassportHeaderVerifier;
    /// use tower_auth::peer::{PeerAllowlist, PeerIdentity, SpiffeId};
    /// use tower_auth::{AuthError, Credentials, Verifier};
    /// # let now = Timestamp::from_unix_seconds(1_700_000_000);
    ///
    /// let gateway: SpiffeId = "spiffe://shop.internal/gateway".parse()?;
    /// let verifier = PassportHeaderVerifier::unsigned_only(
    ///     DecodeOptions::new(Audience::new("orders")?),
    ///     PeerAllowlist::new([gateway.clone()]),
    /// )
    /// .clock(std::sync::Arc::new(TestClock::new(now)));
    /// let peer = PeerIdentity::new(gateway);
    /// let passport = principal_proto::fixtures::reference_passport(now)?;
    /// let request_id = passport.request_id().as_str();
    ///
    /// // Unsigned, from the allowlisted gateway: accepted.
    /// let unsigned = passport.encode_header()?;
    /// let credentials = Credentials::none().with_passport(&unsigned).with_request_id(request_id);
    /// assert!(verifier.verify(&credentials.with_peer(&peer)).into_ready().unwrap().is_ok());
    ///
    /// // Signed, even by a real key and from the same peer: refused, no key to check it.
    /// let ring = PassportKeyRing::new(PassportSigningKey::ed25519_generate(KeyId::new("edge-1")?)?);
    /// let signed = ring.sign_header(&passport)?;
    /// let credentials = Credentials::none().with_passport(&signed).with_request_id(request_id);
    /// assert!(matches!(
    ///     verifier.verify(&credentials.with_peer(&peer)).into_ready().unwrap(),
    ///     Err(AuthError::SignedPassportNotAccepted)
    /// ));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn unsigned_only(options: DecodeOptions, peers: PeerAllowlist) -> Self {
        PassportHeaderVerifier {
            options,
            keys: ArcSwapOption::empty(),
            unsigned_from: peers,
            clock: Arc::new(SystemClock),
        }
    }

    /// Accept unsigned passports from these transport peers (exact SPIFFE IDs, as the
    /// TLS acceptor authenticated them). An empty list allows nobody.
    ///
    /// ```
    /// use principal::{Audience, ServiceId, TestClock, Timestamp};
    /// use principal_proto::{DecodeOptions, KeyId, PassportSigningKey};
    /// use tower_auth::passport::{PassportHeaderVerifier, PassportKeys};
    /// use tower_auth::peer::{PeerAllowlist, PeerIdentity, SpiffeId};
    /// use tower_auth::{AuthError, CallerIdentity, Credentials, Verifier};
    /// # let now = Timestamp::from_unix_seconds(1_700_000_000);
    /// # let key = PassportSigningKey::ed25519_generate(KeyId::new("edge-1")?)?.verifying_key();
    ///
    /// let gateway: SpiffeId = "spiffe://shop.internal/gateway".parse()?;
    /// let verifier = PassportHeaderVerifier::new(
    ///     DecodeOptions::new(Audience::new("orders")?),
    ///     PassportKeys::new(key, "svc-edge".parse::<ServiceId>()?)?,
    /// )
    /// .unsigned_from(PeerAllowlist::new([gateway.clone()]))
    /// .clock(std::sync::Arc::new(TestClock::new(now)));
    ///
    /// let passport = principal_proto::fixtures::reference_passport(now)?;
    /// let header = passport.encode_header()?; // unsigned
    /// let request_id = passport.request_id().as_str();
    /// let unsigned = Credentials::none().with_passport(&header).with_request_id(request_id);
    ///
    /// // From the allowlisted gateway: accepted, and the caller is that workload.
    /// let peer = PeerIdentity::new(gateway);
    /// let verified = verifier.verify(&unsigned.with_peer(&peer)).into_ready().unwrap()?;
    /// assert!(matches!(verified.caller().unwrap().identity(), CallerIdentity::Workload(_)));
    ///
    /// // Without a peer, or from another workload: refused.
    /// assert!(matches!(
    ///     verifier.verify(&unsigned).into_ready().unwrap(),
    ///     Err(AuthError::UnsignedPassportWithoutPeer)
    /// ));
    /// let batch = PeerIdentity::new("spiffe://shop.internal/batch".parse()?);
    /// assert!(matches!(
    ///     verifier.verify(&unsigned.with_peer(&batch)).into_ready().unwrap(),
    ///     Err(AuthError::UnsignedPassportPeerNotAllowed { .. })
    /// ));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn unsigned_from(mut self, peers: PeerAllowlist) -> Self {
        self.unsigned_from = peers;
        self
    }

    /// Take time from `clock` (a `TestClock` in tests).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The keys accepted now; `None` for an [`unsigned_only`](Self::unsigned_only)
    /// verifier that was given none since.
    pub fn keys(&self) -> Option<Arc<PassportKeys>> {
        self.keys.load_full()
    }

    /// Accept `keys` from now on, for every request that starts verifying after this call
    /// (lock-free: requests in flight finish with the keys they loaded).
    ///
    /// ```
    /// use principal::{Audience, ServiceId};
    /// use principal_proto::{DecodeOptions, KeyId, PassportSigningKey};
    /// use tower_auth::passport::{PassportHeaderVerifier, PassportKeys};
    ///
    /// let old = PassportSigningKey::ed25519_generate(KeyId::new("edge-1")?)?;
    /// let new = PassportSigningKey::ed25519_generate(KeyId::new("edge-2")?)?;
    /// let edge: ServiceId = "svc-edge".parse()?;
    /// let verifier = PassportHeaderVerifier::new(
    ///     DecodeOptions::new(Audience::new("orders")?),
    ///     PassportKeys::new(old.verifying_key(), edge.clone())?,
    /// );
    /// // Rotation: accept the new key beside the old one, then retire the old one.
    /// let keys = verifier.keys().expect("made with keys");
    /// verifier.set_keys(keys.as_ref().clone().with_key(new.verifying_key(), edge)?);
    /// let keys = verifier.keys().expect("made with keys");
    /// assert_eq!(keys.key_ids().count(), 2);
    /// verifier.set_keys(keys.as_ref().clone().without_key(old.key_id())?);
    /// let keys = verifier.keys().expect("made with keys");
    /// assert_eq!(keys.key_ids().map(KeyId::as_str).collect::<Vec<_>>(), ["edge-2"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_keys(&self, keys: PassportKeys) {
        self.keys.store(Some(Arc::new(keys)));
    }

    /// The audience passports must name.
    pub fn audience(&self) -> &principal::Audience {
        self.options.expected_audience()
    }

    /// The passport of `credentials`, verified exactly as [`Verifier::verify`] does
    /// (same checks, same errors), for a hop that re-issues it for the next one with
    /// [`Passport::reissue_for`](principal_proto::Passport::reissue_for), which needs
    /// the received request id and expiry that a [`VerifiedPrincipal`] does not carry.
    /// The [`Passport`] is plain data, not a proof: only `verify` makes one.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use principal::{Audience, ServiceId, TestClock, Timestamp};
    /// use principal_proto::{DecodeOptions, KeyId, PassportKeyRing, PassportSigningKey};
    /// use tower_auth::passport::{PassportHeaderVerifier, PassportKeys};
    /// use tower_auth::{AuthError, Credentials};
    ///
    /// let now = Timestamp::from_unix_seconds(1_700_000_000);
    /// let edge = PassportKeyRing::new(PassportSigningKey::ed25519_generate(KeyId::new("edge-1")?)?);
    /// let verifier = PassportHeaderVerifier::new(
    ///     DecodeOptions::new(Audience::new("orders")?),
    ///     PassportKeys::new(edge.verifier().key(edge.current_key_id()).unwrap().clone(), "svc-edge".parse::<ServiceId>()?)?,
    /// )
    /// .clock(Arc::new(TestClock::new(now)));
    /// let received = principal_proto::fixtures::reference_passport(now)?;
    /// let header = edge.sign_header(&received)?;
    /// let credentials = Credentials::none().with_passport(&header).with_request_id(received.request_id().as_str());
    ///
    /// // `orders` re-issues it for `billing`, to sign with its own key.
    /// let passport = verifier.verify_passport(&credentials)?;
    /// let next = passport.reissue_for(Audience::new("billing")?, now, 30)?;
    /// assert_eq!(next.request_id(), received.request_id());
    ///
    /// let no_id = Credentials::none().with_passport(&header);
    /// assert!(matches!(verifier.verify_passport(&no_id), Err(AuthError::MissingRequestId)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Verifier::verify`]: [`AuthError::UnsupportedTokenFormat`] without a passport,
    /// otherwise a refusal.
    pub fn verify_passport(&self, credentials: &Credentials<'_>) -> Result<Passport, AuthError> {
        self.check(credentials).map(|(passport, _)| passport)
    }

    /// The decision, synchronous: nothing in it waits.
    fn check(
        &self,
        credentials: &Credentials<'_>,
    ) -> Result<(Passport, CallerIdentity), AuthError> {
        let Some(value) = credentials.passport() else {
            return Err(AuthError::UnsupportedTokenFormat);
        };
        // Cheap checks first: a passport is bound to one request.
        let request_id = credentials
            .request_id()
            .ok_or(AuthError::MissingRequestId)?;
        let bytes = header::decode_header_value(value, PassportForm::max_len(&self.options))
            .map_err(AuthError::InvalidPassport)?;
        let now = self.clock.now();
        let (passport, caller) = match PassportForm::of(&bytes) {
            PassportForm::Signed => {
                let keys = self.keys.load();
                let keys = keys.as_ref().ok_or(AuthError::SignedPassportNotAccepted)?;
                let (passport, key) = keys
                    .keys
                    .verify_with_key(&bytes, &self.options, now)
                    .map_err(AuthError::InvalidPassport)?;
                // `PassportKeys` maps every key it holds to a signer.
                let signer = keys
                    .signer(key.key_id())
                    .cloned()
                    .ok_or(AuthError::Internal {
                        why: "a passport key without a signer",
                    })?;
                (passport, CallerIdentity::Service(signer))
            }
            PassportForm::Unsigned => {
                let peer = credentials
                    .peer()
                    .ok_or(AuthError::UnsignedPassportWithoutPeer)?;
                if !self.unsigned_from.allows(peer) {
                    return Err(AuthError::UnsignedPassportPeerNotAllowed {
                        peer: peer.spiffe_id().clone(),
                    });
                }
                // The statement principal-proto asks for: this authenticated transport
                // peer is on our allowlist (checked just above).
                let trusted =
                    TrustedPeer::allowlisted(peer.spiffe_id().as_str()).map_err(|_| {
                        AuthError::Internal {
                            why: "a SPIFFE ID is not a valid peer id",
                        }
                    })?;
                let passport = Passport::decode_unsigned(&bytes, &self.options, now, trusted)
                    .map_err(AuthError::InvalidPassport)?;
                (passport, CallerIdentity::Workload(peer.spiffe_id().clone()))
            }
        };
        if passport.request_id().as_str() != request_id {
            return Err(AuthError::PassportRequestIdMismatch);
        }
        Ok((passport, caller))
    }

    fn decide(&self, credentials: &Credentials<'_>) -> Verdict {
        let (passport, caller) = self.check(credentials)?;
        let audience = passport.audience().clone();
        Ok(
            VerifiedPrincipal::new(Arc::new(passport.into_principal()), Pattern::Passport)
                .with_caller(Caller::new(caller, Pattern::Passport))
                .with_passport_audience(audience),
        )
    }
}

impl Verifier for PassportHeaderVerifier {
    fn verify(&self, credentials: &Credentials<'_>) -> VerifyFuture {
        VerifyFuture::ready(self.decide(credentials))
    }

    fn pattern(&self) -> Pattern {
        Pattern::Passport
    }
}

impl fmt::Debug for PassportHeaderVerifier {
    /// Audience, key ids and allowed peers; never key material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = self.keys.load();
        let key_ids: Vec<&KeyId> = keys.iter().flat_map(|keys| keys.key_ids()).collect();
        f.debug_struct("PassportHeaderVerifier")
            .field("audience", self.options.expected_audience())
            .field("key_ids", &key_ids)
            .field("unsigned_from", &self.unsigned_from)
            .finish_non_exhaustive()
    }
}
