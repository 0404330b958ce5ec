//! The hostile-token corpus: every token here must be refused, each for its own stated
//! reason. Tokens are built byte by byte (header and claims JSON, base64url, signature)
//! so each attack is exactly what it says. Every case goes through both the async and
//! the sync path ([`Fixture::verify`] checks they agree).

mod support;

use std::borrow::Cow;

use jsonwebtoken::Algorithm;
use serde_json::json;
use support::START;
use support::jwt::{
    AUD, HMAC_SECRET, ISSUER_A, ISSUER_B, ISSUER_HMAC, ISSUER_STRICT, ISSUER_TYPED, KEYS, b64,
    claims, claims_with, compact, fixture, header, hmac_token, issuer,
};
use tower_auth::AuthError;
use tower_auth::error::{RevokedField, TokenPart};
use tower_auth::revocation::DenylistEntries;

/// `header.payload.signature` with the given raw segments.
fn segments(header: &str, payload: &str, signature: &str) -> String {
    format!("{header}.{payload}.{signature}")
}

fn malformed_part(error: &AuthError) -> TokenPart {
    match error {
        AuthError::MalformedToken { part, .. } => *part,
        other => panic!("expected MalformedToken, got {other:?}"),
    }
}

async fn assert_alg_refused(alg: &str, signature: &str) {
    let f = fixture();
    let token = segments(
        &b64(json!({ "alg": alg, "kid": "ec-1" }).to_string()),
        &b64(claims(ISSUER_A).to_string()),
        signature,
    );
    match f.reject(&token).await {
        AuthError::UnsupportedAlgorithm { alg: found } => assert_eq!(found, alg),
        other => panic!("{alg}: expected UnsupportedAlgorithm, got {other:?}"),
    }
}

// ---- the baseline: the corpus is built from tokens that are accepted ----

#[tokio::test]
async fn baseline_tokens_of_every_issuer_and_algorithm_are_accepted() {
    let f = fixture();
    let keys = &*KEYS;
    for key in [&keys.rsa, &keys.ec, &keys.ed] {
        let verified = f
            .verify(&key.token(&claims(ISSUER_A)))
            .await
            .expect("accepted");
        assert_eq!(verified.issuer().as_str(), ISSUER_A);
    }
    for key in [&keys.b_ec, &keys.b_overlap] {
        let verified = f
            .verify(&key.token(&claims(ISSUER_B)))
            .await
            .expect("accepted");
        assert_eq!(verified.issuer().as_str(), ISSUER_B);
    }
    let hmac = hmac_token(
        &header(Algorithm::HS256, "hs-1"),
        &claims(ISSUER_HMAC),
        &HMAC_SECRET,
    );
    assert!(f.verify(&hmac).await.is_ok());
    let typed = keys.ec.sign(
        &json!({"alg": "ES256", "kid": "ec-1", "typ": "application/at+jwt"}),
        &claims(ISSUER_TYPED),
    );
    assert!(f.verify(&typed).await.is_ok());
    assert!(
        f.verify(&keys.ec.token(&claims(ISSUER_STRICT)))
            .await
            .is_ok()
    );
}

// ---- alg: none, every spelling ----

#[tokio::test]
async fn alg_none_lowercase_unsigned() {
    assert_alg_refused("none", "").await;
}

#[tokio::test]
async fn alg_none_capitalised_unsigned() {
    assert_alg_refused("None", "").await;
}

#[tokio::test]
async fn alg_none_uppercase_unsigned() {
    assert_alg_refused("NONE", "").await;
}

#[tokio::test]
async fn alg_none_mixed_case_unsigned() {
    assert_alg_refused("nOnE", "").await;
}

#[tokio::test]
async fn alg_none_with_the_signature_of_a_valid_token() {
    let valid = KEYS.ec.token(&claims(ISSUER_A));
    let signature = valid.rsplit('.').next().expect("signature");
    for alg in ["none", "None", "NONE", "nOnE"] {
        assert_alg_refused(alg, signature).await;
    }
}

