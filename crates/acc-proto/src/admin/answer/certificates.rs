//! The certificates the fleet CA issued (`GET /v1/certificates`) and whom each was issued
//! to ([`CertificateKind`]).

use serde::{Deserialize, Serialize};

/// Whom a fleet certificate was issued to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CertificateKind {
    /// A site server.
    Site,
    /// An agent.
    Agent,
}

/// A word that is not a [`CertificateKind`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("certificate kind '{0}' is not site or agent")]
pub struct UnknownCertificateKind(pub String);

impl std::str::FromStr for CertificateKind {
    type Err = UnknownCertificateKind;

    /// `site` or `agent`; the error names the word.
    fn from_str(s: &str) -> Result<CertificateKind, UnknownCertificateKind> {
        match s {
            "site" => Ok(CertificateKind::Site),
            "agent" => Ok(CertificateKind::Agent),
            _ => Err(UnknownCertificateKind(s.to_string())),
        }
    }
}

impl CertificateKind {
    /// The word on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            CertificateKind::Site => "site",
            CertificateKind::Agent => "agent",
        }
    }
}

/// One certificate the fleet CA issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CertificateView {
    /// Serial, upper-case hex.
    pub serial: String,
    /// A site server's or an agent's.
    pub kind: CertificateKind,
    /// The site's or agent's name (the CN).
    pub name: String,
    /// The subject on one line.
    pub subject: String,
    /// Unix milliseconds.
    pub issued_at: i64,
    /// Unix milliseconds.
    pub not_after: i64,
    /// When it was revoked (Unix milliseconds).
    pub revoked_at: Option<i64>,
}

/// `GET /v1/certificates`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CertificateList {
    /// Every certificate the fleet CA issued.
    pub certificates: Vec<CertificateView>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_kind_is_parsed_from_its_word() {
        assert_eq!("site".parse::<CertificateKind>(), Ok(CertificateKind::Site));
        assert!("ca".parse::<CertificateKind>().unwrap_err().to_string().contains("'ca'"));
    }
}
