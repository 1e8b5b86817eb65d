//! The directory's logons (specification 2.4): domain accounts (the App ID, a
//! `CORP\user` credential) are verified here for every site server, under the directory's
//! own classic policy (D1: T = 10, W = 600 s, D = 600 s) on one directory-wide counter per
//! account. The decision procedure is acc-core's lockout engine, run over the directory's
//! accounts; its counters survive restarts (`state` row `directory`). The site writes the
//! 4624/4625; the directory writes the 4740, with the agent as `CallerComputerName` and the
//! forwarding site as `ReportingSite` (D2). Also the directory's administration:
//! `acc ctl directory add|list|unlock`.

use acc_core::event::Event;
use acc_core::lockout::{
    Attempt, LockoutMode, LockoutPolicy, Outcome, PasswordHash, SiteIdentity, SiteState, Source, Step,
};
use acc_core::name::{NameParts, UserNameForm};
use acc_core::password::Secret;
use acc_core::time::Timestamp;
use acc_proto::{DirectoryAnswer, DirectoryLogon};

use crate::error::ServerError;
use crate::server::Server;
use crate::store::{self, DirectoryAccount};

/// The `state` key of the directory's lockout state.
const STATE_KEY: &str = "directory";

/// D1: the directory's classic policy.
pub fn directory_policy() -> LockoutPolicy {
    LockoutPolicy {
        mode: LockoutMode::Classic,
        threshold: crate::agents::DIRECTORY_THRESHOLD,
        reset_after: crate::agents::DIRECTORY_WINDOW_SECS,
        duration: 600,
        reenable_locked_local_account: false,
        create_acc_on_site_servers: false,
        ..LockoutPolicy::default()
    }
}

/// The account part of a domain-form name of this directory (`CORP\name`,
/// `corp.local\name`, `name@corp.local`), or `None` for another domain or a local form;
/// split by the one rule for name forms (`acc_core::name`).
pub fn account_of<'a>(presented: &'a str, netbios: &str, dns: &str) -> Option<&'a str> {
    let parts = NameParts::split(presented);
    let domain = parts.domain.filter(|_| parts.form() == UserNameForm::Domain)?;
    (domain.eq_ignore_ascii_case(netbios) || domain.eq_ignore_ascii_case(dns)).then_some(parts.account)
}

/// The directory's engine state over `accounts`, keeping the counters of `previous`.
pub fn engine_state(
    identity: SiteIdentity,
    accounts: &[DirectoryAccount],
    previous: Option<SiteState>,
) -> SiteState {
    let mut state = previous.unwrap_or_else(|| SiteState::new(identity));
    for a in accounts {
        if state.account(&a.name).is_none() {
            let _ = state.add_unmanaged_account(&a.name, PasswordHash::new(a.password_hash.clone()));
        }
    }
    state
}

fn timestamp(ms: i64) -> Timestamp {
    Timestamp(ms)
}

impl Server {
    fn directory_identity(&self) -> SiteIdentity {
        let digest = acc_net::client::sha256_hex(
            format!("{}/{}", self.config().name, self.config().domain).as_bytes(),
        );
        let part = |i: usize| u32::from_str_radix(&digest[i * 8..i * 8 + 8], 16).unwrap_or(0);
        SiteIdentity {
            computer: self.config().domain.clone(),
            site_id: self.config().name.clone(),
            fleet_name: self.config().domain.clone(),
            domain_sid: format!("S-1-5-21-{}-{}-{}", part(0), part(1), part(2)),
        }
    }

    /// Loads the directory's engine state (accounts from the store, counters kept).
    pub(crate) async fn load_directory(&self) -> Result<SiteState, ServerError> {
        let previous = store::state_value(&self.pool, STATE_KEY)
            .await?
            .and_then(|text| serde_json::from_str::<SiteState>(&text).ok());
        let accounts = store::directory_accounts(&self.pool).await?;
        Ok(engine_state(self.directory_identity(), &accounts, previous))
    }

