//! [`TokenExchangeService`]: the HTTP side of the token service.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::header::{
    ALLOW, CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH, PRAGMA, WWW_AUTHENTICATE,
};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt, Full, Limited};
use principal::{Actor, Audience, Clock, Principal, ScopeSet, Timestamp};
use serde_json::{Map, Value, json};
use tower_service::Service;

use super::client::{Clients, RegisteredClient, sha256};
use super::form::Form;
use super::policy::{ActingPolicy, ExchangePolicy};
use super::record::{DEFAULT_MAX_ISSUED_TOKENS, IssuedTokens, Lookup, Revocation, RevocationList};
use super::{
    ACCESS_TOKEN_TYPE, AGENT_KEY_TOKEN_TYPE, INTROSPECTION_PATH, JWT_TOKEN_TYPE, MAX_FORM_BYTES,
    METADATA_PATH, REVOCATION_FEED_PATH, REVOCATION_PATH, STS_TARGET, StsConfigError, StsError,
    TOKEN_EXCHANGE_GRANT, TOKEN_PATH,
};
use crate::agent_keys::{AgentKeyStore, HumanDirectory};
use crate::credentials::Credentials;
use crate::mint::{DISCOVERY_PATH, InternalIssuer, JWKS_PATH, MintError};
use crate::verifier::Verifier;

type HttpResponse = Response<Full<Bytes>>;

struct Inner {
    issuer: InternalIssuer,
    subject_verifier: Arc<dyn Verifier>,
    actor_verifier: Arc<dyn Verifier>,
    /// Further subject and actor token types, each with its verifier.
    token_types: Vec<(String, Arc<dyn Verifier>)>,
    clients: Clients,
    agent_keys: Option<AgentKeys>,
    policy: ExchangePolicy,
    record: IssuedTokens,
    serve_jwks: bool,
    metadata: String,
}

/// Where agent keys are authenticated and their humans looked up.
#[derive(Clone)]
struct AgentKeys {
    store: Arc<dyn AgentKeyStore>,
    humans: Arc<dyn HumanDirectory>,
}

