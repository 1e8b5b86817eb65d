//! One session with a site server: the TLS it needs (the `ca-file` plus the CA the site
//! reported), how the agent authenticates (its certificate in `certificate` mode or when it
//! has no management server; Basic with the credential otherwise), registration, and the
//! requests that follow on the same keep-alive connection.

use acc_net::client::{ClientTls, Connection, Endpoint, Response};
use acc_proto::{AgentPolicy, SiteEndpoint};
use base64::Engine as _;
use bytes::Bytes;

use crate::identity::CertSummary;

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

impl SiteAuth {
    /// What `policy` says (a certificate when the agent has no policy).
    pub fn of(policy: Option<&AgentPolicy>) -> Result<SiteAuth, String> {
        let Some(p) = policy else { return Ok(SiteAuth::Certificate) };
        match p.auth.mode.as_str() {
            "certificate" => Ok(SiteAuth::Certificate),
            mode => match (&p.auth.user_name, &p.auth.password) {
                (Some(u), Some(pw)) => Ok(SiteAuth::Password { user: u.clone(), password: pw.clone() }),
                _ => Err(format!("policy revision {} ({mode} mode) carries no credential", p.revision)),
            },
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
    auth: SiteAuth,
    host: String,
    agent_id: String,
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
    /// Connects to `site` (through `proxy` when given): TLS trusting `ca_pem` and the
    /// site's own CA, presenting the identity in `tls_identity` when the auth is a certificate.
    pub async fn open(
        site: &SiteEndpoint,
        ca_pem: &[u8],
        identity: Option<(&[u8], &[u8])>,
        auth: SiteAuth,
        host: &str,
        agent_id: &str,
        proxy: Option<std::sync::Arc<acc_net::proxy::Proxy>>,
    ) -> Result<SiteSession, String> {
        let mut trust = ca_pem.to_vec();
        if let Some(extra) = &site.ca_pem {
            trust.push(b'\n');
            trust.extend_from_slice(extra.as_bytes());
        }
        let identity = if auth == SiteAuth::Certificate { identity } else { None };
        let tls = ClientTls::new(&trust, identity).map_err(|e| e.to_string())?.via(proxy);
        let endpoint = Endpoint::parse(&site.url).map_err(|e| e.to_string())?;
        let conn = Connection::open(&tls, &endpoint).await.map_err(|e| e.to_string())?;
        Ok(SiteSession {
            conn,
            url: site.url.clone(),
            auth,
            host: host.to_string(),
            agent_id: agent_id.to_string(),
        })
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
    ) -> Result<Response, String> {
        self.request(method, path, &[], body).await
    }

    /// A request without a body and with extra headers (`Range`).
    pub async fn send_with(
        &mut self,
        method: &str,
        path: &str,
        extra: &[(&str, &str)],
    ) -> Result<Response, String> {
        self.request(method, path, extra, None).await
    }

    async fn request(
        &mut self,
        method: &str,
        path: &str,
        extra: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Result<Response, String> {
        let auth = self.auth.header();
        let mut headers: Vec<(&str, &str)> =
            vec![("acc-agent-host", &self.host), ("acc-agent-id", &self.agent_id)];
        headers.extend_from_slice(extra);
        if let Some(a) = &auth {
            headers.push(("authorization", a));
        }
        if body.is_some() {
            headers.push(("content-type", "application/json"));
        }
        self.conn
            .send(method, path, &headers, body.map(Bytes::from).unwrap_or_default())
            .await
            .map_err(|e| e.to_string())
    }

    /// `POST /v1/register`.
    pub async fn register(&mut self, version: &str) -> Result<Response, String> {
        let body = serde_json::json!({
            "agent_id": self.agent_id, "host": self.host, "os": std::env::consts::OS, "version": version,
        });
        self.send("POST", "/v1/register", Some(body.to_string().into_bytes())).await
    }
}
