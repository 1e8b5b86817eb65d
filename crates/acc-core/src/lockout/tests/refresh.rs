//! ACC refresh and auto re-enable (3.1.2–3.1.3, A1–A7) and the R-POLICY helper.

use super::*;
use crate::event::catalogue::Subject;

fn generation(g: u32, name: &str, phase: GenerationPhase, hash: &str) -> ManagedGeneration {
    ManagedGeneration {
        generation: g,
        user_name: name.into(),
        phase,
        password_hash: Some(PasswordHash::new(hash)),
    }
}

fn gen1() -> ManagedGeneration {
    generation(1, "ACC_user", GenerationPhase::Active, HASH1)
}

fn actions(r: &RefreshReport) -> Vec<&str> {
    r.actions.iter().map(String::as_str).collect()
}

fn empty_site() -> (SiteState, LockoutPolicy) {
    (SiteState::new(identity()), LockoutPolicy::default())
}

#[test]
fn a7_refresh_event_and_schedule() {
    let mut fx = Fx::smart();
    fx.at(10);
    let r = fx.site.refresh(&fx.policy, &[gen1()], RefreshTrigger::Start, fx.now());
    assert!(r.actions.is_empty(), "an enabled, unlocked, correct account adds none");
    assert_eq!(ids(&r.events), ["acc.refresh"]);
    let e = &r.events[0];
    assert_eq!(e.field_names(), ["Trigger", "Actions", "NextRefreshAt"]);
    assert_eq!(s(e, "Trigger"), "start");
    assert_eq!(e.field("Actions"), Some(&FieldValue::List(vec![])));
    assert_eq!(s(e, "NextRefreshAt"), "2025-06-02T18:00:10.000Z");
    assert_eq!(r.next_refresh_at, Timestamp(T0 + 10_000 + 21_600_000));
    assert_eq!(fx.site.next_refresh_at, Some(r.next_refresh_at));
    assert_eq!(r.acks, [GenerationAck { generation: 1, status: AckStatus::Exists, message: None }]);
    for (trigger, text) in [
        (RefreshTrigger::Policy, "policy"),
        (RefreshTrigger::Interval, "interval"),
        (RefreshTrigger::Manual, "manual"),
    ] {
        let r = fx.site.refresh(&fx.policy, &[gen1()], trigger, fx.now());
        assert_eq!(s(&r.events[0], "Trigger"), text);
    }
}

#[test]
fn r_interval_is_due_at_exactly_next_refresh_at() {
    let mut fx = Fx::smart();
    assert!(fx.site.refresh_due(fx.now()), "never refreshed: due");
    fx.site.refresh(&fx.policy, &[gen1()], RefreshTrigger::Start, fx.now());
    fx.at_ms(21_599_999);
    assert!(!fx.site.refresh_due(fx.now()));
    fx.at(21_600);
    assert!(fx.site.refresh_due(fx.now()));
}

#[test]
fn a1_domain_accounts_are_skipped() {
    let (mut site, policy) = empty_site();
    let gens = [
        generation(3, "CORP\\acc_svc", GenerationPhase::Active, ""),
        generation(4, "acc@corp.example", GenerationPhase::Provisioning, ""),
    ];
    let r = site.refresh(&policy, &gens, RefreshTrigger::Policy, Timestamp(T0));
    assert_eq!(actions(&r), ["skip CORP\\acc_svc: domain account", "skip acc@corp.example: domain account"]);
    assert!(r.acks.is_empty());
    assert!(site.accounts.is_empty());
    assert!(is_domain_form("CORP\\x") && !is_domain_form(".\\x") && !is_domain_form("x"));
}