    async fn save_directory(&self, state: &SiteState) -> Result<(), ServerError> {
        let text = serde_json::to_string(state).map_err(|e| ServerError::Invalid(e.to_string()))?;
        store::put_state_value(&self.pool, STATE_KEY, &text).await
    }

    /// D2: decides a domain-form attempt `site` forwarded.
    pub async fn directory_logon(
        &self,
        site: &str,
        req: DirectoryLogon,
    ) -> Result<DirectoryAnswer, ServerError> {
        let domain = self.config().domain.clone();
        let answer = |outcome, sid| DirectoryAnswer { outcome, sid, domain: domain.clone() };
        let Some(name) = account_of(&req.user_name, &self.config().domain, &self.config().dns_domain) else {
            return Ok(answer(Outcome::InvalidCredentials, None));
        };
        let mut attempt = Attempt::password(name, Source::new(req.ip, &req.workstation), req.port);
        attempt.reporting_site = Some(site.to_string());
        let policy = directory_policy();
        let _guard = self.directory_serial().lock().await;
        let mut state = self.load_directory().await?;
        let mut step = state.precheck(&policy, attempt, timestamp(self.now_ms()));
        let result = loop {
            match step {
                Step::Done(result) => break result,
                Step::Verify(pending) => {
                    let hash = pending.password_hash().as_str().to_string();
                    let password = Secret::new(req.password.as_str());
                    let ok = tokio::task::spawn_blocking(move || {
                        acc_core::password::verify_password(&hash, &password)
                    })
                    .await
                    .unwrap_or(false);
                    step = state.complete(&policy, pending, ok, timestamp(self.now_ms()));
                }
            }
        };
        let sid = state.account(name).map(|r| r.sid.clone());
        let lockouts: Vec<Event> = result
            .events
            .into_iter()
            .filter(|e| e.id == acc_core::event::EventId::ACCOUNT_LOCKED_OUT)
            .collect();
        self.save_directory(&state).await?;
        drop(_guard);
        for e in lockouts {
            tracing::warn!(account = name, site, caller = %req.workstation, "Directory account locked out (4740).");
            self.record_core_event(e, Some(name)).await;
        }
        Ok(answer(result.outcome, sid))
    }

    /// Writes an acc-core event (the directory's 4740, an admin's 4767) to the server's
    /// event log under the server's own sequence.
    async fn record_core_event(&self, event: Event, target_user: Option<&str>) {
        let event = self.own_event(event, target_user);
        if let Err(e) = self.store_own_events(&[event]).await {
            tracing::error!(error = %e, "A directory event could not be stored.");
        }
    }

    /// `acc ctl directory list`: every account with its state.
    pub async fn directory_list(&self) -> Result<Vec<acc_proto::admin::DirectoryAccount>, ServerError> {
        use acc_proto::admin::DirectoryAccountState as State;
        let _guard = self.directory_serial().lock().await;
        let state = self.load_directory().await?;
        let policy = directory_policy();
        let now = timestamp(self.now_ms());
        let accounts = store::directory_accounts(&self.pool).await?;
        Ok(accounts
            .iter()
            .map(|a| {
                let shown = state.displayed_state(&policy, &a.name, now);
                let locked = shown.and_then(|d| d.lock_scope).is_some();
                let state = match (a.enabled, locked) {
                    (false, _) => State::Disabled,
                    (true, true) => State::Locked,
                    (true, false) => State::Enabled,
                };
                acc_proto::admin::DirectoryAccount {
                    name: format!("{}\\{}", self.config().domain, a.name),
                    state,
                    retry_after: shown.and_then(|d| d.retry_after),
                    app_id: a.name_key == self.config().app_id.to_lowercase(),
                }
            })
            .collect())
    }