/// Who the subject token is checked by: a verifier, or the agent key store.
enum SubjectCheck<'a> {
    Verifier(&'a Arc<dyn Verifier>),
    AgentKey(&'a AgentKeys),
}

/// The security token service as one tower service (see the [module docs](super)):
/// RFC 8693 token exchange, RFC 7662 introspection and RFC 7009 revocation of the tokens
/// it issued, the revocation feed, RFC 8414 metadata, and optionally the issuer's JWKS.
///
/// Mount it at its issuer's URL: `Router::fallback_service` for an issuer without a path,
/// `Router::nest_service` at the issuer's path otherwise. Cheap to clone (an `Arc`).
#[derive(Clone)]
pub struct TokenExchangeService {
    inner: Arc<Inner>,
}

/// Builds a [`TokenExchangeService`].
#[must_use]
pub struct TokenExchangeServiceBuilder {
    issuer: InternalIssuer,
    subject_verifier: Arc<dyn Verifier>,
    actor_verifier: Option<Arc<dyn Verifier>>,
    token_types: Vec<(String, Arc<dyn Verifier>)>,
    clients: Vec<RegisteredClient>,
    agent_keys: Option<AgentKeys>,
    acting: ActingPolicy,
    require_may_act: bool,
    max_depth: Option<usize>,
    max_issued_tokens: usize,
    serve_jwks: bool,
}

impl TokenExchangeService {
    /// A builder: tokens minted by `issuer` (its clock is the service's clock), subject
    /// tokens verified by `subject_verifier` (a JWT verifier, an introspection verifier,
    /// a passport verifier or a chain).
    pub fn builder(
        issuer: InternalIssuer,
        subject_verifier: Arc<dyn Verifier>,
    ) -> TokenExchangeServiceBuilder {
        TokenExchangeServiceBuilder {
            issuer,
            subject_verifier,
            actor_verifier: None,
            token_types: Vec::new(),
            clients: Vec::new(),
            agent_keys: None,
            acting: ActingPolicy::default(),
            require_may_act: false,
            max_depth: None,
            max_issued_tokens: DEFAULT_MAX_ISSUED_TOKENS,
            serve_jwks: false,
        }
    }

    /// The issuer that mints the exchanged tokens.
    pub fn issuer(&self) -> &InternalIssuer {
        &self.inner.issuer
    }

    /// The exchange policy in force.
    pub fn policy(&self) -> &ExchangePolicy {
        &self.inner.policy
    }

    /// The RFC 8414 metadata document.
    pub fn metadata(&self) -> Value {
        serde_json::from_str(&self.inner.metadata).unwrap_or(Value::Null)
    }

    /// Unexpired tokens in the record (expired ones go when room is needed).
    pub fn issued_tokens(&self) -> usize {
        self.inner.record.len()
    }

    /// Revokes the issued token `jti` (an operator's action, beside RFC 7009 by the
    /// client); `false` if no unexpired issued token has that `jti`. Each revocation
    /// advances the list's version by one; see [`revocations_since`](Self::revocations_since).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use principal::Issuer;
    /// # use tower_auth::jwt::{IssuerConfig, JwtVerifier};
    /// # use tower_auth::mint::{InternalIssuer, SigningAlgorithm, SigningKey};
    /// # use tower_auth::sts::TokenExchangeService;
    /// # let issuer = InternalIssuer::builder(
    /// #     Issuer::new("https://sts.internal")?,
    /// #     SigningKey::generate(SigningAlgorithm::Es256)?,
    /// # ).build()?;
    /// # let idp = IssuerConfig::builder(Issuer::new("https://idp.example.com")?)
    /// #     .audience(principal::Audience::new("sts")?).oidc_discovery().build()?;
    /// # let verifier = Arc::new(JwtVerifier::builder().issuer(idp).build()?);
    /// let sts = TokenExchangeService::builder(issuer, verifier).build()?;
    /// // Refused: a jti this service never issued; the list is unchanged.
    /// assert!(!sts.revoke_token_id("never-issued"));
    /// let list = sts.revocations_since(0);
    /// assert_eq!(list.version, 0);
    /// assert!(list.revoked.is_empty());
    /// // A poller keeps `list.version` and asks `revocations_since(version)` next time
    /// // (over HTTP: `GET /revocations?since=<version>`, `ETag` `"<epoch>-<version>"`);
    /// // another `list.epoch` means a restarted service: it reads the list whole again.
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn revoke_token_id(&self, jti: &str) -> bool {
        let revoked = self.inner.record.revoke_jti(jti, self.now());
        tracing::info!(target: STS_TARGET, jti, revoked, "sts: revocation by the operator");
        revoked
    }

    /// The revocations after `version` (0: all still listed), and the version now.
    pub fn revocations_since(&self, version: u64) -> RevocationList {
        self.inner.record.revocations_since(version, self.now())
    }

    fn now(&self) -> Timestamp {
        self.inner.issuer.clock().now()
    }
}

impl TokenExchangeServiceBuilder {
    /// Verifies actor tokens with `verifier` (default: the subject verifier).
    pub fn actor_verifier(mut self, verifier: Arc<dyn Verifier>) -> Self {
        self.actor_verifier = Some(verifier);
        self
    }

    /// Also takes subject and actor tokens of `token_type` (an absolute URI other than
    /// [`ACCESS_TOKEN_TYPE`] and [`JWT_TOKEN_TYPE`]), verified by `verifier` alone. A
    /// verifier whose Principal is already delegated (an agent credential resolving to
    /// the human it acts for, with the agent in the chain) is exchanged with its chain
    /// and scopes as they are, narrowed by the request.
    pub fn token_type(
        mut self,
        token_type: impl Into<String>,
        verifier: Arc<dyn Verifier>,
    ) -> Self {
        self.token_types.push((token_type.into(), verifier));
        self
    }

    /// Also takes agent API keys as subject tokens of type [`AGENT_KEY_TOKEN_TYPE`]:
    /// authenticated by `store`, the human each acts for looked up in `humans` at every
    /// exchange; the token is the human's, with the agent acting, holding at most the
    /// key's grant and the human's current scopes (see the [module docs](super#agent-keys)).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use principal::Issuer;
    /// # use tower_auth::jwt::{IssuerConfig, JwtVerifier};
    /// # use tower_auth::mint::{InternalIssuer, SigningAlgorithm, SigningKey};
    /// use tower_auth::agent_keys::{MemoryAgentKeyStore, MemoryHumanDirectory};
    /// use tower_auth::sts::{AGENT_KEY_TOKEN_TYPE, TokenExchangeService};
    ///
    /// # let issuer = InternalIssuer::builder(
    /// #     Issuer::new("https://sts.internal")?,
    /// #     SigningKey::generate(SigningAlgorithm::Es256)?,
    /// # ).build()?;
    /// # let idp = IssuerConfig::builder(Issuer::new("https://idp.example.com")?)
    /// #     .audience(principal::Audience::new("sts")?).oidc_discovery().build()?;
    /// let verifier = Arc::new(JwtVerifier::builder().issuer(idp).build()?);
    /// let sts = TokenExchangeService::builder(issuer.clone(), verifier.clone())
    ///     .agent_keys(Arc::new(MemoryAgentKeyStore::new()), Arc::new(MemoryHumanDirectory::new()))
    ///     .build();
    /// assert!(sts.is_ok());
    /// // Refused: the agent key token type handed to another verifier.
    /// let taken = TokenExchangeService::builder(issuer, verifier.clone())
    ///     .token_type(AGENT_KEY_TOKEN_TYPE, verifier)
    ///     .build();
    /// assert_eq!(taken.unwrap_err().reason(), "duplicate_token_type");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn agent_keys(
        mut self,
        store: Arc<dyn AgentKeyStore>,
        humans: Arc<dyn HumanDirectory>,
    ) -> Self {
        self.agent_keys = Some(AgentKeys { store, humans });
        self
    }

    /// Registers a client (its id must be unique).
    pub fn client(mut self, client: RegisteredClient) -> Self {
        self.clients.push(client);
        self
    }

    /// Who may act for whom (default [`ActingPolicy::default`]).
    pub fn acting_policy(mut self, policy: ActingPolicy) -> Self {
        self.acting = policy;
        self
    }

    /// Refuses an actor unless the subject's `may_act` names it (default: `may_act` is
    /// checked when present, and the acting policy alone decides when absent).
    pub fn require_may_act(mut self) -> Self {
        self.require_may_act = true;
        self
    }

    /// The longest delegation chain issued (default and maximum: the issuer's).
    pub fn max_delegation_depth(mut self, max: usize) -> Self {
        self.max_depth = Some(max);
        self
    }

    /// How many unexpired issued tokens are recorded (default
    /// [`DEFAULT_MAX_ISSUED_TOKENS`]); beyond, exchanges answer 503.
    pub fn max_issued_tokens(mut self, max: usize) -> Self {
        self.max_issued_tokens = max;
        self
    }

    /// Also serves the issuer's JWKS and discovery document
    /// ([`JwksService`](crate::mint::JwksService)), and names `jwks_uri` in the metadata.
    pub fn serve_jwks(mut self) -> Self {
        self.serve_jwks = true;
        self
    }

    /// Checks the settings and builds the service.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use principal::Issuer;
    /// # use tower_auth::jwt::{IssuerConfig, JwtVerifier};
    /// # use tower_auth::mint::{InternalIssuer, SigningAlgorithm, SigningKey};
    /// use tower_auth::sts::{ClientSecret, RegisteredClient, TokenExchangeService};
    ///
    /// # let issuer = InternalIssuer::builder(
    /// #     Issuer::new("https://sts.internal")?,
    /// #     SigningKey::generate(SigningAlgorithm::Es256)?,
    /// # ).build()?;
    /// # let idp = IssuerConfig::builder(Issuer::new("https://idp.example.com")?)
    /// #     .audience(principal::Audience::new("sts")?).oidc_discovery().build()?;
    /// let verifier = Arc::new(JwtVerifier::builder().issuer(idp).build()?);
    /// let client = || RegisteredClient::new("gateway", ClientSecret::new("kq3V9w2LxR7tYb5NcP8mZs4HdF6gJ1").unwrap());
    /// assert!(TokenExchangeService::builder(issuer.clone(), verifier.clone()).client(client()?).build().is_ok());
    ///
    /// // Refused: the same client twice; a chain deeper than the issuer mints.
    /// let twice = TokenExchangeService::builder(issuer.clone(), verifier.clone())
    ///     .client(client()?).client(client()?).build();
    /// assert_eq!(twice.unwrap_err().reason(), "duplicate_client");
    /// let deep = TokenExchangeService::builder(issuer.clone(), verifier.clone()).max_delegation_depth(9).build();
    /// assert_eq!(deep.unwrap_err().reason(), "depth_above_issuer");
    /// // Refused: a further token type that is not a URI, or that is taken already.
    /// let odd = TokenExchangeService::builder(issuer.clone(), verifier.clone())
    ///     .token_type("agent key", verifier.clone()).build();
    /// assert_eq!(odd.unwrap_err().reason(), "invalid_token_type");
    /// let taken = TokenExchangeService::builder(issuer, verifier.clone())
    ///     .token_type(tower_auth::sts::JWT_TOKEN_TYPE, verifier).build();
    /// assert_eq!(taken.unwrap_err().reason(), "duplicate_token_type");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build(self) -> Result<TokenExchangeService, StsConfigError> {
        let issuer_max = self.issuer.max_delegation_depth();
        let max_depth = self.max_depth.unwrap_or(issuer_max);
        if max_depth > issuer_max {
            return Err(StsConfigError::DepthAboveIssuer {
                requested: max_depth,
                issuer_max,
            });
        }
        if self.max_issued_tokens == 0 {
            return Err(StsConfigError::NoRecordEntries);
        }
        for (i, (token_type, _)) in self.token_types.iter().enumerate() {
            if !is_absolute_uri(token_type) {
                return Err(StsConfigError::InvalidTokenType);
            }
            // The agent key type is Baton's own: never handed to a verifier.
            let taken = token_type == ACCESS_TOKEN_TYPE
                || token_type == JWT_TOKEN_TYPE
                || token_type == AGENT_KEY_TOKEN_TYPE
                || self.token_types[..i].iter().any(|(t, _)| t == token_type);
            if taken {
                return Err(StsConfigError::DuplicateTokenType {
                    token_type: token_type.clone(),
                });
            }
        }
        let mut clients = Clients::default();
        for client in self.clients {
            clients.insert(client)?;
        }
        let metadata = metadata(&self.issuer, self.serve_jwks).to_string();
        Ok(TokenExchangeService {
            inner: Arc::new(Inner {
                actor_verifier: self
                    .actor_verifier
                    .unwrap_or_else(|| Arc::clone(&self.subject_verifier)),
                subject_verifier: self.subject_verifier,
                token_types: self.token_types,
                clients,
                agent_keys: self.agent_keys,
                policy: ExchangePolicy {
                    acting: self.acting,
                    require_may_act: self.require_may_act,
                    max_depth,
                },
                record: IssuedTokens::new(self.max_issued_tokens),
                serve_jwks: self.serve_jwks,
                metadata,
                issuer: self.issuer,
            }),
        })
    }
}

