//! The wire: the form sent (RFC 8693 §2.1) and the answer read (§2.2), as plain functions.

use std::sync::Arc;

use principal::{ScopeSet, Timestamp};
use serde::Deserialize;

use crate::http_client::is_json_media_type;

use super::{
    ClientAuth, ExchangeError, ExchangeRequest, ExchangedToken, GRANT_TYPE, MAX_TOKEN_BYTES,
    MAX_TOKEN_TYPE_BYTES, OAuthErrorCode, TokenType, is_visible_ascii,
};

/// Longest `expires_in` taken as it is (ten years); a longer one is cut to it.
const MAX_EXPIRES_IN: u64 = 10 * 365 * 24 * 3600;

/// The form body of `request`, with `auth`'s body parameters.
pub(super) fn form_body(request: &ExchangeRequest, auth: &ClientAuth) -> String {
    let capacity = request.subject.expose().len()
        + request.actor.as_ref().map_or(0, |(t, _)| t.expose().len())
        + 512;
    let mut form = form_urlencoded::Serializer::new(String::with_capacity(capacity));
    form.append_pair("grant_type", GRANT_TYPE);
    form.append_pair("subject_token", request.subject.expose());
    form.append_pair("subject_token_type", request.subject_type.as_str());
    if let Some((token, token_type)) = &request.actor {
        form.append_pair("actor_token", token.expose());
        form.append_pair("actor_token_type", token_type.as_str());
    }
    let target = &request.target.0;
    for audience in &target.audiences {
        form.append_pair("audience", audience.as_str());
    }
    for resource in &target.resources {
        form.append_pair("resource", &resource.to_string());
    }
    if !target.scopes.is_empty() {
        form.append_pair("scope", &target.scopes.to_space_separated());
    }
    form.append_pair("requested_token_type", target.requested.as_str());
    auth.append_to_form(&mut form);
    form.finish()
}

/// The members read from a successful answer. serde refuses a member sent twice.
#[derive(Deserialize)]
struct Success {
    access_token: Option<String>,
    issued_token_type: Option<String>,
    token_type: Option<String>,
    expires_in: Option<serde_json::Value>,
    scope: Option<String>,
}

/// An error answer: only `error` is read (`error_description` may echo the request).
#[derive(Deserialize)]
struct Failure {
    error: String,
}

/// Reads the endpoint's answer to an exchange that requested `requested`.
pub(super) fn parse_answer(
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
    requested: &TokenType,
    now: Timestamp,
) -> Result<ExchangedToken, ExchangeError> {
    if (300..400).contains(&status) {
        return Err(ExchangeError::Redirect { status });
    }
    let json = content_type.is_some_and(is_json_media_type);
    if status != 200 {
        // An error answer (RFC 6749 §5.2) is JSON; anything else is only a status.
        let failure = (json || content_type.is_none())
            .then(|| serde_json::from_slice::<Failure>(body).ok())
            .flatten();
        return Err(match failure {
            Some(failure) => ExchangeError::Rejected {
                code: OAuthErrorCode::from_code(&failure.error),
                status,
            },
            None => ExchangeError::HttpStatus { status },
        });
    }
    if !json {
        return Err(ExchangeError::Malformed {
            why: "not a JSON content type",
        });
    }
    let answer: Success = serde_json::from_slice(body).map_err(|_| ExchangeError::Malformed {
        why: "not a JSON object of token response members, each once",
    })?;
    let token = answer.access_token.ok_or(ExchangeError::Malformed {
        why: "no access_token",
    })?;
    if token.is_empty() || token.len() > MAX_TOKEN_BYTES || !is_visible_ascii(&token) {
        return Err(ExchangeError::Malformed {
            why: "access_token empty, too long or not visible ASCII",
        });
    }
    let issued = answer
        .issued_token_type
        .ok_or(ExchangeError::MissingIssuedTokenType)?;
    if issued != requested.as_str() {
        return Err(ExchangeError::IssuedTokenTypeMismatch {
            requested: requested.clone(),
            issued: shown(&issued),
        });
    }
    let bearer = match answer.token_type.as_deref() {
        Some(kind) if kind.eq_ignore_ascii_case("bearer") => true,
        Some("N_A") => false,
        Some(other) => {
            return Err(ExchangeError::UnsupportedTokenType {
                token_type: shown(other),
            });
        }
        None => {
            return Err(ExchangeError::Malformed {
                why: "no token_type",
            });
        }
    };
    let expires_at = match answer.expires_in {
        None => None,
        Some(value) => match value.as_u64() {
            Some(seconds) if seconds > 0 => {
                let seconds = seconds.min(MAX_EXPIRES_IN);
                Some(now.add_seconds(i64::try_from(seconds).unwrap_or(i64::MAX)))
            }
            _ => {
                return Err(ExchangeError::Malformed {
                    why: "expires_in is not a positive integer",
                });
            }
        },
    };
    let scopes = match answer.scope {
        None => None,
        Some(scope) => Some(
            ScopeSet::parse(&scope).map_err(|_| ExchangeError::Malformed {
                why: "scope is not an RFC 6749 scope string",
            })?,
        ),
    };
    Ok(ExchangedToken {
        token: Arc::from(token),
        issued_token_type: requested.clone(),
        bearer,
        expires_at,
        scopes,
    })
}

