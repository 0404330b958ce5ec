//! The Passport: a Principal bound to one request, one audience and a short
//! lifetime, and its codec.

use std::fmt;
use std::str::FromStr;

use principal::limits::{DEFAULT_MAX_DELEGATION_DEPTH, HARD_MAX_DELEGATION_DEPTH};
use principal::{Audience, IdError, Principal, Timestamp, Uuid};
use prost::Message as _;

use crate::convert::{UUID_TEXT_LEN, canonical_uuid, from_offset, offset, principal_from_view};
use crate::error::{ConfigError, PassportError};
use crate::header::{HeaderLimit, decode_header_value};
use crate::wire::TextOrUuid;
use crate::{proto, wire};

/// Default clock leeway for passport and Principal times, in seconds.
pub const DEFAULT_LEEWAY_SECONDS: u32 = 30;
/// The largest clock leeway [`DecodeOptions::with_leeway`] accepts, in seconds.
pub const MAX_LEEWAY_SECONDS: u32 = 120;
/// Default maximum passport lifetime (`expires_at - issued_at`), in seconds.
/// Passports are request-scoped: minutes at most.
pub const DEFAULT_MAX_LIFETIME_SECONDS: u32 = 300;
/// The largest maximum lifetime [`DecodeOptions::with_max_lifetime`] accepts, in seconds.
pub const MAX_LIFETIME_SECONDS: u32 = 3600;
/// Default maximum size of an encoded passport, in bytes. A rich Principal
/// takes well under 1 KiB.
pub const DEFAULT_MAX_PASSPORT_BYTES: usize = 4096;
/// The largest maximum passport size [`DecodeOptions::with_max_bytes`] accepts, in bytes.
pub const MAX_PASSPORT_BYTES: usize = 64 * 1024;
/// The smallest maximum passport size [`DecodeOptions::with_max_bytes`] accepts, in bytes.
pub const MIN_PASSPORT_BYTES: usize = 64;

/// The id of the request a passport was minted for (`x-request-id`).
///
/// 1 to 128 bytes of visible ASCII (`!` to `~`), so it is safe in a header and in logs.
///
/// ```
/// use principal_proto::RequestId;
///
/// let id = RequestId::new("0b7e2a50-3c1d-4f6e-8a9b-1c2d3e4f5a6b")?;
/// assert_eq!(id.as_str(), "0b7e2a50-3c1d-4f6e-8a9b-1c2d3e4f5a6b");
///
/// assert!(RequestId::new("").is_err());
/// assert!(RequestId::new("with space").is_err());
/// # Ok::<(), principal::IdError>(())
/// ```
#[derive(Clone)]
pub struct RequestId(RequestIdText);

/// A request id's text: a canonical uuid's 36 characters inline (the usual
/// `x-request-id`, decoded without allocating), anything else on the heap.
#[derive(Clone)]
enum RequestIdText {
    Uuid([u8; UUID_TEXT_LEN]),
    Other(String),
}

impl RequestId {
    /// The request id of a uuid: its canonical text, valid by construction.
    pub(crate) fn from_uuid(uuid: &Uuid) -> Self {
        let mut text = [0; UUID_TEXT_LEN];
        uuid.hyphenated().encode_lower(&mut text);
        RequestId(RequestIdText::Uuid(text))
    }
}

// By text, whatever the storage.
impl PartialEq for RequestId {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for RequestId {}

impl PartialOrd for RequestId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for RequestId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl std::hash::Hash for RequestId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl RequestId {
    /// The longest request id accepted, in bytes.
    pub const MAX_LEN: usize = 128;

    /// A request id, checked: 1 to [`RequestId::MAX_LEN`] bytes of visible ASCII.
    ///
    /// # Errors
    /// [`IdError::Empty`], [`IdError::TooLong`] or [`IdError::InvalidChar`]
    /// (field `"request_id"`).
    pub fn new(value: impl Into<String>) -> Result<Self, IdError> {
        const FIELD: &str = "request_id";
        let value = value.into();
        if value.is_empty() {
            return Err(IdError::Empty { field: FIELD });
        }
        if value.len() > Self::MAX_LEN {
            return Err(IdError::TooLong {
                field: FIELD,
                len: value.len(),
                max: Self::MAX_LEN,
            });
        }
        // Every byte before the first refused one is ASCII: its position starts a character.
        if let Some(position) = value.bytes().position(|b| !b.is_ascii_graphic()) {
            return Err(IdError::InvalidChar {
                field: FIELD,
                position,
                found: value[position..].chars().next().unwrap_or('\u{fffd}'),
            });
        }
        Ok(match canonical_uuid(&value) {
            Some(uuid) => RequestId::from_uuid(&uuid),
            None => RequestId(RequestIdText::Other(value)),
        })
    }

