//! Who a caller is: a [`Caller`] is the set of principals one authenticated agent holds,
//! its own identity plus the implicit groups; an ACE applies to it when it names one of them.
//!
//! Implicit group membership (a choice; the specification lists `Everyone`,
//! `Authenticated Users` and `Users` for the local form in 3.2.3 and the issue adds the
//! group `Agents`):
//! - a local account: `Everyone`, `Authenticated Users`, `Users`, `Agents`;
//! - a domain account: `Everyone`, `Authenticated Users`, `Agents` and the directory groups
//!   the caller passes in (`Users` is a local group; a domain account reaches it, if at all,
//!   through a directory group such as `CORP\Domain Users`);
//! - a certificate identity: `Everyone`, `Authenticated Users`, `Agents` (a certificate is
//!   no account of the site server, so not a member of its `Users`).
//!
//! Every principal that reaches a share has authenticated to a site server as an agent
//! (ACC, App ID or client certificate), hence `Agents` for all. The save-time check of
//! 3.2.3 uses the same sets, so that it predicts exactly what the site server will decide
//! when the ACC reads a package (the check is repeated at refresh time with the same rule).

use crate::name::AccountName;

use super::principal::{CertIdentity, DomainName, Principal, WellKnownGroup};

/// The principals one authenticated caller holds: its own identity plus its groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    identity: Principal,
    groups: Vec<Principal>,
}

impl Caller {
    /// A local account of the site server (the ACC in local form): the account plus
    /// `Everyone`, `Authenticated Users`, `Users`, `Agents`.
    pub fn local_account(name: AccountName) -> Caller {
        Caller::with_groups(Principal::Local(name), WellKnownGroup::ALL.map(Principal::Group))
    }

    /// A domain account (the ACC in domain form, or the App ID): the account plus
    /// `Everyone`, `Authenticated Users`, `Agents` and `directory_groups`.
    pub fn domain_account(
        domain: DomainName,
        name: AccountName,
        directory_groups: impl IntoIterator<Item = Principal>,
    ) -> Caller {
        let implicit = [WellKnownGroup::Everyone, WellKnownGroup::AuthenticatedUsers, WellKnownGroup::Agents]
            .map(Principal::Group);
        Caller::with_groups(Principal::Domain { domain, name }, implicit.into_iter().chain(directory_groups))
    }

    /// A client certificate: the identity plus `Everyone`, `Authenticated Users`, `Agents`.
    pub fn certificate(identity: CertIdentity) -> Caller {
        let implicit = [WellKnownGroup::Everyone, WellKnownGroup::AuthenticatedUsers, WellKnownGroup::Agents]
            .map(Principal::Group);
        Caller::with_groups(Principal::Certificate(identity), implicit)
    }

    /// The caller for a principal as the CLI or a policy names it: a local or domain account
    /// or a certificate with its implicit groups (no directory groups); a group stands for
    /// itself with `Everyone` and `Authenticated Users`.
    pub fn for_principal(principal: Principal) -> Caller {
        match principal {
            Principal::Local(name) => Caller::local_account(name),
            Principal::Domain { domain, name } => Caller::domain_account(domain, name, []),
            Principal::Certificate(id) => Caller::certificate(id),
            Principal::Group(g) => Caller::with_groups(
                Principal::Group(g),
                [WellKnownGroup::Everyone, WellKnownGroup::AuthenticatedUsers].map(Principal::Group),
            ),
        }
    }

    fn with_groups(identity: Principal, groups: impl IntoIterator<Item = Principal>) -> Caller {
        let mut unique: Vec<Principal> = Vec::new();
        for g in groups {
            if g != identity && !unique.contains(&g) {
                unique.push(g);
            }
        }
        Caller { identity, groups: unique }
    }

    /// The caller's own identity: the principal messages and events name.
    pub fn identity(&self) -> &Principal {
        &self.identity
    }

    /// The groups, implicit ones first.
    pub fn groups(&self) -> &[Principal] {
        &self.groups
    }

    /// The identity, then the groups.
    pub fn principals(&self) -> impl Iterator<Item = &Principal> {
        std::iter::once(&self.identity).chain(self.groups.iter())
    }

    /// Whether an ACE naming `principal` applies to this caller.
    pub fn holds(&self, principal: &Principal) -> bool {
        self.principals().any(|p| p == principal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callers_hold_their_implicit_groups() {
        let p = |s: &str| s.parse::<Principal>().unwrap();
        let local = Caller::local_account(AccountName::new("ACC_user"));
        for g in ["Everyone", "Authenticated Users", "Users", "Agents", "acc_USER"] {
            assert!(local.holds(&p(g)), "{g}");
        }
        assert!(!local.holds(&p("CORP\\ACC_user")));
        assert_eq!(local.identity().to_string(), "ACC_user");

        let cert = Caller::certificate(CertIdentity::parse("CN=acclinux").unwrap());
        assert!(cert.holds(&p("cert:cn=ACCLINUX")));
        assert!(cert.holds(&p("Agents")));
        assert!(!cert.holds(&p("Users")));

        let domain = Caller::domain_account(
            "CORP".parse().unwrap(),
            AccountName::new("acc"),
            [p("CORP\\Domain Users"), p("Everyone")],
        );
        assert!(domain.holds(&p("corp\\domain users")));
        assert!(domain.holds(&p("Agents")));
        assert!(!domain.holds(&p("Users")));
        assert_eq!(domain.groups().len(), 4, "duplicates are dropped");

        let group = Caller::for_principal(p("Agents"));
        assert_eq!(group.principals().count(), 3);
        assert_eq!(Caller::for_principal(p("ACC_user")), local);
    }
}
