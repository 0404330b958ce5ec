//! Where a key set comes from: a JWKS URL, or the issuer's metadata (OIDC Discovery or
//! RFC 8414), and the URL rule every fetched URL obeys.

use reqwest::Url;
use url_rule::{UrlProblem, check_url};

use super::error::JwksConfigError;

/// Where a [`KeyCache`](super::KeyCache) fetches its key set.
///
/// Every URL (issuer, JWKS, and a `jwks_uri` found in metadata) must use `https`, except on
/// loopback hosts (`127.0.0.0/8`, `::1`, `localhost`), where `http` is allowed for local
/// development and tests. URLs carrying a user name or password are refused.
///
/// ```
/// use tower_auth::jwks::{JwksConfigError, JwksSource};
///
/// let source = JwksSource::oidc_discovery("https://id.example.com/realms/main")?;
/// assert_eq!(
///     source.metadata_url().map(|u| u.as_str()),
///     Some("https://id.example.com/realms/main/.well-known/openid-configuration")
/// );
/// assert!(JwksSource::jwks_url("http://127.0.0.1:8080/jwks.json").is_ok()); // loopback
///
/// // Rejected: plain http to a remote host.
/// let err = JwksSource::jwks_url("http://id.example.com/jwks.json").unwrap_err();
/// assert_eq!(err.reason(), "insecure_scheme");
/// # Ok::<(), JwksConfigError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JwksSource {
    kind: SourceKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum SourceKind {
    JwksUrl(Url),
    Metadata {
        issuer: String,
        metadata_url: Url,
        flavour: MetadataFlavour,
    },
}

/// Which well-known metadata document a source reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MetadataFlavour {
    /// OpenID Connect Discovery 1.0: `{issuer}/.well-known/openid-configuration`.
    OpenIdConnect,
    /// RFC 8414: `/.well-known/oauth-authorization-server` followed by the issuer's path.
    OAuthAuthorizationServer,
}

impl JwksSource {
    /// A JWKS fetched from `url` directly.
    pub fn jwks_url(url: &str) -> Result<JwksSource, JwksConfigError> {
        let url = parse_checked(url, "jwks_url")?;
        Ok(JwksSource {
            kind: SourceKind::JwksUrl(url),
        })
    }

    /// The JWKS named by the `jwks_uri` of the issuer's OpenID Connect Discovery document
    /// (`{issuer}/.well-known/openid-configuration`, OIDC Discovery §4). The document's
    /// `issuer` must equal `issuer` exactly (§4.3).
    pub fn oidc_discovery(issuer: &str) -> Result<JwksSource, JwksConfigError> {
        JwksSource::metadata(issuer, MetadataFlavour::OpenIdConnect)
    }

    /// The JWKS named by the `jwks_uri` of the issuer's RFC 8414 authorization server
    /// metadata: the well-known path is inserted between host and the issuer's path (§3.1),
    /// so `https://as.example/tenant` reads
    /// `https://as.example/.well-known/oauth-authorization-server/tenant`. The document's
    /// `issuer` must equal `issuer` exactly (§3.3).
    ///
    /// ```
    /// use tower_auth::jwks::{JwksConfigError, JwksSource};
    ///
    /// let source = JwksSource::oauth_metadata("https://as.example/tenant")?;
    /// assert_eq!(
    ///     source.metadata_url().map(|u| u.as_str()),
    ///     Some("https://as.example/.well-known/oauth-authorization-server/tenant")
    /// );
    /// // Rejected: an issuer with a query (RFC 8414 §2).
    /// let err = JwksSource::oauth_metadata("https://as.example/?tenant=1").unwrap_err();
    /// assert_eq!(err.reason(), "issuer_has_query_or_fragment");
    /// # Ok::<(), JwksConfigError>(())
    /// ```
    pub fn oauth_metadata(issuer: &str) -> Result<JwksSource, JwksConfigError> {
        JwksSource::metadata(issuer, MetadataFlavour::OAuthAuthorizationServer)
    }

    fn metadata(issuer: &str, flavour: MetadataFlavour) -> Result<JwksSource, JwksConfigError> {
        let mut metadata_url = parse_issuer(issuer)?;
        let issuer_path = metadata_url.path().trim_end_matches('/');
        let path = match flavour {
            MetadataFlavour::OpenIdConnect => {
                format!("{issuer_path}/.well-known/openid-configuration")
            }
            MetadataFlavour::OAuthAuthorizationServer => {
                format!("/.well-known/oauth-authorization-server{issuer_path}")
            }
        };
        metadata_url.set_path(&path);
        Ok(JwksSource {
            kind: SourceKind::Metadata {
                issuer: issuer.to_owned(),
                metadata_url,
                flavour,
            },
        })
    }

    /// The issuer the metadata must name, for metadata sources.
    pub fn issuer(&self) -> Option<&str> {
        match &self.kind {
            SourceKind::JwksUrl(_) => None,
            SourceKind::Metadata { issuer, .. } => Some(issuer),
        }
    }

