//! The site service against a real SQLite file: logons through the lockout engine, durable
//! events and counters, and a reopen that finds everything as it was.

use std::net::IpAddr;
use std::sync::Arc;

use acc_core::lockout::{LockoutMode, LockoutPolicy, Outcome, Source};
use acc_core::time::{FixedClock, Timestamp};
use acc_site::Site;
use acc_site::layout::Layout;

mod support;

/// Moves `clock` forward by `s` seconds.
fn advance_secs(clock: &FixedClock, s: i64) {
    clock.advance_ms(s * 1000);
}

const T0: i64 = 1_780_000_000_000;

async fn fresh() -> (tempfile::TempDir, Layout, Arc<FixedClock>, Arc<Site>) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("site");
    support::init_site(&dir);
    let clock = Arc::new(FixedClock::at(Timestamp(T0)));
    let layout = Layout::new(&dir);
    let site = Site::open(layout.clone(), clock.clone()).await.unwrap();
    (tmp, layout, clock, site)
}

fn src(n: u8) -> Source {
    Source::new(IpAddr::from([10, 0, 0, n]), &format!("agent{n}"))
}

async fn event_ids(site: &Site) -> Vec<String> {
    sqlx::query_scalar("SELECT event_id FROM events ORDER BY seq").fetch_all(site.pool()).await.unwrap()
}

#[tokio::test]
async fn logons_lock_in_classic_mode_and_survive_a_reopen() {
    let (_tmp, layout, clock, site) = fresh().await;
    let policy = LockoutPolicy { mode: LockoutMode::Classic, threshold: 3, ..LockoutPolicy::default() };
    site.set_policy(policy.clone()).await.unwrap();
    site.add_account("ACC_user", "Tr0ub4dor&3-horse-staple").await.unwrap();
    assert_eq!(site.account("acc_user").unwrap().state, "enabled");

    let ok = site.authenticate("ACC_user", "Tr0ub4dor&3-horse-staple", src(1), 40000).await.unwrap();
    assert_eq!(ok.outcome, Outcome::Ok { policy_stale: false });
    for _ in 0..3 {
        let r = site.authenticate("ACC_user", "stale", src(2), 40001).await.unwrap();
        assert_eq!(r.outcome, Outcome::InvalidCredentials);
    }
    let locked = site.authenticate("ACC_user", "Tr0ub4dor&3-horse-staple", src(1), 40000).await.unwrap();
    assert!(matches!(locked.outcome, Outcome::LockedOut { retry_after: Some(_) }), "{locked:?}");
    assert_eq!(site.account("ACC_user").unwrap().state, "locked_out");
    let ids = event_ids(&site).await;
    assert_eq!(ids, ["4720", "4724", "4722", "4738", "4624", "4625", "4625", "4625", "4740", "4625"]);

    // Reopen from disk: the lock, the counters and the sequence continue.
    drop(site);
    let site = Site::open(layout.clone(), clock.clone()).await.unwrap();
    assert_eq!(site.policy(), policy);
    assert_eq!(site.account("ACC_user").unwrap().state, "locked_out");
    advance_secs(&clock, 601);
    let ok = site.authenticate("ACC_user", "Tr0ub4dor&3-horse-staple", src(1), 40000).await.unwrap();
    assert_eq!(ok.outcome, Outcome::Ok { policy_stale: false });
    let seqs: Vec<i64> =
        sqlx::query_scalar("SELECT seq FROM events ORDER BY seq").fetch_all(site.pool()).await.unwrap();
    assert_eq!(seqs, (1..=11).collect::<Vec<_>>());
}