#[test]
fn a2_missing_accounts_are_created_and_acknowledged() {
    let (mut site, policy) = empty_site();
    let gens = [
        generation(2, ".\\ACC_User_v2", GenerationPhase::Provisioning, "h2"),
        generation(1, "ACC_User_v1", GenerationPhase::Active, "h1"),
    ];
    let r = site.refresh(&policy, &gens, RefreshTrigger::Policy, Timestamp(T0));
    assert_eq!(actions(&r), ["create ACC_User_v1", "create ACC_User_v2"]);
    assert_eq!(
        ids(&r.events),
        ["4720", "4724", "4722", "4738", "4720", "4724", "4722", "4738", "acc.refresh"]
    );
    assert_eq!(
        r.acks.iter().map(|a| (a.generation, a.status)).collect::<Vec<_>>(),
        [(1, AckStatus::Created), (2, AckStatus::Created)]
    );
    assert_eq!(n(&r.events[4], "AccGeneration"), 2);
    assert_eq!(site.account("ACC_User_v2").unwrap().password_hash, Some(PasswordHash::new("h2")));
}

#[test]
fn a2_a_missing_retiring_account_is_recreated_retiring_with_a_new_sid() {
    let mut fx = Fx::smart();
    let old_sid = fx.rec().sid.clone();
    fx.site.delete_for_rotation("ACC_user", fx.now()).unwrap();
    let g = generation(1, "ACC_user", GenerationPhase::Retiring, HASH1);
    let r = fx.site.refresh(&fx.policy, &[g], RefreshTrigger::Interval, fx.now());
    assert_eq!(actions(&r), ["create ACC_user"]);
    assert_ne!(fx.rec().sid, old_sid);
    assert_eq!(fx.label(), "retiring");
}

#[test]
fn a2_an_unmanaged_account_of_that_name_is_a_conflict() {
    let (mut site, policy) = empty_site();
    site.add_unmanaged_account("acc_user_v2", PasswordHash::new("theirs")).unwrap();
    let g = generation(2, "ACC_User_v2", GenerationPhase::Provisioning, "h2");
    let r = site.refresh(&policy, &[g], RefreshTrigger::Policy, Timestamp(T0));
    let msg = "rotation: site server SITE-01 cannot create 'ACC_User_v2': a local account with that name already exists and was not created by acc; delete or rename it there, or choose another name";
    assert_eq!(actions(&r), [format!("failed ACC_User_v2: {msg}").as_str()]);
    assert_eq!(
        r.acks,
        [GenerationAck { generation: 2, status: AckStatus::Failed, message: Some(msg.into()) }]
    );
    assert_eq!(ids(&r.events), ["acc.refresh"]);
    let theirs = site.account("ACC_User_v2").unwrap();
    assert!(!theirs.managed);
    assert_eq!(theirs.password_hash, Some(PasswordHash::new("theirs")), "untouched");
}

#[test]
fn a2_creation_disabled_skips() {
    let (mut site, mut policy) = empty_site();
    policy.create_acc_on_site_servers = false;
    let g = generation(2, "ACC_User_v2", GenerationPhase::Provisioning, "h2");
    let r = site.refresh(&policy, &[g], RefreshTrigger::Policy, Timestamp(T0));
    assert_eq!(actions(&r), ["skip ACC_User_v2: creation disabled"]);
    assert!(r.acks.is_empty());
    assert!(site.accounts.is_empty());
}

#[test]
fn a3_disabled_accounts_are_left_entirely_alone() {
    let mut fx = Fx::classic();
    for i in 0..10 {
        fx.at(i).bad(&src(1));
    }
    let subject = fx.site.site_subject();
    fx.site.disable("ACC_user", DisabledBy::Admin, &subject, fx.now()).unwrap();
    let before = fx.site.accounts.clone();
    let g = generation(1, "ACC_user", GenerationPhase::Active, "drifted");
    let r = fx.site.refresh(&fx.policy, &[g], RefreshTrigger::Manual, fx.now());
    assert_eq!(actions(&r), ["skip ACC_user: disabled"]);
    assert_eq!(ids(&r.events), ["acc.refresh"]);
    assert_eq!(fx.site.accounts, before, "no repair, no unlock, no re-enable");
    assert_eq!(r.acks[0].status, AckStatus::Exists);
}