/// Server text for an error: visible ASCII only, cut.
fn shown(text: &str) -> String {
    text.chars()
        .filter(char::is_ascii_graphic)
        .take(MAX_TOKEN_TYPE_BYTES)
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp::from_unix_seconds(1_700_000_000);
    const JSON: Option<&str> = Some("application/json");

    fn parse(status: u16, body: &str) -> Result<ExchangedToken, ExchangeError> {
        parse_answer(status, JSON, body.as_bytes(), &TokenType::ACCESS_TOKEN, NOW)
    }

    const GOOD: &str = r#"{"access_token":"t","issued_token_type":"urn:ietf:params:oauth:token-type:access_token","token_type":"Bearer","expires_in":60,"scope":"a b"}"#;

    #[test]
    fn a_complete_answer_is_read() {
        let token = parse(200, GOOD).unwrap();
        assert_eq!(token.as_str(), "t");
        assert!(token.is_bearer());
        assert_eq!(token.expires_at(), Some(NOW.add_seconds(60)));
        assert_eq!(token.scopes().unwrap().to_space_separated(), "a b");
    }

    #[test]
    fn malformed_answers_are_refused() {
        for (body, why) in [
            ("not json", "object"),
            ("[]", "object"),
            (
                r#"{"issued_token_type":"urn:ietf:params:oauth:token-type:access_token","token_type":"Bearer"}"#,
                "no access_token",
            ),
            (
                r#"{"access_token":"","issued_token_type":"urn:ietf:params:oauth:token-type:access_token","token_type":"Bearer"}"#,
                "empty",
            ),
            (
                r#"{"access_token":"a b","issued_token_type":"urn:ietf:params:oauth:token-type:access_token","token_type":"Bearer"}"#,
                "visible",
            ),
            (
                r#"{"access_token":"t","issued_token_type":"urn:ietf:params:oauth:token-type:access_token"}"#,
                "token_type",
            ),
            (
                r#"{"access_token":"t","issued_token_type":"urn:ietf:params:oauth:token-type:access_token","token_type":"Bearer","expires_in":0}"#,
                "expires_in",
            ),
            (
                r#"{"access_token":"t","issued_token_type":"urn:ietf:params:oauth:token-type:access_token","token_type":"Bearer","expires_in":"60"}"#,
                "expires_in",
            ),
            (
                r#"{"access_token":"t","issued_token_type":"urn:ietf:params:oauth:token-type:access_token","token_type":"Bearer","scope":"a  b"}"#,
                "scope",
            ),
            (
                r#"{"access_token":"t","access_token":"u","issued_token_type":"urn:ietf:params:oauth:token-type:access_token","token_type":"Bearer"}"#,
                "once",
            ),
        ] {
            match parse(200, body) {
                Err(ExchangeError::Malformed { why: got }) => {
                    assert!(got.contains(why), "{body}: {got}")
                }
                other => panic!("{body}: {other:?}"),
            }
        }
        let html = parse_answer(
            200,
            Some("text/html"),
            GOOD.as_bytes(),
            &TokenType::ACCESS_TOKEN,
            NOW,
        );
        assert_eq!(html.unwrap_err().reason(), "exchange_malformed");
        let none = parse_answer(200, None, GOOD.as_bytes(), &TokenType::ACCESS_TOKEN, NOW);
        assert_eq!(none.unwrap_err().reason(), "exchange_malformed");
    }

    #[test]
    fn issued_token_type_is_required_and_must_match() {
        let missing = r#"{"access_token":"t","token_type":"Bearer"}"#;
        assert_eq!(
            parse(200, missing).unwrap_err(),
            ExchangeError::MissingIssuedTokenType
        );
        let other = r#"{"access_token":"t","issued_token_type":"urn:ietf:params:oauth:token-type:id_token","token_type":"N_A"}"#;
        assert_eq!(
            parse(200, other).unwrap_err(),
            ExchangeError::IssuedTokenTypeMismatch {
                requested: TokenType::ACCESS_TOKEN,
                issued: "urn:ietf:params:oauth:token-type:id_token".into(),
            }
        );
        // The same answer is right for whoever asked for an ID token.
        let token = parse_answer(200, JSON, other.as_bytes(), &TokenType::ID_TOKEN, NOW).unwrap();
        assert!(!token.is_bearer());
        assert_eq!(token.expires_at(), None);
    }

    #[test]
    fn token_types_other_than_bearer_and_na_are_refused() {
        let dpop = r#"{"access_token":"t","issued_token_type":"urn:ietf:params:oauth:token-type:access_token","token_type":"DPoP"}"#;
        assert_eq!(
            parse(200, dpop).unwrap_err().reason(),
            "unsupported_token_type"
        );
        let lower = r#"{"access_token":"t","issued_token_type":"urn:ietf:params:oauth:token-type:access_token","token_type":"bearer"}"#;
        assert!(parse(200, lower).unwrap().is_bearer());
    }

    #[test]
    fn error_answers_map_to_codes_and_keep_no_text() {
        for (code, expected) in [
            ("invalid_request", OAuthErrorCode::InvalidRequest),
            ("invalid_client", OAuthErrorCode::InvalidClient),
            ("invalid_grant", OAuthErrorCode::InvalidGrant),
            ("unauthorized_client", OAuthErrorCode::UnauthorizedClient),
            (
                "unsupported_grant_type",
                OAuthErrorCode::UnsupportedGrantType,
            ),
            ("invalid_scope", OAuthErrorCode::InvalidScope),
            ("invalid_target", OAuthErrorCode::InvalidTarget),
            ("the-secret-token", OAuthErrorCode::Other),
        ] {
            let body =
                format!(r#"{{"error":"{code}","error_description":"bad the-secret-token"}}"#);
            let error = parse(400, &body).unwrap_err();
            assert_eq!(
                error,
                ExchangeError::Rejected {
                    code: expected,
                    status: 400
                }
            );
            assert!(!format!("{error} {error:?}").contains("the-secret-token"));
        }
        assert_eq!(
            parse(500, "oops").unwrap_err(),
            ExchangeError::HttpStatus { status: 500 }
        );
        assert_eq!(
            parse(302, "").unwrap_err(),
            ExchangeError::Redirect { status: 302 }
        );
        let html = parse_answer(
            400,
            Some("text/html"),
            br#"{"error":"invalid_grant"}"#,
            &TokenType::ACCESS_TOKEN,
            NOW,
        );
        assert_eq!(html.unwrap_err(), ExchangeError::HttpStatus { status: 400 });
    }
}