#[tokio::test]
async fn unknown_algorithm_name() {
    assert_alg_refused("ES512", "c2ln").await;
    assert_alg_refused("rs256", "c2ln").await;
}

// ---- algorithm confusion ----

#[tokio::test]
async fn hs256_signed_with_the_rsa_public_key() {
    let f = fixture();
    let token = hmac_token(
        &header(Algorithm::HS256, "rsa-1"),
        &claims(ISSUER_A),
        &KEYS.rsa.public,
    );
    assert!(matches!(
        f.reject(&token).await,
        AuthError::UnsupportedAlgorithm { alg } if alg == "HS256"
    ));
    // The JWK text as the secret, as some attacks use it.
    let jwk_text = KEYS.rsa.jwk.to_string();
    let token = hmac_token(
        &header(Algorithm::HS256, "rsa-1"),
        &claims(ISSUER_A),
        jwk_text.as_bytes(),
    );
    assert!(matches!(
        f.reject(&token).await,
        AuthError::UnsupportedAlgorithm { .. }
    ));
}

#[tokio::test]
async fn hs256_signed_with_the_ec_public_key() {
    let f = fixture();
    let token = hmac_token(
        &header(Algorithm::HS256, "ec-1"),
        &claims(ISSUER_A),
        &KEYS.ec.public,
    );
    assert!(matches!(
        f.reject(&token).await,
        AuthError::UnsupportedAlgorithm { alg } if alg == "HS256"
    ));
}

#[tokio::test]
async fn header_alg_that_disagrees_with_the_key() {
    let f = fixture();
    // Signed ES256 by the EC key, but naming the RSA key: the key fixes RS256.
    let token = KEYS
        .ec
        .sign(&header(Algorithm::ES256, "rsa-1"), &claims(ISSUER_A));
    assert!(matches!(
        f.reject(&token).await,
        AuthError::AlgorithmMismatch {
            token: Algorithm::ES256,
            key: Algorithm::RS256
        }
    ));
}

#[tokio::test]
async fn asymmetric_token_to_an_hmac_issuer() {
    let f = fixture();
    let token = KEYS
        .ec
        .sign(&header(Algorithm::ES256, "hs-1"), &claims(ISSUER_HMAC));
    assert!(matches!(
        f.reject(&token).await,
        AuthError::UnsupportedAlgorithm { alg } if alg == "ES256"
    ));
}

// ---- time ----

#[tokio::test]
async fn expired() {
    let f = fixture();
    let token = KEYS
        .ec
        .token(&claims_with(ISSUER_A, json!({"exp": START - 31})));
    assert!(matches!(f.reject(&token).await, AuthError::Expired { .. }));
}

#[tokio::test]
async fn expired_after_time_passes() {
    let f = fixture();
    let token = KEYS.ec.token(&claims(ISSUER_A));
    assert!(f.verify(&token).await.is_ok());
    f.clock.advance(300 + 30); // exp plus the whole leeway
    assert!(matches!(f.reject(&token).await, AuthError::Expired { .. }));
}

#[tokio::test]
async fn not_yet_valid() {
    let f = fixture();
    let token = KEYS
        .ec
        .token(&claims_with(ISSUER_A, json!({"nbf": START + 31})));
    assert!(matches!(
        f.reject(&token).await,
        AuthError::NotYetValid { .. }
    ));
}

#[tokio::test]
async fn issued_in_the_future() {
    let f = fixture();
    let token = KEYS
        .ec
        .token(&claims_with(ISSUER_A, json!({"iat": START + 31})));
    assert!(matches!(
        f.reject(&token).await,
        AuthError::IssuedInFuture { .. }
    ));
}

#[tokio::test]
async fn missing_exp() {
    let f = fixture();
    let token = KEYS.ec.token(&claims_with(ISSUER_A, json!({"exp": null})));
    assert!(matches!(
        f.reject(&token).await,
        AuthError::MissingClaim {
            claim: Cow::Borrowed("exp")
        }
    ));
}

