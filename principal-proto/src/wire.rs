//! A zero-copy reader for the `baton.principal.v1` messages this crate decodes.
//!
//! Why not prost's generated `decode`: it allocates a `String` or `Vec` for
//! every field and list before the model allocates its own, which doubles the
//! cost of the hot path (a passport is decoded at every hop). This reader
//! borrows every string and byte field from the input, and the model
//! conversion allocates only what the model keeps.
//!
//! It follows protobuf (and prost) exactly, with one deliberate exception:
//! - varints of at most 10 bytes, keys within `u32`, field numbers from 1,
//!   wire types 0 to 5; a known field with the wrong wire type is an error;
//! - strings are UTF-8; lengths stay within the enclosing message;
//! - unknown fields are skipped (groups too), with prost's recursion limit;
//! - repeated fields accumulate;
//! - **exception**: a singular field (scalar, string, bytes or message) that
//!   occurs more than once is refused, and so is a oneof with more than one
//!   member on the wire, where protobuf would let the last occurrence win (or
//!   merge messages). Encoders never write one twice; a passport that does is
//!   not one this crate, or any canonical encoder, made.
//!
//! Elements of repeated fields are checked when read (see [`Repeated`]): the
//! same input is refused, possibly with another error first.
//!
//! A unit test checks this reader against prost's decoding on arbitrary input.

/// Prost's recursion limit (that of the C++ implementation).
pub(crate) const RECURSION_LIMIT: u32 = 100;

/// Why bytes are not a valid message; the text is a stable short description.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WireError(pub(crate) &'static str);

/// The error for a singular field that occurs twice (the deliberate exception).
pub(crate) const DUPLICATE_FIELD: WireError = WireError("a singular field occurs more than once");

/// The error for a oneof with a second member (or the same one twice) on the wire.
pub(crate) const ONEOF_CONFLICT: WireError = WireError("a oneof has more than one member set");

const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const START_GROUP: u8 = 3;
const END_GROUP: u8 = 4;
const FIXED32: u8 = 5;

struct Reader<'a> {
    buf: &'a [u8],
    /// Length of the message the reader started on, to compute offsets.
    message_len: usize,
    /// Offset of the key of the field being read.
    key_start: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader {
            buf,
            message_len: buf.len(),
            key_start: 0,
        }
    }

    fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Offset of the next unread byte in the message.
    fn position(&self) -> usize {
        self.message_len - self.buf.len()
    }

    /// A base-128 varint of at most 10 bytes whose value fits 64 bits.
    fn varint(&mut self) -> Result<u64, WireError> {
        const INVALID: WireError = WireError("invalid varint");
        // Keys and lengths are nearly always one byte.
        if let Some((&byte, rest)) = self.buf.split_first()
            && byte < 0x80
        {
            self.buf = rest;
            return Ok(u64::from(byte));
        }
        let mut value = 0u64;
        for (index, &byte) in self.buf.iter().take(10).enumerate() {
            value |= u64::from(byte & 0x7f) << (7 * index);
            if byte < 0x80 {
                // The tenth byte may carry only the 64th bit.
                if index == 9 && byte > 1 {
                    return Err(INVALID);
                }
                self.buf = &self.buf[index + 1..];
                return Ok(value);
            }
        }
        Err(INVALID)
    }

    /// A field key: `(field number, wire type)`.
    fn key(&mut self) -> Result<(u32, u8), WireError> {
        self.key_start = self.position();
        let key = self.varint()?;
        let key = u32::try_from(key).map_err(|_| WireError("invalid key"))?;
        // The low 3 bits are the wire type.
        let wire_type = (key & 0x07) as u8;
        if wire_type > FIXED32 {
            return Err(WireError("invalid wire type"));
        }
        let tag = key >> 3;
        if tag == 0 {
            return Err(WireError("invalid field number 0"));
        }
        Ok((tag, wire_type))
    }

    fn take(&mut self, len: u64) -> Result<&'a [u8], WireError> {
        match usize::try_from(len) {
            Ok(len) if len <= self.buf.len() => {
                let (taken, rest) = self.buf.split_at(len);
                self.buf = rest;
                Ok(taken)
            }
            _ => Err(WireError("length beyond the end of the message")),
        }
    }

    fn length_delimited(&mut self, wire_type: u8) -> Result<&'a [u8], WireError> {
        expect_wire_type(wire_type, LEN)?;
        let len = self.varint()?;
        self.take(len)
    }

    fn bytes(&mut self, wire_type: u8) -> Result<&'a [u8], WireError> {
        self.length_delimited(wire_type)
    }

    fn string(&mut self, wire_type: u8) -> Result<&'a str, WireError> {
        let bytes = self.length_delimited(wire_type)?;
        std::str::from_utf8(bytes).map_err(|_| WireError("string is not UTF-8"))
    }

    fn int64(&mut self, wire_type: u8) -> Result<i64, WireError> {
        expect_wire_type(wire_type, VARINT)?;
        // Protobuf int64: the varint's 64 bits, two's complement.
        Ok(self.varint()? as i64)
    }

    fn sint64(&mut self, wire_type: u8) -> Result<i64, WireError> {
        expect_wire_type(wire_type, VARINT)?;
        // Protobuf sint64: zigzag encoding.
        let value = self.varint()?;
        Ok((value >> 1) as i64 ^ -((value & 1) as i64))
    }

    fn int32(&mut self, wire_type: u8) -> Result<i32, WireError> {
        expect_wire_type(wire_type, VARINT)?;
        // Protobuf int32 and enums: the low 32 bits of the varint.
        Ok(self.varint()? as i32)
    }

    /// The bytes of an embedded message, if the recursion limit allows one.
    fn message(&mut self, wire_type: u8, depth: u32) -> Result<&'a [u8], WireError> {
        expect_wire_type(wire_type, LEN)?;
        check_depth(depth)?;
        let len = self.varint()?;
        self.take(len)
    }

    /// Skips an unknown field, as prost's `skip_field` does.
    fn skip(&mut self, wire_type: u8, tag: u32, depth: u32) -> Result<(), WireError> {
        check_depth(depth)?;
        match wire_type {
            VARINT => {
                self.varint()?;
            }
            FIXED64 => {
                self.take(8)?;
            }
            FIXED32 => {
                self.take(4)?;
            }
            LEN => {
                let len = self.varint()?;
                self.take(len)?;
            }
            START_GROUP => loop {
                let (inner_tag, inner_wire_type) = self.key()?;
                if inner_wire_type == END_GROUP {
                    if inner_tag != tag {
                        return Err(UNEXPECTED_END_GROUP);
                    }
                    break;
                }
                self.skip(inner_wire_type, inner_tag, depth - 1)?;
            },
            _ => return Err(UNEXPECTED_END_GROUP),
        }
        Ok(())
    }
}