    /// The request id as text.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            // Hyphenated hex digits: ASCII, so always UTF-8.
            RequestIdText::Uuid(text) => std::str::from_utf8(text).unwrap_or_default(),
            RequestIdText::Other(text) => text,
        }
    }
}

impl FromStr for RequestId {
    type Err = IdError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        RequestId::new(value)
    }
}

impl AsRef<str> for RequestId {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RequestId").field(&self.as_str()).finish()
    }
}

/// The longest transport peer id [`TrustedPeer::allowlisted`] accepts, in bytes
/// (the SPIFFE ID limit of 2048 bytes).
pub const MAX_PEER_ID_LEN: usize = 2048;

/// The caller's statement that an unsigned passport came from an authenticated
/// transport peer on its allowlist: the argument [`Passport::decode_unsigned`]
/// requires, so that decoding an unsigned passport is never reached by accident.
///
/// An unsigned passport is only as trustworthy as the connection it arrived on:
/// anyone who can reach a service can send one naming any Principal. By calling
/// [`TrustedPeer::allowlisted`] the caller promises exactly this:
///
/// 1. `peer_id` is the identity the *transport* authenticated for the connection
///    the passport arrived on (for mTLS, the SPIFFE ID in the URI SAN of a client
///    certificate whose chain the TLS handshake verified), never a value read from
///    the request itself (a header, a query parameter, the passport);
/// 2. that identity is, by exact comparison, on the caller's allowlist of
///    workloads permitted to send unsigned passports;
/// 3. the passport being decoded arrived on that same connection.
///
/// principal-proto has no transport and cannot check any of this: the type makes
/// the caller state it, in code a reviewer can find (search for `allowlisted`).
/// tower-auth's passport verifier makes one only from the request's peer identity,
/// after its peer allowlist admitted it; anything else should do the same.
///
/// Borrowed and `Copy`: stating it allocates nothing.
///
/// ```
/// use principal_proto::TrustedPeer;
///
/// let peer = TrustedPeer::allowlisted("spiffe://prod.example.com/ns/shop/sa/gateway")?;
/// assert_eq!(peer.peer_id(), "spiffe://prod.example.com/ns/shop/sa/gateway");
///
/// // No peer, no statement: an empty or non-printable peer id is refused.
/// assert!(TrustedPeer::allowlisted("").is_err());
/// assert!(TrustedPeer::allowlisted("spiffe://prod.example.com/a b").is_err());
/// # Ok::<(), principal::IdError>(())
/// ```
///
/// It has no other constructor (no `Default`, no public field):
///
/// ```compile_fail
/// let peer = principal_proto::TrustedPeer { peer_id: "spiffe://prod.example.com/gateway" };
/// ```
///
/// ```compile_fail
/// let peer = principal_proto::TrustedPeer::default();
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrustedPeer<'a> {
    peer_id: &'a str,
}

impl<'a> TrustedPeer<'a> {
    /// State that the passport came from the authenticated transport peer
    /// `peer_id`, which the caller found on its allowlist (see the [type docs](Self)
    /// for exactly what this promises).
    ///
    /// # Errors
    /// [`IdError::Empty`], [`IdError::TooLong`] (over [`MAX_PEER_ID_LEN`]) or
    /// [`IdError::InvalidChar`] (a byte outside visible ASCII), field `"peer_id"`.
    pub fn allowlisted(peer_id: &'a str) -> Result<Self, IdError> {
        const FIELD: &str = "peer_id";
        if peer_id.is_empty() {
            return Err(IdError::Empty { field: FIELD });
        }
        if peer_id.len() > MAX_PEER_ID_LEN {
            return Err(IdError::TooLong {
                field: FIELD,
                len: peer_id.len(),
                max: MAX_PEER_ID_LEN,
            });
        }
        if let Some(position) = peer_id.bytes().position(|b| !b.is_ascii_graphic()) {
            return Err(IdError::InvalidChar {
                field: FIELD,
                position,
                found: peer_id[position..].chars().next().unwrap_or('\u{fffd}'),
            });
        }
        Ok(TrustedPeer { peer_id })
    }

    /// The peer id the caller stated.
    pub fn peer_id(&self) -> &'a str {
        self.peer_id
    }
}