#[test]
fn a4_password_drift_is_repaired_without_touching_the_lock() {
    let mut fx = Fx::classic();
    fx.policy.reenable_locked_local_account = false;
    for i in 0..10 {
        fx.at(i).bad(&src(1));
    }
    let g = generation(1, "ACC_user", GenerationPhase::Active, "$argon2id$fixed");
    let r = fx.site.refresh(&fx.policy, &[g], RefreshTrigger::Policy, fx.now());
    assert_eq!(actions(&r), ["repair-password ACC_user"]);
    assert_eq!(ids(&r.events), ["4724", "4738", "acc.refresh"]);
    assert_eq!(fx.rec().password_hash, Some(PasswordHash::new("$argon2id$fixed")));
    assert_eq!(fx.label(), "locked_out");
    assert_eq!(fx.rec().bad_count, 10);
}

#[test]
fn a5_reenable_unlocks_with_4767_reason_reenable() {
    let mut fx = Fx::smart();
    for i in 0..20 {
        fx.at(i).bad(&src(100 + i as u32));
    }
    assert_eq!(fx.label(), "locked_out");
    let r = fx.site.refresh(&fx.policy, &[gen1()], RefreshTrigger::Interval, fx.now());
    assert_eq!(actions(&r), ["unlock ACC_user"]);
    assert_eq!(ids(&r.events), ["4767", "acc.refresh"]);
    let e = &r.events[0];
    assert_eq!(s(e, "Reason"), "reenable");
    assert_eq!(s(e, "LockScope"), "unfamiliar");
    assert_eq!(s(e, "SubjectUserSid"), "S-1-5-18");
    assert_eq!(s(e, "SubjectUserName"), "SITE-01$");
    let rec = fx.rec();
    assert_eq!(
        (rec.lock_time, rec.bad_count, rec.bad_time, rec.unf_count, rec.unf_time),
        (None, 0, None, 0, None)
    );
    assert_eq!(fx.good(&src(500)).outcome, OK);
}

#[test]
fn a5_with_d_0_a_lock_lasts_until_the_next_refresh() {
    let mut fx = Fx::classic();
    fx.policy.duration = 0;
    for i in 0..10 {
        fx.at(i).bad(&src(1));
    }
    assert_eq!(fx.at(21_000).good(&src(1)).outcome, locked(None));
    fx.site.refresh(&fx.policy, &[gen1()], RefreshTrigger::Interval, fx.now());
    assert_eq!(fx.good(&src(1)).outcome, OK);
}

#[test]
fn a5_expired_lock_is_cleared_silently() {
    let mut fx = Fx::classic();
    for i in 0..10 {
        fx.at(i).bad(&src(1));
    }
    fx.at(700);
    let r = fx.site.refresh(&fx.policy, &[gen1()], RefreshTrigger::Interval, fx.now());
    assert_eq!(actions(&r), ["clear-expired-lock ACC_user"]);
    assert_eq!(ids(&r.events), ["acc.refresh"]);
    assert_eq!((fx.rec().lock_time, fx.rec().bad_count), (None, 0));
}

#[test]
fn a5_reenable_off_leaves_the_lock() {
    let mut fx = Fx::classic();
    fx.policy.reenable_locked_local_account = false;
    for i in 0..10 {
        fx.at(i).bad(&src(1));
    }
    let r = fx.site.refresh(&fx.policy, &[gen1()], RefreshTrigger::Interval, fx.now());
    assert!(r.actions.is_empty());
    assert_eq!(fx.label(), "locked_out");
}

#[test]
fn a6_source_blocks_survive_a_refresh() {
    let mut fx = Fx::smart();
    for i in 0..5 {
        fx.at(i).bad(&src(1));
    }
    let r = fx.site.refresh(&fx.policy, &[gen1()], RefreshTrigger::Manual, fx.now());
    assert!(r.actions.is_empty());
    assert_eq!(fx.good(&src(1)).outcome, locked(Some(300)));
}

#[test]
fn refresh_follows_the_generation_phase_for_retiring() {
    let mut fx = Fx::smart();
    let g = generation(1, "ACC_user", GenerationPhase::Retiring, HASH1);
    let r = fx.site.refresh(&fx.policy, &[g], RefreshTrigger::Policy, fx.now());
    assert!(r.actions.is_empty());
    assert_eq!(fx.label(), "retiring");
    assert!(fx.good(&src(1)).outcome.policy_stale());
}

