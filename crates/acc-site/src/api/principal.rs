//! Who an authenticated request comes from ([`Principal`]): the outcome of `auth`, kept
//! by a connection's logon session (`session`) and read by the routes (registration,
//! share checks).

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A local account (its name as stored).
    Account {
        /// The name.
        name: String,
        /// The response should carry `policy_stale` (a retiring ACC generation).
        policy_stale: bool,
    },
    /// A client certificate.
    Certificate {
        /// The subject's common name.
        cn: String,
    },
}

impl Principal {
    /// As shown in registrations and share checks: `ACC_user`, `cert:CN=acclinux`.
    pub fn label(&self) -> String {
        match self {
            Principal::Account { name, .. } => name.clone(),
            Principal::Certificate { cn } => format!("cert:CN={cn}"),
        }
    }
}