/// What a receiving service accepts: its audience, clock leeway, maximum
/// lifetime, size and delegation depth. Built once at start and shared; the
/// current time is passed to each decode.
///
/// ```
/// use principal::Audience;
/// use principal_proto::{ConfigError, DecodeOptions};
///
/// let options = DecodeOptions::new(Audience::new("orders")?)
///     .with_leeway(10)?
///     .with_max_lifetime(60)?;
/// assert_eq!(options.leeway_seconds(), 10);
///
/// // A leeway above the cap is refused, not clamped.
/// let too_lax = DecodeOptions::new(Audience::new("orders")?).with_leeway(3600);
/// assert!(matches!(too_lax, Err(ConfigError::OutOfRange { option: "leeway", .. })));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct DecodeOptions {
    expected_audience: Audience,
    leeway_seconds: u32,
    max_lifetime_seconds: u32,
    max_bytes: usize,
    max_delegation_depth: usize,
}

impl DecodeOptions {
    /// Options for a service whose audience is `expected_audience`, with the
    /// defaults: leeway [`DEFAULT_LEEWAY_SECONDS`], lifetime at most
    /// [`DEFAULT_MAX_LIFETIME_SECONDS`], size at most [`DEFAULT_MAX_PASSPORT_BYTES`],
    /// delegation depth at most [`DEFAULT_MAX_DELEGATION_DEPTH`].
    pub fn new(expected_audience: Audience) -> Self {
        DecodeOptions {
            expected_audience,
            leeway_seconds: DEFAULT_LEEWAY_SECONDS,
            max_lifetime_seconds: DEFAULT_MAX_LIFETIME_SECONDS,
            max_bytes: DEFAULT_MAX_PASSPORT_BYTES,
            max_delegation_depth: DEFAULT_MAX_DELEGATION_DEPTH,
        }
    }

    /// Clock leeway for every time check, at most [`MAX_LEEWAY_SECONDS`].
    ///
    /// # Errors
    /// [`ConfigError::OutOfRange`] above the cap.
    pub fn with_leeway(mut self, seconds: u32) -> Result<Self, ConfigError> {
        self.leeway_seconds = in_range("leeway", seconds, 0, MAX_LEEWAY_SECONDS)?;
        Ok(self)
    }

    /// Longest passport lifetime (`expires_at - issued_at`) accepted, 1 to
    /// [`MAX_LIFETIME_SECONDS`].
    ///
    /// # Errors
    /// [`ConfigError::OutOfRange`] outside that range.
    pub fn with_max_lifetime(mut self, seconds: u32) -> Result<Self, ConfigError> {
        self.max_lifetime_seconds = in_range("max_lifetime", seconds, 1, MAX_LIFETIME_SECONDS)?;
        Ok(self)
    }

    /// Largest encoded passport accepted, [`MIN_PASSPORT_BYTES`] to
    /// [`MAX_PASSPORT_BYTES`]. A signed envelope may be
    /// [`SIGNED_ENVELOPE_OVERHEAD`](crate::SIGNED_ENVELOPE_OVERHEAD) bytes
    /// larger, and its header form the base64 length of that.
    ///
    /// # Errors
    /// [`ConfigError::OutOfRange`] outside that range.
    pub fn with_max_bytes(mut self, bytes: usize) -> Result<Self, ConfigError> {
        self.max_bytes = in_range("max_bytes", bytes, MIN_PASSPORT_BYTES, MAX_PASSPORT_BYTES)?;
        Ok(self)
    }

    /// Longest delegation chain accepted, at most
    /// [`HARD_MAX_DELEGATION_DEPTH`].
    ///
    /// # Errors
    /// [`ConfigError::OutOfRange`] above the hard cap.
    pub fn with_max_delegation_depth(mut self, depth: usize) -> Result<Self, ConfigError> {
        self.max_delegation_depth =
            in_range("max_delegation_depth", depth, 0, HARD_MAX_DELEGATION_DEPTH)?;
        Ok(self)
    }

    /// The audience passports must name.
    pub fn expected_audience(&self) -> &Audience {
        &self.expected_audience
    }

    /// The clock leeway, in seconds.
    pub fn leeway_seconds(&self) -> u32 {
        self.leeway_seconds
    }

    /// The longest passport lifetime accepted, in seconds.
    pub fn max_lifetime_seconds(&self) -> u32 {
        self.max_lifetime_seconds
    }

    /// The largest encoded passport accepted, in bytes.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// The longest delegation chain accepted.
    pub fn max_delegation_depth(&self) -> usize {
        self.max_delegation_depth
    }
}