/// The RFC 8414 document.
fn metadata(issuer: &InternalIssuer, serve_jwks: bool) -> Value {
    let base = issuer.issuer().as_str().trim_end_matches('/');
    let auth_methods = ["client_secret_basic", "client_secret_post"];
    let mut document = json!({
        "issuer": issuer.issuer().as_str(),
        "token_endpoint": format!("{base}{TOKEN_PATH}"),
        "introspection_endpoint": format!("{base}{INTROSPECTION_PATH}"),
        "revocation_endpoint": format!("{base}{REVOCATION_PATH}"),
        "revocation_feed_endpoint": format!("{base}{REVOCATION_FEED_PATH}"),
        "grant_types_supported": [TOKEN_EXCHANGE_GRANT],
        "token_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
    });
    if serve_jwks && let Some(object) = document.as_object_mut() {
        object.insert("jwks_uri".into(), Value::from(issuer.jwks_uri()));
    }
    document
}

/// The future of [`TokenExchangeService`]: one box per request (verification may wait).
pub struct ResponseFuture {
    inner: Pin<Box<dyn Future<Output = Result<HttpResponse, Infallible>> + Send>>,
}

impl Future for ResponseFuture {
    type Output = Result<HttpResponse, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl fmt::Debug for ResponseFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResponseFuture")
    }
}

