//! A site's logons: an agent's client certificate (its 4624, or the 4625 of a refused
//! one), and a password through the lockout engine, Argon2 outside the lock, the
//! directory for domain accounts; and the writes one attempt makes durable.

use super::*;

impl Site {
    /// Queues the 4624 of an agent that authenticated with a client certificate; the
    /// caller holds its answer until the returned write is durable.
    pub fn certificate_logon(
        &self,
        cn: &str,
        remote: std::net::SocketAddr,
        host: &str,
    ) -> crate::writer::Pending {
        use acc_core::event::catalogue::{self, AuthPackage, LogonSuccess, Network, Target};
        {
            let mut g = self.lock();
            let now = self.clock.now();
            let Inner { state, policy, .. } = &mut *g;
            let (t, mut events) = state.effective_time(now);
            let subject = state.site_subject();
            let ip = remote.ip().to_string();
            let caller = Source::new(remote.ip(), host).caller_computer_name().to_string();
            events.push(catalogue::logon_success(
                t,
                policy.mode,
                &LogonSuccess {
                    subject: &subject,
                    target: Target { user_name: cn, domain_name: &self.config.name, sid: "S-1-0-0" },
                    logon_id: "0x0",
                    package: AuthPackage::Mtls,
                    network: Network { workstation: &caller, ip: &ip, port: remote.port() },
                    generation: None,
                    familiar: None,
                },
            ));
            let mut writes: Vec<Write> = state.stamp(events).into_iter().map(Write::Event).collect();
            writes.push(Write::State(store::state_scalars(state)));
            self.submit(writes)
        }
    }

    /// Writes the 4625 of a refused client certificate (once per connection), with the
    /// reason in `FailureReason`.
    pub async fn certificate_refused(&self, f: &CertificateFailure) -> Result<(), SiteError> {
        use acc_core::event::FieldValue;
        use acc_core::event::catalogue::{self, AuthPackage, FailureKind, LogonFailure, Network, Target};
        let pending = {
            let mut g = self.lock();
            let now = self.clock.now();
            let Inner { state, policy, .. } = &mut *g;
            let (t, mut events) = state.effective_time(now);
            let subject = state.site_subject();
            let ip = f.remote.ip().to_string();
            let who = f.cn.clone().or_else(|| f.subject.clone()).unwrap_or_else(|| "-".to_string());
            let mut e = catalogue::logon_failure(
                t,
                policy.mode,
                &LogonFailure {
                    subject: &subject,
                    target: Target { user_name: &who, domain_name: &self.config.name, sid: "S-1-0-0" },
                    failure: FailureKind::UnknownUser,
                    package: AuthPackage::Mtls,
                    network: Network { workstation: "-", ip: &ip, port: f.remote.port() },
                    lock_scope: None,
                    verified: false,
                    familiar: None,
                    generation: None,
                },
            );
            for (name, value) in e.fields.iter_mut() {
                match name.as_str() {
                    "Status" => *value = FieldValue::from(f.refusal.status()),
                    "SubStatus" => *value = FieldValue::from(f.refusal.sub_status()),
                    "FailureReason" => {
                        *value = FieldValue::from(format!("Client certificate refused: {}.", f.reason))
                    }
                    _ => {}
                }
            }
            events.push(e.with_opt("CertificateSubject", f.subject.clone()));
            let mut writes: Vec<Write> = state.stamp(events).into_iter().map(Write::Event).collect();
            writes.push(Write::State(store::state_scalars(state)));
            self.submit(writes)
        };
        pending.durable().await.map_err(SiteError::from)
    }

    /// Argon2 computations since the process started.
    pub fn password_hashes(&self) -> u64 {
        self.verifier.hashes()
    }

    /// Number of cached password verifications (for tests and metrics).
    pub fn verification_cache_len(&self) -> usize {
        self.verifier.cache_len()
    }

    /// Authenticates `user`/`password` from `source`: the lockout engine decides, Argon2
    /// verifies outside the lock (or the verification cache answers), and the outcome is
    /// returned once its events and counters are durable.
    pub async fn authenticate(
        &self,
        user: &str,
        password: &str,
        source: Source,
        port: u16,
    ) -> Result<AuthResult, SiteError> {
        if !acc_core::lockout::is_local_form(user)
            && let Some(directory) = self.directory.get()
        {
            return self.directory_authenticate(directory, user, password, source, port).await;
        }
        let mut next = Next::Precheck(Attempt::password(user, source.clone(), port));
        loop {
            let (decision, pending) = {
                let mut g = self.lock();
                let now = self.clock.now();
                let Inner { state, policy, managed } = &mut *g;
                if let Next::Precheck(attempt) = &mut next {
                    attempt.package = acc_core::lockout::AppIdName::package(managed.app_id.as_ref(), user);
                }
                let marker = failure_marker(state, user);
                // Only the second phase changes counters, so only it can change shares.
                let shares = match &next {
                    Next::Complete(..) => state.account(user).map(|r| (r.sid.clone(), r.shares.clone())),
                    Next::Precheck(_) => None,
                };
                let step = match next {
                    Next::Precheck(attempt) => state.precheck(policy, attempt, now),
                    Next::Complete(p, ok) => state.complete(policy, p, ok, now),
                };
                match step {
                    Step::Done(result) => {
                        let writes = attempt_writes(state, user, &source, result.events, marker, shares);
                        let account = state.account(user).map(|r| r.name.to_string());
                        (Err(AuthResult { outcome: result.outcome, account }), Some(self.submit(writes)))
                    }
                    Step::Verify(p) => {
                        let sid = state.account(user).map(|r| r.sid.clone()).unwrap_or_default();
                        (Ok((p, sid)), None)
                    }
                }
            };
            match decision {
                Err(result) => {
                    if let Some(p) = pending {
                        p.durable().await.map_err(SiteError::from)?;
                    }
                    return Ok(result);
                }
                Ok((p, sid)) => {
                    let ok = self.verifier.verify(&sid, p.password_hash().as_str(), password).await;
                    next = Next::Complete(p, ok);
                }
            }
        }
    }