#[tokio::test]
async fn smart_mode_blocks_the_stale_source_only_and_stops_hashing_it() {
    let (_tmp, layout, clock, site) = fresh().await;
    site.add_account("ACC_user", "Tr0ub4dor&3-horse-staple").await.unwrap();
    site.authenticate("ACC_user", "Tr0ub4dor&3-horse-staple", src(1), 1).await.unwrap();
    for _ in 0..5 {
        site.authenticate("ACC_user", "stale", src(9), 1).await.unwrap();
    }
    let cached = site.verification_cache_len();
    for _ in 0..50 {
        let r = site.authenticate("ACC_user", "stale", src(9), 1).await.unwrap();
        assert!(matches!(r.outcome, Outcome::LockedOut { .. }));
    }
    assert_eq!(site.verification_cache_len(), cached, "blocked attempts never reach the verifier");
    let good = site.authenticate("ACC_user", "Tr0ub4dor&3-horse-staple", src(1), 1).await.unwrap();
    assert_eq!(good.outcome, Outcome::Ok { policy_stale: false });
    assert_eq!(site.account("ACC_user").unwrap().blocked_sources, 1);

    drop(site);
    let site = Site::open(layout, clock.clone()).await.unwrap();
    let r = site.authenticate("ACC_user", "stale", src(9), 1).await.unwrap();
    assert!(matches!(r.outcome, Outcome::LockedOut { .. }), "the block survives a restart: {r:?}");
}

#[tokio::test]
async fn administration_refuses_clearly() {
    let (_tmp, _layout, _clock, site) = fresh().await;
    let err = site.add_account("CORP\\svc", "x-long-enough-password").await.unwrap_err().to_string();
    assert!(err.contains("domain account"), "{err}");
    site.add_account("ACC_user", "x-long-enough-password").await.unwrap();
    let err = site.add_account("acc_USER", "another-long-password").await.unwrap_err().to_string();
    assert!(err.contains("already exists"), "{err}");
    let err = site.remove("ACC_user").await.unwrap_err().to_string();
    assert!(err.contains("not disabled"), "{err}");
    let bad = LockoutPolicy { threshold: 1000, ..LockoutPolicy::default() };
    let err = site.set_policy(bad).await.unwrap_err().to_string();
    assert!(err.contains("lockout.threshold: 1000 is out of range; use 0 (never lock) to 999"), "{err}");
}

/// `n` wrong passwords from 10.0.0.66, a new caller name on each (rule M8a's attacker).
async fn rotating_flood(site: &Site, from: u32, n: u32) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    for i in from..from + n {
        let source = Source::new(IpAddr::from([10, 0, 0, 66]), &format!("fake{i}"));
        outcomes.push(site.authenticate("ACC_user", "stale", source, 1).await.unwrap().outcome);
    }
    outcomes
}

#[tokio::test]
async fn m8a_address_shares_are_durable_and_survive_a_reopen() {
    let (_tmp, layout, clock, site) = fresh().await;
    site.add_account("ACC_user", "Tr0ub4dor&3-horse-staple").await.unwrap();
    let outcomes = rotating_flood(&site, 0, 30).await;
    assert!(outcomes[..5].iter().all(|o| *o == Outcome::InvalidCredentials), "{outcomes:?}");
    assert!(outcomes[5..].iter().all(|o| matches!(o, Outcome::LockedOut { .. })), "{outcomes:?}");
    assert_eq!(site.account("ACC_user").unwrap().blocked_addresses, 1);
    let shares: Vec<(String, String)> =
        sqlx::query_as("SELECT ip, share FROM account_shares").fetch_all(site.pool()).await.unwrap();
    assert_eq!(shares.len(), 1);
    assert_eq!(shares[0].0, "10.0.0.66");

    // Reopen from disk: the address is still blocked, a new agent elsewhere logs on.
    drop(site);
    advance_secs(&clock, 10);
    let site = Site::open(layout.clone(), clock.clone()).await.unwrap();
    assert_eq!(site.account("ACC_user").unwrap().blocked_addresses, 1);
    let r = rotating_flood(&site, 100, 1).await;
    assert!(matches!(r[0], Outcome::LockedOut { retry_after: Some(590) }), "{r:?}");
    let good = site.authenticate("ACC_user", "Tr0ub4dor&3-horse-staple", src(3), 1).await.unwrap();
    assert_eq!(good.outcome, Outcome::Ok { policy_stale: false });

    // An unlock of the account clears every share with the unfamiliar aggregate (the
    // refresh of a lock does the same); the rows go with them.
    let policy = LockoutPolicy { unfamiliar_threshold: 6, ..LockoutPolicy::default() };
    site.set_policy(policy).await.unwrap();
    site.authenticate("ACC_user", "stale", src(4), 1).await.unwrap();
    assert_eq!(site.account("ACC_user").unwrap().state, "locked_out");
    site.unlock("ACC_user", false).await.unwrap();
    let rows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM account_shares").fetch_one(site.pool()).await.unwrap();
    assert_eq!(rows, 0);
    drop(site);
    let site = Site::open(layout, clock.clone()).await.unwrap();
    assert_eq!(site.account("ACC_user").unwrap().blocked_addresses, 0);
    let r = rotating_flood(&site, 200, 1).await;
    assert_eq!(r, [Outcome::InvalidCredentials]);
}

