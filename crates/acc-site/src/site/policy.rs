//! A site's lockout policy and its event log's maximum size: set by the administrator on a
//! standalone site, or applied from the management server's site policy; and the ACC
//! refresh the lockout policy schedules.

use super::*;

impl Site {
    /// `acc site policy set`: validates (messages of 5.5) and stores the policy; returns
    /// the warnings.
    pub async fn set_policy(&self, policy: LockoutPolicy) -> Result<Vec<String>, SiteError> {
        if let Some(revision) = self.applied_revision() {
            return Err(SiteError::Invalid(vec![format!(
                "policy: this site takes its lockout policy from its management server (revision {revision}); change it there with `acc ctl settings site set`"
            )]));
        }
        let validation = policy.validate();
        if !validation.is_ok() {
            return Err(SiteError::Invalid(validation.errors.iter().map(ToString::to_string).collect()));
        }
        let (pending, acc_changed) = {
            let mut g = self.lock();
            let generations = &g.managed.generations;
            let acc_changed = acc_policy_changed(
                &AccPolicySnapshot::new(&g.policy, generations),
                &AccPolicySnapshot::new(&policy, generations),
            );
            g.policy = policy;
            (self.submit(vec![Write::Policy(policy_json(&g.policy))]), acc_changed)
        };
        pending.durable().await.map_err(SiteError::from)?;
        if acc_changed {
            // R-POLICY: an ACC setting changed; refresh now and reschedule (3.1.2).
            self.refresh(RefreshTrigger::Policy).await?;
        }
        Ok(validation.warnings.iter().map(ToString::to_string).collect())
    }

    /// Runs the ACC refresh (3.1): on a standalone site, re-enable of the locally
    /// created accounts (A3, A5), then `acc.refresh`. Returns its actions.
    pub async fn refresh(&self, trigger: RefreshTrigger) -> Result<Vec<String>, SiteError> {
        let (actions, pending) = {
            let mut g = self.lock();
            let now = self.clock.now();
            let Inner { state, policy, managed } = &mut *g;
            let report = state.refresh_with_local(policy, &managed.generations, true, trigger, now);
            let mut writes: Vec<Write> = state.stamp(report.events).into_iter().map(Write::Event).collect();
            writes.push(Write::State(store::state_scalars(state)));
            for rec in state.accounts.iter().filter(|r| r.is_live()) {
                writes.extend(store::account_refresh_writes(rec));
            }
            (report.actions, self.submit(writes))
        };
        pending.durable().await.map_err(SiteError::from)?;
        self.refresh_changed.notify_one();
        for a in &actions {
            tracing::info!(action = %a, trigger = trigger.as_str(), "ACC refresh.");
        }
        Ok(actions)
    }

    /// The policy revision last applied from the management server.
    pub fn applied_revision(&self) -> Option<i64> {
        self.lock().managed.revision
    }

