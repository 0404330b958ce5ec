#!/usr/bin/env python3
"""Check Baton's passport test vectors with an independent protobuf implementation.

Decodes the vectors in this folder with Python's `protobuf` package (message
classes built at run time from `descriptor_set.binpb`, so no `protoc` is
needed), compares every field with the model's JSON form (`principal.json`,
`passport.json`), applies the encoder rules documented in
`proto/baton/principal/v1/*.proto`, and verifies the signed headers: HMAC-SHA256
with `hmac`, Ed25519 with `cryptography`. The keys in `test_keys.json` are
test-only.

Usage: python3 proto/testdata/check.py [TESTDATA_DIR]
Exits 0 when every check passes; prints the first failure and exits 1 otherwise.
Needs: python3 -m pip install protobuf cryptography
"""

import base64
import binascii
import hashlib
import hmac
import json
import pathlib
import sys
import uuid

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

PACKAGE = "baton.principal.v1"
SIGNATURE_CONTEXT = b"baton.principal.v1.SignedPassport\x00"
HEADER_PREFIX = {"human": "hm-", "agent": "am-", "service": "svc-"}


class CheckFailed(Exception):
    pass


def check(condition, what):
    if not condition:
        raise CheckFailed(what)


def equal(found, expected, what):
    if found == expected:
        return
    if isinstance(found, bytes) and isinstance(expected, bytes):
        at = next(
            (i for i, (a, b) in enumerate(zip(found, expected)) if a != b),
            min(len(found), len(expected)),
        )
        raise CheckFailed(
            f"{what}: differs at byte {at} "
            f"(found {found[at:at + 8].hex()}, expected {expected[at:at + 8].hex()}; "
            f"lengths {len(found)} and {len(expected)})"
        )
    raise CheckFailed(f"{what}: found {found!r}, expected {expected!r}")


def without_real_oneofs(file_set):
    """The schema as it was before its oneofs: every member of a real oneof
    (not a proto3 `optional`) becomes a plain field with the same number and type."""
    old = descriptor_pb2.FileDescriptorSet()
    old.CopyFrom(file_set)
    for file_proto in old.file:
        for message in file_proto.message_type:
            real = {
                index
                for index, _ in enumerate(message.oneof_decl)
                if not any(
                    f.proto3_optional for f in message.field
                    if f.HasField("oneof_index") and f.oneof_index == index
                )
            }
            if not real:
                continue
            kept = [i for i in range(len(message.oneof_decl)) if i not in real]
            renumber = {old_index: new_index for new_index, old_index in enumerate(kept)}
            for field in message.field:
                if field.HasField("oneof_index"):
                    if field.oneof_index in real:
                        field.ClearField("oneof_index")
                    else:
                        field.oneof_index = renumber[field.oneof_index]
            decls = [message.oneof_decl[i] for i in kept]
            del message.oneof_decl[:]
            message.oneof_decl.extend(decls)
    return old


def message_classes(descriptor_set_bytes, before_oneofs=False):
    file_set = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set_bytes)
    if before_oneofs:
        file_set = without_real_oneofs(file_set)
    pool = descriptor_pool.DescriptorPool()
    for file_proto in file_set.file:
        # Options every generator needs are present in each file of the package.
        options = file_proto.options
        check(options.go_package, f"{file_proto.name}: go_package")
        check(options.java_package, f"{file_proto.name}: java_package")
        check(options.java_multiple_files, f"{file_proto.name}: java_multiple_files")
        check(options.csharp_namespace, f"{file_proto.name}: csharp_namespace")
        pool.Add(file_proto)
    if hasattr(message_factory, "GetMessageClass"):
        message_class = message_factory.GetMessageClass
    else:  # protobuf before 4.22
        message_class = message_factory.MessageFactory(pool).GetPrototype
    get = lambda name: message_class(pool.FindMessageTypeByName(f"{PACKAGE}.{name}"))
    enum = pool.FindEnumTypeByName(f"{PACKAGE}.SignatureAlgorithm")
    return get("Passport"), get("SignedPassport"), enum


def header_bytes(text):
    """The bytes of an `x-principal-bin` value: standard base64, unpadded."""
    check("=" not in text, "header value is written without padding")
    padded = text + "=" * (-len(text) % 4)
    decoded = base64.b64decode(padded, validate=True)
    # Canonical: re-encoding gives the same text (no stray trailing bits).
    equal(base64.b64encode(decoded).decode().rstrip("="), text, "canonical base64")
    return decoded


def text_or_uuid(message, oneof, text_field, what):
    """The id carried in a text-or-uuid oneof, checking the encoder rule."""
    member = message.WhichOneof(oneof)
    if member is None:
        return None
    if member == text_field:
        text = getattr(message, text_field)
        # Rule: uuid-shaped text travels as bytes.
        try:
            check(str(uuid.UUID(text)) != text, f"{what}: canonical uuid sent as text")
        except ValueError:
            pass
        return text
    raw = getattr(message, member)
    equal(len(raw), 16, f"{what}: uuid length")
    return str(uuid.UUID(bytes=raw))