#[tokio::test]
async fn exp_of_the_wrong_type() {
    let f = fixture();
    let token = KEYS
        .ec
        .token(&claims_with(ISSUER_A, json!({"exp": "tomorrow"})));
    assert_eq!(malformed_part(&f.reject(&token).await), TokenPart::Claims);
}

// ---- issuer and audience ----

#[tokio::test]
async fn wrong_iss_is_declined() {
    let f = fixture();
    let token = KEYS.ec.token(&claims("https://evil.example"));
    let error = f.reject(&token).await;
    assert!(matches!(error, AuthError::UnknownIssuer));
    assert!(error.is_decline());
}

#[tokio::test]
async fn iss_that_differs_only_in_a_trailing_slash() {
    let f = fixture();
    let token = KEYS.ec.token(&claims(&format!("{ISSUER_A}/")));
    assert!(matches!(f.reject(&token).await, AuthError::UnknownIssuer));
}

#[tokio::test]
async fn missing_iss() {
    let f = fixture();
    let token = KEYS.ec.token(&claims_with(ISSUER_A, json!({"iss": null})));
    assert!(matches!(
        f.reject(&token).await,
        AuthError::MissingClaim {
            claim: Cow::Borrowed("iss")
        }
    ));
}

#[tokio::test]
async fn wrong_aud() {
    let f = fixture();
    let token = KEYS
        .ec
        .token(&claims_with(ISSUER_A, json!({"aud": ["billing", "other"]})));
    assert!(matches!(f.reject(&token).await, AuthError::WrongAudience));
}

#[tokio::test]
async fn missing_aud() {
    let f = fixture();
    let token = KEYS.ec.token(&claims_with(ISSUER_A, json!({"aud": null})));
    assert!(matches!(
        f.reject(&token).await,
        AuthError::MissingClaim {
            claim: Cow::Borrowed("aud")
        }
    ));
}

// ---- keys ----

#[tokio::test]
async fn unknown_kid() {
    let f = fixture();
    let token = KEYS
        .ec
        .sign(&header(Algorithm::ES256, "no-such-key"), &claims(ISSUER_A));
    assert!(matches!(
        f.reject(&token).await,
        AuthError::UnknownKeyId { kid: Some(kid) } if kid == "no-such-key"
    ));
}

#[tokio::test]
async fn missing_kid_in_a_multi_key_set() {
    let f = fixture();
    let token = KEYS.ec.sign(&json!({"alg": "ES256"}), &claims(ISSUER_A));
    assert!(matches!(
        f.reject(&token).await,
        AuthError::UnknownKeyId { kid: None }
    ));
}

#[tokio::test]
async fn kid_of_another_issuer() {
    let f = fixture();
    // B's own key, B's kid, but the token claims issuer A: A has no such kid.
    let token = KEYS
        .b_ec
        .sign(&header(Algorithm::ES256, "b-ec-1"), &claims(ISSUER_A));
    assert!(matches!(
        f.reject(&token).await,
        AuthError::UnknownKeyId { kid: Some(kid) } if kid == "b-ec-1"
    ));
}

#[tokio::test]
async fn overlapping_kid_signed_by_the_other_issuer() {
    let f = fixture();
    // Both issuers have a key `ec-1`; B's signs, the token claims A: A's `ec-1` is used.
    let token = KEYS
        .b_overlap
        .sign(&header(Algorithm::ES256, "ec-1"), &claims(ISSUER_A));
    assert!(matches!(f.reject(&token).await, AuthError::BadSignature));
    // And the other way round.
    let token = KEYS
        .ec
        .sign(&header(Algorithm::ES256, "ec-1"), &claims(ISSUER_B));
    assert!(matches!(f.reject(&token).await, AuthError::BadSignature));
}