    /// `acc ctl directory add NAME --password-stdin`: a new domain account.
    pub async fn directory_add(&self, name: &str, password: &str, author: &str) -> Result<(), ServerError> {
        let valid = (1..=20).contains(&name.chars().count())
            && !name.chars().any(|c| "\"/\\[]:;|=,+*?<>@".contains(c) || c.is_control());
        if !valid {
            return Err(ServerError::Invalid(format!(
                "account name '{name}': use 1 to 20 characters without \" / \\ [ ] : ; | = , + * ? < > @"
            )));
        }
        if password.chars().count() < 8 {
            return Err(ServerError::Invalid("password: give at least 8 characters".into()));
        }
        let hash = crate::vault::hash_password(&Secret::new(password))?;
        let account = DirectoryAccount {
            name_key: name.to_lowercase(),
            name: name.to_string(),
            enabled: true,
            password_hash: hash,
        };
        let _guard = self.directory_serial().lock().await;
        store::add_directory_account(&self.pool, &account).await?;
        tracing::info!(account = name, by = author, "Directory account created.");
        Ok(())
    }

    /// `acc ctl directory unlock NAME`: clears a lock (4767 Reason admin).
    pub async fn directory_unlock(&self, name: &str, author: &str) -> Result<bool, ServerError> {
        let account =
            account_of(name, &self.config().domain, &self.config().dns_domain).unwrap_or(name).to_string();
        let _guard = self.directory_serial().lock().await;
        let mut state = self.load_directory().await?;
        let actor = acc_core::event::catalogue::Subject::admin(
            &format!("{}-500", self.directory_identity().domain_sid),
            author,
            &self.config().domain,
            "0x0",
        );
        let events = state
            .admin_unlock(&directory_policy(), &account, false, &actor, timestamp(self.now_ms()))
            .map_err(|e| ServerError::Invalid(e.to_string()))?;
        self.save_directory(&state).await?;
        let unlocked = !events.is_empty();
        for e in events {
            self.record_core_event(e, Some(&account)).await;
        }
        Ok(unlocked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_forms_of_this_directory_only() {
        assert_eq!(account_of("CORP\\acc_svc", "CORP", "corp.local"), Some("acc_svc"));
        assert_eq!(account_of("corp.local\\acc_svc", "CORP", "corp.local"), Some("acc_svc"));
        assert_eq!(account_of("acc_svc@CORP.LOCAL", "CORP", "corp.local"), Some("acc_svc"));
        assert_eq!(account_of("OTHER\\acc_svc", "CORP", "corp.local"), None);
        assert_eq!(account_of("acc_svc", "CORP", "corp.local"), None);
    }

    #[test]
    fn the_directory_locks_at_ten_and_keeps_its_counters_across_a_reload() {
        let identity = SiteIdentity {
            computer: "CORP".into(),
            site_id: "MGMT".into(),
            fleet_name: "CORP".into(),
            domain_sid: "S-1-5-21-1-2-3".into(),
        };
        let account = DirectoryAccount {
            name_key: "acc_svc".into(),
            name: "acc_svc".into(),
            enabled: true,
            password_hash: "h".into(),
        };
        let policy = directory_policy();
        let mut state = engine_state(identity.clone(), std::slice::from_ref(&account), None);
        let source = Source::new("10.0.0.7".parse().unwrap(), "stale-laptop");
        let mut last = None;
        for i in 0..10 {
            let mut a = Attempt::password("acc_svc", source.clone(), 5000);
            a.reporting_site = Some("SITE1".into());
            let r = state.authenticate(&policy, a, Timestamp(1_000 + i), |_| false);
            last = Some(r);
            // Reload between attempts, as the server does.
            let text = serde_json::to_string(&state).unwrap();
            state = engine_state(
                identity.clone(),
                std::slice::from_ref(&account),
                serde_json::from_str(&text).ok(),
            );
        }
        let r = last.unwrap();
        let lock =
            r.events.iter().find(|e| e.id == acc_core::event::EventId::ACCOUNT_LOCKED_OUT).expect("4740");
        let field = |k: &str| lock.field(k).map(|v| format!("{v:?}")).unwrap_or_default();
        assert!(
            field("ReportingSite").contains("SITE1") && field("CallerComputerName").contains("STALE-LAPTOP"),
            "{lock:?}"
        );
        assert!(matches!(r.outcome, Outcome::InvalidCredentials | Outcome::LockedOut { .. }));
    }
}
