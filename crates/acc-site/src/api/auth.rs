//! Who is calling: every request authenticates, with HTTP Basic (a local account, through
//! the lockout engine) or with the client certificate the TLS layer verified.
//! Agents name themselves with `Acc-Agent-Host` (the `CallerComputerName` of 4625/4740,
//! so `acc site events --id 4740` finds the culprit machine) and `Acc-Agent-Id`; a request
//! naming an id must also prove it is that agent's ([`acting_agent`]): its
//! `Acc-Agent-Token`, or the certificate the id was registered with.

use acc_core::agent_binding::CertificateIdentity;
use acc_core::lockout::Source;
use acc_proto::agent_site::{ErrorCode, HEADER_AGENT_TOKEN};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::ApiPeer;
use super::error::ApiError;
use super::field::check_field;
use super::principal::Principal;
use super::session::{self, Presented};
use crate::agents::{Claim, NotBound};
use crate::site::Site;

pub use acc_proto::agent_site::{HEADER_AGENT_HOST, HEADER_AGENT_ID};

/// The TLS-level facts the transport hands to the API.
#[derive(Debug, Clone)]
pub enum TlsIdentity {
    /// No client certificate.
    Anonymous,
    /// A verified client certificate with its common name.
    Certificate {
        /// The subject's common name, if it has one.
        cn: Option<String>,
        /// The subject on one line.
        subject: String,
        /// The issuer on one line.
        issuer: String,
    },
}

impl TlsIdentity {
    /// The identity an agent id is bound to when registered over this certificate.
    pub fn certificate_identity(&self) -> Option<CertificateIdentity> {
        match self {
            TlsIdentity::Certificate { cn: Some(cn), subject, issuer } => {
                Some(CertificateIdentity { issuer: issuer.clone(), subject: subject.clone(), cn: cn.clone() })
            }
            _ => None,
        }
    }
}

/// The `Acc-Agent-Token` presented, if any.
pub fn agent_token(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    headers
        .get(HEADER_AGENT_TOKEN)
        .map(|v| v.to_str().map_err(|_| ApiError::malformed("the Acc-Agent-Token header is not ASCII")))
        .transpose()
}

/// The agent id a request names (`Acc-Agent-Id`), checked like a registration field.
pub fn named_agent(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(HEADER_AGENT_ID) else { return Ok(None) };
    let id = std::str::from_utf8(value.as_bytes())
        .map_err(|_| ApiError::malformed("the Acc-Agent-Id header is not UTF-8"))?;
    check_field("Acc-Agent-Id", id)?;
    Ok(Some(id.to_string()))
}

/// What a request presents to claim an agent id: its `Acc-Agent-Token` (hashed) and the
/// connection's certificate.
pub fn claim(headers: &HeaderMap, peer: &ApiPeer) -> Result<Claim, ApiError> {
    Ok(Claim {
        token_sha256: agent_token(headers)?.map(crate::agents::token_sha256),
        certificate: peer.tls.certificate_identity(),
    })
}

/// The agent a request acts for: `None` when it names none (a download by hand); the id
/// and the request's claim when the request proves it is that agent's (its token, or the
/// certificate it registered with). Otherwise 403 `agent_not_bound` ([`not_bound`]).
pub fn acting_agent(
    site: &Site,
    headers: &HeaderMap,
    peer: &ApiPeer,
) -> Result<Option<(String, Claim)>, ApiError> {
    let Some(id) = named_agent(headers)? else { return Ok(None) };
    let claim = claim(headers, peer)?;
    site.check_claim(&id, &claim).map_err(not_bound)?;
    Ok(Some((id, claim)))
}

/// 403 `agent_not_bound`, saying nothing about the id's tasks or whether it is registered
/// here: the agent registers (again) and retries.
pub fn not_bound(e: NotBound) -> ApiError {
    ApiError::new(axum::http::StatusCode::FORBIDDEN, ErrorCode::AgentNotBound.as_str(), e.to_string())
}

/// The agent's host name as reported (empty when absent).
pub fn agent_host(headers: &HeaderMap) -> String {
    headers.get(HEADER_AGENT_HOST).and_then(|v| v.to_str().ok()).unwrap_or("").to_string()
}

