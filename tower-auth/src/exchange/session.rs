//! [`AgentSession`]: a long-running agent that never holds a long-lived token.

use std::fmt;
use std::sync::Arc;

use super::{
    ExchangeError, ExchangeRequest, ExchangeTarget, ExchangedToken, TokenExchangeClient, TokenType,
};
use crate::agent_keys::{AgentKeyError, AgentKeyId, PresentedKey};

/// A long-running agent's session: its API key and a [`TokenExchangeClient`], and for each
/// sub-request a fresh token of minutes for that sub-request's audience, exchanged at the
/// token service ([`TokenType::AGENT_KEY`]).
///
/// Why per sub-request, and not one token held for the whole task: the token service
/// checks the key, the human's existence and the human's current scopes at each exchange,
/// so a revoked key, a removed human or a scope the human lost stops the agent at its next
/// sub-request instead of when a held token expires; and each token is for one audience
/// only, so a sub-request's service cannot replay it to another. The exchange client's
/// cache is bypassed ([`TokenExchangeClient::exchange_uncached`]) for the same reason.
///
/// The key is checked for form at construction (a malformed key never leaves the
/// process) and never appears in `Debug` (its public id does).
///
/// ```
/// use std::sync::Arc;
/// use principal::{Audience, Issuer, ScopeSet, SystemClock, Clock};
/// use tower_auth::agent_keys::{AgentKeyStore, HumanEntry, MemoryAgentKeyStore, MemoryHumanDirectory, NewAgentKey};
/// use tower_auth::exchange::{AgentSession, ClientAuth, ExchangeTarget, OAuthErrorCode, TokenExchangeClient, ExchangeError};
/// use tower_auth::jwt::{IssuerConfig, JwtVerifier};
/// use tower_auth::mint::{InternalIssuer, SigningAlgorithm, SigningKey};
/// use tower_auth::sts::{ClientSecret, RegisteredClient, TokenExchangeService};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // The token service, on loopback, taking agent keys.
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let base = format!("http://{}", listener.local_addr()?);
/// let issuer = InternalIssuer::builder(Issuer::new(&base)?, SigningKey::generate(SigningAlgorithm::Es256)?).build()?;
/// let idp = IssuerConfig::builder(Issuer::new("https://idp.example.com")?)
///     .audience(Audience::new("sts")?).oidc_discovery().build()?;
/// let keys = Arc::new(MemoryAgentKeyStore::new());
/// let humans = Arc::new(MemoryHumanDirectory::new());
/// let sts = TokenExchangeService::builder(issuer, Arc::new(JwtVerifier::builder().issuer(idp).build()?))
///     .agent_keys(keys.clone(), humans.clone())
///     .client(RegisteredClient::new("agent-runner", ClientSecret::new("agent-runner-secret-0123456789")?)?
///         .may_exchange_for(Audience::new("orders-api")?))
///     .build()?;
/// tokio::spawn(async move { axum::serve(listener, axum::Router::new().fallback_service(sts)).await });
///
/// // A key for an agent acting for alice, who holds orders:read.
/// let now = SystemClock.now();
/// let alice = "hm-6f1c1a43-04b5-4a8e-9d0b-2c1f3e5a7b9d".parse()?;
/// humans.insert(alice, HumanEntry::new(ScopeSet::parse("orders:read")?))?;
/// let issued = keys.create(NewAgentKey::new(
///     "am-0b7e2a50-3c1d-4f6e-8a9b-1c2d3e4f5a6b".parse()?, alice,
///     ScopeSet::parse("orders:read")?, now.add_seconds(86_400)), now).await?;
///
/// let client = TokenExchangeClient::builder(
///     &format!("{base}/token"),
///     ClientAuth::client_secret_basic("agent-runner", "agent-runner-secret-0123456789")?,
/// ).build()?;
/// let session = AgentSession::new(client, issued.key.expose_secret())?;
/// assert!(!format!("{session:?}").contains(issued.key.expose_secret()));
///
/// // Each sub-request gets its own short-lived token for its audience.
/// let orders = ExchangeTarget::audience(Audience::new("orders-api")?);
/// let first = session.token_for(&orders).await?;
/// let second = session.token_for(&orders).await?;
/// assert_ne!(first.as_str(), second.as_str());
///
/// // Refused: once the key is revoked, the next sub-request gets no token.
/// keys.revoke(&issued.info.id, SystemClock.now()).await?;
/// let refused = session.token_for(&orders).await.unwrap_err();
/// assert!(matches!(refused, ExchangeError::Rejected { code: OAuthErrorCode::InvalidGrant, .. }));
/// // Refused at construction: a string that is not an agent key.
/// # let client = session.client().clone();
/// assert!(AgentSession::new(client, "not-an-agent-key").is_err());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct AgentSession {
    client: TokenExchangeClient,
    key: Arc<str>,
    key_id: AgentKeyId,
}

impl AgentSession {
    /// A session exchanging `agent_key` through `client`. Refuses a string that is not of
    /// the agent key form ([`AgentKeyError::Malformed`]), without sending it anywhere.
    pub fn new(client: TokenExchangeClient, agent_key: &str) -> Result<Self, AgentKeyError> {
        let key_id = PresentedKey::parse(agent_key)?.id;
        Ok(AgentSession {
            client,
            key: Arc::from(agent_key),
            key_id,
        })
    }

    /// A fresh token for one sub-request to `target`: a real exchange every time (never
    /// cached), so the token service's verdict on the key and its human is today's.
    pub async fn token_for(
        &self,
        target: &ExchangeTarget,
    ) -> Result<ExchangedToken, ExchangeError> {
        let request =
            ExchangeRequest::new(Arc::clone(&self.key), TokenType::AGENT_KEY, target.clone())?;
        self.client.exchange_uncached(&request).await
    }

    /// The public id of the session's key (for logs).
    pub fn key_id(&self) -> AgentKeyId {
        self.key_id
    }

    /// The exchange client.
    pub fn client(&self) -> &TokenExchangeClient {
        &self.client
    }
}

impl fmt::Debug for AgentSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentSession")
            .field("endpoint", &self.client.endpoint())
            .field("key_id", &self.key_id)
            .field("key", &"<redacted>")
            .finish()
    }
}