const UNEXPECTED_END_GROUP: WireError = WireError("unexpected end group tag");

fn expect_wire_type(actual: u8, expected: u8) -> Result<(), WireError> {
    if actual == expected {
        Ok(())
    } else {
        Err(WireError("unexpected wire type for a known field"))
    }
}

fn check_depth(depth: u32) -> Result<(), WireError> {
    if depth == 0 {
        Err(WireError("recursion limit reached"))
    } else {
        Ok(())
    }
}

/// Marks a singular field as seen; refuses a second occurrence.
fn once(seen: &mut u32, tag: u32) -> Result<(), WireError> {
    let bit = 1u32 << (tag & 31);
    if *seen & bit != 0 {
        return Err(DUPLICATE_FIELD);
    }
    *seen |= bit;
    Ok(())
}

/// Sets the one member of a oneof; refuses a second member, or the same one twice.
fn one_of<T>(slot: &mut Option<T>, member: T) -> Result<(), WireError> {
    if slot.is_some() {
        return Err(ONEOF_CONFLICT);
    }
    *slot = Some(member);
    Ok(())
}

/// A oneof of an id's text and its 16 uuid bytes (`token_id_form`,
/// `session_id_form`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TextOrUuid<'a> {
    /// The text member.
    Text(&'a str),
    /// The uuid member (16 bytes when valid; checked on conversion).
    Uuid(&'a [u8]),
}

/// Runs `field` on every field of `message`; fields it does not take
/// (returns `false`) are skipped as unknown.
fn each_field<'a>(
    message: &'a [u8],
    depth: u32,
    mut field: impl FnMut(u32, u8, &mut Reader<'a>) -> Result<bool, WireError>,
) -> Result<(), WireError> {
    let mut reader = Reader::new(message);
    while !reader.is_empty() {
        let (tag, wire_type) = reader.key()?;
        if !field(tag, wire_type, &mut reader)? {
            reader.skip(wire_type, tag, depth)?;
        }
    }
    Ok(())
}

/// A repeated field, read on demand so that no list is allocated.
///
/// Parsing the enclosing message checks only the framing of each element
/// (wire type, length, recursion limit) and counts them; the content (UTF-8
/// of a string, fields of a message) is checked when the element is read, so
/// it is checked once. Only the span from the first to the last element is
/// read again (the whole field, and nothing else, when the elements are
/// written together, as encoders do).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Repeated<'a> {
    message: &'a [u8],
    tag: u32,
    depth: u32,
    len: usize,
    start: usize,
    end: usize,
}

impl<'a> Repeated<'a> {
    fn new(message: &'a [u8], tag: u32, depth: u32) -> Self {
        Repeated {
            message,
            tag,
            depth,
            len: 0,
            start: 0,
            end: 0,
        }
    }

    /// Records the element `reader` has just read.
    fn push(&mut self, reader: &Reader<'_>) {
        if self.len == 0 {
            self.start = reader.key_start;
        }
        self.end = reader.position();
        self.len += 1;
    }