fn in_range<T>(option: &'static str, value: T, min: T, max: T) -> Result<T, ConfigError>
where
    T: PartialOrd + Copy + TryInto<u64>,
{
    if value < min || value > max {
        let wide = |v: T| v.try_into().unwrap_or(u64::MAX);
        return Err(ConfigError::OutOfRange {
            option,
            value: wide(value),
            min: wide(min),
            max: wide(max),
        });
    }
    Ok(value)
}

/// A Principal bound to one request, one audience and a short lifetime: what
/// travels between hops in `x-principal-bin` (DESIGN §3, pattern 4).
///
/// A received passport is read in one of two ways, and the caller must say which:
/// signed, through a [`PassportVerifier`](crate::PassportVerifier) (the usual way),
/// or unsigned through [`Passport::decode_unsigned`], which takes a [`TrustedPeer`]:
/// the caller's statement that the transport peer is authenticated and on its
/// allowlist. There is no way to decode a received passport without one or the other.
///
/// ```
/// use principal::{Audience, HumanId, Issuer, Principal, Timestamp};
/// use principal_proto::{DecodeOptions, Passport, PassportError, RequestId, TrustedPeer};
///
/// let now = Timestamp::from_unix_seconds(1_700_000_000);
/// let issuer = Issuer::new("https://idp.example.com")?;
/// let alice = Principal::builder(HumanId::derive(&issuer, "alice").into(), issuer, "alice")
///     .expires_at(now.add_seconds(600))
///     .build()?;
/// let passport = Passport::new(
///     alice,
///     RequestId::new("req-1")?,
///     Audience::new("orders")?,
///     now,
///     now.add_seconds(60),
/// )?;
///
/// let bytes = passport.encode();
/// let options = DecodeOptions::new(Audience::new("orders")?);
/// // The mTLS peer's SPIFFE ID, which this service found on its allowlist.
/// let peer = TrustedPeer::allowlisted("spiffe://prod.example.com/ns/shop/sa/gateway")?;
/// assert_eq!(Passport::decode_unsigned(&bytes, &options, now, peer)?, passport);
///
/// // Another service refuses it, and so does everyone once it has expired.
/// let billing = DecodeOptions::new(Audience::new("billing")?);
/// assert!(matches!(
///     Passport::decode_unsigned(&bytes, &billing, now, peer),
///     Err(PassportError::WrongAudience { .. })
/// ));
/// assert!(matches!(
///     Passport::decode_unsigned(&bytes, &options, now.add_seconds(120), peer),
///     Err(PassportError::Expired { .. })
/// ));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Passport {
    principal: Principal,
    request_id: RequestId,
    audience: Audience,
    issued_at: Timestamp,
    expires_at: Timestamp,
}

impl Passport {
    /// A passport for `principal`, minted at `issued_at` for one request and
    /// one audience, valid until `expires_at`. Keep the lifetime within what
    /// receivers accept ([`DEFAULT_MAX_LIFETIME_SECONDS`] by default).
    ///
    /// ```
    /// use principal::{Audience, Timestamp};
    /// use principal_proto::{Passport, PassportError, RequestId};
    /// # let now = Timestamp::from_unix_seconds(1_700_000_000);
    /// # let principal = principal_proto::fixtures::reference_principal(now)?;
    ///
    /// let backwards = Passport::new(
    ///     principal,
    ///     RequestId::new("req-1")?,
    ///     Audience::new("orders")?,
    ///     now,
    ///     now.add_seconds(-1),
    /// );
    /// assert!(matches!(backwards, Err(PassportError::InvalidLifetime { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`PassportError::InvalidLifetime`] when `expires_at` is not after `issued_at`.
    pub fn new(
        principal: Principal,
        request_id: RequestId,
        audience: Audience,
        issued_at: Timestamp,
        expires_at: Timestamp,
    ) -> Result<Self, PassportError> {
        if expires_at <= issued_at {
            return Err(PassportError::InvalidLifetime {
                issued_at,
                expires_at,
            });
        }
        Ok(Passport {
            principal,
            request_id,
            audience,
            issued_at,
            expires_at,
        })
    }

    /// The Principal carried.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// The Principal carried, by value.
    pub fn into_principal(self) -> Principal {
        self.principal
    }

    /// The request the passport was minted for.
    pub fn request_id(&self) -> &RequestId {
        &self.request_id
    }

    /// The one service the passport is meant for.
    pub fn audience(&self) -> &Audience {
        &self.audience
    }

    /// When the passport was minted.
    pub fn issued_at(&self) -> Timestamp {
        self.issued_at
    }

    /// When the passport stops being valid.
    pub fn expires_at(&self) -> Timestamp {
        self.expires_at
    }

