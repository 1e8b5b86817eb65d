//! Access control on shares: who may read what, at the share level and the file level,
//! and the messages and event payloads that say why not.
//!
//! Owns: rights and access masks (`rights`), principals (`principal`) and callers (`caller`), a share
//! and its ACLs (`share`), evaluation and the site server's read check (`check`), the
//! package sources with the save-time check of specification 3.2.3 and `--grant-read`
//! (`package`), and the 5145 payload (`audit`). Leaves to others: reading and writing
//! files (the site server canonicalises paths and resolves symlinks, see
//! [`crate::share_path`]), persisting ACLs, and the event envelope.
//!
//! The model in one paragraph: a share has one share-level ACL and file-level ACLs on its
//! root and on any object below it. ACEs Allow or Deny an [`AccessMask`] to a
//! [`Principal`]. A [`Caller`] holds several principals (its identity and its groups). At
//! each level a Deny beats every Allow; file-level ACEs are inherited by everything below
//! the object that carries them; the effective access is share ∩ file (F25), and reading
//! needs Read at both.

mod audit;
mod caller;
mod check;
mod edit;
mod package;
mod principal;
mod rights;
mod share;
mod view;

#[cfg(test)]
mod tests;

pub use audit::{SHARE_ACCESS_EVENT_ID, share_access_event};
pub use caller::Caller;
pub use check::{AccessDenied, DenialLevel, EffectiveAccess, LevelVerdict, check_read, effective_access};
pub use edit::{AceEditError, AceTarget, GrantArgs, grant as grant_ace, revoke as revoke_ace};
pub use package::{
    GrantChange, GrantReadError, PackageSource, ShareAccessRefusal, SourceFailure, check_package_refresh,
    check_package_sources, check_source, grant_read,
};
pub use principal::{
    CertIdentity, DomainName, MAX_CERT_IDENTITY_CHARS, MAX_DOMAIN_CHARS, MAX_DOMAIN_MEMBER_CHARS,
    MAX_LOCAL_NAME_CHARS, Principal, PrincipalError, WellKnownGroup,
};
pub use rights::{AccessMask, AclLevel, FileRight, GrantRight, RightParseError, ShareRight};
pub use share::{Ace, AceKind, GrantError, Share};
pub use view::{AceView, ObjectAcl, ShareView};