    /// The metadata document's URL, for metadata sources.
    pub fn metadata_url(&self) -> Option<&Url> {
        match &self.kind {
            SourceKind::JwksUrl(_) => None,
            SourceKind::Metadata { metadata_url, .. } => Some(metadata_url),
        }
    }

    /// The metadata flavour, for metadata sources.
    pub fn metadata_flavour(&self) -> Option<MetadataFlavour> {
        match &self.kind {
            SourceKind::JwksUrl(_) => None,
            SourceKind::Metadata { flavour, .. } => Some(*flavour),
        }
    }

    /// The configured JWKS URL, for direct sources.
    pub fn jwks_url_configured(&self) -> Option<&Url> {
        match &self.kind {
            SourceKind::JwksUrl(url) => Some(url),
            SourceKind::Metadata { .. } => None,
        }
    }

    /// The issuer for metadata sources, else the JWKS URL: names the cache in logs.
    pub fn label(&self) -> &str {
        match &self.kind {
            SourceKind::JwksUrl(url) => url.as_str(),
            SourceKind::Metadata { issuer, .. } => issuer,
        }
    }

    /// Whether the first URL fetched is on a loopback host.
    pub(crate) fn is_loopback(&self) -> bool {
        let url = match &self.kind {
            SourceKind::JwksUrl(url) => url,
            SourceKind::Metadata { metadata_url, .. } => metadata_url,
        };
        url_rule::is_loopback(url)
    }
}

/// The rule for the issuer of a key set fetched from a configured JWKS URL: an issuer
/// that is an `http` or `https` URL (as OIDC and RFC 8414 require) must be `https`, or
/// `http` on a loopback host, and carry no credentials, exactly as when its metadata is
/// fetched. An `http://` issuer elsewhere is a configuration mistake (or a downgrade), even
/// when its JWKS URL is `https`. An issuer that is not such a URL (a bare name) is a
/// label only and is left alone.
pub(crate) fn check_issuer_of_fetched_keys(issuer: &str) -> Result<(), JwksConfigError> {
    match Url::parse(issuer) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => {
            parse_checked(issuer, "issuer").map(drop)
        }
        _ => Ok(()),
    }
}

fn parse_checked(raw: &str, field: &'static str) -> Result<Url, JwksConfigError> {
    let url = Url::parse(raw).map_err(|e| JwksConfigError::InvalidUrl {
        field,
        detail: e.to_string(),
    })?;
    match check_url(&url) {
        Ok(()) => Ok(url),
        Err(UrlProblem::InsecureScheme) => Err(JwksConfigError::InsecureScheme {
            field,
            url: url.to_string(),
        }),
        Err(UrlProblem::Credentials) => Err(JwksConfigError::UrlHasCredentials { field }),
    }
}

fn parse_issuer(issuer: &str) -> Result<Url, JwksConfigError> {
    let url = parse_checked(issuer, "issuer")?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(JwksConfigError::IssuerHasQueryOrFragment {
            issuer: issuer.to_owned(),
        });
    }
    Ok(url)
}

/// The rule for every URL the cache fetches.
pub(crate) mod url_rule {
    use std::net::IpAddr;

    use reqwest::Url;

    pub(crate) enum UrlProblem {
        InsecureScheme,
        Credentials,
    }

    /// `https`, or `http` on a loopback host; no user name or password.
    pub(crate) fn check_url(url: &Url) -> Result<(), UrlProblem> {
        if !url.username().is_empty() || url.password().is_some() {
            return Err(UrlProblem::Credentials);
        }
        match url.scheme() {
            "https" => Ok(()),
            "http" if is_loopback(url) => Ok(()),
            _ => Err(UrlProblem::InsecureScheme),
        }
    }

    /// A `jwks_uri` found in the metadata read from `metadata_url`: [`check_url`], and
    /// `http` only when the issuer (whose host the metadata URL carries) is itself on
    /// loopback. An https issuer's metadata may not send the fetch to a plain-http port on
    /// the verifying host.
    pub(crate) fn check_discovered_jwks_uri(
        metadata_url: &Url,
        jwks_uri: &Url,
    ) -> Result<(), UrlProblem> {
        check_url(jwks_uri)?;
        if jwks_uri.scheme() == "http" && !is_loopback(metadata_url) {
            return Err(UrlProblem::InsecureScheme);
        }
        Ok(())
    }