#[tokio::test]
async fn a_schema_version_1_database_is_migrated_for_address_shares() {
    let (_tmp, layout, clock, site) = fresh().await;
    site.add_account("ACC_user", "Tr0ub4dor&3-horse-staple").await.unwrap();
    // Turn the database back into what acc wrote before rule M8a: no account_shares
    // table, version 1, account rows without a `shares` field.
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT sid, record FROM accounts").fetch_all(site.pool()).await.unwrap();
    for (sid, record) in rows {
        let mut v: serde_json::Value = serde_json::from_str(&record).unwrap();
        v.as_object_mut().unwrap().remove("shares");
        sqlx::query("UPDATE accounts SET record = ? WHERE sid = ?")
            .bind(v.to_string())
            .bind(sid)
            .execute(site.pool())
            .await
            .unwrap();
    }
    sqlx::raw_sql("DROP TABLE account_shares; PRAGMA user_version = 1").execute(site.pool()).await.unwrap();
    drop(site);

    let site = Site::open(layout, clock.clone()).await.unwrap();
    let version: i64 = sqlx::query_scalar("PRAGMA user_version").fetch_one(site.pool()).await.unwrap();
    assert_eq!(version, 2);
    assert_eq!(site.account("ACC_user").unwrap().state, "enabled");
    let outcomes = rotating_flood(&site, 0, 6).await;
    assert!(matches!(outcomes[5], Outcome::LockedOut { .. }), "{outcomes:?}");
    let rows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM account_shares").fetch_one(site.pool()).await.unwrap();
    assert_eq!(rows, 1);
}

/// A site policy of `revision` with one active local generation `ACC_user`.
fn site_policy(revision: i64, lockout: LockoutPolicy) -> acc_proto::SitePolicy {
    acc_proto::SitePolicy {
        revision,
        lockout,
        generations: vec![acc_core::lockout::ManagedGeneration {
            generation: 1,
            user_name: "ACC_user".into(),
            phase: acc_core::lockout::GenerationPhase::Active,
            password_hash: Some(acc_core::lockout::PasswordHash::new(
                "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
            )),
        }],
        trust_pems: Vec::new(),
        crl_pem: None,
        force: 0,
        packages: Vec::new(),
        app_id: None,
        event_log_max_size: None,
        servers: Vec::new(),
    }
}

async fn refresh_triggers(site: &Site) -> Vec<String> {
    let bodies: Vec<String> =
        sqlx::query_scalar("SELECT body FROM events WHERE event_id = 'acc.refresh' ORDER BY seq")
            .fetch_all(site.pool())
            .await
            .unwrap();
    bodies
        .iter()
        .map(|b| {
            serde_json::from_str::<serde_json::Value>(b).unwrap()["Trigger"].as_str().unwrap().to_string()
        })
        .collect()
}

