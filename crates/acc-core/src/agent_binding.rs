//! Agent identities on a site server: which caller may act for an agent id.
//!
//! An agent id belongs to the agent that registered it. The first registration of an id
//! binds it: to a per-agent token the site answers (`agent_token`, kept by the site only
//! as its SHA-256) and, when the agent registered over a client certificate, to that
//! certificate's identity (issuer and subject). Every later request naming the id (its
//! tasks, results, downloads) must present the token or that certificate; so must a
//! registration again. An operator releases an id (`acc site agents forget ID`); the next
//! registration then binds it anew.
//!
//! Ids registered before bindings existed are [`Binding::Legacy`]: the first registration
//! after the upgrade binds them. For one registered over a certificate, only a certificate
//! with the same common name (the only identity such a registration recorded) may do so.
//!
//! Pure: the site hashes the presented token, reads the verified certificate, stores the
//! binding and answers; this module only decides.

use serde::{Deserialize, Serialize};

/// The identity of a verified client certificate, as far as an agent id is bound to it:
/// the issuer and the subject (one line each, openssl style). A renewed or re-issued
/// certificate from the same CA for the same subject is the same identity; a certificate
/// from another CA with the same subject is not.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CertificateIdentity {
    /// The issuer's distinguished name.
    pub issuer: String,
    /// The subject's distinguished name.
    pub subject: String,
    /// The subject's common name (what legacy registrations recorded).
    pub cn: String,
}

/// What an id is bound to on a site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Binding {
    /// Registered before agent ids were bound; the next registration binds it (one
    /// registered over a certificate: only by a certificate with this common name).
    Legacy {
        /// The CN of the certificate it registered with, if it did.
        certificate_cn: Option<String>,
    },
    /// Bound to a token and possibly a certificate.
    Bound {
        /// SHA-256 of the agent's token.
        token_sha256: [u8; 32],
        /// The certificate it registered with, if any.
        certificate: Option<CertificateIdentity>,
    },
}

/// What a request presents to claim an id.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Proof<'a> {
    /// SHA-256 of the `Acc-Agent-Token` presented, if any.
    pub token_sha256: Option<[u8; 32]>,
    /// The connection's verified client certificate, if any.
    pub certificate: Option<&'a CertificateIdentity>,
}

impl Binding {
    /// Whether `proof` carries this binding's token or certificate.
    fn proven_by(&self, proof: &Proof<'_>) -> bool {
        match self {
            Binding::Legacy { .. } => false,
            Binding::Bound { token_sha256, certificate } => {
                proof.token_sha256.as_ref() == Some(token_sha256)
                    || certificate.as_ref().is_some_and(|c| proof.certificate == Some(c))
            }
        }
    }

    /// How an operator sees it: `token`, `certificate (ISSUER → SUBJECT)`, `unbound …`.
    pub fn describe(&self) -> String {
        match self {
            Binding::Legacy { certificate_cn: Some(cn) } => {
                format!("unbound (registered before binding; the next registration with CN={cn} binds it)")
            }
            Binding::Legacy { certificate_cn: None } => {
                "unbound (registered before binding; the next registration binds it)".to_string()
            }
            Binding::Bound { certificate: Some(c), .. } => {
                format!("token and certificate ({} issued by {})", c.subject, c.issuer)
            }
            Binding::Bound { certificate: None, .. } => "token".to_string(),
        }
    }
}

/// Whether a request with `proof` may act for an id bound as `binding` (`None`: the id
/// is not registered here). Refused unless the id is bound and the proof carries its
/// token or its certificate: an unregistered, forgotten or legacy id must register first.
pub fn may_act(binding: Option<&Binding>, proof: &Proof<'_>) -> bool {
    binding.is_some_and(|b| b.proven_by(proof))
}

/// What a registration does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registration {
    /// Binds the id to a new token (and the certificate presented, if any): the id was
    /// free (new, forgotten, legacy) or its certificate proved it without its token.
    Issue,
    /// The presented token is the id's: it stays, and the certificate presented (if any)
    /// is bound too.
    Keep,
    /// The id belongs to another agent: neither its token nor its certificate was
    /// presented.
    Refuse,
}

/// Decides a registration of an id bound as `binding` (`None`: not registered here).
pub fn register(binding: Option<&Binding>, proof: &Proof<'_>) -> Registration {
    match binding {
        None | Some(Binding::Legacy { certificate_cn: None }) => Registration::Issue,
        Some(Binding::Legacy { certificate_cn: Some(cn) }) => {
            if proof.certificate.is_some_and(|c| &c.cn == cn) {
                Registration::Issue
            } else {
                Registration::Refuse
            }
        }
        Some(b @ Binding::Bound { token_sha256, .. }) => {
            if proof.token_sha256.as_ref() == Some(token_sha256) {
                Registration::Keep
            } else if b.proven_by(proof) {
                Registration::Issue
            } else {
                Registration::Refuse
            }
        }
    }
}

/// The binding after an accepted registration: `new_token_sha256` is the hash of the
/// token answered when the decision was [`Registration::Issue`].
pub fn bound_after(
    binding: Option<&Binding>,
    decision: &Registration,
    proof: &Proof<'_>,
    new_token_sha256: [u8; 32],
) -> Option<Binding> {
    match (decision, binding) {
        (Registration::Refuse, _) => None,
        (Registration::Issue, _) => {
            Some(Binding::Bound { token_sha256: new_token_sha256, certificate: proof.certificate.cloned() })
        }
        (Registration::Keep, Some(Binding::Bound { token_sha256, certificate })) => Some(Binding::Bound {
            token_sha256: *token_sha256,
            certificate: proof.certificate.cloned().or_else(|| certificate.clone()),
        }),
        // Keep is only decided for a bound id.
        (Registration::Keep, _) => None,
    }
}

#[cfg(test)]
mod tests;