    /// How many elements the field has.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The bytes from the first element's key to the end of the last element.
    fn span(&self) -> &'a [u8] {
        self.message.get(self.start..self.end).unwrap_or_default()
    }

    /// Where the payloads of the elements are in [`span`](Self::span), in order.
    fn payload_ranges(
        &self,
    ) -> impl Iterator<Item = Result<std::ops::Range<usize>, WireError>> + use<'a> {
        let mut reader = Reader::new(self.span());
        let (tag, depth) = (self.tag, self.depth);
        std::iter::from_fn(move || {
            while !reader.is_empty() {
                let step = reader.key().and_then(|(field, wire_type)| {
                    if field == tag {
                        let payload = reader.length_delimited(wire_type)?;
                        let end = reader.position();
                        Ok(Some(end - payload.len()..end))
                    } else {
                        reader.skip(wire_type, field, depth).map(|()| None)
                    }
                });
                match step {
                    Ok(Some(range)) => return Some(Ok(range)),
                    Ok(None) => {}
                    Err(error) => {
                        // Stop after the error: report it once.
                        reader = Reader::new(&[]);
                        return Some(Err(error));
                    }
                }
            }
            None
        })
    }

    /// The raw payloads of the elements, in order.
    fn payloads(&self) -> impl Iterator<Item = Result<&'a [u8], WireError>> + use<'a> {
        let span = self.span();
        self.payload_ranges()
            .map(move |range| range.map(|range| span.get(range).unwrap_or_default()))
    }

    /// The elements as strings.
    pub(crate) fn strings(&self) -> impl Iterator<Item = Result<&'a str, WireError>> + use<'a> {
        let span = self.span();
        // Keys and lengths below 128 are ASCII: when the elements are valid UTF-8, usually so
        // is the whole span, and one check covers every element. An element is then valid
        // exactly when it is a slice of the span on character boundaries; anything else is
        // checked on its own.
        let text = std::str::from_utf8(span).ok();
        self.payload_ranges().map(move |range| {
            let range = range?;
            match text.and_then(|text| text.get(range.clone())) {
                Some(checked) => Ok(checked),
                None => std::str::from_utf8(span.get(range).unwrap_or_default())
                    .map_err(|_| WireError("string is not UTF-8")),
            }
        })
    }

    /// The elements as messages, parsed by `parse` (their fields one level deeper).
    fn messages<T>(
        &self,
        parse: fn(&'a [u8], u32) -> Result<T, WireError>,
    ) -> impl Iterator<Item = Result<T, WireError>> + use<'a, T> {
        let depth = self.depth.saturating_sub(1);
        self.payloads()
            .map(move |payload| payload.and_then(|bytes| parse(bytes, depth)))
    }
}

/// `baton.principal.v1.SignedPassport`, borrowed.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SignedPassportView<'a> {
    pub(crate) passport: &'a [u8],
    pub(crate) key_id: &'a str,
    pub(crate) algorithm: i32,
    pub(crate) signature: &'a [u8],
}

pub(crate) fn signed_passport(bytes: &[u8]) -> Result<SignedPassportView<'_>, WireError> {
    let mut view = SignedPassportView::default();
    let mut seen = 0;
    each_field(bytes, RECURSION_LIMIT, |tag, wire_type, reader| {
        match tag {
            1 => view.passport = reader.bytes(wire_type)?,
            2 => view.key_id = reader.string(wire_type)?,
            3 => view.algorithm = reader.int32(wire_type)?,
            4 => view.signature = reader.bytes(wire_type)?,
            _ => return Ok(false),
        }
        once(&mut seen, tag)?;
        Ok(true)
    })?;
    Ok(view)
}

/// `baton.principal.v1.Passport`, borrowed.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct PassportView<'a> {
    pub(crate) principal: Option<PrincipalView<'a>>,
    pub(crate) request_id: &'a str,
    pub(crate) issued_at: i64,
    pub(crate) lifetime: i64,
    pub(crate) audience: &'a str,
    pub(crate) request_id_uuid: &'a [u8],
}

pub(crate) fn passport(bytes: &[u8]) -> Result<PassportView<'_>, WireError> {
    let depth = RECURSION_LIMIT;
    let mut view = PassportView::default();
    let mut seen = 0;
    each_field(bytes, depth, |tag, wire_type, reader| {
        match tag {
            1 => view.principal = Some(principal(reader.message(wire_type, depth)?, depth - 1)?),
            2 => view.request_id = reader.string(wire_type)?,
            3 => view.issued_at = reader.int64(wire_type)?,
            4 => view.lifetime = reader.int64(wire_type)?,
            5 => view.audience = reader.string(wire_type)?,
            6 => view.request_id_uuid = reader.bytes(wire_type)?,
            _ => return Ok(false),
        }
        once(&mut seen, tag)?;
        Ok(true)
    })?;
    Ok(view)
}