    /// The passport a hop sends on after verifying this one, when passports are
    /// re-signed per hop (DESIGN §3): the same Principal and request id, for
    /// `next_audience`, issued at `now`, valid for `lifetime_seconds` but never past
    /// this passport's own `expires_at`. A hop cannot extend what it received.
    ///
    /// Sign the result with the hop's own key, Ed25519 (a
    /// [`PassportKeyRing`](crate::PassportKeyRing) of
    /// [`PassportSigningKey::ed25519_generate`](crate::PassportSigningKey::ed25519_generate)
    /// or `ed25519_from_pkcs8`), so the next hop knows which service vouches for it.
    /// Signing it in header form checks its size against the sending limit
    /// ([`PassportKeyRing::sign_header_within`](crate::PassportKeyRing::sign_header_within)).
    ///
    /// ```
    /// use principal::{Audience, Timestamp};
    /// use principal_proto::{DecodeOptions, KeyId, PassportKeyRing, PassportSigningKey, PassportVerifier};
    /// # let now = Timestamp::from_unix_seconds(1_700_000_000);
    /// # let passport = principal_proto::fixtures::reference_passport(now)?; // audience "orders", 60 s
    /// # let options = principal_proto::fixtures::reference_decode_options()?;
    ///
    /// // The edge signed it for `orders`; `orders` verified it and now calls `billing`.
    /// let orders = PassportKeyRing::new(PassportSigningKey::ed25519_generate(KeyId::new("orders-1")?)?);
    /// let billing = Audience::new("billing")?;
    /// let next = passport.reissue_for(billing.clone(), now.add_seconds(10), 300)?;
    /// assert_eq!(next.principal(), passport.principal());
    /// assert_eq!(next.request_id(), passport.request_id());
    /// // Asked for 300 s, it gets what was left of the passport received.
    /// assert_eq!(next.expires_at(), passport.expires_at());
    /// let header = orders.sign_header(&next)?;
    ///
    /// // `billing` knows the public key of `orders` by its key id.
    /// let verifier = PassportVerifier::new([orders.verifier().key(orders.current_key_id()).unwrap().clone()])?;
    /// let received = verifier.verify_header(&header, &DecodeOptions::new(billing), now.add_seconds(11))?;
    /// assert_eq!(received, next);
    ///
    /// // An expired passport is not passed on.
    /// assert_eq!(
    ///     passport.reissue_for(Audience::new("billing")?, passport.expires_at(), 300).unwrap_err().reason(),
    ///     "expired"
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`PassportError::Expired`] when `now` is at or past this passport's
    /// `expires_at` (no leeway: a hop does not pass on what has run out);
    /// [`PassportError::InvalidLifetime`] when `lifetime_seconds` is 0.
    pub fn reissue_for(
        &self,
        next_audience: Audience,
        now: Timestamp,
        lifetime_seconds: u32,
    ) -> Result<Passport, PassportError> {
        if now >= self.expires_at {
            return Err(PassportError::Expired {
                expires_at: self.expires_at,
                now,
            });
        }
        let expires_at = now
            .add_seconds(i64::from(lifetime_seconds))
            .min(self.expires_at);
        Passport::new(
            self.principal.clone(),
            self.request_id.clone(),
            next_audience,
            now,
            expires_at,
        )
    }

    /// The encoded `baton.principal.v1.Passport`. Deterministic: the same
    /// passport always gives the same bytes. Its size is not limited here: send the
    /// header form, [`encode_header`](Self::encode_header), which refuses a Principal too
    /// large to send.
    ///
    /// ```
    /// use principal_proto::{Passport, TrustedPeer};
    /// # let now = principal::Timestamp::from_unix_seconds(1_700_000_000);
    /// # let passport = principal_proto::fixtures::reference_passport(now)?;
    /// # let options = principal_proto::fixtures::reference_decode_options()?;
    /// # let peer = TrustedPeer::allowlisted("spiffe://prod.example.com/gateway")?;
    ///
    /// let bytes = passport.encode();
    /// assert_eq!(Passport::decode_unsigned(&bytes, &options, now, peer)?.encode(), bytes);
    /// // Cut short, it no longer decodes.
    /// assert!(Passport::decode_unsigned(&bytes[..bytes.len() - 1], &options, now, peer).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn encode(&self) -> Vec<u8> {
        proto::Passport::from(self).encode_to_vec()
    }

    /// [`encode`](Self::encode), in header form (standard base64 without padding): the
    /// unsigned passport as it is sent, within the default sending limit
    /// ([`DEFAULT_MAX_HEADER_LEN`](crate::header::DEFAULT_MAX_HEADER_LEN)).
    ///
    /// ```
    /// use principal_proto::{Passport, TrustedPeer};
    /// # let now = principal::Timestamp::from_unix_seconds(1_700_000_000);
    /// # let passport = principal_proto::fixtures::reference_passport(now)?;
    /// # let options = principal_proto::fixtures::reference_decode_options()?;
    /// # let peer = TrustedPeer::allowlisted("spiffe://prod.example.com/gateway")?;
    ///
    /// let header = passport.encode_header()?;
    /// assert!(!header.ends_with('='));
    /// assert_eq!(Passport::decode_unsigned_header(&header, &options, now, peer)?, passport);
    /// assert!(Passport::decode_unsigned_header(format!("{header}!"), &options, now, peer).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`PassportError::PrincipalTooLarge`] when the header would be longer than the limit.
    pub fn encode_header(&self) -> Result<String, PassportError> {
        self.encode_header_within(HeaderLimit::default())
    }

    /// [`encode_header`](Self::encode_header) within the sending limit `limit`: a
    /// Principal too large for it is refused here, so it is never sent.
    ///
    /// ```
    /// use principal_proto::header::HeaderLimit;
    /// # let now = principal::Timestamp::from_unix_seconds(1_700_000_000);
    /// # let passport = principal_proto::fixtures::reference_passport(now)?;
    ///
    /// let header = passport.encode_header_within(HeaderLimit::new(1024)?)?;
    /// let exact = HeaderLimit::new(header.len())?;
    /// assert_eq!(passport.encode_header_within(exact)?, header);
    ///
    /// // One byte less and the passport is refused, saying how large it is.
    /// let error = passport.encode_header_within(HeaderLimit::new(header.len() - 1)?).unwrap_err();
    /// assert_eq!(error.reason(), "principal_too_large");
    /// assert!(error.to_string().contains(&format!("{} bytes", header.len())));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`PassportError::PrincipalTooLarge`] when the header would be longer than `limit`.
    pub fn encode_header_within(&self, limit: HeaderLimit) -> Result<String, PassportError> {
        limit.encode(&self.encode())
    }

    /// Decode an unsigned passport that arrived from `peer`, and check it: size,
    /// protobuf shape, lifetime (at most the configured maximum), expiry and issue
    /// time against `now` (with leeway), audience, request id, then the Principal
    /// (rebuilt through its builder; not expired, not before its `not_before`).
    ///
    /// An unsigned passport proves nothing about who wrote it: anyone who can reach
    /// the service can send one naming any Principal. It is safe only because of the
    /// transport peer, which is what `peer` states (see [`TrustedPeer`]). Passports
    /// from anywhere else are signed and go through
    /// [`PassportVerifier::verify`](crate::PassportVerifier::verify).
    ///
    /// ```
    /// use principal_proto::{Passport, PassportError, TrustedPeer};
    /// # let now = principal::Timestamp::from_unix_seconds(1_700_000_000);
    /// # let passport = principal_proto::fixtures::reference_passport(now)?;
    /// # let options = principal_proto::fixtures::reference_decode_options()?;
    ///
    /// // The mTLS peer's SPIFFE ID, authenticated by the TLS handshake and found on
    /// // this service's allowlist of workloads that may send unsigned passports.
    /// let peer = TrustedPeer::allowlisted("spiffe://prod.example.com/ns/shop/sa/gateway")?;
    /// let bytes = passport.encode();
    /// assert_eq!(Passport::decode_unsigned(&bytes, &options, now, peer)?, passport);
    ///
    /// let too_early = now.add_seconds(-3600);
    /// assert!(matches!(
    ///     Passport::decode_unsigned(&bytes, &options, too_early, peer),
    ///     Err(PassportError::NotYetValid { .. })
    /// ));
    /// assert!(matches!(
    ///     Passport::decode_unsigned(b"\xff\xff", &options, now, peer),
    ///     Err(PassportError::Malformed { .. })
    /// ));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// There is no decode without a peer: the old `Passport::decode(bytes, options, now)`
    /// is gone, and a `TrustedPeer` comes only from [`TrustedPeer::allowlisted`].
    ///
    /// ```compile_fail
    /// use principal_proto::Passport;
    /// # let now = principal::Timestamp::from_unix_seconds(1_700_000_000);
    /// # let passport = principal_proto::fixtures::reference_passport(now).unwrap();
    /// # let options = principal_proto::fixtures::reference_decode_options().unwrap();
    /// let _ = Passport::decode(&passport.encode(), &options, now);
    /// ```
    ///
    /// ```compile_fail
    /// use principal_proto::Passport;
    /// # let now = principal::Timestamp::from_unix_seconds(1_700_000_000);
    /// # let passport = principal_proto::fixtures::reference_passport(now).unwrap();
    /// # let options = principal_proto::fixtures::reference_decode_options().unwrap();
    /// let _ = Passport::decode_unsigned(&passport.encode(), &options, now);
    /// ```
    ///
    /// # Errors
    /// [`PassportError::Oversized`], [`PassportError::Malformed`],
    /// [`PassportError::InvalidLifetime`], [`PassportError::LifetimeTooLong`],
    /// [`PassportError::Expired`], [`PassportError::NotYetValid`],
    /// [`PassportError::WrongAudience`], [`PassportError::InvalidRequestId`],
    /// [`PassportError::MissingField`], [`PassportError::InvalidField`],
    /// [`PassportError::InvalidPrincipal`], [`PassportError::PrincipalExpired`],
    /// [`PassportError::PrincipalNotYetValid`].
    pub fn decode_unsigned(
        bytes: &[u8],
        options: &DecodeOptions,
        now: Timestamp,
        peer: TrustedPeer<'_>,
    ) -> Result<Passport, PassportError> {
        // The peer is the caller's statement, checked by the caller; taking it is the point.
        let _ = peer;
        Passport::decode_authenticated(bytes, options, now)
    }

    /// [`decode_unsigned`](Self::decode_unsigned) the header form: standard base64,
    /// padded or not.
    ///
    /// ```
    /// use principal_proto::{Passport, PassportError, TrustedPeer};
    /// # let now = principal::Timestamp::from_unix_seconds(1_700_000_000);
    /// # let passport = principal_proto::fixtures::reference_passport(now)?;
    /// # let options = principal_proto::fixtures::reference_decode_options()?;
    /// # let peer = TrustedPeer::allowlisted("spiffe://prod.example.com/gateway")?;
    ///
    /// use base64::Engine as _;
    ///
    /// // Written unpadded; padded (as some HTTP clients send it) reads the same.
    /// let padded = base64::engine::general_purpose::STANDARD.encode(passport.encode());
    /// assert_eq!(Passport::decode_unsigned_header(padded.as_bytes(), &options, now, peer)?, passport);
    /// assert_eq!(
    ///     Passport::decode_unsigned_header(passport.encode_header()?, &options, now, peer)?,
    ///     passport
    /// );
    /// assert!(matches!(
    ///     Passport::decode_unsigned_header("%%%", &options, now, peer),
    ///     Err(PassportError::Base64(_))
    /// ));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// ```compile_fail
    /// use principal_proto::Passport;
    /// # let now = principal::Timestamp::from_unix_seconds(1_700_000_000);
    /// # let passport = principal_proto::fixtures::reference_passport(now).unwrap();
    /// # let options = principal_proto::fixtures::reference_decode_options().unwrap();
    /// let _ = Passport::decode_header(passport.encode_header().unwrap(), &options, now);
    /// ```
    ///
    /// # Errors
    /// As [`decode_header_value`], then as [`decode_unsigned`](Self::decode_unsigned).
    pub fn decode_unsigned_header(
        value: impl AsRef<[u8]>,
        options: &DecodeOptions,
        now: Timestamp,
        peer: TrustedPeer<'_>,
    ) -> Result<Passport, PassportError> {
        let bytes = decode_header_value(value, options.max_bytes)?;
        Passport::decode_unsigned(&bytes, options, now, peer)
    }

    /// Decode passport bytes whose origin is already established (a verified
    /// signature, or a [`TrustedPeer`]) and check everything else; see
    /// [`decode_unsigned`](Self::decode_unsigned) for the checks.
    pub(crate) fn decode_authenticated(
        bytes: &[u8],
        options: &DecodeOptions,
        now: Timestamp,
    ) -> Result<Passport, PassportError> {
        if bytes.len() > options.max_bytes {
            return Err(PassportError::Oversized {
                what: "passport",
                len: bytes.len(),
                max: options.max_bytes,
            });
        }
        let wire = wire::passport(bytes).map_err(|error| PassportError::Malformed {
            message: "Passport",
            detail: error.0,
        })?;

        let issued_at = Timestamp::from_unix_seconds(wire.issued_at);
        let expires_at = from_offset(wire.lifetime, issued_at);
        if expires_at <= issued_at {
            return Err(PassportError::InvalidLifetime {
                issued_at,
                expires_at,
            });
        }
        let lifetime_seconds = expires_at
            .as_unix_seconds()
            .saturating_sub(issued_at.as_unix_seconds());
        let max_seconds = i64::from(options.max_lifetime_seconds);
        if lifetime_seconds > max_seconds {
            return Err(PassportError::LifetimeTooLong {
                lifetime_seconds,
                max_seconds,
            });
        }
        let leeway = i64::from(options.leeway_seconds);
        if now >= expires_at.add_seconds(leeway) {
            return Err(PassportError::Expired { expires_at, now });
        }
        if issued_at > now.add_seconds(leeway) {
            return Err(PassportError::NotYetValid { issued_at, now });
        }
        if wire.audience != options.expected_audience.as_str() {
            return Err(PassportError::WrongAudience {
                expected: options.expected_audience.as_str().to_owned(),
                found: wire.audience.to_owned(),
            });
        }
        // Two plain fields, not a oneof (see passport.proto): empty means unset.
        let request_id_form = match (wire.request_id, wire.request_id_uuid) {
            ("", []) => None,
            (text, []) => Some(TextOrUuid::Text(text)),
            ("", uuid) => Some(TextOrUuid::Uuid(uuid)),
            _ => {
                return Err(PassportError::InvalidField {
                    field: "Passport.request_id",
                    reason: "is set both as text and as a uuid",
                });
            }
        };
        let request_id = match request_id_form {
            // The text of a uuid is a valid request id by construction: no second check.
            Some(TextOrUuid::Uuid(bytes)) => {
                RequestId::from_uuid(&Uuid::from_slice(bytes).map_err(|_| {
                    PassportError::InvalidField {
                        field: "Passport.request_id",
                        reason: "uuid is not 16 bytes",
                    }
                })?)
            }
            text => RequestId::new(match text {
                Some(TextOrUuid::Text(text)) => text,
                _ => "",
            })
            .map_err(PassportError::InvalidRequestId)?,
        };

        let principal = wire.principal.as_ref().ok_or(PassportError::MissingField {
            field: "Passport.principal",
        })?;
        // The Principal's own validity, checked before it is built (cheap first).
        let principal_expires_at = Timestamp::from_unix_seconds(principal.expires_at);
        if now >= principal_expires_at.add_seconds(leeway) {
            return Err(PassportError::PrincipalExpired {
                expires_at: principal_expires_at,
                now,
            });
        }
        if let Some(not_before) = principal
            .not_before_offset
            .map(|offset| from_offset(offset, principal_expires_at))
            && now.add_seconds(leeway) < not_before
        {
            return Err(PassportError::PrincipalNotYetValid { not_before, now });
        }
        let principal = principal_from_view(principal, options.max_delegation_depth)?;

        Ok(Passport {
            principal,
            request_id,
            // Equal to the expected audience: reuse the validated value.
            audience: options.expected_audience.clone(),
            issued_at,
            expires_at,
        })
    }
}