impl<B> Service<Request<B>> for TokenExchangeService
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = HttpResponse;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> ResponseFuture {
        let service = self.clone();
        ResponseFuture {
            inner: Box::pin(async move { Ok(service.respond(request).await) }),
        }
    }
}

impl TokenExchangeService {
    async fn respond<B>(&self, request: Request<B>) -> HttpResponse
    where
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let path = request.uri().path().to_owned();
        let method = request.method().clone();
        if self.inner.serve_jwks && (path == JWKS_PATH || path == DISCOVERY_PATH) {
            let mut jwks = self.inner.issuer.jwks_service();
            let (parts, _) = request.into_parts();
            let Ok(response) = jwks.call(Request::from_parts(parts, ())).await;
            return response;
        }
        let post = match path.as_str() {
            TOKEN_PATH | INTROSPECTION_PATH | REVOCATION_PATH => true,
            METADATA_PATH | REVOCATION_FEED_PATH => false,
            _ => return status(StatusCode::NOT_FOUND),
        };
        if post && method != Method::POST {
            return not_allowed("POST");
        }
        if !post && method != Method::GET && method != Method::HEAD {
            return not_allowed("GET, HEAD");
        }
        match path.as_str() {
            METADATA_PATH => json_response(
                StatusCode::OK,
                self.inner.metadata.clone(),
                "public, max-age=60",
            ),
            REVOCATION_FEED_PATH => self.feed(request.uri().query(), request.headers()),
            _ => {
                let (parts, body) = request.into_parts();
                let form = match read_form(&parts.headers, body).await {
                    Ok(form) => form,
                    Err(error) => return self.refuse(&path, None, error),
                };
                let client = match self.inner.clients.authenticate(&parts.headers, &form) {
                    Ok(client) => client,
                    Err(error) => return self.refuse(&path, None, error),
                };
                let answer = match path.as_str() {
                    TOKEN_PATH => self.exchange(client, &form).await,
                    INTROSPECTION_PATH => self.introspect(client, &form),
                    _ => self.revoke(client, &form),
                };
                answer.unwrap_or_else(|error| self.refuse(&path, Some(client.id()), error))
            }
        }
    }

    /// RFC 8693 §2: the token exchange.
    async fn exchange(
        &self,
        client: &RegisteredClient,
        form: &Form,
    ) -> Result<HttpResponse, StsError> {
        let inner = &*self.inner;
        match form.single("grant_type")? {
            None => return Err(StsError::MissingParameter { name: "grant_type" }),
            Some(TOKEN_EXCHANGE_GRANT) => {}
            Some(_) => return Err(StsError::UnsupportedGrantType),
        }
        if client.audiences().is_empty() {
            return Err(StsError::UnauthorizedClient);
        }
        let subject_token = form.required("subject_token")?;
        let subject_type = form.required("subject_token_type")?;
        let subject_check = match (&inner.agent_keys, subject_type) {
            (Some(keys), AGENT_KEY_TOKEN_TYPE) => SubjectCheck::AgentKey(keys),
            _ => SubjectCheck::Verifier(self.verifier_for(
                subject_type,
                "subject_token_type",
                &inner.subject_verifier,
            )?),
        };
        let actor_token = match (
            form.single("actor_token")?,
            form.single("actor_token_type")?,
        ) {
            (Some(token), Some(kind)) => Some((
                token,
                self.verifier_for(kind, "actor_token_type", &inner.actor_verifier)?,
            )),
            (None, None) => None,
            _ => return Err(StsError::ActorTokenTypeMismatch),
        };
        if let Some(requested) = form.single("requested_token_type")? {
            accepted_type(requested, "requested_token_type")?;
        }
        let audience = target(client, form)?;
        let scopes = form
            .single("scope")?
            .map(ScopeSet::parse)
            .transpose()
            .map_err(|_| StsError::InvalidScope)?;

        let subject = match subject_check {
            SubjectCheck::Verifier(verifier) => {
                let subject = verifier
                    .verify(&Credentials::bearer(subject_token))
                    .await
                    .map_err(|e| StsError::SubjectTokenRefused { reason: e.reason() })?;
                if self.revoked_here(subject.principal()) {
                    return Err(StsError::SubjectTokenRevoked);
                }
                subject.into_principal()
            }
            SubjectCheck::AgentKey(keys) => {
                Arc::new(self.agent_subject(keys, subject_token, client).await?)
            }
        };
        let actor = match actor_token {
            None => None,
            Some((token, verifier)) => {
                let actor = verifier
                    .verify(&Credentials::bearer(token))
                    .await
                    .map_err(|e| StsError::ActorTokenRefused { reason: e.reason() })?;
                if self.revoked_here(actor.principal()) {
                    return Err(StsError::ActorTokenRevoked);
                }
                Some(actor)
            }
        };
        let subject = &*subject;
        let actor = actor.as_ref().map(|a| a.principal());
        let result = inner
            .policy
            .decide(subject, actor, client.id(), scopes.as_ref())?;

        let now = self.now();
        if !inner.record.has_room(now) {
            return Err(StsError::RecordFull);
        }
        let token = inner.issuer.mint(&result, &audience).map_err(|e| match e {
            MintError::ScopeWidening { scope } => StsError::ScopeWidening { scope },
            MintError::DelegationTooDeep { depth, max } => {
                StsError::DelegationTooDeep { depth, max }
            }
            MintError::PrincipalExpired { .. } | MintError::PrincipalNotYetValid { .. } => {
                StsError::SubjectTokenRefused { reason: e.reason() }
            }
            _ => StsError::Internal {
                why: "the issuer could not mint",
            },
        })?;
        let claims = payload(token.as_str()).ok_or(StsError::Internal {
            why: "the minted token's claims could not be read back",
        })?;
        if !inner.record.insert(
            sha256(token.as_str().as_bytes()),
            token.jti(),
            client.id(),
            token.expires_at(),
            claims,
            now,
        ) {
            return Err(StsError::RecordFull);
        }
        tracing::info!(
            target: STS_TARGET,
            client_id = client.id(),
            principal_id = %result.id(),
            kind = result.kind().as_str(),
            actor = %result.acting(),
            chain_depth = result.delegation().len(),
            audience = audience.as_str(),
            jti = token.jti(),
            outcome = "issued",
            "sts: token exchanged"
        );
        let expires_in = token.expires_at().as_unix_seconds() - now.as_unix_seconds();
        Ok(json_response(
            StatusCode::OK,
            json!({
                "access_token": token.as_str(),
                "issued_token_type": ACCESS_TOKEN_TYPE,
                "token_type": "Bearer",
                "expires_in": expires_in,
                "scope": result.scopes().to_space_separated(),
            })
            .to_string(),
            "no-store",
        ))
    }

    /// The subject an agent key stands for: the human, as the directory knows them now,
    /// with the agent acting, holding the key's grant within the human's scopes.
    async fn agent_subject(
        &self,
        keys: &AgentKeys,
        presented: &str,
        client: &RegisteredClient,
    ) -> Result<Principal, StsError> {
        let grant = keys
            .store
            .authenticate(presented, self.now())
            .await
            .map_err(|e| {
                // The store's error names the key's public id once the form was valid,
                // never the secret: the operator sees which key was refused.
                tracing::warn!(target: STS_TARGET, client_id = client.id(), error = %e, "sts: agent key not accepted");
                if e.is_rejection() {
                    StsError::AgentKeyRefused { reason: e.reason() }
                } else {
                    StsError::AgentKeyStoreUnavailable { reason: e.reason() }
                }
            })?;
        let human = keys
            .humans
            .lookup(&grant.human)
            .await
            .map_err(|e| {
                tracing::error!(target: STS_TARGET, agent_key = %grant.key_id, error = %e, "sts: human directory failed");
                StsError::HumanDirectoryUnavailable
            })?
            .ok_or(StsError::HumanUnknown)?;
        let scopes = grant.effective_scopes(&human.scopes);
        tracing::info!(
            target: STS_TARGET,
            client_id = client.id(),
            agent_key = %grant.key_id,
            agent = %grant.agent,
            human = %grant.human,
            "sts: agent key accepted"
        );
        let issuer = self.inner.issuer.issuer().clone();
        let agent = Actor::new(grant.agent.into())
            .with_issuer(issuer.clone())
            .with_subject(grant.agent.to_string())
            .with_client_id(client.id())
            .with_grant(scopes.clone());
        let mut subject = Principal::builder(grant.human.into(), issuer, grant.human.to_string())
            .scopes(scopes)
            .roles(human.roles)
            .actor(agent)
            // No token made from the key outlives it.
            .expires_at(grant.expires_at);
        if let Some(tenant) = human.tenant {
            subject = subject.tenant(tenant);
        }
        subject
            .build()
            .map_err(|e| StsError::DelegationRefused { reason: e.reason() })
    }

    /// The verifier of a subject or actor token of `token_type`.
    fn verifier_for<'a>(
        &'a self,
        token_type: &str,
        parameter: &'static str,
        default: &'a Arc<dyn Verifier>,
    ) -> Result<&'a Arc<dyn Verifier>, StsError> {
        if token_type == ACCESS_TOKEN_TYPE || token_type == JWT_TOKEN_TYPE {
            return Ok(default);
        }
        self.inner
            .token_types
            .iter()
            .find(|(t, _)| t == token_type)
            .map(|(_, verifier)| verifier)
            .ok_or(StsError::UnsupportedTokenType { parameter })
    }

    /// Whether `principal` is a token of this service's that was revoked (whatever the
    /// configured verifier consults).
    fn revoked_here(&self, principal: &Principal) -> bool {
        principal.issuer() == self.inner.issuer.issuer()
            && principal
                .token_id()
                .is_some_and(|jti| self.inner.record.is_revoked(jti))
    }

    /// RFC 7662: active with the token's claims, or only `{"active": false}`.
    fn introspect(&self, client: &RegisteredClient, form: &Form) -> Result<HttpResponse, StsError> {
        if !client.can_introspect() {
            return Err(StsError::UnauthorizedClient);
        }
        let token = form.required("token")?;
        let _hint = form.single("token_type_hint")?;
        let body = match self
            .inner
            .record
            .lookup(&sha256(token.as_bytes()), self.now())
        {
            Lookup::Active(mut claims) => {
                claims.insert("active".into(), Value::Bool(true));
                claims.insert("token_type".into(), Value::from("Bearer"));
                Value::Object(claims)
            }
            Lookup::Inactive => json!({ "active": false }),
        };
        tracing::info!(target: STS_TARGET, client_id = client.id(), active = body["active"].as_bool(), "sts: introspection");
        Ok(json_response(StatusCode::OK, body.to_string(), "no-store"))
    }

    /// RFC 7009: 200 for a revoked or unknown token; a token of another client is refused.
    fn revoke(&self, client: &RegisteredClient, form: &Form) -> Result<HttpResponse, StsError> {
        let token = form.required("token")?;
        let _hint = form.single("token_type_hint")?;
        let outcome =
            self.inner
                .record
                .revoke_token(&sha256(token.as_bytes()), client.id(), self.now());
        tracing::info!(target: STS_TARGET, client_id = client.id(), outcome = ?outcome, "sts: revocation");
        if outcome == Revocation::OtherClient {
            return Err(StsError::NotTheTokensClient);
        }
        let mut response = status(StatusCode::OK);
        response
            .headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        Ok(response)
    }

    /// The revocation feed: `?since=<version>`, `ETag` the version, 304 when unchanged.
    fn feed(&self, query: Option<&str>, headers: &HeaderMap) -> HttpResponse {
        let mut since = 0;
        for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            if name == "since" {
                match value.parse::<u64>() {
                    Ok(v) => since = v,
                    Err(_) => {
                        return self.refuse(
                            REVOCATION_FEED_PATH,
                            None,
                            StsError::MalformedRequest {
                                why: "since is not a version",
                            },
                        );
                    }
                }
            }
        }
        let etag = self.inner.record.etag();
        if headers
            .get(IF_NONE_MATCH)
            .is_some_and(|v| v.as_bytes() == etag.as_bytes())
        {
            let mut response = status(StatusCode::NOT_MODIFIED);
            insert(&mut response, ETAG, &etag);
            return response;
        }
        let list = self.revocations_since(since);
        let etag = crate::revocation::feed_etag(&list.epoch, list.version);
        let body = serde_json::to_string(&list).unwrap_or_default();
        let mut response = json_response(StatusCode::OK, body, "no-cache");
        insert(&mut response, ETAG, &etag);
        response
    }

    /// The RFC 6749 §5.2 answer to a refusal (the [`StsError`] in its extensions), and its
    /// audit event.
    fn refuse(&self, path: &str, client_id: Option<&str>, error: StsError) -> HttpResponse {
        tracing::warn!(
            target: STS_TARGET,
            endpoint = path,
            client_id,
            outcome = "refused",
            error = error.error_code(),
            reason = error.reason(),
            "sts: request refused: {error}"
        );
        let mut response = json_response(
            error.status(),
            json!({ "error": error.error_code() }).to_string(),
            "no-store",
        );
        if error.status() == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"token\""),
            );
        }
        // The precise reason, for layers and tests in the same process; never on the wire.
        response.extensions_mut().insert(error);
        response
    }
}

