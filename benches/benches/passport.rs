//! Passport codec, signing envelope and claim mapping over the reference principal
//! (a Human with 5 scopes, 3 roles, 3 attributes and one Agent actor).
//!
//! Targets: decode + HMAC verify <= 2 us; unsigned decode <= 1 us.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use principal::{ClaimMapping, Timestamp};
use principal_proto::{KeyId, Passport, PassportKeyRing, PassportSigningKey, fixtures};

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

    let mut group = c.benchmark_group("passport");
    group.bench_function("encode", |b| b.iter(|| black_box(&passport).encode()));
    group.bench_function("decode_unsigned", |b| {
        b.iter(|| Passport::decode(black_box(&encoded), &options, now).unwrap())
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

criterion_group!(benches, passport, claims);
criterion_main!(benches);