def typed_id(principal_id, what):
    """The text form and kind of a PrincipalId (exactly one member of `kind`)."""
    kind = principal_id.WhichOneof("kind")
    check(kind is not None, f"{what}: no kind")
    value = getattr(principal_id, kind)
    if kind == "service":
        return HEADER_PREFIX[kind] + value, kind
    equal(len(value), 16, f"{what}: uuid length")
    return HEADER_PREFIX[kind] + str(uuid.UUID(bytes=value)), kind


def strictly_ascending(values, what):
    encoded = [value.encode() for value in values]
    check(
        all(a < b for a, b in zip(encoded, encoded[1:])),
        f"{what}: not strictly ascending by UTF-8 bytes: {list(values)}",
    )


def check_principal(wire, expected):
    """Every field of the decoded Principal against the model's JSON form."""
    subject_id, kind = typed_id(wire.id, "Principal.id")
    equal(subject_id, expected["id"], "id")
    equal(kind, expected["kind"], "kind")
    equal(wire.issuer, expected["issuer"], "issuer")
    # An empty subject is the text form of the id.
    equal(wire.subject or subject_id, expected["subject"], "subject")
    equal(wire.tenant if wire.HasField("tenant") else None, expected.get("tenant"), "tenant")
    strictly_ascending(wire.roles, "roles")
    equal(list(wire.roles), expected.get("roles", []), "roles")
    strictly_ascending(wire.scopes, "scopes")
    equal(list(wire.scopes), expected.get("scopes", []), "scopes")
    equal(list(wire.audiences), expected.get("audiences", []), "audiences")

    expires_at = wire.expires_at
    equal(expires_at, expected["expires_at"], "expires_at")

    def at(message, field):
        return expires_at + getattr(message, field) if message.HasField(field) else None

    equal(at(wire, "issued_at_offset"), expected.get("issued_at"), "issued_at")
    equal(at(wire, "not_before_offset"), expected.get("not_before"), "not_before")
    auth = expected.get("auth", {})
    equal(list(wire.auth.amr), auth.get("amr", []), "auth.amr")
    equal(at(wire.auth, "auth_time_offset"), auth.get("auth_time"), "auth.auth_time")
    client_id = wire.auth.client_id if wire.auth.HasField("client_id") else None
    equal(client_id, auth.get("client_id"), "auth.client_id")

    equal(
        text_or_uuid(wire, "token_id_form", "token_id", "token_id"),
        expected.get("token_id"),
        "token_id",
    )
    equal(
        text_or_uuid(wire, "session_id_form", "session_id", "session_id"),
        expected.get("session_id"),
        "session_id",
    )
    keys = [attribute.key for attribute in wire.attributes]
    strictly_ascending(keys, "attribute keys")
    equal(
        {attribute.key: attribute.value for attribute in wire.attributes},
        expected.get("attributes", {}),
        "attributes",
    )

    delegation = expected.get("delegation", [])
    equal(len(wire.delegation), len(delegation), "delegation length")
    for index, (actor, want) in enumerate(zip(wire.delegation, delegation)):
        what = f"delegation[{index}]"
        actor_id, actor_kind = typed_id(actor.id, f"{what}.id")
        equal(actor_id, want["id"], f"{what}.id")
        equal(actor_kind, want["kind"], f"{what}.kind")
        for field in ("issuer", "subject", "client_id"):
            found = getattr(actor, field) if actor.HasField(field) else None
            equal(found, want.get(field), f"{what}.{field}")
        if actor.HasField("grant"):
            extra = list(actor.grant.extra_scopes)
            strictly_ascending(extra, f"{what}.grant.extra_scopes")
            check(
                not set(extra) & set(wire.scopes),
                f"{what}.grant repeats an effective scope",
            )
            # The grant is the extra scopes plus the Principal's effective scopes.
            grant = sorted(set(extra) | set(wire.scopes), key=str.encode)
        else:
            grant = None
        equal(grant, want.get("grant"), f"{what}.grant")


def check_passport(Passport, passport_bytes, meta, principal_json):
    passport = Passport.FromString(passport_bytes)
    # Canonical encoding: re-encoding what was decoded gives the same bytes.
    equal(passport.SerializeToString(deterministic=True), passport_bytes, "re-encoded passport")
    # Two plain fields, not a oneof: exactly one is non-empty.
    check(
        bool(passport.request_id) != bool(passport.request_id_uuid),
        "exactly one of request_id and request_id_uuid is set",
    )
    if passport.request_id_uuid:
        equal(len(passport.request_id_uuid), 16, "request_id_uuid length")
        request_id = str(uuid.UUID(bytes=passport.request_id_uuid))
    else:
        request_id = passport.request_id
    equal(request_id, meta["request_id"], "request_id")
    equal(passport.audience, meta["audience"], "audience")
    equal(passport.issued_at, meta["issued_at"], "issued_at")
    equal(passport.issued_at + passport.lifetime, meta["expires_at"], "expires_at")
    check(passport.HasField("principal"), "Passport.principal is set")
    check_principal(passport.principal, principal_json)
    return passport


