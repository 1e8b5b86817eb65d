//! Account administration (4.2 fixed orders, 1.3 state machine, S1, S2, 3.1.4, P6, P7).

use super::*;
use crate::event::catalogue::Subject;

fn admin() -> Subject {
    Subject::admin("S-1-5-21-9-9-9-500", "alice", "MGMT-01", "0x5a1")
}

const TARGET: [&str; 7] = [
    "SubjectUserSid",
    "SubjectUserName",
    "SubjectDomainName",
    "SubjectLogonId",
    "TargetUserName",
    "TargetDomainName",
    "TargetSid",
];

fn with_target(extra: &[&'static str]) -> Vec<&'static str> {
    TARGET.iter().copied().chain(extra.iter().copied()).collect()
}

#[test]
fn creation_writes_4720_4724_4722_4738_with_exact_fields() {
    let mut site = SiteState::new(identity());
    let t = Timestamp(T0 + 4_000);
    let ev = site.create_managed_account("ACC_User_v1", 1, PasswordHash::new(HASH1), false, t).unwrap();
    assert_eq!(ids(&ev), ["4720", "4724", "4722", "4738"]);
    let created = &ev[0];
    assert_eq!(
        created.field_names(),
        with_target(&[
            "SamAccountName",
            "DisplayName",
            "UserPrincipalName",
            "PasswordLastSet",
            "AccountExpires",
            "PrimaryGroupId",
            "OldUacValue",
            "NewUacValue",
            "UserAccountControl",
            "AccGeneration",
        ])
    );
    assert_eq!(s(created, "SubjectUserSid"), "S-1-5-18");
    assert_eq!(s(created, "SubjectUserName"), "SITE-01$");
    assert_eq!(s(created, "TargetSid"), "S-1-5-21-1111-2222-3333-1001");
    assert_eq!(s(created, "TargetDomainName"), "SITE-01");
    assert_eq!(s(created, "SamAccountName"), "ACC_User_v1");
    assert_eq!(s(created, "DisplayName"), "Agent Connectivity Credential (generation 1)");
    assert_eq!(s(created, "UserPrincipalName"), "-");
    assert_eq!(s(created, "PasswordLastSet"), "-");
    assert_eq!(s(created, "AccountExpires"), "Never");
    assert_eq!(n(created, "PrimaryGroupId"), 513);
    assert_eq!(s(created, "OldUacValue"), "0x0");
    assert_eq!(s(created, "NewUacValue"), "0x10202");
    assert_eq!(s(created, "UserAccountControl"), "Account Disabled, Normal Account, Don't Expire Password");
    assert_eq!(n(created, "AccGeneration"), 1);
    assert_eq!(ev[1].field_names(), with_target(&[]));
    assert_eq!(ev[2].field_names(), with_target(&[]));
    let changed = &ev[3];
    assert_eq!(
        changed.field_names(),
        with_target(&["OldUacValue", "NewUacValue", "UserAccountControl", "PasswordLastSet"])
    );
    assert_eq!(s(changed, "OldUacValue"), "0x10202");
    assert_eq!(s(changed, "NewUacValue"), "0x10200");
    assert_eq!(s(changed, "PasswordLastSet"), "2025-06-02T12:00:04.000Z");
    assert!(ev.iter().all(|e| e.time == t && e.mode.is_none()));
    assert!(ev.iter().all(|e| e.keywords == crate::event::Keywords::AuditSuccess));
    let rec = site.account("acc_user_v1").unwrap();
    assert!(rec.managed);
    assert_eq!((rec.generation, rec.lifecycle), (Some(1), Lifecycle::Enabled));
}

#[test]
fn sids_are_unique_and_a_recreated_account_gets_a_new_one() {
    let mut fx = Fx::classic();
    let first = fx.rec().sid.clone();
    fx.site.disable("ACC_user", DisabledBy::Admin, &admin(), fx.now()).unwrap();
    fx.site.admin_delete("ACC_user", &admin(), fx.now()).unwrap();
    fx.site.create_managed_account("ACC_user", 1, PasswordHash::new(HASH1), false, fx.now()).unwrap();
    assert_ne!(fx.rec().sid, first);
    assert_eq!(fx.site.tombstones().next().unwrap().sid, first);
    assert_eq!(
        fx.site.create_managed_account("acc_USER", 1, PasswordHash::new(HASH1), false, fx.now()),
        Err(AdminError::AlreadyExists("acc_USER".into()))
    );
}

#[test]
fn enable_writes_4722_4738_and_disable_4725_4738() {
    let mut fx = Fx::classic();
    let ev = fx.site.disable("ACC_user", DisabledBy::Admin, &admin(), fx.now()).unwrap();
    assert_eq!(ids(&ev), ["4725", "4738"]);
    assert_eq!(ev[0].field_names(), with_target(&["DisabledBy"]));
    assert_eq!(s(&ev[0], "DisabledBy"), "admin");
    assert_eq!(s(&ev[0], "SubjectUserName"), "alice");
    assert_eq!(s(&ev[0], "SubjectDomainName"), "MGMT-01");
    assert_eq!(s(&ev[0], "SubjectLogonId"), "0x5a1");
    assert_eq!(s(&ev[1], "NewUacValue"), "0x10202");
    assert_eq!(s(&ev[1], "PasswordLastSet"), "-");
    assert_eq!(fx.rec().disabled_by, Some(DisabledBy::Admin));
    assert_eq!(
        fx.site.disable("ACC_user", DisabledBy::Admin, &admin(), fx.now()),
        Err(AdminError::AlreadyDisabled("ACC_user".into()))
    );
    let ev = fx.site.admin_enable("ACC_user", &admin(), fx.now()).unwrap();
    assert_eq!(ids(&ev), ["4722", "4738"]);
    assert_eq!(s(&ev[1], "OldUacValue"), "0x10202");
    assert_eq!(s(&ev[1], "NewUacValue"), "0x10200");
    assert_eq!(fx.label(), "enabled");
    assert_eq!(
        fx.site.admin_enable("ACC_user", &admin(), fx.now()),
        Err(AdminError::NotDisabled("ACC_user".into()))
    );
}

#[test]
fn s1_delete_leaves_a_tombstone_and_the_name_becomes_unknown() {
    let mut fx = Fx::classic();
    assert_eq!(
        fx.site.admin_delete("ACC_user", &admin(), fx.now()),
        Err(AdminError::NotDisabled("ACC_user".into())),
        "only a disabled account can be deleted"
    );
    fx.site.disable("ACC_user", DisabledBy::Admin, &admin(), fx.now()).unwrap();
    let ev = fx.site.admin_delete("ACC_user", &admin(), fx.now()).unwrap();
    assert_eq!(ids(&ev), ["4726"]);
    assert_eq!(ev[0].field_names(), with_target(&["PrivilegeList"]));
    assert_eq!(s(&ev[0], "PrivilegeList"), "-");
    let tomb = fx.site.tombstones().next().unwrap();
    assert_eq!(tomb.name.as_str(), "ACC_user");
    assert_eq!(tomb.generation, Some(1));
    assert_eq!(tomb.password_hash, None);
    let r = fx.good(&src(1));
    assert_eq!(r.outcome, Outcome::InvalidCredentials);
    assert_eq!(s(&r.events[0], "SubStatus"), "0xC0000064");
    assert_eq!(s(&r.events[0], "TargetUserSid"), "S-1-0-0");
    assert!(fx.site.displayed_state(&fx.policy, "ACC_user", fx.now()).is_none());
}

#[test]
fn automatic_actions_never_touch_unmanaged_accounts() {
    let mut site = SiteState::new(identity());
    site.add_unmanaged_account("Administrator", PasswordHash::new("x")).unwrap();
    let t = Timestamp(T0);
    assert_eq!(
        site.disable("administrator", DisabledBy::Rotation, &admin(), t),
        Err(AdminError::NotManaged("administrator".into()))
    );
    assert_eq!(
        site.repair_password("Administrator", PasswordHash::new("y"), t),
        Err(AdminError::NotManaged("Administrator".into()))
    );
    assert_eq!(
        site.disable("ghost", DisabledBy::Admin, &admin(), t),
        Err(AdminError::UnknownAccount("ghost".into()))
    );
}

#[test]
fn a_local_administrator_manages_the_accounts_it_created() {
    let mut site = SiteState::new(identity());
    let t = Timestamp(T0);
    let ev = site.admin_create("svc_local", PasswordHash::new("h1"), &admin(), t).unwrap();
    assert_eq!(ids(&ev), ["4720", "4724", "4722", "4738"]);
    assert_eq!(s(&ev[0], "DisplayName"), "Local account");
    assert!(ev[0].field("AccGeneration").is_none());
    assert_eq!(s(&ev[0], "SubjectUserName"), "alice");
    let rec = site.account("SVC_LOCAL").unwrap();
    assert!(!rec.managed && rec.generation.is_none());
    assert_eq!(
        site.admin_create("svc_local", PasswordHash::new("h2"), &admin(), t),
        Err(AdminError::AlreadyExists("svc_local".into()))
    );
    let ev = site.admin_set_password("svc_local", PasswordHash::new("h2"), &admin(), t).unwrap();
    assert_eq!(ids(&ev), ["4724", "4738"]);
    assert_eq!(site.account("svc_local").unwrap().password_hash, Some(PasswordHash::new("h2")));
    assert_eq!(ids(&site.disable("svc_local", DisabledBy::Admin, &admin(), t).unwrap()), ["4725", "4738"]);
    assert_eq!(ids(&site.admin_enable("svc_local", &admin(), t).unwrap()), ["4722", "4738"]);
    site.disable("svc_local", DisabledBy::Admin, &admin(), t).unwrap();
    assert_eq!(ids(&site.admin_delete("svc_local", &admin(), t).unwrap()), ["4726"]);
}

#[test]
fn drift_repair_writes_4724_4738_and_keeps_the_lock() {
    let mut fx = Fx::classic();
    for i in 0..10 {
        fx.at(i).bad(&src(1));
    }
    let ev = fx.site.repair_password("ACC_user", PasswordHash::new("$argon2id$other"), fx.now()).unwrap();
    assert_eq!(ids(&ev), ["4724", "4738"]);
    assert_eq!(s(&ev[1], "OldUacValue"), "-");
    assert_eq!(s(&ev[1], "UserAccountControl"), "-");
    assert_eq!(s(&ev[1], "PasswordLastSet"), "2025-06-02T12:00:09.000Z");
    assert_eq!(fx.label(), "locked_out");
    assert_eq!(fx.rec().bad_count, 10);
}

#[test]
fn manual_unlock_clears_the_lock_with_4767_reason_admin() {
    let mut fx = Fx::classic();
    for i in 0..10 {
        fx.at(i).bad(&src(1));
    }
    let ev = fx.site.admin_unlock(&fx.policy, "ACC_user", false, &admin(), fx.now()).unwrap();
    assert_eq!(ids(&ev), ["4767"]);
    assert_eq!(ev[0].field_names(), with_target(&["LockScope", "Reason"]));
    assert_eq!(s(&ev[0], "LockScope"), "account");
    assert_eq!(s(&ev[0], "Reason"), "admin");
    assert_eq!(s(&ev[0], "SubjectUserName"), "alice");
    assert_eq!((fx.rec().lock_time, fx.rec().bad_count), (None, 0));
    assert_eq!(fx.good(&src(1)).outcome, OK);
    // Nothing locked: nothing to write.
    let ev = fx.site.admin_unlock(&fx.policy, "ACC_user", true, &admin(), fx.now()).unwrap();
    assert!(ev.is_empty());
}

#[test]
fn manual_unlock_of_an_expired_lock_is_silent() {
    let mut fx = Fx::classic();
    for i in 0..10 {
        fx.at(i).bad(&src(1));
    }
    fx.at(700);
    let ev = fx.site.admin_unlock(&fx.policy, "ACC_user", false, &admin(), fx.now()).unwrap();
    assert!(ev.is_empty());
    assert_eq!(fx.rec().lock_time, None);
}

#[test]
fn manual_unlock_with_sources_writes_one_4767_per_blocked_source() {
    let mut fx = Fx::smart();
    for i in 0..5 {
        fx.at(i).bad(&src(1));
        fx.at(i).bad(&src(2));
    }
    for i in 0..10 {
        fx.at(10 + i).bad(&src(200 + u32::try_from(i).unwrap()));
    }
    assert_eq!(fx.label(), "locked_out");
    let ev = fx.site.admin_unlock(&fx.policy, "ACC_user", true, &admin(), fx.now()).unwrap();
    assert_eq!(ids(&ev), ["4767", "4767", "4767"]);
    assert_eq!(s(&ev[0], "LockScope"), "unfamiliar");
    assert!(ev[0].field("CallerComputerName").is_none());
    assert_eq!(ev[1].field_names(), with_target(&["LockScope", "CallerComputerName", "Reason"]));
    assert_eq!(s(&ev[1], "LockScope"), "source");
    assert_eq!(s(&ev[1], "CallerComputerName"), "PC1");
    assert_eq!(s(&ev[2], "CallerComputerName"), "PC2");
    assert_eq!(fx.good(&src(1)).outcome, OK);
    assert_eq!(fx.good(&src(300)).outcome, OK);
    // Without --sources, source blocks stay.
    let mut fx = Fx::smart();
    for i in 0..5 {
        fx.at(i).bad(&src(1));
    }
    let ev = fx.site.admin_unlock(&fx.policy, "ACC_user", false, &admin(), fx.now()).unwrap();
    assert!(ev.is_empty());
    assert_eq!(fx.good(&src(1)).outcome, locked(Some(300)));
}

#[test]
fn displayed_state_labels_of_1_3() {
    let mut fx = Fx::classic();
    assert_eq!(fx.label(), "enabled");
    fx.site.accounts[0].lifecycle = Lifecycle::Retiring;
    assert_eq!(fx.label(), "retiring");
    for i in 0..10 {
        fx.at(i).bad(&src(1));
    }
    assert_eq!(fx.label(), "retiring (locked out)");
    let d = fx.site.displayed_state(&fx.policy, "ACC_user", fx.now()).unwrap();
    assert_eq!(d.lock_scope, Some(LockScope::Account));
    assert_eq!(d.retry_after, Some(600));
    fx.site.disable("ACC_user", DisabledBy::Rotation, &fx.site.site_subject(), fx.now()).unwrap();
    assert_eq!(fx.label(), "disabled");
}

#[test]
fn p6_retire_disables_by_rotation_and_deletes_after_the_delay() {
    let mut fx = Fx::smart();
    fx.site.create_managed_account("ACC_user_v2", 2, PasswordHash::new("h2"), false, fx.now()).unwrap();
    fx.at(100);
    let ev = fx.site.retire_removed_generations(&[2], 3600, fx.now());
    assert_eq!(ids(&ev), ["4725", "4738"]);
    assert_eq!(s(&ev[0], "DisabledBy"), "rotation");
    assert_eq!(s(&ev[0], "SubjectUserSid"), "S-1-5-18");
    assert_eq!(s(&ev[0], "TargetUserName"), "ACC_user");
    assert_eq!(fx.rec().delete_at, Some(Timestamp(T0 + 3_700_000)));
    // Idempotent.
    assert!(fx.site.retire_removed_generations(&[2], 3600, fx.now()).is_empty());
    assert_eq!(
        fx.site.admin_enable("ACC_user", &admin(), fx.now()),
        Err(AdminError::DisabledByRotation("ACC_user".into()))
    );
    // P7: disabled until deletion, then unknown; neither touches generation 2.
    let r = fx.at(3699).good(&src(1));
    assert_eq!(r.outcome, Outcome::AccountDisabled);
    fx.at_ms(3_699_999);
    assert!(fx.site.delete_due(fx.now()).is_empty());
    fx.at(3700);
    let ev = fx.site.delete_due(fx.now());
    assert_eq!(ids(&ev), ["4726"]);
    for i in 0..30 {
        assert_eq!(fx.at(3701 + i).good(&src(1)).outcome, Outcome::InvalidCredentials);
    }
    let v2 = fx.site.account("ACC_user_v2").unwrap();
    assert!(v2.sources.is_empty() && v2.unf_count == 0 && v2.lock_time.is_none());
}

#[test]
fn cancelled_generation_is_deleted_at_once() {
    let mut fx = Fx::smart();
    let ev = fx.site.delete_for_rotation("ACC_user", fx.now()).unwrap();
    assert_eq!(ids(&ev), ["4726"]);
    assert_eq!(s(&ev[0], "SubjectUserName"), "SITE-01$");
    assert!(fx.site.account("ACC_user").is_none());
}

#[test]
fn admin_operations_with_a_backwards_clock_write_acc_clock_first() {
    let mut fx = Fx::classic();
    fx.at(100).good(&src(1));
    fx.at(10);
    let ev = fx.site.disable("ACC_user", DisabledBy::Admin, &admin(), fx.now()).unwrap();
    assert_eq!(ids(&ev), ["acc.clock", "4725", "4738"]);
    assert!(ev.iter().all(|e| e.time == Timestamp(T0 + 100_000)));
}
