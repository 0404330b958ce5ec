//! Internal JWT minting (pattern 2) over the reference principal (a Human with 5 scopes,
//! 3 roles, 3 attributes and one Agent actor).
//!
//! - `mint/ES256/aws_lc_direct` vs `mint/ES256/jsonwebtoken_encode`, one group so both
//!   come from one run: `InternalIssuer::mint` (aws-lc-rs with the key parsed once, header
//!   encoded once per key) against `jsonwebtoken::encode` of the same claims with an
//!   `EncodingKey` of the same PKCS#8 key (which parses it again per token). Likewise for
//!   EdDSA. This is the measurement behind signing with aws-lc-rs directly.
//! - `mint/cache_hit`: `MintCache::token` for a pair it holds, against
//!   `mint/ES256/verify` (the receiving hop's JwtVerifier, token cache off) to compare
//!   with the target for a warm minted-JWT hop (one ES256 verification plus at
//!   most 3 us).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
use benches::ready;
use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use principal::{Audience, ClaimMapping, Clock, Issuer, SystemClock};
use principal_proto::fixtures;
use tower_auth::jwks::{KeySet, KeySetPolicy};
use tower_auth::jwt::{IssuerConfig, JwtVerifier};
use tower_auth::mint::{InternalIssuer, MintCache, SigningAlgorithm, SigningKey};
use tower_auth::token_cache::TokenCacheConfig;

const AUDIENCE: &str = "orders-api";

fn bench(c: &mut Criterion) {
    let principal = fixtures::reference_principal(SystemClock.now()).unwrap();
    let audience = Audience::new(AUDIENCE).unwrap();
    let mut group = c.benchmark_group("mint");
    for algorithm in [SigningAlgorithm::Es256, SigningAlgorithm::EdDsa] {
        let (der, encoding) = match algorithm {
            SigningAlgorithm::Es256 => {
                let der = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                    .unwrap()
                    .to_pkcs8v1()
                    .unwrap();
                let encoding = EncodingKey::from_ec_der(der.as_ref());
                (der.as_ref().to_vec(), encoding)
            }
            _ => {
                let der = Ed25519KeyPair::generate().unwrap().to_pkcs8v1().unwrap();
                let encoding = EncodingKey::from_ed_der(der.as_ref());
                (der.as_ref().to_vec(), encoding)
            }
        };
        let key = SigningKey::from_pkcs8(algorithm, &der).unwrap();
        let kid = key.kid().to_owned();
        let issuer = InternalIssuer::builder(Issuer::new("https://edge.internal").unwrap(), key)
            .build()
            .unwrap();
        let name = algorithm.as_str();
        group.bench_function(format!("{name}/aws_lc_direct"), |b| {
            b.iter(|| issuer.mint(black_box(&principal), &audience).unwrap())
        });
        let mut header = Header::new(algorithm.into());
        header.kid = Some(kid);
        header.typ = Some("at+jwt".into());
        group.bench_function(format!("{name}/jsonwebtoken_encode"), |b| {
            b.iter(|| {
                // The same claim building as the issuer, then jsonwebtoken's encode.
                let mut claims = black_box(&principal).to_claims();
                claims.iss = Some("https://edge.internal".into());
                claims.aud = Some(principal::Audiences::One(AUDIENCE.into()));
                jsonwebtoken::encode(&header, &claims, &encoding).unwrap()
            })
        });

        if algorithm == SigningAlgorithm::Es256 {
            let jwks = serde_json::to_vec(&issuer.jwks()).unwrap();
            let keys = KeySet::from_jwks_json(&jwks, &KeySetPolicy::default())
                .unwrap()
                .set;
            let verifier = JwtVerifier::builder()
                .issuer(
                    IssuerConfig::builder(issuer.issuer().clone())
                        .audience(audience.clone())
                        .static_keys(keys)
                        .algorithms([Algorithm::ES256])
                        .require_typ("at+jwt")
                        .claim_mapping(ClaimMapping::baton())
                        .build()
                        .unwrap(),
                )
                .token_cache(TokenCacheConfig::disabled())
                .build()
                .unwrap();
            let token = issuer.mint(&principal, &audience).unwrap();
            assert!(verifier.verify_sync(token.as_str()).is_ok());
            group.bench_function("ES256/verify", |b| {
                b.iter(|| verifier.verify_sync(black_box(token.as_str())).unwrap())
            });
            let cache = MintCache::builder(issuer.clone()).build().unwrap();
            ready(cache.token(&principal, &audience)).unwrap();
            group.bench_function("cache_hit", |b| {
                b.iter(|| ready(cache.token(black_box(&principal), &audience)).unwrap())
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
