//! One session with a site server, over the client TLS the agent keeps for it (the
//! `ca-file` plus the CA the site reported): how the agent authenticates (its certificate
//! in `certificate` mode or when it has no management server; Basic with the credential
//! otherwise), registration (which binds the agent id to the agent: the site answers a
//! token that every later request presents as `Acc-Agent-Token`), and the requests that
//! follow on the same keep-alive connection. [`SiteFailure`] says how a try ended:
//! unreachable, refused (with the status and the site's reason) or held back by the retry
//! budget.

use acc_net::client::{ClientError, ClientTls, Connection, Endpoint, Response};
use acc_proto::agent_site::{
    ErrorBody, ErrorCode, HEADER_AGENT_HOST, HEADER_AGENT_ID, HEADER_AGENT_TOKEN, Registration,
};
use acc_proto::{AgentPolicy, AuthMode, SiteEndpoint};
use base64::Engine as _;
use bytes::Bytes;

use crate::identity::CertSummary;

/// How a try with a site server ended, when it did not work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SiteFailure {
    /// No answer: the connection, TLS or the request failed.
    Unreachable(String),
    /// The site answered and refused.
    Refused {
        /// The status as HTTP says it (`403 Forbidden`).
        status: String,
        /// The refusal's code.
        code: ErrorCode,
        /// The site's reason.
        message: String,
    },
    /// The agent held back (the retry budget says wait, or a new policy is awaited).
    Held(String),
}

impl std::fmt::Display for SiteFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SiteFailure::Unreachable(e) => write!(f, "unreachable: {e}"),
            SiteFailure::Refused { status, message, .. } => write!(f, "refused with {status}: {message}"),
            SiteFailure::Held(why) => f.write_str(why),
        }
    }
}

impl SiteFailure {
    /// The refusal of an answer that is not a success.
    pub fn refused(resp: &Response) -> SiteFailure {
        let body = ErrorBody::parse(&resp.body);
        SiteFailure::Refused {
            status: resp.status.to_string(),
            code: body.as_ref().map_or(ErrorCode::Other, |b| b.error),
            message: body.map_or_else(|| crate::run::message(&resp.body), |b| b.message),
        }
    }

    /// Whether the site answered and refused.
    pub fn is_refusal(&self) -> bool {
        matches!(self, SiteFailure::Refused { .. })
    }
}

/// How the agent proves who it is to a site server.
#[derive(Clone, PartialEq, Eq)]
pub enum SiteAuth {
    /// Its client certificate.
    Certificate,
    /// HTTP Basic with a user name and password.
    Password {
        /// The user name (`ACC_user`, `CORP\svc_acc_app`).
        user: String,
        /// The password.
        password: String,
    },
}

impl std::fmt::Debug for SiteAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SiteAuth::Certificate => f.write_str("Certificate"),
            SiteAuth::Password { user, .. } => write!(f, "Password({user})"),
        }
    }
}

/// A policy revision in a password mode that carries no credential.
#[derive(Debug, thiserror::Error)]
#[error("policy revision {revision} ({mode} mode) carries no credential")]
pub struct NoCredential {
    /// The revision.
    pub revision: i64,
    /// Its mode.
    pub mode: AuthMode,
}

impl SiteAuth {
    /// What `policy` says (a certificate when the agent has no policy).
    pub fn of(policy: Option<&AgentPolicy>) -> Result<SiteAuth, NoCredential> {
        let Some(p) = policy else { return Ok(SiteAuth::Certificate) };
        match p.auth.mode {
            AuthMode::Certificate => Ok(SiteAuth::Certificate),
            mode @ (AuthMode::Application | AuthMode::Credential) => {
                match (&p.auth.user_name, &p.auth.password) {
                    (Some(u), Some(pw)) => Ok(SiteAuth::Password { user: u.clone(), password: pw.clone() }),
                    _ => Err(NoCredential { revision: p.revision, mode }),
                }
            }
        }
    }

    /// A fingerprint of the secret (0 for a certificate), for the retry budget.
    pub fn fingerprint(&self) -> u64 {
        match self {
            SiteAuth::Certificate => 0,
            SiteAuth::Password { password, .. } => crate::budget::fingerprint(password),
        }
    }

    /// The `Authorization` header value, if any.
    fn header(&self) -> Option<String> {
        match self {
            SiteAuth::Certificate => None,
            SiteAuth::Password { user, password } => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            )),
        }
    }
}

