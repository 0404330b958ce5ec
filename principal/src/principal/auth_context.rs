//! How the subject authenticated: [`AuthContext`].

use serde::{Deserialize, Serialize};

use crate::error::PrincipalError;
use crate::limits::{MAX_ACR_LEN, MAX_AMR_VALUE_LEN, MAX_AMR_VALUES, MAX_CLIENT_ID_LEN};
use crate::time::Timestamp;
use crate::validate;

#[cfg(doc)]
use super::Principal;

/// How and where the subject authenticated (OpenID Connect `amr`, `acr`, `auth_time`) and
/// through which OAuth client (`client_id`).
///
/// Its fields are checked when a [`Principal`] is built: at most [`MAX_AMR_VALUES`] `amr`
/// values of at most [`MAX_AMR_VALUE_LEN`] bytes without whitespace, `acr` at most
/// [`MAX_ACR_LEN`] bytes, `client_id` at most [`MAX_CLIENT_ID_LEN`] bytes, no control
/// characters anywhere.
///
/// JSON form: `{"amr": [..], "acr": "..", "auth_time": 1700000000, "client_id": ".."}`,
/// every field optional (absent when empty or unset).
///
/// ```
/// use principal::AuthContext;
///
/// let auth = AuthContext { amr: vec!["pwd".into(), "otp".into()], ..AuthContext::default() };
/// assert_eq!(serde_json::to_string(&auth)?, r#"{"amr":["pwd","otp"]}"#);
/// assert!(serde_json::from_str::<AuthContext>(r#"{"amr":"pwd"}"#).is_err());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthContext {
    /// Authentication method references (RFC 8176), e.g. `pwd`, `mfa`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    /// Authentication context class reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// When the subject authenticated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<Timestamp>,
    /// The OAuth client the token was issued to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

impl AuthContext {
    pub(super) fn validate(&self) -> Result<(), PrincipalError> {
        if self.amr.len() > MAX_AMR_VALUES {
            return Err(PrincipalError::TooMany {
                field: "amr",
                len: self.amr.len(),
                max: MAX_AMR_VALUES,
            });
        }
        for amr in &self.amr {
            validate::token("amr", amr, MAX_AMR_VALUE_LEN)?;
        }
        if let Some(acr) = &self.acr {
            validate::text("acr", acr, MAX_ACR_LEN)?;
        }
        if let Some(client_id) = &self.client_id {
            validate::text("client_id", client_id, MAX_CLIENT_ID_LEN)?;
        }
        Ok(())
    }
}