/// `baton.principal.v1.Principal`, borrowed.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct PrincipalView<'a> {
    pub(crate) id: Option<IdView<'a>>,
    pub(crate) issuer: &'a str,
    pub(crate) subject: &'a str,
    pub(crate) tenant: Option<&'a str>,
    pub(crate) roles: Repeated<'a>,
    pub(crate) scopes: Repeated<'a>,
    pub(crate) audiences: Repeated<'a>,
    pub(crate) auth: Option<AuthView<'a>>,
    pub(crate) issued_at_offset: Option<i64>,
    pub(crate) expires_at: i64,
    pub(crate) not_before_offset: Option<i64>,
    pub(crate) token_id: Option<TextOrUuid<'a>>,
    attributes: Repeated<'a>,
    delegation: Repeated<'a>,
    pub(crate) session_id: Option<TextOrUuid<'a>>,
    pub(crate) may_act_json: Option<&'a str>,
}

impl<'a> PrincipalView<'a> {
    pub(crate) fn attributes(
        &self,
    ) -> impl Iterator<Item = Result<AttributeView<'a>, WireError>> + use<'a> {
        self.attributes.messages(attribute)
    }

    pub(crate) fn attribute_count(&self) -> usize {
        self.attributes.len()
    }

    pub(crate) fn delegation(
        &self,
    ) -> impl Iterator<Item = Result<ActorView<'a>, WireError>> + use<'a> {
        self.delegation.messages(actor)
    }

    pub(crate) fn delegation_len(&self) -> usize {
        self.delegation.len()
    }
}

/// Parses a Principal whose fields are at recursion depth `depth`.
pub(crate) fn principal(bytes: &[u8], depth: u32) -> Result<PrincipalView<'_>, WireError> {
    let mut view = PrincipalView {
        roles: Repeated::new(bytes, 5, depth),
        scopes: Repeated::new(bytes, 6, depth),
        audiences: Repeated::new(bytes, 7, depth),
        attributes: Repeated::new(bytes, 14, depth),
        delegation: Repeated::new(bytes, 15, depth),
        ..PrincipalView::default()
    };
    let mut seen = 0;
    each_field(bytes, depth, |tag, wire_type, reader| {
        match tag {
            5..=7 => {
                let field = match tag {
                    5 => &mut view.roles,
                    6 => &mut view.scopes,
                    _ => &mut view.audiences,
                };
                reader.length_delimited(wire_type)?;
                field.push(reader);
                return Ok(true);
            }
            14 | 15 => {
                reader.message(wire_type, depth)?;
                if tag == 14 {
                    view.attributes.push(reader);
                } else {
                    view.delegation.push(reader);
                }
                return Ok(true);
            }
            1 => view.id = Some(id(reader.message(wire_type, depth)?, depth - 1)?),
            2 => view.issuer = reader.string(wire_type)?,
            3 => view.subject = reader.string(wire_type)?,
            4 => view.tenant = Some(reader.string(wire_type)?),
            8 => view.auth = Some(auth(reader.message(wire_type, depth)?, depth - 1)?),
            9 => view.issued_at_offset = Some(reader.sint64(wire_type)?),
            10 => view.expires_at = reader.int64(wire_type)?,
            11 => view.not_before_offset = Some(reader.sint64(wire_type)?),
            12 => {
                let text = TextOrUuid::Text(reader.string(wire_type)?);
                return one_of(&mut view.token_id, text).map(|()| true);
            }
            13 => {
                let uuid = TextOrUuid::Uuid(reader.bytes(wire_type)?);
                return one_of(&mut view.token_id, uuid).map(|()| true);
            }
            16 => {
                let text = TextOrUuid::Text(reader.string(wire_type)?);
                return one_of(&mut view.session_id, text).map(|()| true);
            }
            17 => {
                let uuid = TextOrUuid::Uuid(reader.bytes(wire_type)?);
                return one_of(&mut view.session_id, uuid).map(|()| true);
            }
            18 => view.may_act_json = Some(reader.string(wire_type)?),
            _ => return Ok(false),
        }
        once(&mut seen, tag)?;
        Ok(true)
    })?;
    Ok(view)
}