#[tokio::test]
async fn huge_kid_is_bounded_in_the_error() {
    let f = fixture();
    let kid = "k".repeat(3000);
    let token = KEYS
        .ec
        .sign(&header(Algorithm::ES256, &kid), &claims(ISSUER_A));
    match f.reject(&token).await {
        AuthError::UnknownKeyId { kid: Some(echoed) } => assert!(echoed.len() <= 64),
        other => panic!("expected UnknownKeyId, got {other:?}"),
    }
}

// ---- key-finding headers: never used ----

#[tokio::test]
async fn jku_header_pointing_at_the_attackers_jwks() {
    let f = fixture();
    let header =
        json!({"alg": "ES256", "kid": "attacker-1", "jku": "https://evil.example/jwks.json"});
    let token = KEYS.attacker.sign(&header, &claims(ISSUER_A));
    assert!(matches!(
        f.reject(&token).await,
        AuthError::UnknownKeyId { .. }
    ));
}

#[tokio::test]
async fn x5u_header_with_a_trusted_kid() {
    let f = fixture();
    let header = json!({"alg": "ES256", "kid": "ec-1", "x5u": "https://evil.example/cert.pem"});
    let token = KEYS.attacker.sign(&header, &claims(ISSUER_A));
    assert!(matches!(f.reject(&token).await, AuthError::BadSignature));
}

#[tokio::test]
async fn embedded_jwk_of_the_attacker() {
    let f = fixture();
    // The attacker's own public key in the header, no kid: nothing picks it.
    let header = json!({"alg": "ES256", "jwk": KEYS.attacker.jwk});
    let token = KEYS.attacker.sign(&header, &claims(ISSUER_A));
    assert!(matches!(
        f.reject(&token).await,
        AuthError::UnknownKeyId { kid: None }
    ));
    // With a trusted kid, the trusted key is used and the signature fails.
    let header = json!({"alg": "ES256", "kid": "ec-1", "jwk": KEYS.attacker.jwk});
    let token = KEYS.attacker.sign(&header, &claims(ISSUER_A));
    assert!(matches!(f.reject(&token).await, AuthError::BadSignature));
}

#[tokio::test]
async fn x5c_chain_with_a_trusted_kid() {
    let f = fixture();
    let header = json!({"alg": "ES256", "kid": "ec-1", "x5c": [b64(&KEYS.attacker.public)]});
    let token = KEYS.attacker.sign(&header, &claims(ISSUER_A));
    assert!(matches!(f.reject(&token).await, AuthError::BadSignature));
}

// ---- crit ----

#[tokio::test]
async fn unknown_crit_even_when_signed_by_a_trusted_key() {
    let f = fixture();
    let header = json!({"alg": "ES256", "kid": "ec-1", "crit": ["exp"], "exp": START + 300});
    let token = KEYS.ec.sign(&header, &claims(ISSUER_A));
    assert!(matches!(
        f.reject(&token).await,
        AuthError::UnknownCritical { name } if name == "exp"
    ));
}

#[tokio::test]
async fn crit_b64_false_unencoded_payload() {
    let f = fixture();
    let header = json!({"alg": "ES256", "kid": "ec-1", "b64": false, "crit": ["b64"]});
    let token = KEYS.ec.sign(&header, &claims(ISSUER_A));
    assert!(matches!(f.reject(&token).await, AuthError::UnknownCritical { name } if name == "b64"));
}

#[tokio::test]
async fn empty_crit_list() {
    let f = fixture();
    let header = json!({"alg": "ES256", "kid": "ec-1", "crit": []});
    let token = KEYS.ec.sign(&header, &claims(ISSUER_A));
    assert_eq!(malformed_part(&f.reject(&token).await), TokenPart::Header);
}

// ---- signatures ----

#[tokio::test]
async fn signature_from_another_key() {
    let f = fixture();
    let token = KEYS
        .attacker
        .sign(&header(Algorithm::ES256, "ec-1"), &claims(ISSUER_A));
    assert!(matches!(f.reject(&token).await, AuthError::BadSignature));
}