def signature_input(algorithm_number, key_id, passport_bytes):
    kid = key_id.encode("ascii")
    check(1 <= len(kid) <= 64, "key id length")
    return SIGNATURE_CONTEXT + bytes([algorithm_number, len(kid)]) + kid + passport_bytes


def signature_valid(envelope, algorithm_name, key):
    """Whether the envelope's signature verifies with `key` (never raises on a bad one)."""
    data = signature_input(envelope.algorithm, envelope.key_id, envelope.passport)
    if algorithm_name == "SIGNATURE_ALGORITHM_HMAC_SHA256":
        tag = hmac.new(key, data, hashlib.sha256).digest()
        return hmac.compare_digest(tag, envelope.signature)
    try:
        key.verify(envelope.signature, data)
        return True
    except InvalidSignature:
        return False


def check_signed(SignedPassport, algorithms, header_text, key_json, key, passport_bytes):
    signed = header_bytes(header_text)
    envelope = SignedPassport.FromString(signed)
    algorithm_name = algorithms.values_by_number[envelope.algorithm].name
    equal(envelope.key_id, key_json["key_id"], "key_id")
    # The signature covers the exact passport bytes: the same bytes as passport.binpb.
    equal(envelope.passport, passport_bytes, "signed passport bytes")
    check(signature_valid(envelope, algorithm_name, key), f"{algorithm_name}: signature verifies")
    # Self-test: the check must be able to fail. A flipped bit in the passport
    # or the signature does not verify.
    for field in ("passport", "signature"):
        tampered = SignedPassport.FromString(signed)
        value = bytearray(getattr(tampered, field))
        value[len(value) // 2] ^= 0x01
        setattr(tampered, field, bytes(value))
        check(
            not signature_valid(tampered, algorithm_name, key),
            f"{algorithm_name}: a corrupted {field} must not verify",
        )
    return algorithm_name


def main(testdata):
    read = lambda name: (testdata / name).read_bytes()
    read_json = lambda name: json.loads(read(name))
    read_text = lambda name: read(name).decode("ascii").strip()

    Passport, SignedPassport, algorithms = message_classes(read("descriptor_set.binpb"))
    meta = read_json("passport.json")
    principal_json = read_json(meta["principal"])
    keys = read_json("test_keys.json")
    check("TEST ONLY" in keys["warning"], "test keys say they are test-only")

    passport_bytes = read("passport.binpb")
    equal(binascii.unhexlify(read_text("passport.hex")), passport_bytes, "passport.hex")
    equal(header_bytes(read_text("passport.b64")), passport_bytes, "passport.b64")
    check_passport(Passport, passport_bytes, meta, principal_json)

    # Wire compatibility of the oneofs: a reader of the schema before them
    # (plain fields, same numbers and types) reads the same values from these
    # bytes and writes exactly these bytes back.
    OldPassport, _, _ = message_classes(read("descriptor_set.binpb"), before_oneofs=True)
    old = OldPassport.FromString(passport_bytes)
    check(not old.principal.id.DESCRIPTOR.oneofs, "the old schema's PrincipalId has no oneof")
    equal(old.principal.id.human, Passport.FromString(passport_bytes).principal.id.human, "id")
    equal(old.principal.token_id_uuid, uuid.UUID(principal_json["token_id"]).bytes, "token id")
    equal(old.SerializeToString(deterministic=True), passport_bytes, "re-encoded by the old schema")
    print("ok: the schema before its oneofs reads and writes the same bytes")

    hmac_json = keys["hmac_sha256"]
    hmac_secret = binascii.unhexlify(hmac_json["secret_hex"])
    check(len(hmac_secret) >= 32, "HMAC secret of at least 32 bytes")
    ed_json = keys["ed25519"]
    ed_public = binascii.unhexlify(ed_json["public_key_hex"])
    seed = binascii.unhexlify(ed_json["seed_hex"])
    derived = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()
    equal(derived, ed_public, "Ed25519 public key of the seed")
    ed_key = Ed25519PublicKey.from_public_bytes(ed_public)

    signed = [
        ("signed_hmac_sha256.b64", hmac_json, hmac_secret, "SIGNATURE_ALGORITHM_HMAC_SHA256"),
        ("signed_ed25519.b64", ed_json, ed_key, "SIGNATURE_ALGORITHM_ED25519"),
    ]
    for name, key_json, key, expected_algorithm in signed:
        algorithm = check_signed(
            SignedPassport, algorithms, read_text(name), key_json, key, passport_bytes
        )
        equal(algorithm, expected_algorithm, f"{name}: algorithm")
        print(f"ok: {name} ({algorithm}, key {key_json['key_id']})")
    print(
        f"ok: passport.binpb ({len(passport_bytes)} bytes): request {meta['request_id']}, "
        f"subject {principal_json['subject']} ({principal_json['kind']}), "
        f"{len(principal_json.get('scopes', []))} scopes, "
        f"{len(principal_json.get('delegation', []))} actor(s)"
    )


if __name__ == "__main__":
    directory = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else pathlib.Path(__file__).parent
    try:
        main(directory)
    except CheckFailed as failure:
        print(f"FAILED: {failure}", file=sys.stderr)
        sys.exit(1)