    /// Applies a site policy from the management server: the agent trust, the lockout
    /// policy and the managed generations, in one durable write, with the ACC refresh (3.1)
    /// only when it is due:
    /// - trigger `policy` when the revision changes what the refresh acts on (R-POLICY: a
    ///   generation added, removed, re-phased or re-hashed, `create_acc_on_site_servers`,
    ///   `reenable_locked_local_account` or `acc_refresh_interval`);
    /// - trigger `manual` when the revision this site applied comes again because an
    ///   operator sent update-config (acc's "Update agent configuration" task, R-MANUAL);
    ///   `redelivery_refreshes` is false for the first answer on a new connection, which
    ///   only syncs the update-config counter. (The server's daily CRL push re-delivers the
    ///   same way, so it refreshes too: harmless, as a refresh only restores what the
    ///   settings say.)
    ///
    /// Returns the acknowledgement (3.2.4 P2) with the accounts' states.
    pub async fn apply_site_policy(
        &self,
        p: acc_proto::SitePolicy,
        redelivery_refreshes: bool,
    ) -> Result<acc_proto::SiteAck, SiteError> {
        let validation = p.lockout.validate();
        if !validation.is_ok() {
            let errors: Vec<String> = validation.errors.iter().map(ToString::to_string).collect();
            return Ok(acc_proto::SiteAck {
                revision: p.revision,
                error: Some(errors.join("; ")),
                ..Default::default()
            });
        }
        let mut error = None;
        let trust_changed =
            match crate::management::write_trust(&self.layout, &p.trust_pems, p.crl_pem.as_deref()) {
                Ok(changed) => changed,
                Err(e) => {
                    error = Some(format!("agent trust: {e}"));
                    false
                }
            };
        let (acks, trigger, pending) = {
            let mut g = self.lock();
            let now = self.clock.now();
            let same_revision = g.managed.revision == Some(p.revision);
            let old = AccPolicySnapshot::new(&g.policy, &g.managed.generations);
            let new = AccPolicySnapshot::new(&p.lockout, &p.generations);
            let trigger = if acc_policy_changed(&old, &new) {
                Some(RefreshTrigger::Policy)
            } else if same_revision && redelivery_refreshes {
                Some(RefreshTrigger::Manual)
            } else {
                None
            };
            g.policy = p.lockout.clone();
            g.managed = Managed {
                revision: Some(p.revision),
                generations: p.generations.clone(),
                app_id: p.app_id.clone(),
            };
            let Inner { state, policy, managed } = &mut *g;
            let mut writes = vec![
                Write::Policy(policy_json(policy)),
                Write::Managed(serde_json::to_string(managed).unwrap_or_default()),
            ];
            let acks = match trigger {
                Some(trigger) => {
                    let report = state.refresh_with_local(policy, &managed.generations, true, trigger, now);
                    writes.extend(state.stamp(report.events).into_iter().map(Write::Event));
                    writes.push(Write::State(store::state_scalars(state)));
                    for rec in state.accounts.iter() {
                        writes.extend(store::account_refresh_writes(rec));
                    }
                    for a in &report.actions {
                        tracing::info!(action = %a, revision = p.revision, trigger = trigger.as_str(), "ACC refresh.");
                    }
                    report.acks
                }
                None => state.acknowledgements(policy, &managed.generations),
            };
            (acks, trigger, self.submit(writes))
        };
        pending.durable().await.map_err(SiteError::from)?;
        if trigger.is_some() {
            self.refresh_changed.notify_one();
        }
        if trust_changed && let Err(e) = self.reload_tls() {
            error = Some(format!("agent trust: {e}"));
        }
        let accounts = p
            .generations
            .iter()
            .filter_map(|g| self.account(acc_core::lockout::local_name(&g.user_name)))
            .map(|v| acc_proto::AccountState { name: v.name, state: v.state })
            .collect();
        let (crl_this_update_ms, crl_next_update_ms) = crate::management::crl_times(&self.layout);
        Ok(acc_proto::SiteAck {
            revision: p.revision,
            generations: acks,
            accounts,
            error,
            url: None,
            crl_this_update_ms,
            crl_next_update_ms,
            tls_ca_pem: std::fs::read_to_string(self.layout.tls_ca_cert()).ok(),
        })
    }

    /// Runs the refresh at start (R-START), then whenever `next_refresh_at` is reached
    /// (R-INTERVAL), until the task is dropped.
    pub async fn refresh_loop(self: Arc<Self>) {
        if let Err(e) = self.refresh(RefreshTrigger::Start).await {
            tracing::error!(error = %e, "The start refresh failed.");
        }
        loop {
            let wait_ms = {
                let g = self.lock();
                let now = self.clock.now();
                g.state
                    .next_refresh_at
                    .map_or(0, |at| at.millis().saturating_sub(g.state.peek_time(now).millis()).max(0))
            };
            let wait = std::time::Duration::from_millis(u64::try_from(wait_ms).unwrap_or(0));
            tokio::select! {
                () = tokio::time::sleep(wait) => {
                    let due = self.lock().state.refresh_due(self.clock.now());
                    if due && let Err(e) = self.refresh(RefreshTrigger::Interval).await {
                        tracing::error!(error = %e, "The interval refresh failed.");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    }
                }
                () = self.refresh_changed.notified() => {}
            }
        }
    }
}

impl Site {
    /// `acc site policy set --event-log-max-size` on a standalone site (a joined site takes
    /// it from its management server's site settings).
    pub async fn set_event_log_max_size(&self, bytes: u64) -> Result<(), SiteError> {
        if let Some(revision) = self.applied_revision() {
            return Err(SiteError::Invalid(vec![format!(
                "event log maximum size: this site takes it from its management server (revision {revision}); change it there with `acc ctl settings site set --event-log-max-size`"
            )]));
        }
        self.store_event_log_max_size(bytes).await
    }

    /// The maximum size of a site policy from the management server (`None` from an older
    /// server: the site keeps its own).
    pub async fn apply_event_log_max_size(&self, bytes: Option<u64>) -> Result<(), SiteError> {
        match bytes {
            Some(b) if b != self.event_growth().max_size() => self.store_event_log_max_size(b).await,
            _ => Ok(()),
        }
    }

    async fn store_event_log_max_size(&self, bytes: u64) -> Result<(), SiteError> {
        acc_core::event::retention::check_max_size(bytes)
            .map_err(|e| SiteError::Invalid(vec![format!("event log maximum size: {e}")]))?;
        self.writer().submit(vec![Write::EventLogMaxSize(bytes)]).durable().await.map_err(SiteError::from)?;
        self.event_growth().set_max_size(bytes);
        Ok(())
    }
}