#[test]
fn refresh_actions_follow_generation_order_and_the_a_order() {
    let mut fx = Fx::classic();
    for i in 0..10 {
        fx.at(i).bad(&src(1));
    }
    fx.site.create_managed_account("ACC_user_v0", 0, PasswordHash::new("h0"), false, fx.now()).unwrap();
    fx.site.disable("ACC_user_v0", DisabledBy::Rotation, &Subject::site("SITE-01", "ACC"), fx.now()).unwrap();
    let gens = [
        generation(2, "ACC_user_v2", GenerationPhase::Provisioning, "h2"),
        generation(1, "ACC_user", GenerationPhase::Active, "drift"),
        generation(0, "ACC_user_v0", GenerationPhase::Retiring, "h0"),
    ];
    let r = fx.site.refresh(&fx.policy, &gens, RefreshTrigger::Policy, fx.now());
    assert_eq!(
        actions(&r),
        ["skip ACC_user_v0: disabled", "repair-password ACC_user", "unlock ACC_user", "create ACC_user_v2",]
    );
    assert_eq!(ids(&r.events), ["4724", "4738", "4767", "4720", "4724", "4722", "4738", "acc.refresh"]);
    assert_eq!(r.events.last().unwrap().field("Actions"), Some(&FieldValue::List(r.actions.clone())));
}

#[test]
fn r_policy_counts_only_acc_relevant_changes() {
    let policy = LockoutPolicy::default();
    let g1 = gen1();
    let g2 = generation(2, "ACC_user_v2", GenerationPhase::Provisioning, "h2");
    let one = std::slice::from_ref(&g1);
    let base = AccPolicySnapshot::new(&policy, one);
    assert!(!acc_policy_changed(&base, &AccPolicySnapshot::new(&policy, one)));
    // Lockout thresholds are not ACC refresh settings.
    let other = LockoutPolicy { threshold: 3, ..policy.clone() };
    assert!(!acc_policy_changed(&base, &AccPolicySnapshot::new(&other, one)));
    // A generation added, or two listed in another order.
    let two = AccPolicySnapshot::new(&policy, &[g1.clone(), g2.clone()]);
    assert!(acc_policy_changed(&base, &two));
    assert!(!acc_policy_changed(&two, &AccPolicySnapshot::new(&policy, &[g2.clone(), g1.clone()])));
    // Phase change, hash change, each setting.
    let mut phased = g1.clone();
    phased.phase = GenerationPhase::Retiring;
    assert!(acc_policy_changed(&base, &AccPolicySnapshot::new(&policy, &[phased])));
    let mut rehashed = g1.clone();
    rehashed.password_hash = Some(PasswordHash::new("other"));
    assert!(acc_policy_changed(&base, &AccPolicySnapshot::new(&policy, &[rehashed])));
    for p in [
        LockoutPolicy { create_acc_on_site_servers: false, ..policy.clone() },
        LockoutPolicy { reenable_locked_local_account: false, ..policy.clone() },
        LockoutPolicy { acc_refresh_interval: 3600, ..policy.clone() },
    ] {
        assert!(acc_policy_changed(&base, &AccPolicySnapshot::new(&p, one)));
    }
}