/// Reads a form body of at most [`MAX_FORM_BYTES`] with the form content type.
async fn read_form<B>(headers: &HeaderMap, body: B) -> Result<Form, StsError>
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let is_form = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Err(StsError::MalformedRequest {
            why: "the body is not application/x-www-form-urlencoded",
        });
    }
    let bytes = Limited::new(body, MAX_FORM_BYTES)
        .collect()
        .await
        .map_err(|_| StsError::MalformedRequest {
            why: "the body is too large or could not be read",
        })?
        .to_bytes();
    Ok(Form::parse(&bytes))
}

/// A scheme (RFC 3986 §3.1), a colon, something; at most 256 visible ASCII characters.
fn is_absolute_uri(text: &str) -> bool {
    let scheme_ok = |scheme: &str| {
        scheme
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic())
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    };
    text.len() <= 256
        && text.bytes().all(|b| b.is_ascii_graphic())
        && text
            .split_once(':')
            .is_some_and(|(scheme, rest)| scheme_ok(scheme) && !rest.is_empty())
}

/// The token types issued: access tokens and JWTs.
fn accepted_type(value: &str, parameter: &'static str) -> Result<(), StsError> {
    match value {
        ACCESS_TOKEN_TYPE | JWT_TOKEN_TYPE => Ok(()),
        _ => Err(StsError::UnsupportedTokenType { parameter }),
    }
}