    /// D2/D3: a domain-form attempt decided by the directory (or `unavailable` when it
    /// cannot be reached); the site writes the 4624/4625.
    async fn directory_authenticate(
        &self,
        directory: &crate::directory::DirectoryClient,
        user: &str,
        password: &str,
        source: Source,
        port: u16,
    ) -> Result<AuthResult, SiteError> {
        let request = acc_proto::DirectoryLogon {
            user_name: user.to_string(),
            password: password.to_string(),
            workstation: source.caller_computer_name().to_string(),
            ip: source.ip().parse().unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
            port,
        };
        let answer = directory.logon(&self.layout, &request).await;
        if let Err(e) = &answer {
            tracing::warn!(error = %e, user, "The directory cannot be reached; the logon is refused as unavailable.");
        }
        let domain = acc_core::name::NameParts::split(user).domain.unwrap_or_default().to_string();
        let pending = {
            let mut g = self.lock();
            let now = self.clock.now();
            let Inner { state, managed, .. } = &mut *g;
            let attempt = Attempt::named(user, source, port, managed.app_id.as_ref());
            let result = match &answer {
                Ok(a) => state.directory_decided(&attempt, &a.domain, a.sid.as_deref(), a.outcome, now),
                Err(_) => state.directory_unavailable(&attempt, &domain, now),
            };
            let mut writes: Vec<Write> = state.stamp(result.events).into_iter().map(Write::Event).collect();
            writes.push(Write::State(store::state_scalars(state)));
            (result.outcome, self.submit(writes))
        };
        let (outcome, pending) = pending;
        pending.durable().await.map_err(SiteError::from)?;
        Ok(AuthResult { outcome, account: None })
    }
}

enum Next {
    Precheck(Attempt),
    Complete(acc_core::lockout::PendingVerify, bool),
}

/// The last bad-password failure of `user`, to notice the one an attempt adds.
fn failure_marker(state: &SiteState, user: &str) -> Option<acc_core::lockout::FailureEntry> {
    state.account(user).and_then(|r| r.failures.back().cloned())
}

/// The account's address shares before an attempt's second phase, by SID (rule M8a).
type SharesBefore = Option<(String, std::collections::BTreeMap<String, acc_core::lockout::AddressShare>)>;

/// What one attempt changed: its events, the site scalars, the account's scalars, the
/// source's state on it, the address shares that changed (`shares`: as they were before),
/// a new failure, the source's familiarity.
fn attempt_writes(
    state: &mut SiteState,
    user: &str,
    source: &Source,
    events: Vec<acc_core::event::Event>,
    marker: Option<acc_core::lockout::FailureEntry>,
    shares: SharesBefore,
) -> Vec<Write> {
    let stamped = state.stamp(events);
    let mut writes: Vec<Write> = stamped.into_iter().map(Write::Event).collect();
    writes.push(Write::State(store::state_scalars(state)));
    if let Some(rec) = state.account(user) {
        writes.push(Write::Account { sid: rec.sid.clone(), record: store::account_scalars(rec) });
        writes.push(Write::AccountRow {
            rows: AccountRows::Sources,
            sid: rec.sid.clone(),
            key: store::source_key(source),
            value: rec.sources.get(source).map(|st| serde_json::to_string(st).unwrap_or_default()),
        });
        if let Some((sid, before)) = shares.filter(|(sid, before)| sid == &rec.sid && before != &rec.shares) {
            for (ip, share) in rec.shares.iter().filter(|(ip, share)| before.get(*ip) != Some(share)) {
                writes.push(Write::AccountRow {
                    rows: AccountRows::Shares,
                    sid: sid.clone(),
                    key: ip.clone(),
                    value: Some(store::share_json(share)),
                });
            }
            for ip in before.keys().filter(|ip| !rec.shares.contains_key(*ip)) {
                writes.push(Write::AccountRow {
                    rows: AccountRows::Shares,
                    sid: sid.clone(),
                    key: ip.clone(),
                    value: None,
                });
            }
        }
        if let Some(last) = rec.failures.back()
            && Some(last) != marker.as_ref()
        {
            writes.push(Write::Failure {
                sid: rec.sid.clone(),
                time_ms: last.time.millis(),
                caller: last.caller.clone(),
            });
        }
    }
    if let Some(t) = state.familiar.last_success(source) {
        writes.push(Write::Familiar { source: store::source_key(source), last_success: t.millis() });
    }
    writes
}