#[test]
fn standalone_sites_reenable_their_locally_created_accounts() {
    let mut site = SiteState::new(identity());
    let mut policy = LockoutPolicy { mode: LockoutMode::Classic, threshold: 2, ..LockoutPolicy::default() };
    let admin = Subject::admin("S-1-5-21-1-2-3-500", "alice", "SITE-01", "0x0");
    site.admin_create("ACC_user", PasswordHash::new("h"), &admin, Timestamp(T0)).unwrap();
    site.admin_create("Other", PasswordHash::new("h"), &admin, Timestamp(T0)).unwrap();
    for _ in 0..2 {
        site.authenticate(&policy, Attempt::password("ACC_user", src(1), 1), Timestamp(T0 + 1000), |_| false);
    }
    site.disable("Other", DisabledBy::Admin, &admin, Timestamp(T0)).unwrap();
    assert!(site.account("ACC_user").unwrap().lock_time.is_some());

    // The plain refresh manages generations only: the local account stays locked.
    let r = site.refresh(&policy, &[], RefreshTrigger::Interval, Timestamp(T0 + 2000));
    assert_eq!(actions(&r), Vec::<&str>::new());
    assert!(site.account("ACC_user").unwrap().lock_time.is_some());

    // With local accounts (a standalone site): A3 and A5 apply, in name order.
    let r = site.refresh_with_local(&policy, &[], true, RefreshTrigger::Interval, Timestamp(T0 + 3000));
    assert_eq!(actions(&r), ["unlock ACC_user", "skip Other: disabled"]);
    assert_eq!(ids(&r.events), ["4767", "acc.refresh"]);
    assert_eq!(s(&r.events[0], "Reason"), "reenable");
    assert_eq!(site.account("ACC_user").unwrap().lock_time, None);
    assert_eq!(site.account("ACC_user").unwrap().bad_count, 0);

    // Re-enable off: the lock stays, no entry.
    policy.reenable_locked_local_account = false;
    for _ in 0..2 {
        site.authenticate(&policy, Attempt::password("ACC_user", src(1), 1), Timestamp(T0 + 4000), |_| false);
    }
    let r = site.refresh_with_local(&policy, &[], true, RefreshTrigger::Interval, Timestamp(T0 + 5000));
    assert_eq!(actions(&r), ["skip Other: disabled"]);
    assert!(site.account("ACC_user").unwrap().lock_time.is_some());
}

#[test]
fn r_policy_acknowledgements_without_a_refresh_match_what_a_refresh_reports() {
    // A revision that changes nothing ACC-related is acknowledged without a refresh: the
    // statuses are those a refresh would report for accounts already in place.
    let mut fx = Fx::smart();
    let admin = Subject::admin("S-1-5-21-1-2-3-500", "alice", "SITE-01", "0x0");
    fx.site.admin_create("Mine", PasswordHash::new("h"), &admin, fx.now()).unwrap();
    let gens = [
        gen1(),
        generation(2, "CORP\\acc_svc", GenerationPhase::Retiring, ""),
        generation(3, "Mine", GenerationPhase::Provisioning, "h3"),
        generation(4, "Missing", GenerationPhase::Provisioning, "h4"),
    ];
    let before = fx.site.clone();
    let acks = fx.site.acknowledgements(&fx.policy, &gens);
    assert_eq!(fx.site, before, "nothing changes");
    assert_eq!(
        acks,
        [
            GenerationAck { generation: 1, status: AckStatus::Exists, message: None },
            GenerationAck {
                generation: 3,
                status: AckStatus::Failed,
                message: Some(conflict_message("SITE-01", "Mine")),
            },
        ]
    );
    let refreshed = fx.site.refresh(&fx.policy, &gens[..3], RefreshTrigger::Policy, fx.now());
    assert_eq!(refreshed.acks, acks);
}

#[test]
fn a_removed_generation_is_refreshed_as_if_it_were_not_listed() {
    let mut fx = Fx::smart();
    let mut twin = Fx::smart();
    let mut removed = gen1();
    removed.phase = GenerationPhase::Removed;
    let r = fx.site.refresh(&fx.policy, &[removed.clone()], RefreshTrigger::Policy, fx.now());
    let absent = twin.site.refresh(&twin.policy, &[], RefreshTrigger::Policy, twin.now());
    assert_eq!((actions(&r), &r.acks), (actions(&absent), &absent.acks));
    assert!(r.acks.is_empty(), "no acknowledgement for a removed generation");
    assert!(fx.site.acknowledgements(&fx.policy, &[removed]).is_empty());
    assert!(!fx.site.acknowledgements(&fx.policy, &[gen1()]).is_empty(), "an active one is acknowledged");
}
