//! Passport codec, signing envelope and claim mapping over the reference principal
//! (a Human with 5 scopes, 3 roles, 3 attributes and one Agent actor).
//!
//! Targets: unsigned decode <= 1 us; decode + HMAC verify <= 1.5 us.
//!
//! `decode_unsigned_prost` is the alternative to the crate's hand-written,
//! borrowing wire reader (`decode_unsigned`): prost's generated `decode` into
//! owned structs, then a conversion to the model with the same checks, so the
//! reader's benefit stays visible (the crate keeps whichever is faster).
#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use principal::{
    Actor, AgentId, Audience, AuthContext, ClaimMapping, HumanId, Issuer, Principal, PrincipalId,
    Role, Scope, ScopeSet, ServiceId, Tenant, Timestamp, Uuid,
};
use principal_proto::proto::principal::{SessionIdForm, TokenIdForm};
use principal_proto::proto::principal_id::Kind;
use principal_proto::{
    DecodeOptions, KeyId, Passport, PassportKeyRing, PassportSigningKey, RequestId, TrustedPeer,
    fixtures, proto,
};
use prost::Message as _;

/// Why the prost path refused a passport (the bench only needs to know that it did).
#[derive(Debug)]
struct Refused(#[expect(dead_code, reason = "shown by Debug when an unwrap fails")] &'static str);

fn refuse<E>(what: &'static str) -> impl FnOnce(E) -> Refused {
    move |_| Refused(what)
}

fn strictly_ascending(values: &[String]) -> Result<(), Refused> {
    if values.windows(2).all(|pair| pair[0] < pair[1]) {
        Ok(())
    } else {
        Err(Refused("not strictly ascending"))
    }
}

fn id_from_prost(id: Option<&proto::PrincipalId>) -> Result<PrincipalId, Refused> {
    let uuid = |bytes: &[u8]| Uuid::from_slice(bytes).map_err(refuse("uuid"));
    match id.and_then(|id| id.kind.as_ref()) {
        Some(Kind::Human(bytes)) => Ok(HumanId::new(uuid(bytes)?).into()),
        Some(Kind::Agent(bytes)) => Ok(AgentId::new(uuid(bytes)?).into()),
        Some(Kind::Service(slug)) => Ok(ServiceId::new(slug).map_err(refuse("slug"))?.into()),
        None => Err(Refused("id")),
    }
}

fn uuid_text(bytes: &[u8]) -> Result<String, Refused> {
    Ok(Uuid::from_slice(bytes)
        .map_err(refuse("uuid"))?
        .hyphenated()
        .to_string())
}

fn scopes_from_prost(scopes: &[String]) -> Result<ScopeSet, Refused> {
    strictly_ascending(scopes)?;
    scopes
        .iter()
        .map(|scope| Scope::new(scope).map_err(refuse("scope")))
        .collect()
}

/// The prost path: prost's `decode`, then the same checks and model building
/// as `Passport::decode` (what the hand-written reader replaces).
fn decode_with_prost(
    bytes: &[u8],
    options: &DecodeOptions,
    now: Timestamp,
) -> Result<(Principal, RequestId), Refused> {
    if bytes.len() > options.max_bytes() {
        return Err(Refused("oversized"));
    }
    let wire = proto::Passport::decode(bytes).map_err(refuse("malformed"))?;
    let issued_at = Timestamp::from_unix_seconds(wire.issued_at);
    let expires_at = Timestamp::from_unix_seconds(wire.issued_at.wrapping_add(wire.lifetime));
    let leeway = i64::from(options.leeway_seconds());
    if expires_at <= issued_at
        || wire.lifetime > i64::from(options.max_lifetime_seconds())
        || now >= expires_at.add_seconds(leeway)
        || issued_at > now.add_seconds(leeway)
        || wire.audience != options.expected_audience().as_str()
    {
        return Err(Refused("times or audience"));
    }
    let request_id = match (wire.request_id.is_empty(), wire.request_id_uuid.is_empty()) {
        (true, false) => uuid_text(&wire.request_id_uuid)?,
        (false, true) => wire.request_id,
        _ => return Err(Refused("request id")),
    };
    let request_id = RequestId::new(request_id).map_err(refuse("request id"))?;
    let p = wire.principal.ok_or(Refused("principal"))?;

    let id = id_from_prost(p.id.as_ref())?;
    let issuer = Issuer::new(&p.issuer).map_err(refuse("issuer"))?;
    let subject = if p.subject.is_empty() {
        id.to_string()
    } else {
        p.subject
    };
    let expires_at = Timestamp::from_unix_seconds(p.expires_at);
    let at = |offset: i64| Timestamp::from_unix_seconds(p.expires_at.wrapping_add(offset));
    let scopes = scopes_from_prost(&p.scopes)?;
    strictly_ascending(&p.roles)?;
    let roles = p
        .roles
        .iter()
        .map(|role| Role::new(role).map_err(refuse("role")))
        .collect::<Result<Vec<_>, _>>()?;
    let audiences = p
        .audiences
        .iter()
        .map(|audience| Audience::new(audience).map_err(refuse("audience")))
        .collect::<Result<Vec<_>, _>>()?;
    let auth = p
        .auth
        .map(|auth| AuthContext {
            amr: auth.amr,
            acr: auth.acr,
            auth_time: auth.auth_time_offset.map(at),
            client_id: auth.client_id,
        })
        .unwrap_or_default();
    let mut delegation = Vec::with_capacity(p.delegation.len());
    for actor in &p.delegation {
        let mut model = Actor::new(id_from_prost(actor.id.as_ref())?);
        if let Some(issuer) = &actor.issuer {
            model = model.with_issuer(Issuer::new(issuer).map_err(refuse("issuer"))?);
        }
        if let Some(subject) = &actor.subject {
            model = model.with_subject(subject);
        }
        if let Some(client_id) = &actor.client_id {
            model = model.with_client_id(client_id);
        }
        if let Some(grant) = &actor.grant {
            let extra = scopes_from_prost(&grant.extra_scopes)?;
            if extra.iter().any(|scope| scopes.contains(scope.as_str())) {
                return Err(Refused("grant"));
            }
            model = model.with_grant(if extra.is_empty() {
                scopes.clone()
            } else {
                scopes.iter().cloned().chain(extra).collect()
            });
        }
        delegation.push(model);
    }
    let mut builder = Principal::builder(id, issuer, subject)
        .roles(roles)
        .scopes(scopes)
        .audiences(audiences)
        .auth(auth)
        .expires_at(expires_at)
        .delegation(delegation)
        .max_delegation_depth(options.max_delegation_depth());
    if let Some(tenant) = &p.tenant {
        builder = builder.tenant(Tenant::new(tenant).map_err(refuse("tenant"))?);
    }
    if let Some(offset) = p.issued_at_offset {
        builder = builder.issued_at(at(offset));
    }
    if let Some(offset) = p.not_before_offset {
        builder = builder.not_before(at(offset));
    }
    match p.token_id_form {
        Some(TokenIdForm::TokenId(text)) => builder = builder.token_id(text),
        Some(TokenIdForm::TokenIdUuid(bytes)) => builder = builder.token_id(uuid_text(&bytes)?),
        None => {}
    }
    match p.session_id_form {
        Some(SessionIdForm::SessionId(text)) => builder = builder.session_id(text),
        Some(SessionIdForm::SessionIdUuid(bytes)) => {
            builder = builder.session_id(uuid_text(&bytes)?);
        }
        None => {}
    }
    if !p
        .attributes
        .windows(2)
        .all(|pair| pair[0].key < pair[1].key)
    {
        return Err(Refused("attributes"));
    }
    for attribute in &p.attributes {
        builder = builder.attribute(&attribute.key, &attribute.value);
    }
    if let Some(json) = &p.may_act_json {
        builder = builder.may_act(serde_json::from_str(json).map_err(refuse("may_act"))?);
    }
    let principal = builder.build().map_err(refuse("principal"))?;
    if now >= principal.expires_at().add_seconds(leeway) {
        return Err(Refused("principal expired"));
    }
    Ok((principal, request_id))
}

fn passport(c: &mut Criterion) {
    let now = Timestamp::from_unix_seconds(1_700_000_000);
    let passport = fixtures::reference_passport(now).unwrap();
    let options = fixtures::reference_decode_options().unwrap();
    let encoded = passport.encode();
    let hmac = PassportKeyRing::new(
        PassportSigningKey::hmac_sha256(KeyId::new("hmac-1").unwrap(), &benches::BENCH_SECRET)
            .unwrap(),
    );
    let ed25519 = PassportKeyRing::new(
        PassportSigningKey::ed25519_generate(KeyId::new("ed-1").unwrap()).unwrap(),
    );
    let hmac_signed = hmac.sign(&passport).unwrap();
    let ed_signed = ed25519.sign(&passport).unwrap();
    let jwt = benches::equivalent_jwt_hs256(passport.principal()).unwrap();
    let hmac_header = hmac.sign_header(&passport).unwrap();
    println!(
        "sizes: passport {} B, HMAC-signed {} B, Ed25519-signed {} B, HMAC header {} B, HS256 JWT {} B ({:.1}%)",
        encoded.len(),
        hmac_signed.len(),
        ed_signed.len(),
        hmac_header.len(),
        jwt.len(),
        100.0 * hmac_header.len() as f64 / jwt.len() as f64
    );

    // The prost path reads the same Principal (and refuses a tampered one).
    let (principal, request_id) = decode_with_prost(&encoded, &options, now).unwrap();
    assert_eq!(&principal, passport.principal());
    assert_eq!(&request_id, passport.request_id());
    assert!(decode_with_prost(&encoded[1..], &options, now).is_err());

    // The mTLS peer a service found on its allowlist (what unsigned decoding needs).
    let peer = TrustedPeer::allowlisted("spiffe://baton.test/gateway").unwrap();
    let mut group = c.benchmark_group("passport");
    group.bench_function("encode", |b| b.iter(|| black_box(&passport).encode()));
    group.bench_function("decode_unsigned", |b| {
        b.iter(|| Passport::decode_unsigned(black_box(&encoded), &options, now, peer).unwrap())
    });
    group.bench_function("decode_unsigned_prost", |b| {
        b.iter(|| decode_with_prost(black_box(&encoded), &options, now).unwrap())
    });
    group.bench_function("hmac_sign", |b| {
        b.iter(|| hmac.sign(black_box(&passport)).unwrap())
    });
    group.bench_function("hmac_verify_decode", |b| {
        b.iter(|| {
            hmac.verifier()
                .verify(black_box(&hmac_signed), &options, now)
                .unwrap()
        })
    });
    group.bench_function("ed25519_sign", |b| {
        b.iter(|| ed25519.sign(black_box(&passport)).unwrap())
    });
    group.bench_function("ed25519_verify_decode", |b| {
        b.iter(|| {
            ed25519
                .verifier()
                .verify(black_box(&ed_signed), &options, now)
                .unwrap()
        })
    });
    group.finish();
}

fn claims(c: &mut Criterion) {
    let now = Timestamp::from_unix_seconds(1_700_000_000);
    let principal = fixtures::reference_principal(now).unwrap();
    let json = benches::reference_claims_json(&principal).unwrap();
    let claims = principal.to_claims();
    // The preset `to_claims` is the inverse of: the claims are Baton's own.
    let mapping = ClaimMapping::baton();

    let mut group = c.benchmark_group("claims");
    group.bench_function("map_json_to_principal", |b| {
        b.iter(|| mapping.principal_from_json(black_box(&json)).unwrap())
    });
    group.bench_function("map_claims_to_principal", |b| {
        b.iter(|| mapping.principal_from_claims(black_box(&claims)).unwrap())
    });
    group.bench_function("principal_to_claims", |b| {
        b.iter(|| black_box(&principal).to_claims())
    });
    group.finish();
}

/// A passport hop through tower-auth's `PassportHeaderVerifier` (what the authenticate
/// layer calls), from the header string: base64, form, signature, decode, request id.
fn passport_header_verifier(c: &mut Criterion) {
    use std::sync::Arc;

    use principal::{Clock, ServiceId};
    use principal_proto::PassportVerifyingKey;
    use tower_auth::passport::{PassportHeaderVerifier, PassportKeys};
    use tower_auth::peer::{PeerAllowlist, PeerIdentity};
    use tower_auth::{Credentials, Verifier};

    /// Time stands still in a bench.
    #[derive(Debug)]
    struct Fixed(Timestamp);
    impl Clock for Fixed {
        fn now(&self) -> Timestamp {
            self.0
        }
    }

    let now = Timestamp::from_unix_seconds(1_700_000_000);
    let passport = fixtures::reference_passport(now).unwrap();
    let options = fixtures::reference_decode_options().unwrap();
    let request_id = passport.request_id().as_str().to_owned();
    let edge = ServiceId::new("edge").unwrap();
    let hmac = PassportKeyRing::new(
        PassportSigningKey::hmac_sha256(KeyId::new("hmac-1").unwrap(), &[7; 32]).unwrap(),
    );
    let ed25519 = PassportKeyRing::new(
        PassportSigningKey::ed25519_generate(KeyId::new("ed-1").unwrap()).unwrap(),
    );
    let ed_public = ed25519.verifier().key(ed25519.current_key_id()).unwrap();
    let keys = PassportKeys::new(
        PassportVerifyingKey::hmac_sha256(KeyId::new("hmac-1").unwrap(), &[7; 32]).unwrap(),
        edge.clone(),
    )
    .unwrap()
    .with_key(ed_public.clone(), edge)
    .unwrap();
    let gateway: tower_auth::peer::SpiffeId = "spiffe://shop.internal/gateway".parse().unwrap();
    let verifier = PassportHeaderVerifier::new(options, keys)
        .unsigned_from(PeerAllowlist::new([gateway.clone()]))
        .clock(Arc::new(Fixed(now)));
    let peer = PeerIdentity::new(gateway);

    let hmac_header = hmac.sign_header(&passport).unwrap();
    let ed_header = ed25519.sign_header(&passport).unwrap();
    let unsigned_header = passport.encode_header().unwrap();
    let verify = |header: &str, with_peer: bool| {
        let mut credentials = Credentials::none()
            .with_passport(header)
            .with_request_id(&request_id);
        if with_peer {
            credentials = credentials.with_peer(&peer);
        }
        verifier.verify(&credentials).into_ready().unwrap().unwrap()
    };

    let mut group = c.benchmark_group("passport_header_verifier");
    group.bench_function("hmac", |b| {
        b.iter(|| verify(black_box(&hmac_header), false))
    });
    group.bench_function("ed25519", |b| {
        b.iter(|| verify(black_box(&ed_header), false))
    });
    group.bench_function("unsigned_allowlisted_peer", |b| {
        b.iter(|| verify(black_box(&unsigned_header), true))
    });
    // A whole HMAC hop, forwarded: the sender's header (sign) and the receiver's verify.
    group.bench_function("hmac_sign_header_and_verify", |b| {
        b.iter(|| {
            let header = hmac.sign_header(black_box(&passport)).unwrap();
            verify(&header, false)
        })
    });
    group.finish();
}

criterion_group!(benches, passport, claims, passport_header_verifier);
criterion_main!(benches);
