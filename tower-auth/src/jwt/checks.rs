//! The claim checks that run after the signature verified: plain functions of the
//! claims, the issuer's settings and `now`.

use std::borrow::Cow;

use principal::{Audience, JwtClaims, Timestamp};

use crate::error::AuthError;

/// `exp` is required and must be ahead of `now`; `nbf` and `iat` must not be ahead of
/// `now`; each with `leeway` seconds of allowance for clock skew (RFC 7519 §4.1.4-6).
pub(crate) fn times(claims: &JwtClaims, now: Timestamp, leeway: i64) -> Result<(), AuthError> {
    let expired_at = claims.exp.ok_or(AuthError::MissingClaim {
        claim: Cow::Borrowed("exp"),
    })?;
    // RFC 7519 §4.1.4: the current time MUST be before `exp`.
    if now >= expired_at.add_seconds(leeway) {
        return Err(AuthError::Expired { expired_at, now });
    }
    if let Some(not_before) = claims.nbf
        && now.add_seconds(leeway) < not_before
    {
        return Err(AuthError::NotYetValid { not_before, now });
    }
    if let Some(issued_at) = claims.iat
        && issued_at > now.add_seconds(leeway)
    {
        return Err(AuthError::IssuedInFuture { issued_at, now });
    }
    Ok(())
}

/// At least one of the token's audiences must be accepted; a token without `aud` is
/// refused.
pub(crate) fn audience(claims: &JwtClaims, accepted: &[Audience]) -> Result<(), AuthError> {
    let aud = claims.aud.as_ref().ok_or(AuthError::MissingClaim {
        claim: Cow::Borrowed("aud"),
    })?;
    if aud
        .iter()
        .any(|found| accepted.iter().any(|a| a.as_str() == found))
    {
        Ok(())
    } else {
        Err(AuthError::WrongAudience)
    }
}

/// The first of `required` that is absent (or `null`) from the claims.
pub(crate) fn required_claims(claims: &JwtClaims, required: &[Box<str>]) -> Result<(), AuthError> {
    match required.iter().find(|name| !claim_present(claims, name)) {
        // Only on the rejection path: naming the claim costs one allocation.
        Some(claim) => Err(AuthError::MissingClaim {
            claim: Cow::Owned(claim.to_string()),
        }),
        None => Ok(()),
    }
}

fn claim_present(claims: &JwtClaims, name: &str) -> bool {
    match name {
        "iss" => claims.iss.is_some(),
        "sub" => claims.sub.is_some(),
        "aud" => claims.aud.is_some(),
        "exp" => claims.exp.is_some(),
        "nbf" => claims.nbf.is_some(),
        "iat" => claims.iat.is_some(),
        "jti" => claims.jti.is_some(),
        "client_id" => claims.client_id.is_some(),
        "scope" => claims.scope.is_some(),
        "scp" => claims.scp.is_some(),
        "sid" => claims.sid.is_some(),
        "act" => claims.act.is_some(),
        "may_act" => claims.may_act.is_some(),
        "amr" => claims.amr.is_some(),
        "acr" => claims.acr.is_some(),
        "auth_time" => claims.auth_time.is_some(),
        other => claims.extra.get(other).is_some_and(|v| !v.is_null()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_unix_seconds(seconds)
    }

    fn claims(json: &str) -> JwtClaims {
        JwtClaims::from_json(json.as_bytes()).unwrap()
    }

    #[test]
    fn exp_is_required_and_strict_at_the_edge_of_the_leeway() {
        assert!(matches!(
            times(&claims("{}"), at(0), 0),
            Err(AuthError::MissingClaim {
                claim: Cow::Borrowed("exp")
            })
        ));
        let c = claims(r#"{"exp":100}"#);
        assert!(times(&c, at(99), 0).is_ok());
        assert!(matches!(
            times(&c, at(100), 0),
            Err(AuthError::Expired { .. })
        ));
        assert!(times(&c, at(129), 30).is_ok());
        assert!(matches!(
            times(&c, at(130), 30),
            Err(AuthError::Expired { .. })
        ));
    }

    #[test]
    fn nbf_and_iat_allow_the_leeway_and_no_more() {
        let c = claims(r#"{"exp":1000,"nbf":100,"iat":100}"#);
        assert!(times(&c, at(100), 0).is_ok());
        assert!(times(&c, at(70), 30).is_ok());
        assert!(matches!(
            times(&claims(r#"{"exp":1000,"nbf":100}"#), at(69), 30),
            Err(AuthError::NotYetValid { .. })
        ));
        assert!(matches!(
            times(&claims(r#"{"exp":1000,"iat":100}"#), at(69), 30),
            Err(AuthError::IssuedInFuture { .. })
        ));
    }

    #[test]
    fn extreme_times_saturate_instead_of_wrapping() {
        let c = claims(&format!(r#"{{"exp":{}}}"#, i64::MAX));
        assert!(times(&c, at(i64::MAX - 1), 300).is_ok());
        let c = claims(&format!(r#"{{"exp":{}}}"#, i64::MIN));
        assert!(matches!(
            times(&c, at(0), 300),
            Err(AuthError::Expired { .. })
        ));
    }

    #[test]
    fn audience_needs_one_accepted_value() {
        let accepted = [
            Audience::new("api").unwrap(),
            Audience::new("billing").unwrap(),
        ];
        assert!(audience(&claims(r#"{"aud":"api"}"#), &accepted).is_ok());
        assert!(audience(&claims(r#"{"aud":["x","billing"]}"#), &accepted).is_ok());
        assert!(matches!(
            audience(&claims(r#"{"aud":["x"]}"#), &accepted),
            Err(AuthError::WrongAudience)
        ));
        assert!(matches!(
            audience(&claims(r#"{"aud":[]}"#), &accepted),
            Err(AuthError::WrongAudience)
        ));
        assert!(matches!(
            audience(&claims("{}"), &accepted),
            Err(AuthError::MissingClaim {
                claim: Cow::Borrowed("aud")
            })
        ));
    }

    #[test]
    fn required_claims_name_the_first_missing_one() {
        let c = claims(r#"{"jti":"1","tenant":"acme","nothing":null}"#);
        let names = |names: &[&str]| names.iter().map(|n| Box::from(*n)).collect::<Vec<_>>();
        assert!(required_claims(&c, &names(&["jti", "tenant"])).is_ok());
        assert!(matches!(
            required_claims(&c, &names(&["jti", "sid"])),
            Err(AuthError::MissingClaim { claim }) if claim == "sid"
        ));
        assert!(matches!(
            required_claims(&c, &names(&["nothing"])),
            Err(AuthError::MissingClaim { claim }) if claim == "nothing"
        ));
    }
}