/// `baton.principal.v1.PrincipalId`, borrowed: the member of its `kind`
/// oneof, if one is set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IdView<'a> {
    /// No member of `kind` is set.
    NoKind,
    /// `human`: uuid bytes (16 when valid; checked on conversion).
    Human(&'a [u8]),
    /// `agent`: uuid bytes.
    Agent(&'a [u8]),
    /// `service`: the slug.
    Service(&'a str),
}

fn id(bytes: &[u8], depth: u32) -> Result<IdView<'_>, WireError> {
    // Fast path for the usual ids: one uuid member. The general path reads the same.
    match bytes {
        [0x0a, 16, uuid @ ..] if uuid.len() == 16 => return Ok(IdView::Human(uuid)),
        [0x12, 16, uuid @ ..] if uuid.len() == 16 => return Ok(IdView::Agent(uuid)),
        _ => {}
    }
    id_fields(bytes, depth)
}

/// [`id`] without its fast path.
fn id_fields(bytes: &[u8], depth: u32) -> Result<IdView<'_>, WireError> {
    let mut kind = None;
    each_field(bytes, depth, |tag, wire_type, reader| {
        let member = match tag {
            1 => IdView::Human(reader.bytes(wire_type)?),
            2 => IdView::Agent(reader.bytes(wire_type)?),
            3 => IdView::Service(reader.string(wire_type)?),
            _ => return Ok(false),
        };
        one_of(&mut kind, member)?;
        Ok(true)
    })?;
    Ok(kind.unwrap_or(IdView::NoKind))
}

/// `baton.principal.v1.AuthContext`, borrowed.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct AuthView<'a> {
    pub(crate) amr: Repeated<'a>,
    pub(crate) acr: Option<&'a str>,
    pub(crate) auth_time_offset: Option<i64>,
    pub(crate) client_id: Option<&'a str>,
}

fn auth(bytes: &[u8], depth: u32) -> Result<AuthView<'_>, WireError> {
    let mut view = AuthView {
        amr: Repeated::new(bytes, 1, depth),
        ..AuthView::default()
    };
    let mut seen = 0;
    each_field(bytes, depth, |tag, wire_type, reader| {
        match tag {
            1 => {
                reader.length_delimited(wire_type)?;
                view.amr.push(reader);
                return Ok(true);
            }
            2 => view.acr = Some(reader.string(wire_type)?),
            3 => view.auth_time_offset = Some(reader.sint64(wire_type)?),
            4 => view.client_id = Some(reader.string(wire_type)?),
            _ => return Ok(false),
        }
        once(&mut seen, tag)?;
        Ok(true)
    })?;
    Ok(view)
}

/// `baton.principal.v1.Attribute`, borrowed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct AttributeView<'a> {
    pub(crate) key: &'a str,
    pub(crate) value: &'a str,
}

fn attribute(bytes: &[u8], depth: u32) -> Result<AttributeView<'_>, WireError> {
    // Fast path for what encoders write: the key, then the value, each shorter
    // than 128 bytes (one-byte lengths). The general path below reads the same.
    if let [0x0a, key_len, rest @ ..] = bytes
        && *key_len < 0x80
        && let Some((key, rest)) = rest.split_at_checked(usize::from(*key_len))
        && let [0x12, value_len, value @ ..] = rest
        && usize::from(*value_len) == value.len()
    {
        // One UTF-8 check for both: the bytes between them are ASCII, so each is
        // valid exactly when the whole is (and is then on character boundaries).
        if let Ok(text) = std::str::from_utf8(bytes)
            && let Some(key) = text.get(2..2 + key.len())
            && let Some(value) = text.get(bytes.len() - value.len()..)
        {
            return Ok(AttributeView { key, value });
        }
    }
    attribute_fields(bytes, depth)
}

/// [`attribute`] without its fast path: any field order, unknown fields, errors.
fn attribute_fields(bytes: &[u8], depth: u32) -> Result<AttributeView<'_>, WireError> {
    let mut view = AttributeView::default();
    let mut seen = 0;
    each_field(bytes, depth, |tag, wire_type, reader| {
        match tag {
            1 => view.key = reader.string(wire_type)?,
            2 => view.value = reader.string(wire_type)?,
            _ => return Ok(false),
        }
        once(&mut seen, tag)?;
        Ok(true)
    })?;
    Ok(view)
}

/// `baton.principal.v1.Actor`, borrowed; `grant` is the `ScopeGrant`'s
/// `extra_scopes` when the grant is present.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ActorView<'a> {
    pub(crate) id: Option<IdView<'a>>,
    pub(crate) issuer: Option<&'a str>,
    pub(crate) subject: Option<&'a str>,
    pub(crate) client_id: Option<&'a str>,
    pub(crate) grant: Option<Repeated<'a>>,
}

fn actor(bytes: &[u8], depth: u32) -> Result<ActorView<'_>, WireError> {
    let mut view = ActorView::default();
    let mut seen = 0;
    each_field(bytes, depth, |tag, wire_type, reader| {
        match tag {
            1 => view.id = Some(id(reader.message(wire_type, depth)?, depth - 1)?),
            2 => view.issuer = Some(reader.string(wire_type)?),
            3 => view.subject = Some(reader.string(wire_type)?),
            4 => view.client_id = Some(reader.string(wire_type)?),
            5 => view.grant = Some(scope_grant(reader.message(wire_type, depth)?, depth - 1)?),
            _ => return Ok(false),
        }
        once(&mut seen, tag)?;
        Ok(true)
    })?;
    Ok(view)
}

