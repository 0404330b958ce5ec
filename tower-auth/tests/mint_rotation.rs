//! Key rotation and retirement as the receiving verifier sees them through the JWKS it
//! discovers on the loopback server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod mint_fixture;

use mint_fixture::*;
use principal::{Audience, Timestamp};
use tower_auth::AuthError;
use tower_auth::jwt::JwtVerifier;
use tower_auth::mint::{SigningAlgorithm, SigningKey};

fn orders() -> Audience {
    Audience::new(ORDERS).unwrap()
}

/// The verifier's next JWKS refresh, now.
async fn refresh(verifier: &JwtVerifier, edge: &Edge) {
    verifier
        .key_cache(edge.issuer.issuer().as_str())
        .unwrap()
        .refresh()
        .await
        .unwrap();
}

#[tokio::test]
async fn the_previous_key_verifies_until_its_last_token_expires_then_leaves_the_jwks() {
    let edge = start_edge(SigningAlgorithm::Es256).await;
    let verifier = edge.verifier().await;
    let old_kid = edge.issuer.current_kid();
    let old_token = edge.issuer.mint(&alice(), &orders()).unwrap();
    assert_eq!(
        old_token.expires_at(),
        Timestamp::from_unix_seconds(START + 300)
    );

    let next = SigningKey::generate(SigningAlgorithm::EdDsa).unwrap();
    let new_kid = next.kid().to_owned();
    edge.issuer.rotate(next).unwrap();
    assert_eq!(
        edge.issuer.published_kids(),
        [new_kid.clone(), old_kid.clone()]
    );

    // The new key's token: the verifier does not know its kid yet and refetches.
    let new_token = edge.issuer.mint(&alice(), &orders()).unwrap();
    assert_eq!(new_token.kid(), new_kid);
    assert!(verifier.verify_token(new_token.as_str()).await.is_ok());
    // The previous key's token is still accepted, up to its expiry.
    assert!(verifier.verify_token(old_token.as_str()).await.is_ok());
    edge.clock.set(Timestamp::from_unix_seconds(START + 299));
    refresh(&verifier, &edge).await;
    assert!(verifier.verify_token(old_token.as_str()).await.is_ok());

    // Its last token expired 30 s (the leeway) ago: the key is gone from the JWKS.
    edge.clock.set(Timestamp::from_unix_seconds(START + 329));
    assert_eq!(
        edge.issuer.published_kids(),
        [new_kid.clone(), old_kid.clone()]
    );
    edge.clock.set(Timestamp::from_unix_seconds(START + 330));
    assert_eq!(edge.issuer.published_kids(), vec![new_kid.clone()]);
    let served = reqwest_jwks(&edge).await;
    assert!(!served.contains(&old_kid));
    assert!(served.contains(&new_kid));

    // Once the verifier refreshes, the old key verifies nothing, even a token it signed
    // with a later `exp` (hand-signed with it: a leaked old key).
    refresh(&verifier, &edge).await;
    let mut claims = edge.claims_for(&alice(), ORDERS);
    claims["exp"] = serde_json::json!(START + 600);
    let forged = edge
        .key
        .sign(&edge.key.header(&old_kid, Some("at+jwt")), &claims);
    assert!(matches!(
        refusal(&verifier, &forged).await,
        AuthError::UnknownKeyId { .. }
    ));
}

#[tokio::test]
async fn the_previous_key_stays_as_long_as_its_latest_token_not_its_first() {
    let edge = start_edge(SigningAlgorithm::Es256).await;
    let old_kid = edge.issuer.current_kid();
    edge.issuer.mint(&alice(), &orders()).unwrap(); // exp START+300
    edge.clock.set(Timestamp::from_unix_seconds(START + 200));
    edge.issuer.mint(&alice(), &orders()).unwrap(); // exp START+500
    edge.clock.set(Timestamp::from_unix_seconds(START + 250));
    edge.issuer
        .rotate(SigningKey::generate(SigningAlgorithm::Es256).unwrap())
        .unwrap();
    edge.clock.set(Timestamp::from_unix_seconds(START + 529));
    assert!(edge.issuer.published_kids().contains(&old_kid));
    edge.clock.set(Timestamp::from_unix_seconds(START + 530));
    assert!(!edge.issuer.published_kids().contains(&old_kid));

    // A key that signed nothing leaves at once.
    let unused = edge.issuer.current_kid();
    edge.issuer
        .rotate(SigningKey::generate(SigningAlgorithm::Es256).unwrap())
        .unwrap();
    assert!(!edge.issuer.published_kids().contains(&unused));
}

#[tokio::test]
async fn a_retired_key_is_gone_at_once_and_its_tokens_are_refused() {
    let edge = start_edge(SigningAlgorithm::Es256).await;
    let verifier = edge.verifier().await;
    let old_kid = edge.issuer.current_kid();
    let old_token = edge.issuer.mint(&alice(), &orders()).unwrap();
    // Accepted (and now in the verifier's token cache).
    assert!(verifier.verify_token(old_token.as_str()).await.is_ok());

    edge.issuer
        .rotate(SigningKey::generate(SigningAlgorithm::Es256).unwrap())
        .unwrap();
    edge.issuer.retire(&old_kid).unwrap();
    assert!(!edge.issuer.published_kids().contains(&old_kid));
    assert!(!reqwest_jwks(&edge).await.contains(&old_kid));

    // At the verifier's next refresh the cached verdict goes and the token is refused,
    // though it has not expired.
    refresh(&verifier, &edge).await;
    assert!(matches!(
        refusal(&verifier, old_token.as_str()).await,
        AuthError::UnknownKeyId { .. }
    ));
    // A verifier starting now never accepts it.
    let fresh = edge.verifier().await;
    assert!(matches!(
        refusal(&fresh, old_token.as_str()).await,
        AuthError::UnknownKeyId { .. }
    ));
    // Tokens of the current key still pass.
    let current = edge.issuer.mint(&alice(), &orders()).unwrap();
    assert!(fresh.verify_token(current.as_str()).await.is_ok());

    // Refused: retiring it twice, or the current key.
    assert_eq!(
        edge.issuer.retire(&old_kid).unwrap_err().reason(),
        "unknown_kid"
    );
    assert_eq!(
        edge.issuer
            .retire(&edge.issuer.current_kid())
            .unwrap_err()
            .reason(),
        "retire_current_key"
    );
}

/// The JWKS as served over HTTP.
async fn reqwest_jwks(edge: &Edge) -> String {
    reqwest::get(format!("http://{}/.well-known/jwks.json", edge.addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}