/// The one target (`audience` or `resource`), which the client may reach.
fn target(client: &RegisteredClient, form: &Form) -> Result<Audience, StsError> {
    let mut targets: Vec<&str> = form.all("audience").chain(form.all("resource")).collect();
    targets.dedup();
    let target = match targets.as_slice() {
        [] => return Err(StsError::NoTarget),
        [one] => *one,
        _ => return Err(StsError::MultipleTargets),
    };
    let audience = Audience::new(target).map_err(|_| StsError::InvalidTarget)?;
    if !client.audiences().contains(&audience) {
        return Err(StsError::TargetNotAllowed {
            audience: audience.as_str().chars().take(256).collect(),
        });
    }
    Ok(audience)
}

/// The claims of a token this service just signed.
fn payload(token: &str) -> Option<Map<String, Value>> {
    let segment = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(segment).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

fn status(status: StatusCode) -> HttpResponse {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
}

fn not_allowed(allow: &'static str) -> HttpResponse {
    let mut response = status(StatusCode::METHOD_NOT_ALLOWED);
    response
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    response
}

fn insert(response: &mut HttpResponse, name: http::HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
}

fn json_response(code: StatusCode, body: String, cache_control: &'static str) -> HttpResponse {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = code;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache_control));
    if cache_control == "no-store" {
        headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    }
    response
}

impl fmt::Debug for TokenExchangeService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenExchangeService")
            .field("issuer", &self.inner.issuer.issuer())
            .field("policy", &self.inner.policy)
            .field("serve_jwks", &self.inner.serve_jwks)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for TokenExchangeServiceBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenExchangeServiceBuilder")
            .field("issuer", &self.issuer.issuer())
            .field("clients", &self.clients.len())
            .finish_non_exhaustive()
    }
}