/// Parses `Authorization: Basic …` into (user, password); `Ok(None)` when absent.
pub fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, ApiError> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = |why: &str| ApiError::malformed(format!("malformed Authorization header: {why}"));
    let text = value.to_str().map_err(|_| bad("not ASCII"))?;
    if !text.trim_start().contains([' ', '\t']) {
        return Err(bad("expected 'Basic <base64>'"));
    }
    let rest = acc_proto::authorization::credentials(text, "Basic")
        .ok_or_else(|| bad("only the Basic scheme is accepted"))?;
    let decoded = STANDARD.decode(rest).map_err(|_| bad("the credentials are not valid base64"))?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad("the credentials are not UTF-8"))?;
    let (user, password) = decoded.split_once(':').ok_or_else(|| bad("expected user:password"))?;
    if user.is_empty() {
        return Err(bad("the user name is empty"));
    }
    Ok(Some((user.to_string(), password.to_string())))
}

/// Authenticates one request: reuses the connection's logon session when the same
/// credential is presented again (see [`super::session`]), otherwise logs on afresh. A
/// connection with an authenticated request leaves the listener's count of its address's
/// unauthenticated connections (see `acc_net::Admission`).
pub async fn authenticate(site: &Site, headers: &HeaderMap, peer: &ApiPeer) -> Result<Principal, ApiError> {
    let principal = logon(site, headers, peer).await?;
    peer.admission.authenticated();
    Ok(principal)
}

async fn logon(site: &Site, headers: &HeaderMap, peer: &ApiPeer) -> Result<Principal, ApiError> {
    let host = agent_host(headers);
    let epoch = site.session_epoch();
    if let TlsIdentity::Certificate { cn, subject, .. } = &peer.tls {
        let Some(cn) = cn else {
            return Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "access_denied",
                format!(
                    "client certificate '{subject}' has no common name (CN), which acc uses as the agent's identity"
                ),
            ));
        };
        let presented = Presented::certificate(cn, &host);
        if let Some(principal) = session::reuse(site, &peer.session, &presented) {
            return Ok(principal);
        }
        // Durable before the response (the API's layer waits), without a wait of its own.
        peer.durability.defer(site.certificate_logon(cn, peer.remote, &host));
        let principal = Principal::Certificate { cn: cn.clone() };
        session::remember(&peer.session, &principal, presented, epoch);
        return Ok(principal);
    }
    let Some((user, password)) = basic_credentials(headers)? else {
        return Err(ApiError::new(
            axum::http::StatusCode::UNAUTHORIZED,
            "authentication_required",
            "authenticate with HTTP Basic (the Agent Connectivity Credential) or a client certificate",
        ));
    };
    let presented = Presented::password(site, &user, &password, &host);
    if let Some(principal) = session::reuse(site, &peer.session, &presented) {
        return Ok(principal);
    }
    let source = Source::new(peer.remote.ip(), &host);
    let result = site.authenticate(&user, &password, source, peer.remote.port()).await.map_err(|e| {
        tracing::error!(error = %e, "Authentication could not be recorded.");
        ApiError::internal("the site server could not record the logon; retry later")
    })?;
    if let Some(err) = ApiError::from_outcome(result.outcome, &user) {
        session::forget(&peer.session);
        return Err(err);
    }
    let principal = Principal::Account {
        name: result.account.unwrap_or(user),
        policy_stale: result.outcome.policy_stale(),
    };
    session::remember(&peer.session, &principal, presented, epoch);
    Ok(principal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_auth(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn basic_headers_are_parsed_strictly() {
        let good = with_auth(&format!("Basic {}", STANDARD.encode("ACC_user:p:w")));
        assert_eq!(basic_credentials(&good).unwrap(), Some(("ACC_user".into(), "p:w".into())));
        assert_eq!(basic_credentials(&HeaderMap::new()).unwrap(), None);
        let lower = with_auth(&format!("basic {}", STANDARD.encode("ACC_user:pw")));
        assert_eq!(basic_credentials(&lower).unwrap(), Some(("ACC_user".into(), "pw".into())), "any case");
        for bad in [
            "Basic",
            "Bearer abc",
            "Basic !!!",
            &format!("Basic {}", STANDARD.encode("nocolon")),
            &format!("Basic {}", STANDARD.encode(":pw")),
            &format!("Basic {}", STANDARD.encode([0xff, b':', b'x'])),
        ] {
            let err = basic_credentials(&with_auth(bad)).unwrap_err();
            assert_eq!(err.status, axum::http::StatusCode::BAD_REQUEST, "{bad}");
            assert!(err.message.starts_with("malformed Authorization header"), "{bad}");
        }
    }
}