#[tokio::test]
async fn r_policy_refreshes_only_for_revisions_that_change_what_the_refresh_acts_on() {
    let (_tmp, _layout, _clock, site) = fresh().await;
    let ack = site.apply_site_policy(site_policy(1, LockoutPolicy::default()), true).await.unwrap();
    assert_eq!(refresh_triggers(&site).await, ["policy"], "a new generation: R-POLICY");
    assert_eq!(format!("{:?}", ack.generations[0].status), "Created");

    // A revision that changes only lockout thresholds: no refresh, the same acknowledgement.
    let lockout = LockoutPolicy { source_threshold: 4, ..LockoutPolicy::default() };
    let ack = site.apply_site_policy(site_policy(2, lockout.clone()), true).await.unwrap();
    assert_eq!(refresh_triggers(&site).await, ["policy"], "nothing ACC-related changed");
    assert_eq!(format!("{:?}", ack.generations[0].status), "Exists");
    assert_eq!(site.policy(), lockout, "the revision is applied all the same");
    assert_eq!(site.applied_revision(), Some(2));

    // The same revision again: an operator's update-config (R-MANUAL), unless it is only
    // the first answer on a new connection.
    site.apply_site_policy(site_policy(2, lockout.clone()), false).await.unwrap();
    assert_eq!(refresh_triggers(&site).await, ["policy"]);
    site.apply_site_policy(site_policy(2, lockout.clone()), true).await.unwrap();
    assert_eq!(refresh_triggers(&site).await, ["policy", "manual"]);

    // An ACC setting changes: R-POLICY again.
    let lockout = LockoutPolicy { acc_refresh_interval: 3600, ..lockout };
    site.apply_site_policy(site_policy(3, lockout), true).await.unwrap();
    assert_eq!(refresh_triggers(&site).await, ["policy", "manual", "policy"]);
}

/// A management server node list whose only node nothing listens on (the directory is
/// unreachable).
fn unreachable_directory(layout: &acc_site::layout::Layout) -> acc_site::management::Nodes {
    let config = acc_site::management::ManagementConfig { url: "https://127.0.0.1:9".into(), urls: vec![] };
    acc_site::management::Nodes::new(layout, config).unwrap()
}

#[tokio::test]
async fn domain_form_logons_name_their_domain_by_the_one_rule_for_name_forms() {
    // D3: the directory cannot be reached (this site never joined one: no credentials to
    // reach it); the 4625 names the domain part of the presented name in both forms.
    let (_tmp, layout, _clock, site) = fresh().await;
    site.attach_directory(unreachable_directory(&layout));
    for (user, domain) in [("acc_svc@corp.local", "corp.local"), ("CORP\\acc_svc", "CORP")] {
        let r = site.authenticate(user, "whatever-it-is", src(1), 1).await.unwrap();
        assert_eq!(r.outcome, Outcome::Unavailable, "{user}");
        let body: String = sqlx::query_scalar("SELECT body FROM events ORDER BY seq DESC LIMIT 1")
            .fetch_one(site.pool())
            .await
            .unwrap();
        let e: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(e["EventID"], 4625, "{e}");
        assert_eq!(e["Status"], "0xC000005E", "{e}");
        assert_eq!(e["TargetDomainName"], domain, "{user}: {e}");
    }
}

#[tokio::test]
async fn the_app_ids_logons_carry_package_acc_app_id() {
    // "Use Application Credentials": the policy names the App ID; its logons (here refused
    // as unavailable: no directory reachable) carry acc-app-id, others acc-password.
    let (_tmp, layout, _clock, site) = fresh().await;
    let mut policy = site_policy(1, LockoutPolicy::default());
    policy.app_id = Some(acc_core::lockout::AppIdName {
        account: "svc_acc_app".into(),
        directory: acc_core::name::DirectoryNames { netbios: "CORP".into(), dns: "corp.local".into() },
    });
    site.apply_site_policy(policy, true).await.unwrap();
    site.attach_directory(unreachable_directory(&layout));
    let last_package = || async {
        let body: String = sqlx::query_scalar("SELECT body FROM events ORDER BY seq DESC LIMIT 1")
            .fetch_one(site.pool())
            .await
            .unwrap();
        let e: serde_json::Value = serde_json::from_str(&body).unwrap();
        e["AuthenticationPackageName"].as_str().unwrap().to_string()
    };
    for (user, package) in [
        ("CORP\\svc_acc_app", "acc-app-id"),
        ("svc_acc_app@corp.local", "acc-app-id"),
        ("CORP\\acc_svc", "acc-password"),
        ("ACC_user", "acc-password"),
    ] {
        site.authenticate(user, "some-password-here", src(1), 1).await.unwrap();
        assert_eq!(last_package().await, package, "{user}");
    }
}