fn scope_grant(bytes: &[u8], depth: u32) -> Result<Repeated<'_>, WireError> {
    let mut extra_scopes = Repeated::new(bytes, 1, depth);
    each_field(bytes, depth, |tag, wire_type, reader| {
        if tag != 1 {
            return Ok(false);
        }
        reader.length_delimited(wire_type)?;
        extra_scopes.push(reader);
        Ok(true)
    })?;
    Ok(extra_scopes)
}

#[cfg(test)]
mod tests {
    //! The reader agrees with prost: on any input, both accept (with equal
    //! content) or both refuse, except for a duplicated singular field,
    //! which only this reader refuses.

    use proptest::prelude::*;
    use prost::Message as _;

    use super::*;
    use crate::proto;

    fn owned_strings(repeated: &Repeated<'_>) -> Result<Vec<String>, WireError> {
        repeated.strings().map(|s| s.map(str::to_owned)).collect()
    }

    fn owned_id(view: &IdView<'_>) -> proto::PrincipalId {
        use proto::principal_id::Kind;
        proto::PrincipalId {
            kind: match *view {
                IdView::NoKind => None,
                IdView::Human(uuid) => Some(Kind::Human(uuid.to_vec())),
                IdView::Agent(uuid) => Some(Kind::Agent(uuid.to_vec())),
                IdView::Service(slug) => Some(Kind::Service(slug.to_owned())),
            },
        }
    }

    fn owned_principal(view: &PrincipalView<'_>) -> Result<proto::Principal, WireError> {
        Ok(proto::Principal {
            id: view.id.as_ref().map(owned_id),
            issuer: view.issuer.to_owned(),
            subject: view.subject.to_owned(),
            tenant: view.tenant.map(str::to_owned),
            roles: owned_strings(&view.roles)?,
            scopes: owned_strings(&view.scopes)?,
            audiences: owned_strings(&view.audiences)?,
            auth: match &view.auth {
                None => None,
                Some(auth) => Some(proto::AuthContext {
                    amr: owned_strings(&auth.amr)?,
                    acr: auth.acr.map(str::to_owned),
                    auth_time_offset: auth.auth_time_offset,
                    client_id: auth.client_id.map(str::to_owned),
                }),
            },
            issued_at_offset: view.issued_at_offset,
            expires_at: view.expires_at,
            not_before_offset: view.not_before_offset,
            token_id_form: view.token_id.map(|form| match form {
                TextOrUuid::Text(text) => proto::principal::TokenIdForm::TokenId(text.to_owned()),
                TextOrUuid::Uuid(uuid) => proto::principal::TokenIdForm::TokenIdUuid(uuid.to_vec()),
            }),
            attributes: view
                .attributes()
                .map(|a| {
                    a.map(|a| proto::Attribute {
                        key: a.key.to_owned(),
                        value: a.value.to_owned(),
                    })
                })
                .collect::<Result<_, _>>()?,
            delegation: view
                .delegation()
                .map(|a| {
                    let a = a?;
                    Ok(proto::Actor {
                        id: a.id.as_ref().map(owned_id),
                        issuer: a.issuer.map(str::to_owned),
                        subject: a.subject.map(str::to_owned),
                        client_id: a.client_id.map(str::to_owned),
                        grant: match &a.grant {
                            None => None,
                            Some(g) => Some(proto::ScopeGrant {
                                extra_scopes: owned_strings(g)?,
                            }),
                        },
                    })
                })
                .collect::<Result<_, WireError>>()?,
            session_id_form: view.session_id.map(|form| match form {
                TextOrUuid::Text(text) => {
                    proto::principal::SessionIdForm::SessionId(text.to_owned())
                }
                TextOrUuid::Uuid(uuid) => {
                    proto::principal::SessionIdForm::SessionIdUuid(uuid.to_vec())
                }
            }),
            may_act_json: view.may_act_json.map(str::to_owned),
        })
    }

    fn owned_passport(view: &PassportView<'_>) -> Result<proto::Passport, WireError> {
        Ok(proto::Passport {
            principal: view.principal.as_ref().map(owned_principal).transpose()?,
            request_id: view.request_id.to_owned(),
            issued_at: view.issued_at,
            lifetime: view.lifetime,
            audience: view.audience.to_owned(),
            request_id_uuid: view.request_id_uuid.to_vec(),
        })
    }

