//! A site's local accounts: the administrator's changes (add, password, enable, disable,
//! unlock, remove), each made durable with its events, and the accounts' views.

use super::*;

impl Site {
    /// The local administrator (whoever runs `acc site …` on the site host).
    fn local_admin(&self) -> Subject {
        let user = std::env::var("USER")
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| "Administrator".to_string());
        Subject::admin(&format!("{}-500", self.config.domain_sid), &user, &self.config.name, "0x0")
    }

    /// Runs an administrative change of account `name` under the lock and makes its events
    /// and the account durable.
    async fn administer(
        &self,
        name: &str,
        change: impl FnOnce(
            &mut SiteState,
            &LockoutPolicy,
            &Subject,
            Timestamp,
        ) -> Result<Vec<acc_core::event::Event>, AdminError>,
    ) -> Result<Vec<StampedEvent>, SiteError> {
        let actor = self.local_admin();
        let (stamped, pending) = {
            let mut g = self.lock();
            let now = self.clock.now();
            let Inner { state, policy, .. } = &mut *g;
            // Deleting turns the record into a tombstone: remember its SID to store it.
            let sid = state.account(name).map(|r| r.sid.clone());
            let events = change(state, policy, &actor, now).map_err(SiteError::Admin)?;
            let stamped = state.stamp(events);
            let mut writes: Vec<Write> = stamped.iter().cloned().map(Write::Event).collect();
            writes.push(Write::State(store::state_scalars(state)));
            let record = match &sid {
                Some(sid) => state.accounts.iter().find(|r| &r.sid == sid),
                None => state.account(name),
            };
            if let Some(rec) = record {
                writes.extend(store::account_writes(rec));
            }
            (stamped, self.submit(writes))
        };
        pending.durable().await.map_err(SiteError::from)?;
        for e in &stamped {
            tracing::info!(event_id = %e.event.id, seq = e.seq, account = name, "Account administered.");
        }
        Ok(stamped)
    }

    /// `acc site accounts add`: a local account created by the administrator.
    pub async fn add_account(&self, name: &str, password: &str) -> Result<Vec<StampedEvent>, SiteError> {
        check_local_name(name)?;
        let hash = hash(password).await?;
        self.administer(name, |state, _, actor, now| state.admin_create(name, hash, actor, now)).await
    }

    /// `acc site accounts set-password`.
    pub async fn set_password(&self, name: &str, password: &str) -> Result<Vec<StampedEvent>, SiteError> {
        let hash = hash(password).await?;
        self.administer(name, |state, _, actor, now| state.admin_set_password(name, hash, actor, now)).await
    }

    /// `acc site accounts enable`.
    pub async fn enable(&self, name: &str) -> Result<Vec<StampedEvent>, SiteError> {
        self.administer(name, |state, _, actor, now| state.admin_enable(name, actor, now)).await
    }

    /// `acc site accounts disable`.
    pub async fn disable(&self, name: &str) -> Result<Vec<StampedEvent>, SiteError> {
        self.administer(name, |state, _, actor, now| state.disable(name, DisabledBy::Admin, actor, now)).await
    }

    /// `acc site accounts unlock [--sources]`.
    pub async fn unlock(&self, name: &str, sources: bool) -> Result<Vec<StampedEvent>, SiteError> {
        self.administer(name, |state, policy, actor, now| {
            state.admin_unlock(policy, name, sources, actor, now)
        })
        .await
    }

    /// `acc site accounts remove` (the account must be disabled first, as on Windows).
    pub async fn remove(&self, name: &str) -> Result<Vec<StampedEvent>, SiteError> {
        self.administer(name, |state, _, actor, now| state.admin_delete(name, actor, now)).await
    }

    /// An account as an administrator sees it.
    pub fn account(&self, name: &str) -> Option<AccountView> {
        let g = self.lock();
        let now = self.clock.now();
        view(&g.state, &g.policy, name, now)
    }

    /// Every live account.
    pub fn accounts(&self) -> Vec<AccountView> {
        let g = self.lock();
        let now = self.clock.now();
        let names: Vec<String> =
            g.state.accounts.iter().filter(|r| r.is_live()).map(|r| r.name.to_string()).collect();
        names.iter().filter_map(|n| view(&g.state, &g.policy, n, now)).collect()
    }
}

async fn hash(password: &str) -> Result<PasswordHash, SiteError> {
    if password.is_empty() {
        return Err(SiteError::Invalid(vec!["password: is empty; enter a password".to_string()]));
    }
    let pw = password.to_string();
    let phc = tokio::task::spawn_blocking(move || verifier::hash_password(&pw))
        .await
        .map_err(|e| SiteError::Database(e.to_string()))?
        .map_err(|e| SiteError::Invalid(vec![e.to_string()]))?;
    Ok(PasswordHash::new(phc))
}

/// Local account names only: a domain name is the directory's, never created here.
fn check_local_name(name: &str) -> Result<(), SiteError> {
    if !acc_core::lockout::is_local_form(name) {
        return Err(SiteError::Invalid(vec![format!(
            "user name: '{name}' is a domain account; site servers do not create domain accounts (use a local name such as 'ACC_user')"
        )]));
    }
    // A standalone site has no directory and no App ID: only the name syntax applies.
    let directory = acc_core::name::DirectoryNames { netbios: String::new(), dns: String::new() };
    let rules = acc_core::name::UserNameRules { app_id: "", directory: &directory, site_servers: &[] };
    acc_core::name::validate_user_name(name, &rules)
        .map(|_| ())
        .map_err(|e| SiteError::Invalid(vec![e.to_string()]))
}

fn view(state: &SiteState, policy: &LockoutPolicy, name: &str, now: Timestamp) -> Option<AccountView> {
    let rec = state.account(name)?;
    let shown = state.displayed_state(policy, name, now)?;
    Some(AccountView {
        name: rec.name.to_string(),
        sid: rec.sid.clone(),
        state: shown.label().to_string(),
        lock_scope: shown.lock_scope.map(|s| s.as_str().to_string()),
        retry_after: shown.retry_after,
        blocked_sources: shown.blocked_sources,
        blocked_addresses: shown.blocked_addresses,
        created_by: if rec.managed { "policy" } else { "admin" }.to_string(),
        generation: rec.generation,
        bad_count: rec.bad_count,
        lockouts_24h: state.lockouts_24h(name, now),
    })
}