/// The site servers to use, in order: the configured override, else the policy's.
pub fn site_list(configured: &[Endpoint], policy: Option<&AgentPolicy>) -> Vec<SiteEndpoint> {
    if !configured.is_empty() {
        return configured
            .iter()
            .map(|e| SiteEndpoint { name: e.host().to_string(), url: e.to_string(), ca_pem: None })
            .collect();
    }
    policy.map(|p| p.site_servers.clone()).unwrap_or_default()
}

/// An open, authenticated-per-request connection to one site server.
pub struct SiteSession {
    conn: Connection,
    /// The site's URL.
    pub url: String,
    /// The site's name in the agent's list (its URL's host when configured by hand).
    pub name: String,
    auth: SiteAuth,
    host: String,
    agent_id: String,
    /// The agent's token for its id at this site, once known.
    token: Option<String>,
}

/// The log line of a connection: how it was made.
pub fn connection_line(url: &str, protocol: &str, auth: &SiteAuth, cert: Option<&CertSummary>) -> String {
    match (auth, cert) {
        (SiteAuth::Certificate, Some(c)) => format!(
            "connected to {url} using {protocol}, client certificate {} (issuer {})",
            c.subject_cn, c.issuer_cn
        ),
        (SiteAuth::Certificate, None) => format!("connected to {url} using {protocol}"),
        (SiteAuth::Password { user, .. }, _) => format!("connected to {url} using {protocol} as {user}"),
    }
}

impl SiteSession {
    /// Connects to `site` with `tls` (the site's client TLS, with its proxy).
    pub async fn open(
        site: &SiteEndpoint,
        tls: &ClientTls,
        auth: SiteAuth,
        host: &str,
        agent_id: &str,
        token: Option<String>,
    ) -> Result<SiteSession, SiteFailure> {
        let unreachable = |e: &dyn std::fmt::Display| SiteFailure::Unreachable(e.to_string());
        let endpoint = Endpoint::parse(&site.url).map_err(|e| unreachable(&e))?;
        let conn = Connection::open(tls, &endpoint).await.map_err(|e| unreachable(&e))?;
        Ok(SiteSession {
            conn,
            url: site.url.clone(),
            name: site.name.clone(),
            auth,
            host: host.to_string(),
            agent_id: agent_id.to_string(),
            token,
        })
    }

    /// The agent's token at this site, once known.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Uses `token` from now on (the one a registration answered).
    pub fn set_token(&mut self, token: String) {
        self.token = Some(token);
    }

    /// The negotiated protocol (`TLS 1.3`).
    pub fn protocol(&self) -> &str {
        &self.conn.protocol
    }

    /// The auth in use.
    pub fn auth(&self) -> &SiteAuth {
        &self.auth
    }

    /// One request with the agent's headers and credential.
    pub async fn send(
        &mut self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Response, ClientError> {
        self.request(method, path, &[], body).await
    }

    /// A request without a body and with extra headers (`Range`).
    pub async fn send_with(
        &mut self,
        method: &str,
        path: &str,
        extra: &[(&str, &str)],
    ) -> Result<Response, ClientError> {
        self.request(method, path, extra, None).await
    }

    async fn request(
        &mut self,
        method: &str,
        path: &str,
        extra: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Result<Response, ClientError> {
        let auth = self.auth.header();
        let mut headers: Vec<(&str, &str)> =
            vec![(HEADER_AGENT_HOST, &self.host), (HEADER_AGENT_ID, &self.agent_id)];
        if let Some(t) = &self.token {
            headers.push((HEADER_AGENT_TOKEN, t));
        }
        headers.extend_from_slice(extra);
        if let Some(a) = &auth {
            headers.push(("authorization", a));
        }
        if body.is_some() {
            headers.push(("content-type", "application/json"));
        }
        self.conn.send(method, path, &headers, body.map(Bytes::from).unwrap_or_default()).await
    }

    /// `POST /v1/register`, presenting the token the agent holds for this site, if any.
    pub async fn register(&mut self, version: &str) -> Result<Response, ClientError> {
        let body = Registration {
            agent_id: self.agent_id.clone(),
            host: self.host.clone(),
            os: std::env::consts::OS.to_string(),
            version: version.to_string(),
        };
        self.send("POST", "/v1/register", Some(serde_json::to_vec(&body).unwrap_or_default())).await
    }
}