    /// Asserts the reader and prost agree on `bytes`.
    fn agree(bytes: &[u8]) {
        let ours = passport(bytes).and_then(|view| owned_passport(&view));
        let theirs = proto::Passport::decode(bytes);
        match (ours, theirs) {
            (Ok(ours), Ok(theirs)) => assert_eq!(ours, theirs, "{bytes:02x?}"),
            (Err(_), Err(_)) => {}
            (Err(error), Ok(_)) => assert!(
                error == DUPLICATE_FIELD || error == ONEOF_CONFLICT,
                "{error:?}: {bytes:02x?}"
            ),
            (Ok(_), Err(error)) => panic!("accepted what prost refuses ({error}): {bytes:02x?}"),
        }
        let ours = signed_passport(bytes).map(|view| proto::SignedPassport {
            passport: view.passport.to_vec(),
            key_id: view.key_id.to_owned(),
            algorithm: view.algorithm,
            signature: view.signature.to_vec(),
        });
        let theirs = proto::SignedPassport::decode(bytes);
        match (ours, theirs) {
            (Ok(ours), Ok(theirs)) => assert_eq!(ours, theirs, "{bytes:02x?}"),
            (Err(_), Err(_)) => {}
            (Err(error), Ok(_)) => assert!(
                error == DUPLICATE_FIELD || error == ONEOF_CONFLICT,
                "{error:?}: {bytes:02x?}"
            ),
            (Ok(_), Err(error)) => panic!("accepted what prost refuses ({error}): {bytes:02x?}"),
        }
    }

    fn reference_bytes() -> Vec<u8> {
        let now = principal::Timestamp::from_unix_seconds(1_700_000_000);
        let mut passport = crate::fixtures::reference_passport(now).unwrap();
        // Exercise every field the reference leaves unset.
        let principal = passport
            .principal()
            .to_builder()
            .not_before(now)
            .session_id("sess-1")
            .tenant("acme".parse().unwrap())
            .may_act(serde_json::json!({"sub": "x"}))
            .build()
            .unwrap();
        passport = crate::Passport::new(
            principal,
            "req-1".parse().unwrap(),
            passport.audience().clone(),
            passport.issued_at(),
            passport.expires_at(),
        )
        .unwrap();
        passport.encode()
    }

    #[test]
    fn reads_what_prost_writes() {
        let bytes = reference_bytes();
        let view = passport(&bytes).unwrap();
        assert_eq!(
            owned_passport(&view).unwrap(),
            proto::Passport::decode(bytes.as_slice()).unwrap()
        );
    }

    #[test]
    fn a_oneof_with_two_members_is_refused() {
        // prost keeps the last member; this reader refuses, whichever the members.
        for bytes in [
            &[0x0a, 0x06, 0x62, 0x01, b'a', 0x6a, 0x01, 0x00][..],
            &[0x0a, 0x06, 0x6a, 0x01, 0x00, 0x62, 0x01, b'a'],
            &[0x0a, 0x06, 0x62, 0x01, b'a', 0x62, 0x01, b'b'],
        ] {
            assert!(proto::Passport::decode(bytes).is_ok());
            assert_eq!(passport(bytes).unwrap_err(), ONEOF_CONFLICT);
        }
        let two_kinds = [0x0a, 0x06, 0x0a, 0x04, 0x12, 0x00, 0x1a, 0x00];
        assert!(proto::Passport::decode(&two_kinds[..]).is_ok());
        assert_eq!(passport(&two_kinds).unwrap_err(), ONEOF_CONFLICT);
        // One member, even empty, is a set member (not "no kind").
        let empty_human = [0x0a, 0x04, 0x0a, 0x02, 0x0a, 0x00];
        let view = passport(&empty_human).unwrap();
        assert_eq!(view.principal.unwrap().id, Some(IdView::Human(&[])));
        let no_kind = [0x0a, 0x02, 0x0a, 0x00];
        let view = passport(&no_kind).unwrap();
        assert_eq!(view.principal.unwrap().id, Some(IdView::NoKind));
    }

    #[test]
    fn edge_cases_agree_with_prost() {
        let cases: &[&[u8]] = &[
            &[],
            &[0x00],       // field number 0
            &[0x0e],       // wire type 6
            &[0x18, 0x80], // truncated varint
            &[0x18; 11],   // varint of 11 bytes
            &[
                0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
            ], // 2^64 - 1
            &[
                0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02,
            ], // overflow
            &[0x18, 0x80, 0x00], // non-minimal varint
            &[0xf8, 0xff, 0xff, 0xff, 0x0f, 0x00], // largest field number
            &[0x80, 0x80, 0x80, 0x80, 0x10, 0x00], // key beyond u32
            &[0x1b, 0x1c], // empty group, field 3: known field, wrong type
            &[0x3b, 0x3c], // empty unknown group 7
            &[0x3b, 0x44], // group ended by another field number
            &[0x3c],       // stray end group
            &[0x3b, 0x08, 0x01, 0x3c], // group with a varint inside
            &[0x39, 1, 2, 3, 4, 5, 6, 7, 8], // unknown fixed64
            &[0x3d, 1, 2, 3], // truncated fixed32
            &[0x12, 0x01, 0xff], // string, not UTF-8
            &[0x10, 0x01, 0x10, 0x02], // duplicated singular field
            &[0x0a, 0x02, 0x0a, 0x00], // principal with an empty id
            &[0x0a, 0x00, 0x0a, 0x00], // principal twice
            &[0x12, 0x00, 0x32, 0x00], // request id as text and as uuid
            &[0x0a, 0x04, 0x6a, 0x00, 0x6a, 0x00], // token id uuid twice
            &[0x0a, 0x06, 0x0a, 0x04, 0x0a, 0x00, 0x12, 0x00], // id both human and agent
            &[0x0a, 0x04, 0x62, 0x00, 0x6a, 0x00], // token id as text and as uuid
        ];
        for case in cases {
            agree(case);
        }
        // Deeply nested unknown groups hit the same recursion limit.
        for depth in [98, 99, 100, 101] {
            let mut bytes = vec![0x3b; depth];
            bytes.extend(std::iter::repeat_n(0x3c, depth));
            agree(&bytes);
            let mut nested = vec![0x0a];
            let inner = [vec![0x3bu8; depth], vec![0x3c; depth]].concat();
            prost::encoding::encode_varint(inner.len() as u64, &mut nested);
            nested.extend(inner);
            agree(&nested);
        }
    }

