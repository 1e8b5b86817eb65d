//! The package sources and their ACLs on the management server (`acc ctl share
//! list|add|grant|revoke`),
//! the two levels the share-access check of 3.2.3 reads before a credential is saved. An
//! edit is a policy revision.

use acc_core::acl::{
    AceEditError, AceTarget, Caller, GrantArgs, PackageSource, Principal, ShareView, SourceFailure,
    check_source, grant_read,
};

use crate::document::Problem;
use crate::server::{SaveError, SaveOutcome, Server};

fn refused(message: String) -> SaveError {
    SaveError::Refused(vec![Problem { field: "share access".into(), id: String::new(), message }])
}

/// The Read check of 3.2.3 for one ACC over the three package sources.
#[derive(Debug, Clone)]
pub struct ReadCheck {
    /// The ACC as ACLs name it (`ACC_user`, `CORP\acc_svc`).
    pub principal: Principal,
    /// Each source in check order, with its failure (`None`: the ACC reads it).
    pub sources: Vec<(PackageSource, Option<SourceFailure>)>,
}

impl Server {
    /// The ACC `user_name` as ACLs name it.
    fn acc_caller(&self, user_name: &str) -> Result<Caller, SaveError> {
        let principal = Principal::for_user_name(user_name.trim(), &self.config().directory())
            .map_err(|e| refused(format!("user name '{user_name}': {e}")))?;
        Ok(Caller::for_principal(principal))
    }

    /// The Read check the credential save runs (V5, 3.2.3), for `user_name`, against the
    /// package sources in force.
    pub fn read_check(&self, user_name: &str) -> Result<ReadCheck, SaveError> {
        let caller = self.acc_caller(user_name)?;
        let shares = self.current().1.shares;
        let sources =
            PackageSource::ALL.into_iter().map(|s| (s, check_source(s, &shares, &caller))).collect();
        Ok(ReadCheck { principal: caller.identity().clone(), sources })
    }

    /// Grants `user_name` Read at both levels wherever the Read check fails (what the
    /// credential save's `--grant-read` adds), as one revision; refused when a Deny stands
    /// in the way or nothing is missing.
    pub async fn grant_acc_read(&self, user_name: &str, author: &str) -> Result<SaveOutcome, SaveError> {
        let caller = self.acc_caller(user_name)?;
        let guard = self.saving().await?;
        let (_, doc) = self.current();
        let mut next = doc.clone();
        let changes = grant_read(&mut next.shares, &caller).map_err(|e| refused(e.to_string()))?;
        if changes.is_empty() {
            return Err(refused(format!(
                "share access: '{}' already reads every package source at both levels",
                caller.identity()
            )));
        }
        let mut saved = self.commit_document(guard, &doc, next, author).await?;
        saved.granted = changes.iter().map(ToString::to_string).collect();
        Ok(saved)
    }

    /// The package sources with their ACLs.
    pub fn share_views(&self) -> Vec<ShareView> {
        self.current().1.shares.iter().map(|s| ShareView::of_acl(s, String::new())).collect()
    }

    /// Adds a package source (a revision): no access, or `Agents` Read at both levels.
    pub async fn share_add(
        &self,
        name: &str,
        agents_read: bool,
        author: &str,
    ) -> Result<SaveOutcome, SaveError> {
        let name = acc_core::share_path::ShareName::parse(name)
            .map_err(|e| refused(format!("share '{name}': {e}")))?;
        let guard = self.saving().await?;
        let (_, doc) = self.current();
        if doc.shares.iter().any(|s| *s.name() == name) {
            return Err(refused(format!("share '{name}' is already a package source")));
        }
        let mut next = doc.clone();
        next.shares.push(if agents_read {
            acc_core::acl::Share::readable_by_agents(name)
        } else {
            acc_core::acl::Share::new(name)
        });
        self.commit_document(guard, &doc, next, author).await
    }

    /// Grants a right on a package source (a revision; nothing when already granted).
    pub async fn share_grant(&self, g: &GrantArgs, author: &str) -> Result<SaveOutcome, SaveError> {
        self.share_edit(&g.target, author, |acl| acc_core::acl::grant_ace(acl, g).map(|_| ())).await
    }

    /// Revokes a principal's Allow on a package source (a revision; nothing when none).
    pub async fn share_revoke(&self, t: &AceTarget, author: &str) -> Result<SaveOutcome, SaveError> {
        self.share_edit(t, author, |acl| acc_core::acl::revoke_ace(acl, t).map(|_| ())).await
    }

    async fn share_edit(
        &self,
        target: &AceTarget,
        author: &str,
        edit: impl FnOnce(&mut acc_core::acl::Share) -> Result<(), AceEditError>,
    ) -> Result<SaveOutcome, SaveError> {
        let (share, ..) = target.parse().map_err(|e| refused(e.to_string()))?;
        let guard = self.saving().await?;
        let (_, doc) = self.current();
        let mut next = doc.clone();
        let Some(acl) = next.shares.iter_mut().find(|s| *s.name() == share) else {
            let names: Vec<String> = doc.shares.iter().map(|s| s.name().to_string()).collect();
            return Err(refused(format!(
                "share '{share}' is not a package source; they are {}",
                names.join(", ")
            )));
        };
        edit(acl).map_err(|e| refused(e.to_string()))?;
        self.commit_document(guard, &doc, next, author).await
    }
}