impl From<&Passport> for proto::Passport {
    fn from(passport: &Passport) -> Self {
        let request_id = passport.request_id.as_str();
        let (request_id, request_id_uuid) = match canonical_uuid(request_id) {
            Some(uuid) => (String::new(), uuid.as_bytes().to_vec()),
            None => (request_id.to_owned(), Vec::new()),
        };
        proto::Passport {
            principal: Some(proto::Principal::from(&passport.principal)),
            request_id,
            issued_at: passport.issued_at.as_unix_seconds(),
            lifetime: offset(passport.expires_at, passport.issued_at),
            audience: passport.audience.as_str().to_owned(),
            request_id_uuid,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_id_is_its_text_however_stored() {
        use std::collections::HashSet;
        let text = "0d9c7e3a-5b1f-4c2e-9a8d-7f6e5d4c3b2a";
        let uuid = Uuid::try_parse(text).unwrap();
        let parsed = RequestId::new(text).unwrap();
        let from_uuid = RequestId::from_uuid(&uuid);
        assert!(matches!(parsed.0, RequestIdText::Uuid(_)));
        assert_eq!(parsed.as_str(), text);
        assert_eq!(from_uuid.as_str(), text);
        assert_eq!(parsed, from_uuid);
        assert_eq!(format!("{from_uuid:?}"), format!("RequestId({text:?})"));
        assert_eq!(from_uuid.to_string(), text);
        // Not canonical (upper case): kept as text, and a different id.
        let upper = RequestId::new(text.to_uppercase()).unwrap();
        assert!(matches!(upper.0, RequestIdText::Other(_)));
        assert_eq!(upper.as_str(), text.to_uppercase());
        assert_ne!(upper, parsed);
        assert!(upper < parsed);
        let set: HashSet<_> = [parsed, from_uuid, upper].into_iter().collect();
        assert_eq!(set.len(), 2);
    }

    #[test]
    fn request_id_reports_the_refused_character() {
        assert!(RequestId::new("req-1!~").is_ok());
        assert_eq!(
            RequestId::new("req-\u{e9}"),
            Err(IdError::InvalidChar {
                field: "request_id",
                position: 4,
                found: '\u{e9}'
            })
        );
        assert_eq!(
            RequestId::new("req\u{7f}"),
            Err(IdError::InvalidChar {
                field: "request_id",
                position: 3,
                found: '\u{7f}'
            })
        );
    }
}