    /// `127.0.0.0/8`, `::1` or `localhost`.
    pub(crate) fn is_loopback(url: &Url) -> bool {
        let Some(host) = url.host_str() else {
            return false;
        };
        // The URL parser has already normalised the host; IPv6 comes in brackets.
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        match bare.parse::<IpAddr>() {
            Ok(ip) => ip.is_loopback(),
            Err(_) => host.eq_ignore_ascii_case("localhost"),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn scheme_rule() {
        for ok in [
            "https://id.example.com/jwks",
            "http://127.0.0.1:1/jwks",
            "http://127.9.8.7/jwks",
            "http://[::1]:8080/jwks",
            "http://localhost:8080/jwks",
            "http://LOCALHOST/jwks",
        ] {
            assert!(JwksSource::jwks_url(ok).is_ok(), "{ok}");
        }
        for (bad, reason) in [
            ("http://id.example.com/jwks", "insecure_scheme"),
            ("http://10.0.0.1/jwks", "insecure_scheme"),
            ("http://[::ffff:127.0.0.1]/jwks", "insecure_scheme"),
            ("http://localhost.example.com/jwks", "insecure_scheme"),
            ("ftp://127.0.0.1/jwks", "insecure_scheme"),
            ("file:///etc/jwks", "insecure_scheme"),
            ("https://user:pw@id.example.com/jwks", "url_has_credentials"),
            ("not a url", "invalid_url"),
        ] {
            assert_eq!(
                JwksSource::jwks_url(bad).unwrap_err().reason(),
                reason,
                "{bad}"
            );
        }
    }

    #[test]
    fn a_discovered_jwks_uri_may_use_http_only_for_a_loopback_issuer() {
        use url_rule::check_discovered_jwks_uri;
        let metadata = |issuer: &str| {
            JwksSource::oidc_discovery(issuer)
                .unwrap()
                .metadata_url()
                .unwrap()
                .clone()
        };
        let url = |raw: &str| Url::parse(raw).unwrap();
        let remote = metadata("https://id.example.com");
        let local = metadata("http://127.0.0.1:8080");
        assert!(check_discovered_jwks_uri(&remote, &url("https://keys.example.com/jwks")).is_ok());
        assert!(check_discovered_jwks_uri(&local, &url("http://127.0.0.1:9/jwks")).is_ok());
        assert!(check_discovered_jwks_uri(&local, &url("http://localhost:9/jwks")).is_ok());
        assert!(
            check_discovered_jwks_uri(&metadata("https://localhost"), &url("http://[::1]:9/jwks"))
                .is_ok()
        );
        // Refused: an https issuer pointing its keys at plain http, even on loopback.
        for bad in [
            "http://127.0.0.1:8080/jwks",
            "http://localhost/jwks",
            "http://[::1]/jwks",
            "http://id.example.com/jwks",
        ] {
            assert!(
                matches!(
                    check_discovered_jwks_uri(&remote, &url(bad)),
                    Err(UrlProblem::InsecureScheme)
                ),
                "{bad}"
            );
        }
        // The general rule still holds for loopback issuers.
        assert!(matches!(
            check_discovered_jwks_uri(&local, &url("http://id.example.com/jwks")),
            Err(UrlProblem::InsecureScheme)
        ));
        assert!(matches!(
            check_discovered_jwks_uri(&local, &url("http://u:p@127.0.0.1/jwks")),
            Err(UrlProblem::Credentials)
        ));
    }

    #[test]
    fn oidc_metadata_url_appends_to_the_issuer() {
        for (issuer, expected) in [
            (
                "https://id.example.com",
                "https://id.example.com/.well-known/openid-configuration",
            ),
            (
                "https://id.example.com/",
                "https://id.example.com/.well-known/openid-configuration",
            ),
            (
                "https://id.example.com/realms/a/",
                "https://id.example.com/realms/a/.well-known/openid-configuration",
            ),
        ] {
            let source = JwksSource::oidc_discovery(issuer).unwrap();
            assert_eq!(source.metadata_url().unwrap().as_str(), expected);
            assert_eq!(source.issuer(), Some(issuer));
            assert_eq!(
                source.metadata_flavour(),
                Some(MetadataFlavour::OpenIdConnect)
            );
        }
    }

    #[test]
    fn rfc8414_metadata_url_inserts_the_well_known_path() {
        for (issuer, expected) in [
            (
                "https://as.example.com",
                "https://as.example.com/.well-known/oauth-authorization-server",
            ),
            (
                "https://as.example.com/",
                "https://as.example.com/.well-known/oauth-authorization-server",
            ),
            (
                "https://as.example.com/issuer1",
                "https://as.example.com/.well-known/oauth-authorization-server/issuer1",
            ),
            (
                "http://[::1]:9/a/b/",
                "http://[::1]:9/.well-known/oauth-authorization-server/a/b",
            ),
        ] {
            let source = JwksSource::oauth_metadata(issuer).unwrap();
            assert_eq!(source.metadata_url().unwrap().as_str(), expected);
        }
    }

    #[test]
    fn issuer_rules() {
        assert_eq!(
            JwksSource::oidc_discovery("https://id.example.com/#x")
                .unwrap_err()
                .reason(),
            "issuer_has_query_or_fragment"
        );
        assert_eq!(
            JwksSource::oidc_discovery("http://id.example.com")
                .unwrap_err()
                .reason(),
            "insecure_scheme"
        );
        assert_eq!(
            JwksSource::jwks_url("https://a.example/jwks")
                .unwrap()
                .label(),
            "https://a.example/jwks"
        );
    }
}