#[tokio::test]
async fn signature_of_another_algorithm_family_key() {
    let f = fixture();
    // A valid signature by a trusted key of one family, naming a trusted key of another:
    // the named key fixes the algorithm, and the header disagrees with it.
    for (key, kid) in [(&KEYS.ed, "rsa-1"), (&KEYS.rsa, "ed-1")] {
        let forged = key.sign(&header(key.alg, kid), &claims(ISSUER_A));
        assert!(matches!(
            f.reject(&forged).await,
            AuthError::AlgorithmMismatch { .. }
        ));
    }
}

#[tokio::test]
async fn stripped_signature() {
    let f = fixture();
    let token = KEYS.ec.token(&claims(ISSUER_A));
    let stripped = format!("{}.", token.rsplit_once('.').expect("dot").0);
    assert_eq!(
        malformed_part(&f.reject(&stripped).await),
        TokenPart::Signature
    );
}

#[tokio::test]
async fn modified_payload() {
    let f = fixture();
    let token = KEYS.ec.token(&claims(ISSUER_A));
    let mut parts: Vec<&str> = token.split('.').collect();
    let escalated = b64(claims_with(ISSUER_A, json!({"scope": "admin"})).to_string());
    parts[1] = &escalated;
    assert!(matches!(
        f.reject(&parts.join(".")).await,
        AuthError::BadSignature
    ));
}

#[tokio::test]
async fn modified_header() {
    let f = fixture();
    let token = KEYS.rsa.token(&claims(ISSUER_A));
    let mut parts: Vec<&str> = token.split('.').collect();
    let header = b64(json!({"alg": "RS256", "kid": "rsa-1", "typ": "at+jwt"}).to_string());
    parts[0] = &header;
    assert!(matches!(
        f.reject(&parts.join(".")).await,
        AuthError::BadSignature
    ));
}

#[tokio::test]
async fn signature_with_non_canonical_base64() {
    let f = fixture();
    let token = KEYS.ec.token(&claims(ISSUER_A));
    // 64 signature bytes end in a character carrying 4 unused bits; set them.
    let (rest, signature) = token.rsplit_once('.').expect("dot");
    let last = signature.chars().last().expect("char");
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let index = alphabet.find(last).expect("base64url char");
    let tweaked = alphabet.chars().nth(index | 0x01).expect("char");
    assert_ne!(tweaked, last);
    let token = format!("{rest}.{}{tweaked}", &signature[..signature.len() - 1]);
    assert_eq!(
        malformed_part(&f.reject(&token).await),
        TokenPart::Signature
    );
}

#[tokio::test]
async fn padded_signature() {
    let f = fixture();
    let token = format!("{}=", KEYS.rsa.token(&claims(ISSUER_A)));
    assert_eq!(
        malformed_part(&f.reject(&token).await),
        TokenPart::Signature
    );
}

// ---- typ ----

#[tokio::test]
async fn wrong_typ_when_enforced() {
    let f = fixture();
    let token = KEYS
        .ec
        .sign(&header(Algorithm::ES256, "ec-1"), &claims(ISSUER_TYPED));
    assert!(matches!(
        f.reject(&token).await,
        AuthError::WrongType { found: Some(found) } if found == "JWT"
    ));
}

#[tokio::test]
async fn missing_typ_when_enforced() {
    let f = fixture();
    let token = KEYS.ec.sign(
        &json!({"alg": "ES256", "kid": "ec-1"}),
        &claims(ISSUER_TYPED),
    );
    assert!(matches!(
        f.reject(&token).await,
        AuthError::WrongType { found: None }
    ));
}

// ---- required claims and scopes ----