    /// An attribute message: key field, value field, then `extra` bytes.
    fn attribute_message(key: &[u8], value: &[u8], extra: &[u8]) -> Vec<u8> {
        let mut bytes = vec![0x0a];
        prost::encoding::encode_varint(key.len() as u64, &mut bytes);
        bytes.extend_from_slice(key);
        bytes.push(0x12);
        prost::encoding::encode_varint(value.len() as u64, &mut bytes);
        bytes.extend_from_slice(value);
        bytes.extend_from_slice(extra);
        bytes
    }

    #[test]
    fn fast_paths_read_what_the_general_paths_read() {
        let long = [b'v'; 200];
        let cases = [
            attribute_message(b"plan", b"enterprise", &[]),
            attribute_message(b"", b"", &[]),
            attribute_message(b"k\xff", b"v", &[]), // key not UTF-8
            attribute_message(b"k", b"\xe2\x82", &[]), // value cut inside a character
            attribute_message(b"k", &long, &[]),    // two-byte length: general path
            attribute_message(b"k", b"v", &[0x12, 0x00]), // value twice
            attribute_message(b"k", b"v", &[0x18, 0x01]), // unknown field
            vec![0x12, 0x01, b'v', 0x0a, 0x01, b'k'], // value first
        ];
        for bytes in &cases {
            assert_eq!(
                attribute(bytes, 10),
                attribute_fields(bytes, 10),
                "{bytes:02x?}"
            );
        }
        assert_eq!(
            attribute(&cases[0], 10),
            Ok(AttributeView {
                key: "plan",
                value: "enterprise"
            })
        );
        assert!(attribute(&cases[2], 10).is_err());
        assert!(attribute(&cases[3], 10).is_err());
        assert_eq!(attribute(&cases[5], 10), Err(DUPLICATE_FIELD));

        let uuid = [7u8; 16];
        let ids = [
            [&[0x0a, 16][..], &uuid].concat(),
            [&[0x12, 16][..], &uuid].concat(),
            [&[0x0a, 15][..], &uuid[..15]].concat(),
            [&[0x0a, 16][..], &uuid, &[0x12, 0x00]].concat(), // then a second kind
            [&[0x1a, 16][..], &uuid].concat(),                // a service (not UTF-8 checked here)
        ];
        for bytes in &ids {
            assert_eq!(id(bytes, 10), id_fields(bytes, 10), "{bytes:02x?}");
        }
        assert_eq!(id(&ids[0], 10), Ok(IdView::Human(&uuid)));
        assert_eq!(id(&ids[1], 10), Ok(IdView::Agent(&uuid)));
        assert_eq!(id(&ids[3], 10), Err(ONEOF_CONFLICT));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        #[test]
        fn attribute_fast_path_agrees(
            key in prop::collection::vec(any::<u8>(), 0..140),
            value in prop::collection::vec(any::<u8>(), 0..140),
            extra in prop::collection::vec(any::<u8>(), 0..3),
        ) {
            let bytes = attribute_message(&key, &value, &extra);
            prop_assert_eq!(attribute(&bytes, 10), attribute_fields(&bytes, 10));
        }

        #[test]
        fn id_fast_path_agrees(bytes in prop::collection::vec(any::<u8>(), 0..24)) {
            prop_assert_eq!(id(&bytes, 10), id_fields(&bytes, 10));
        }

        #[test]
        fn arbitrary_bytes_agree_with_prost(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            agree(&bytes);
        }

        #[test]
        fn mutated_passports_agree_with_prost(
            edits in prop::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..4),
        ) {
            let mut bytes = reference_bytes();
            for (index, value, op) in edits {
                if bytes.is_empty() {
                    break;
                }
                let index = index % bytes.len();
                match op {
                    0 => bytes[index] = value,
                    1 => bytes.insert(index, value),
                    _ => {
                        bytes.remove(index);
                    }
                }
            }
            agree(&bytes);
        }
    }
}
