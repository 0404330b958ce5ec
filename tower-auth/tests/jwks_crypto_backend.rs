//! jsonwebtoken 10+ panics at run time when both or neither crypto backend is enabled.
//! Verifying real tokens here proves the workspace's choice (aws_lc_rs only) holds.

mod support;

use jsonwebtoken::Algorithm;
use jsonwebtoken::errors::ErrorKind;
use support::{DEV_ALGORITHMS, claims, kid_of, start_idp, verify_signature};
use tower_auth::jwks::{KeySet, KeySetPolicy};

#[tokio::test]
async fn real_tokens_verify_through_jsonwebtoken_without_panicking() {
    let idp = start_idp().await;
    let load = KeySet::from_jwks_json(idp.jwks().to_string().as_bytes(), &KeySetPolicy::default())
        .expect("the dev IdP's JWKS loads");
    assert!(load.dropped.is_empty(), "{:?}", load.dropped);
    assert_eq!(load.set.len(), 3);
    for algorithm in DEV_ALGORITHMS {
        let token = idp.issue(claims("alice"), algorithm).expect("signs");
        let key = load.set.get(&kid_of(&token)).expect("key for kid");
        assert_eq!(key.algorithm(), algorithm);
        let verified = verify_signature(key, &token).expect("signature verifies");
        assert_eq!(verified["sub"], "alice");
    }
}

#[tokio::test]
async fn a_tampered_token_is_rejected_by_the_backend() {
    let idp = start_idp().await;
    let load = KeySet::from_jwks_json(idp.jwks().to_string().as_bytes(), &KeySetPolicy::default())
        .expect("loads");
    for algorithm in DEV_ALGORITHMS {
        let token = idp.issue(claims("alice"), algorithm).expect("signs");
        let other = idp.issue(claims("mallory"), algorithm).expect("signs");
        // Alice's header and signature over Mallory's claims.
        let parts: Vec<&str> = token.split('.').collect();
        let other_parts: Vec<&str> = other.split('.').collect();
        let forged = format!("{}.{}.{}", parts[0], other_parts[1], parts[2]);
        let key = load.set.get(&kid_of(&token)).expect("key");
        let err = verify_signature(key, &forged).expect_err("forgery rejected");
        assert_eq!(err.kind(), &ErrorKind::InvalidSignature, "{algorithm:?}");
    }
}

#[tokio::test]
async fn a_key_verifies_only_its_own_algorithm() {
    let idp = start_idp().await;
    let load = KeySet::from_jwks_json(idp.jwks().to_string().as_bytes(), &KeySetPolicy::default())
        .expect("loads");
    let es_token = idp.issue(claims("alice"), Algorithm::ES256).expect("signs");
    let rs_kid = idp.current_kid(Algorithm::RS256).expect("rs kid");
    let rs_key = load.set.get(&rs_kid).expect("rs key");
    // The ES256 token against the RS256 key: the header's alg is not the key's.
    assert!(verify_signature(rs_key, &es_token).is_err());
}