#[tokio::test]
async fn missing_required_claim() {
    let f = fixture();
    let token = KEYS
        .ec
        .token(&claims_with(ISSUER_STRICT, json!({"jti": null})));
    assert!(matches!(
        f.reject(&token).await,
        AuthError::MissingClaim { claim } if claim == "jti"
    ));
}

#[tokio::test]
async fn missing_required_scope() {
    let f = fixture();
    let token = KEYS
        .ec
        .token(&claims_with(ISSUER_STRICT, json!({"scope": "orders:read"})));
    let error = f.reject(&token).await;
    assert!(
        matches!(&error, AuthError::InsufficientScope { required } if required == "orders:write")
    );
    assert_eq!(error.reason(), "insufficient_scope");
}

#[tokio::test]
async fn claims_that_do_not_map_to_a_principal() {
    let f = fixture();
    // A mapped claim of the wrong type.
    let token = KEYS.ec.token(&claims_with(ISSUER_A, json!({"roles": [1]})));
    assert!(matches!(f.reject(&token).await, AuthError::ClaimMapping(_)));
    // No `sub`: required.
    let token = KEYS.ec.token(&claims_with(ISSUER_A, json!({"sub": null})));
    assert!(matches!(f.reject(&token).await, AuthError::ClaimMapping(_)));
    // The default (generic) mapping trusts no Baton-internal claim from an external
    // issuer: a `sub` that looks like a service id, with `baton_kind`/`baton_id`, is an
    // opaque subject of a human, not that service.
    let token = KEYS.ec.token(&claims_with(
        ISSUER_A,
        json!({"sub": "svc-payments", "baton_kind": "service", "baton_id": "svc-payments"}),
    ));
    let verified = f.verify(&token).await.expect("an opaque subject");
    assert_eq!(verified.kind(), principal::Kind::Human);
    assert_ne!(verified.id().to_string(), "svc-payments");
}

/// Issue 7, items 1-5, through the verifier: no token makes its bearer someone else.
#[tokio::test]
async fn identity_capture_through_claims() {
    use principal::{ClaimError, Kind, PrincipalError};
    let f = fixture();
    let mapping_error = |error: AuthError| match error {
        AuthError::ClaimMapping(error) => error,
        other => panic!("expected a claim mapping error, got {other:?}"),
    };
    // 1. A client called `gateway` at two trusted issuers is two services, neither of
    //    them an operator-named `svc-gateway`.
    let cc = json!({"sub": "gateway", "gty": "client-credentials", "client_id": "gateway"});
    let at_a = f
        .verify(&KEYS.ec.token(&claims_with(ISSUER_A, cc.clone())))
        .await
        .expect("a service token of issuer A");
    let at_b = f
        .verify(&KEYS.b_ec.token(&claims_with(ISSUER_B, cc)))
        .await
        .expect("a service token of issuer B");
    assert_eq!((at_a.kind(), at_b.kind()), (Kind::Service, Kind::Service));
    assert_ne!(at_a.id(), at_b.id());
    assert_ne!(at_a.id().to_string(), "svc-gateway");
    //    A client id that is not a slug is refused, not folded.
    let token = KEYS.ec.token(&claims_with(
        ISSUER_A,
        json!({"gty": "client-credentials", "client_id": "Payments"}),
    ));
    assert!(matches!(
        mapping_error(f.reject(&token).await),
        ClaimError::Invalid { claim, .. } if claim == "client_id"
    ));
    // 2. A `sub` equal to the client id makes nobody a service.
    let token = KEYS.ec.token(&claims_with(
        ISSUER_A,
        json!({"sub": "payments", "client_id": "payments", "azp": "payments"}),
    ));
    let verified = f.verify(&token).await.expect("a user token");
    assert_eq!(verified.kind(), Kind::Human);
    // 3. An actor vouched for by another issuer is refused.
    let token = KEYS.ec.token(&claims_with(
        ISSUER_A,
        json!({"act": {"sub": "bot", "iss": ISSUER_B}}),
    ));
    assert!(matches!(
        mapping_error(f.reject(&token).await),
        ClaimError::ActorIssuerNotAllowed { .. }
    ));
    // 4. The subject acting for itself as an agent is refused.
    let alice = claims(ISSUER_A)["sub"].clone();
    let token = KEYS
        .ec
        .token(&claims_with(ISSUER_A, json!({"act": {"sub": alice}})));
    assert!(matches!(
        mapping_error(f.reject(&token).await),
        ClaimError::Principal(PrincipalError::ActorIsSubject { .. })
    ));
    // 5. No `sub`, even with a client and a service marker: refused.
    let token = KEYS.ec.token(&claims_with(
        ISSUER_A,
        json!({"sub": null, "gty": "client-credentials", "client_id": "payments"}),
    ));
    assert!(matches!(
        mapping_error(f.reject(&token).await),
        ClaimError::Missing { claim: "sub" }
    ));
}

