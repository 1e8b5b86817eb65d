//! Joining: the join token `acc ctl site-token create` prints (and `acc ctl enroll-token
//! create` for agents, `acc ctl node-token create` for management server nodes),
//! `POST /v1/sites/join`, `POST /v1/agent/enroll` and `POST /v1/nodes/join`.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// Prefix of a join token's text.
const JOIN_PREFIX: &str = "accjoin1.";

/// A site server join token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct JoinToken {
    /// The management server's URL (the node that made the token).
    pub url: String,
    /// Every management server node, in the order to try them (absent from an older
    /// server's token: `url` alone).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    /// SHA-256 of the fleet CA certificate (DER), lower-case hex.
    pub ca_sha256: String,
    /// The secret the server checks (only its digest is stored there).
    pub secret: String,
    /// What it joins.
    #[serde(default)]
    pub kind: TokenKind,
}

/// What a join token joins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    /// A site server (`acc site join`); a token without a kind is one.
    #[default]
    Site,
    /// An agent (`acc agent enroll`).
    Agent,
    /// A management server node (`acc server join`, with `acc ctl node-token create`).
    Node,
}

impl TokenKind {
    /// `site`, `agent` or `node`.
    pub const fn as_str(self) -> &'static str {
        match self {
            TokenKind::Site => "site",
            TokenKind::Agent => "agent",
            TokenKind::Node => "node",
        }
    }
}

impl std::fmt::Display for TokenKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for JoinToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinToken")
            .field("url", &self.url)
            .field("urls", &self.urls)
            .field("ca_sha256", &self.ca_sha256)
            .finish_non_exhaustive()
    }
}

/// A join token that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("join token: {0}; copy the whole line that `acc ctl site-token create` printed")]
pub struct TokenError(String);

impl JoinToken {
    /// The token's text: `accjoin1.` + base64url(JSON).
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        format!("{JOIN_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json))
    }

    /// Reads a token's text.
    pub fn decode(text: &str) -> Result<JoinToken, TokenError> {
        let body = text
            .trim()
            .strip_prefix(JOIN_PREFIX)
            .ok_or_else(|| TokenError("it does not start with 'accjoin1.'".into()))?;
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| TokenError("it is not base64url after 'accjoin1.' (truncated?)".into()))?;
        let token: JoinToken =
            serde_json::from_slice(&json).map_err(|_| TokenError("its content is damaged".into()))?;
        let hex_ok = token.ca_sha256.len() == 64 && token.ca_sha256.bytes().all(|b| b.is_ascii_hexdigit());
        let urls_ok = token.urls.iter().all(|u| u.starts_with("https://"));
        if !hex_ok || !urls_ok || !token.url.starts_with("https://") || token.secret.is_empty() {
            return Err(TokenError("its content is damaged".into()));
        }
        Ok(token)
    }

    /// The management server nodes to try, in order: `urls`, or `url` alone from an
    /// older server's token.
    pub fn nodes(&self) -> Vec<String> {
        if self.urls.is_empty() { vec![self.url.clone()] } else { self.urls.clone() }
    }
}

/// `POST /v1/sites/join`.
#[derive(Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinRequest {
    /// The token's secret.
    pub secret: String,
    /// The site server's name (its certificate's CN).
    pub name: String,
    /// Where agents reach the site (`https://host:port`).
    pub url: String,
    /// A PKCS#10 request (PEM) for the site's client key; the server sets the subject.
    pub csr_pem: String,
    /// A deliberate re-join: replace the site already joined under this name (its
    /// certificate is then refused). Without it, a name in use is refused.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub replace: bool,
}

impl std::fmt::Debug for JoinRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinRequest")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("replace", &self.replace)
            .finish_non_exhaustive()
    }
}

/// The answer to a join.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct JoinResponse {
    /// The site's client certificate (PEM), from the fleet CA.
    pub certificate_pem: String,
    /// The fleet CA certificate (PEM).
    pub ca_pem: String,
    /// The site this join replaced (a deliberate re-join), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced: Option<ReplacedSite>,
}

/// A joined site that a deliberate re-join under its name replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ReplacedSite {
    /// Where agents reached it.
    pub url: String,
    /// When it joined (Unix milliseconds).
    pub joined_at_ms: i64,
    /// Its client certificate's serial (upper-case hex), refused from now on.
    pub serial_hex: String,
}

