//! Who is on the other end of a connection: the identity the TLS handshake established
//! (none, a verified client certificate, or a refused one with the reason), plus the
//! address and the negotiated protocol. The listener puts one [`PeerInfo`] (as
//! `Arc<PeerInfo>`) into the extensions of every request it passes on; deciding what
//! an identity may do (passwords, accounts, lockout) belongs to the site server, which may
//! keep per-connection state (its logon session) in the [`SessionSlot`].

use std::any::Any;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use time::OffsetDateTime;

pub use crate::admission::Admission;

/// Why a client certificate was refused, in the words an operator acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RejectReason {
    /// Past its notAfter.
    Expired,
    /// Before its notBefore (a clock is wrong, or it was issued for later).
    NotYetValid,
    /// Listed on a CRL of its CA.
    Revoked,
    /// Not issued by any client CA this server trusts.
    UnknownIssuer,
    /// A CA certificate (basicConstraints CA:TRUE) presented as the client's own: what a
    /// self-signed certificate made with `openssl req -x509` is.
    CaAsEndEntity,
    /// The issuer's signature does not verify.
    BadSignature,
    /// Its extended key usage does not include clientAuth (a server certificate, say).
    WrongPurpose,
    /// X.509 v1: no extensions, refused by TLS; [`acc_pki::verify::V1_RESIGN_HINT`] says
    /// how to re-sign it.
    Version1,
    /// Not a parsable certificate.
    Malformed(String),
    /// Any other verification failure, as rustls/webpki put it.
    Other(String),
}

impl RejectReason {
    /// A stable machine-readable code, for JSON bodies and event fields.
    pub fn code(&self) -> &'static str {
        match self {
            RejectReason::Expired => "expired",
            RejectReason::NotYetValid => "not_yet_valid",
            RejectReason::Revoked => "revoked",
            RejectReason::UnknownIssuer => "unknown_issuer",
            RejectReason::CaAsEndEntity => "ca_used_as_end_entity",
            RejectReason::BadSignature => "bad_signature",
            RejectReason::WrongPurpose => "wrong_purpose",
            RejectReason::Version1 => "x509_v1",
            RejectReason::Malformed(_) => "malformed",
            RejectReason::Other(_) => "invalid",
        }
    }
}

impl std::fmt::Display for RejectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RejectReason::Expired => f.write_str("expired"),
            RejectReason::NotYetValid => f.write_str("not yet valid"),
            RejectReason::Revoked => f.write_str("revoked"),
            RejectReason::UnknownIssuer => f.write_str("unknown issuer"),
            RejectReason::CaAsEndEntity => {
                f.write_str("self-signed (a CA certificate used as an end-entity): sign it with a trusted CA")
            }
            RejectReason::BadSignature => f.write_str("bad signature"),
            RejectReason::WrongPurpose => f.write_str("wrong purpose (EKU lacks clientAuth)"),
            RejectReason::Version1 => f.write_str(acc_pki::verify::V1_RESIGN_HINT),
            RejectReason::Malformed(detail) => write!(f, "malformed certificate ({detail})"),
            RejectReason::Other(detail) => write!(f, "invalid certificate ({detail})"),
        }
    }
}

/// The identity a connection authenticated with at the TLS layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerIdentity {
    /// No client certificate: the request must authenticate itself (HTTP Basic).
    Anonymous,
    /// A client certificate that chains to a trusted client CA, is in its validity
    /// period, is not revoked and is meant for client authentication.
    Certificate {
        /// The subject's (last) common name: the identity acc uses.
        cn: Option<String>,
        /// The subject on one line, openssl style.
        subject: String,
        /// The issuer on one line.
        issuer: String,
        /// The serial, upper-case hex as `openssl x509 -serial` prints it.
        serial_hex: String,
        /// When the certificate expires.
        not_after: OffsetDateTime,
    },
    /// A client certificate was presented and refused. Such a connection is never
    /// treated as anonymous: the listener answers every request on it with 403 and the
    /// reason, whatever else the request carries.
    Rejected {
        /// Why.
        reason: RejectReason,
        /// The subject, when the certificate could be parsed.
        subject: Option<String>,
        /// The issuer, when the certificate could be parsed.
        issuer: Option<String>,
        /// The serial, when the certificate could be parsed.
        serial_hex: Option<String>,
    },
}

/// Everything known about the peer of a connection, shared by all its requests.
#[derive(Debug, Clone)]
pub struct PeerInfo {
    /// The TLS-level identity.
    pub identity: PeerIdentity,
    /// The remote address.
    pub remote_addr: SocketAddr,
    /// `TLSv1_3` or `TLSv1_2`.
    pub tls_version: &'static str,
    /// The cipher suite, e.g. `TLS13_AES_256_GCM_SHA384`.
    pub cipher_suite: &'static str,
    /// The ALPN protocol agreed, if any (`h2`, `http/1.1`).
    pub alpn: Option<&'static str>,
    /// Whether the session was resumed (ticket or session cache).
    pub resumed: bool,
    /// What the application keeps between the requests of this connection.
    pub session: SessionSlot,
    /// The connection's standing with the cap on unauthenticated connections: the
    /// application calls [`Admission::authenticated`] once a request authenticated.
    pub admission: Admission,
}

/// Per-connection application state (e.g. a logon session), shared by the requests of
/// one connection and dropped with it. Holds one value of any type.
#[derive(Clone, Default)]
pub struct SessionSlot(Arc<Mutex<Option<Arc<dyn Any + Send + Sync>>>>);

impl SessionSlot {
    /// The value, if one of type `T` is held.
    pub fn get<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        let held = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()?;
        held.downcast::<T>().ok()
    }

    /// Replaces the value.
    pub fn set<T: Any + Send + Sync>(&self, value: Arc<T>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(value);
    }

    /// Drops the value.
    pub fn clear(&self) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

impl fmt::Debug for SessionSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The value may hold credentials' digests: never print it.
        f.write_str("SessionSlot")
    }
}

/// A refused client certificate, reported once per connection to the hook given to
/// [`crate::serve`] so the site server can write its 4625 event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerRejection {
    /// The remote address.
    pub remote_addr: SocketAddr,
    /// The certificate's subject, when it could be parsed.
    pub subject: Option<String>,
    /// The certificate's issuer, when it could be parsed.
    pub issuer: Option<String>,
    /// The serial, when it could be parsed.
    pub serial_hex: Option<String>,
    /// Why it was refused.
    pub reason: RejectReason,
}