// ---- size and shape ----

#[tokio::test]
async fn oversized_token() {
    let f = fixture();
    let padding = "x".repeat(9 * 1024);
    let token = KEYS
        .ec
        .token(&claims_with(ISSUER_A, json!({ "padding": padding })));
    assert!(matches!(
        f.reject(&token).await,
        AuthError::TokenTooLarge { max: 8192, .. }
    ));
}

#[tokio::test]
async fn oversized_header() {
    let f = fixture();
    let header = json!({"alg": "ES256", "kid": "ec-1", "x": "h".repeat(5000)});
    let token = KEYS.ec.sign(&header, &claims(ISSUER_A));
    assert_eq!(malformed_part(&f.reject(&token).await), TokenPart::Header);
}

#[tokio::test]
async fn non_json_payload() {
    let f = fixture();
    let token = compact(
        &header(Algorithm::ES256, "ec-1").to_string(),
        "iss=https://a.example&sub=alice",
        &KEYS.ec.encoding,
        Algorithm::ES256,
    );
    assert_eq!(malformed_part(&f.reject(&token).await), TokenPart::Claims);
}

#[tokio::test]
async fn non_object_payloads() {
    let f = fixture();
    for payload in [
        json!([ISSUER_A, "alice", AUD, START + 300]).to_string(),
        json!(ISSUER_A).to_string(),
        "42".to_owned(),
        "null".to_owned(),
    ] {
        let token = compact(
            &header(Algorithm::ES256, "ec-1").to_string(),
            &payload,
            &KEYS.ec.encoding,
            Algorithm::ES256,
        );
        assert_eq!(
            malformed_part(&f.reject(&token).await),
            TokenPart::Claims,
            "{payload}"
        );
    }
}

#[tokio::test]
async fn non_object_header() {
    let f = fixture();
    let token = segments(
        &b64(json!(["ES256", "ec-1"]).to_string()),
        &b64(claims(ISSUER_A).to_string()),
        "c2ln",
    );
    assert_eq!(malformed_part(&f.reject(&token).await), TokenPart::Header);
}

#[tokio::test]
async fn duplicate_alg_in_the_header() {
    let f = fixture();
    let header = r#"{"alg":"ES256","kid":"ec-1","alg":"none"}"#;
    let token = compact(
        header,
        &claims(ISSUER_A).to_string(),
        &KEYS.ec.encoding,
        Algorithm::ES256,
    );
    assert_eq!(malformed_part(&f.reject(&token).await), TokenPart::Header);
}

#[tokio::test]
async fn bad_base64_in_the_header() {
    let f = fixture();
    let token = KEYS.ec.token(&claims(ISSUER_A));
    let bad = format!("*{}", &token[1..]);
    assert_eq!(malformed_part(&f.reject(&bad).await), TokenPart::Header);
}

#[tokio::test]
async fn bad_base64_in_the_payload() {
    let f = fixture();
    let token = KEYS.ec.token(&claims(ISSUER_A));
    let mut parts: Vec<&str> = token.split('.').collect();
    let bad = format!("{}!", parts[1]);
    parts[1] = &bad;
    assert_eq!(
        malformed_part(&f.reject(&parts.join(".")).await),
        TokenPart::Claims
    );
}