/// `POST /v1/agent/enroll`.
#[derive(Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    /// The enrollment token's secret.
    pub secret: String,
    /// The agent's host name (its certificate's CN).
    pub host_name: String,
    /// A PKCS#10 request (PEM) for the agent's key; the server sets the subject.
    pub csr_pem: String,
}

impl std::fmt::Debug for EnrollRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrollRequest").field("host_name", &self.host_name).finish_non_exhaustive()
    }
}

/// `POST /v1/nodes/join`: a new management server node (`acc server join`).
#[derive(Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeJoinRequest {
    /// The node token's secret.
    pub secret: String,
    /// The node's name (its `server.json` name).
    pub name: String,
    /// Where sites, agents and `acc ctl` reach the node (`https://host:port`).
    pub url: String,
}

impl std::fmt::Debug for NodeJoinRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeJoinRequest")
            .field("name", &self.name)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// The answer to a node join: a [`NodeBundle`] as JSON, sealed (AES-256-GCM) under a key
/// derived with HKDF-SHA256 from the node token's secret, so only the holder of the
/// token opens it, whatever sees inside the TLS connection.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NodeJoinResponse {
    /// The sealed bundle, base64 (standard alphabet): nonce, ciphertext and tag.
    pub sealed_bundle: String,
}

/// What a new node needs to serve the same fleet: the vault's master key, the fleet CA and
/// the shared fields of `server.json` (the database without any password).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeBundle {
    /// The vault's master key (32 bytes), base64.
    pub vault_key: String,
    /// The fleet CA certificate (PEM).
    pub ca_cert_pem: String,
    /// The fleet CA key (PKCS#8 PEM).
    pub ca_key_pem: String,
    /// The directory's NetBIOS name.
    pub domain: String,
    /// The directory's DNS name.
    pub dns_domain: String,
    /// The App ID's account name.
    pub app_id: String,
    /// The organisation's name (empty: unset).
    pub organisation: String,
    /// The PostgreSQL database (`postgres://USER@HOST/DB…`, never with a password).
    pub database_url: String,
    /// The cap on unauthenticated connections per address, if set.
    pub max_unauthenticated_per_address: Option<usize>,
}

impl std::fmt::Debug for NodeBundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeBundle")
            .field("domain", &self.domain)
            .field("app_id", &self.app_id)
            .field("database_url", &self.database_url)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_tokens_round_trip_and_damage_is_named() {
        let t = JoinToken {
            url: "https://127.0.0.1:8443".into(),
            urls: vec!["https://127.0.0.1:8443".into(), "https://10.0.0.2:8443".into()],
            ca_sha256: "ab".repeat(32),
            secret: "s3cret".into(),
            kind: TokenKind::Agent,
        };
        let text = t.encode();
        assert!(text.starts_with("accjoin1.") && !text.contains(' '));
        assert_eq!(JoinToken::decode(&format!(" {text}\n")).unwrap(), t);
        assert!(!format!("{t:?}").contains("s3cret"));
        let node = JoinToken { kind: TokenKind::Node, ..t.clone() };
        assert_eq!(JoinToken::decode(&node.encode()).unwrap().kind, TokenKind::Node);
        assert_eq!(serde_json::to_value(TokenKind::Node).unwrap(), "node");
        assert_eq!(JoinToken::decode(&text).unwrap().nodes(), t.urls);
        for bad in ["", "accjoin1.", "accjoin1.!!", &text[..text.len() - 6], "joinme"] {
            let e = JoinToken::decode(bad).unwrap_err().to_string();
            assert!(e.starts_with("join token: ") && e.contains("acc ctl site-token create"), "{e}");
        }
    }

    #[test]
    fn an_older_token_without_the_node_list_names_its_one_node() {
        let json = format!(r#"{{"url":"https://a:1","ca_sha256":"{}","secret":"s"}}"#, "cd".repeat(32));
        let text = format!("accjoin1.{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json));
        let t = JoinToken::decode(&text).unwrap();
        assert_eq!((t.nodes(), t.kind), (vec!["https://a:1".to_string()], TokenKind::Site));
        let bad = JoinToken { urls: vec!["http://b:2".into()], ..t };
        assert!(JoinToken::decode(&bad.encode()).unwrap_err().to_string().contains("damaged"));
    }
}