#[tokio::test]
async fn bad_base64_in_the_signature() {
    let f = fixture();
    let token = KEYS.ec.token(&claims(ISSUER_A));
    let bad = format!("{}.$$", token.rsplit_once('.').expect("dot").0);
    assert_eq!(malformed_part(&f.reject(&bad).await), TokenPart::Signature);
}

#[tokio::test]
async fn extra_segments() {
    let f = fixture();
    let token = KEYS.ec.token(&claims(ISSUER_A));
    for extra in [
        format!("{token}.c2ln"),
        format!("{token}.a.b"),
        format!("{token}."),
    ] {
        assert_eq!(
            malformed_part(&f.reject(&extra).await),
            TokenPart::Structure
        );
    }
}

#[tokio::test]
async fn two_segments() {
    let f = fixture();
    let token = KEYS.ec.token(&claims(ISSUER_A));
    let two = token.rsplit_once('.').expect("dot").0;
    assert_eq!(malformed_part(&f.reject(two).await), TokenPart::Structure);
}

#[tokio::test]
async fn opaque_token_is_declined() {
    let f = fixture();
    let error = f.reject("2YotnFZFEjr1zCsicMWpAA").await;
    assert!(matches!(error, AuthError::UnsupportedTokenFormat));
    assert!(error.is_decline());
}

#[tokio::test]
async fn act_nested_too_deep() {
    let f = fixture();
    let mut act = json!({"sub": "agent-0"});
    for depth in 1..20 {
        act = json!({"sub": format!("agent-{depth}"), "act": act});
    }
    let token = KEYS.ec.token(&claims_with(ISSUER_A, json!({ "act": act })));
    assert_eq!(malformed_part(&f.reject(&token).await), TokenPart::Claims);
}

// ---- revocation ----

#[tokio::test]
async fn revoked_jti() {
    let f = fixture();
    f.denylist
        .replace(DenylistEntries::new().deny_token_id("jti-1"));
    let token = KEYS.ec.token(&claims(ISSUER_A));
    let error = f.reject(&token).await;
    assert!(matches!(&error, AuthError::Revoked(r) if r.field() == RevokedField::TokenId));
    assert_eq!(error.reason(), "revoked_token_id");
}

#[tokio::test]
async fn revoked_sid() {
    let f = fixture();
    f.denylist
        .replace(DenylistEntries::new().deny_session_id("sid-1"));
    let token = KEYS.ec.token(&claims(ISSUER_A));
    assert!(matches!(
        f.reject(&token).await,
        AuthError::Revoked(r) if r.field() == RevokedField::SessionId
    ));
}

#[tokio::test]
async fn revoked_sub() {
    let f = fixture();
    f.denylist
        .replace(DenylistEntries::new().deny_subject(&issuer(ISSUER_A), "alice"));
    let token = KEYS.ec.token(&claims(ISSUER_A));
    assert!(matches!(
        f.reject(&token).await,
        AuthError::Revoked(r) if r.field() == RevokedField::Subject
    ));
    // Revoking alice at A does not revoke alice at B: `sub` is unique per issuer only.
    assert!(f.verify(&KEYS.b_ec.token(&claims(ISSUER_B))).await.is_ok());
}

#[tokio::test]
async fn revoked_after_the_token_was_cached() {
    let f = fixture();
    let token = KEYS.ec.token(&claims(ISSUER_A));
    assert!(f.verify(&token).await.is_ok());
    assert_eq!(f.verifier.token_cache().len(), 1);
    f.denylist
        .replace(DenylistEntries::new().deny_token_id("jti-1"));
    assert!(matches!(
        f.reject(&token).await,
        AuthError::Revoked(r) if r.field() == RevokedField::TokenId
    ));
}
