//! Classic mode, 2.2 C1–C7, S2–S4 and the T3 edges of the window and the lock.

use super::*;
use crate::event::catalogue::AuthPackage;

/// Everything but the clock high-water mark, to check that "nothing changes".
fn counters(fx: &Fx) -> Vec<AccountRecord> {
    fx.site.accounts.clone()
}

#[test]
fn c1_unknown_name_is_invalid_credentials_and_changes_nothing() {
    let mut fx = Fx::classic();
    let before = counters(&fx);
    let r = fx.attempt_as("nobody", &src(1), true);
    assert_eq!(r.outcome, Outcome::InvalidCredentials);
    assert_eq!(fx.verifications, 0);
    assert_eq!(ids(&r.events), ["4625"]);
    let e = &r.events[0];
    assert_eq!(s(e, "TargetUserSid"), "S-1-0-0");
    assert_eq!(s(e, "TargetUserName"), "nobody");
    assert_eq!(s(e, "TargetDomainName"), "SITE-01");
    assert_eq!(s(e, "Status"), "0xC000006D");
    assert_eq!(s(e, "SubStatus"), "0xC0000064");
    assert_eq!(s(e, "FailureReason"), "Unknown user name or bad password.");
    assert!(!b(e, "Verified"));
    assert!(e.field("LockScope").is_none());
    assert!(e.field("AccGeneration").is_none());
    assert!(e.field("Familiar").is_none(), "classic mode has no Familiar");
    assert_eq!(counters(&fx), before);
}

#[test]
fn c1_names_compare_case_insensitively_and_accept_dot_backslash() {
    let mut fx = Fx::classic();
    assert_eq!(fx.attempt_as("acc_USER", &src(1), true).outcome, OK);
    let r = fx.attempt_as(".\\ACC_user", &src(1), true);
    assert_eq!(r.outcome, OK);
    assert_eq!(s(&r.events[0], "TargetUserName"), "ACC_user");
}

#[test]
fn c2_disabled_refuses_before_the_password_and_changes_nothing() {
    let mut fx = Fx::classic();
    fx.bad(&src(1));
    let admin = crate::event::catalogue::Subject::admin("S-1-5-21-9-9-9-500", "admin", "MGMT-01", "0x1");
    fx.site.disable("ACC_user", DisabledBy::Admin, &admin, fx.now()).unwrap();
    let before = counters(&fx);
    let v = fx.verifications;
    for good in [true, false] {
        let r = fx.attempt_as("ACC_user", &src(1), good);
        assert_eq!(r.outcome, Outcome::AccountDisabled);
        assert_eq!(ids(&r.events), ["4625"]);
        let e = &r.events[0];
        assert_eq!(s(e, "Status"), "0xC000006E");
        assert_eq!(s(e, "SubStatus"), "0xC0000072");
        assert_eq!(s(e, "FailureReason"), "Account currently disabled.");
        assert!(!b(e, "Verified"));
        assert_eq!(n(e, "AccGeneration"), 1);
        assert_eq!(s(e, "TargetUserSid"), fx.rec().sid);
    }
    assert_eq!(fx.verifications, v);
    assert_eq!(counters(&fx), before);
}

#[test]
fn c5_success_resets_the_counter_and_writes_4624() {
    let mut fx = Fx::classic();
    fx.bad(&src(1));
    fx.bad(&src(1));
    assert_eq!(fx.rec().bad_count, 2);
    let r = fx.good(&src(1));
    assert_eq!(r.outcome, OK);
    assert_eq!((fx.rec().bad_count, fx.rec().bad_time), (0, None));
    assert_eq!(ids(&r.events), ["4624"]);
    let e = &r.events[0];
    assert_eq!(e.mode, Some(LockoutMode::Classic));
    assert_eq!(
        e.field_names(),
        [
            "SubjectUserSid",
            "SubjectUserName",
            "SubjectDomainName",
            "SubjectLogonId",
            "TargetUserSid",
            "TargetUserName",
            "TargetDomainName",
            "TargetLogonId",
            "LogonType",
            "LogonProcessName",
            "AuthenticationPackageName",
            "WorkstationName",
            "IpAddress",
            "IpPort",
            "AccGeneration",
            "AccPhase",
        ]
    );
    assert_eq!(s(e, "SubjectUserSid"), "S-1-5-18");
    assert_eq!(s(e, "SubjectUserName"), "SITE-01$");
    assert_eq!(s(e, "SubjectDomainName"), "ACC");
    assert_eq!(s(e, "SubjectLogonId"), "0x3e7");
    assert_eq!(n(e, "LogonType"), 3);
    assert_eq!(s(e, "LogonProcessName"), "acc-site");
    assert_eq!(s(e, "AuthenticationPackageName"), "acc-password");
    assert_eq!(s(e, "WorkstationName"), "PC1");
    assert_eq!(s(e, "IpAddress"), "10.0.0.1");
    assert_eq!(n(e, "IpPort"), 50_000);
    assert_eq!(s(e, "AccPhase"), "active");
    // Logon ids are unique per logon.
    let again = fx.good(&src(1));
    assert_ne!(s(&again.events[0], "TargetLogonId"), s(e, "TargetLogonId"));
}

#[test]
fn c6_bad_password_counts_and_writes_4625_with_exact_fields() {
    let mut fx = Fx::classic();
    let r = fx.bad(&src(1));
    assert_eq!(r.outcome, Outcome::InvalidCredentials);
    assert_eq!(fx.verifications, 1);
    let e = &r.events[0];
    assert_eq!(
        e.field_names(),
        [
            "SubjectUserSid",
            "SubjectUserName",
            "SubjectDomainName",
            "SubjectLogonId",
            "TargetUserSid",
            "TargetUserName",
            "TargetDomainName",
            "Status",
            "SubStatus",
            "FailureReason",
            "LogonType",
            "LogonProcessName",
            "AuthenticationPackageName",
            "WorkstationName",
            "IpAddress",
            "IpPort",
            "Verified",
            "AccGeneration",
        ]
    );
    assert_eq!(s(e, "Status"), "0xC000006D");
    assert_eq!(s(e, "SubStatus"), "0xC000006A");
    assert!(b(e, "Verified"));
    assert_eq!(e.keywords, crate::event::Keywords::AuditFailure);
    assert_eq!(fx.rec().bad_count, 1);
    assert_eq!(fx.rec().bad_time, Some(Timestamp(T0)));
}

#[test]
fn c6_window_is_inclusive_from_the_last_failure() {
    let mut fx = Fx::classic();
    fx.at(0).bad(&src(1));
    // Exactly W after the last failure still counts (F7).
    fx.at(600).bad(&src(1));
    assert_eq!(fx.rec().bad_count, 2);
    fx.at(1200).bad(&src(1));
    assert_eq!(fx.rec().bad_count, 3);
    // One millisecond more and the count restarts at 1.
    fx.at_ms(1_800_001).bad(&src(1));
    assert_eq!(fx.rec().bad_count, 1);
}

fn lock_classic(fx: &mut Fx, at_secs: i64) -> AttemptResult {
    let mut last = None;
    for i in 0..fx.policy.threshold {
        last = Some(fx.at(at_secs + i64::from(i)).bad(&src(i % 3 + 1)));
    }
    last.unwrap()
}

#[test]
fn c6_the_tth_failure_locks_and_writes_4625_then_4740() {
    let mut fx = Fx::classic();
    let r = lock_classic(&mut fx, 0);
    assert_eq!(r.outcome, Outcome::InvalidCredentials, "the locking attempt reports a bad password");
    assert_eq!(ids(&r.events), ["4625", "4740"]);
    let e = &r.events[1];
    assert_eq!(e.field_names(), fields_4740("LockoutDurationSeconds"));
    assert_eq!(s(e, "CallerComputerName"), "PC1"); // the 10th attempt came from src(1)
    assert_eq!(s(e, "LockScope"), "account");
    assert_eq!(n(e, "LockoutDurationSeconds"), 600);
    assert_eq!(e.mode, None);
    assert_eq!(e.time, Timestamp(T0 + 9_000));
    assert_eq!(fx.rec().lock_time, Some(Timestamp(T0 + 9_000)));
    assert_eq!(fx.rec().lock_scope, Some(LockScope::Account));
    assert_eq!(fx.rec().lockouts, [Timestamp(T0 + 9_000)]);
    assert_eq!(fx.label(), "locked_out");
}

#[test]
fn c3_lock_in_force_refuses_even_the_right_password_without_counting() {
    let mut fx = Fx::classic();
    lock_classic(&mut fx, 0);
    let before = counters(&fx);
    let v = fx.verifications;
    fx.at_ms(9_500);
    for good in [true, false] {
        let r = fx.attempt_as("ACC_user", &src(7), good);
        assert_eq!(r.outcome, locked(Some(600)), "ceil(599.5) = 600");
        let e = &r.events[0];
        assert_eq!(s(e, "Status"), "0xC0000234");
        assert_eq!(s(e, "SubStatus"), "0x0");
        assert_eq!(s(e, "FailureReason"), "Account locked out.");
        assert_eq!(s(e, "LockScope"), "account");
        assert!(!b(e, "Verified"));
    }
    assert_eq!(fx.verifications, v, "no hashing while locked");
    assert_eq!(counters(&fx), before, "S3: no counter changes, no extension");
}

#[test]
fn c3_lock_is_in_force_at_exactly_lock_time_plus_d_and_ends_1_ms_later() {
    let mut fx = Fx::classic();
    lock_classic(&mut fx, 0); // lock_time = T0 + 9 s
    let end = 9_000 + 600_000;
    assert_eq!(fx.at_ms(end - 200).good(&src(1)).outcome, locked(Some(1)));
    assert_eq!(fx.at_ms(end).good(&src(1)).outcome, locked(Some(1)));
    assert_eq!(fx.label(), "locked_out");
    fx.at_ms(end + 1);
    assert_eq!(fx.label(), "enabled");
    // Lazy expiry: no event for the expiry itself, then the attempt proceeds.
    let r = fx.bad(&src(1));
    assert_eq!(ids(&r.events), ["4625"]);
    assert_eq!(r.outcome, Outcome::InvalidCredentials);
    assert_eq!(fx.rec().lock_time, None);
    assert_eq!(fx.rec().bad_count, 1, "the expiry cleared the counter");
}

#[test]
fn c3_retry_after_rounds_up_to_whole_seconds() {
    let mut fx = Fx::classic();
    lock_classic(&mut fx, 0);
    assert_eq!(fx.at_ms(9_000).good(&src(1)).outcome, locked(Some(600)));
    assert_eq!(fx.at_ms(9_001).good(&src(1)).outcome, locked(Some(600)));
    assert_eq!(fx.at_ms(10_000).good(&src(1)).outcome, locked(Some(599)));
    assert_eq!(fx.at_ms(10_001).good(&src(1)).outcome, locked(Some(599)));
    assert_eq!(fx.at_ms(607_999).good(&src(1)).outcome, locked(Some(2)));
    assert_eq!(fx.at_ms(608_000).good(&src(1)).outcome, locked(Some(1)));
}

#[test]
fn c3_with_d_0_the_lock_lasts_until_unlocked_and_has_no_retry_after() {
    let mut fx = Fx::classic();
    fx.policy.duration = 0;
    let r = lock_classic(&mut fx, 0);
    assert_eq!(n(&r.events[1], "LockoutDurationSeconds"), 0);
    assert_eq!(fx.at(86_400 * 30).good(&src(1)).outcome, locked(None));
    assert_eq!(Outcome::LockedOut { retry_after: None }.retry_after(), None);
}

#[test]
fn c7_threshold_0_keeps_counting_but_never_locks() {
    let mut fx = Fx::classic();
    fx.policy.threshold = 0;
    for i in 0..50 {
        let r = fx.at(i).bad(&src(1));
        assert_eq!(ids(&r.events), ["4625"]);
    }
    assert_eq!(fx.rec().bad_count, 50);
    assert_eq!(fx.rec().lock_time, None);
    assert_eq!(fx.good(&src(1)).outcome, OK);
}

#[test]
fn threshold_1_locks_on_the_first_failure() {
    let mut fx = Fx::classic();
    fx.policy.threshold = 1;
    assert_eq!(ids(&fx.bad(&src(1)).events), ["4625", "4740"]);
}

#[test]
fn s2_disable_keeps_the_lock_and_enable_does_not_clear_it() {
    let mut fx = Fx::classic();
    lock_classic(&mut fx, 0);
    let admin = crate::event::catalogue::Subject::admin("S-1-5-21-9-9-9-500", "admin", "MGMT-01", "0x1");
    fx.at(20);
    fx.site.disable("ACC_user", DisabledBy::Admin, &admin, fx.now()).unwrap();
    assert_eq!(fx.label(), "disabled");
    assert_eq!(fx.rec().bad_count, 10);
    fx.site.admin_enable("ACC_user", &admin, fx.now()).unwrap();
    assert_eq!(fx.label(), "locked_out");
    assert_eq!(fx.good(&src(1)).outcome, locked(Some(589)));
}

#[test]
fn outcomes_map_to_the_responses_of_2_5() {
    let cases = [
        (OK, 200, None, None),
        (Outcome::InvalidCredentials, 401, Some("invalid_credentials"), None),
        (locked(Some(42)), 403, Some("locked_out"), Some(42)),
        (locked(None), 403, Some("locked_out"), None),
        (Outcome::AccountDisabled, 403, Some("account_disabled"), None),
        (Outcome::Unavailable, 503, Some("directory_unavailable"), Some(30)),
    ];
    for (o, status, error, retry) in cases {
        assert_eq!((o.http_status(), o.error(), o.retry_after()), (status, error, retry));
    }
    assert!(Outcome::Ok { policy_stale: true }.policy_stale());
}

#[test]
fn d3_directory_unavailable_writes_0xc000005e_and_changes_nothing() {
    let mut fx = Fx::classic();
    let before = counters(&fx);
    let a = Attempt::password("CORP\\acc_svc", src(1), 1234);
    let r = fx.site.directory_unavailable(&a, "CORP", fx.now());
    assert_eq!(r.outcome, Outcome::Unavailable);
    let e = &r.events[0];
    assert_eq!(s(e, "Status"), "0xC000005E");
    assert_eq!(s(e, "SubStatus"), "0x0");
    assert_eq!(s(e, "FailureReason"), "There are currently no logon servers available.");
    assert_eq!(s(e, "TargetDomainName"), "CORP");
    assert_eq!(counters(&fx), before);
    assert!(!is_local_form("CORP\\acc_svc"));
    assert!(!is_local_form("acc@corp.example"));
    assert!(is_local_form(".\\ACC_user"));
}

#[test]
fn d2_the_site_writes_what_the_directory_decided_and_counts_nothing() {
    let mut fx = Fx::classic();
    let before = counters(&fx);
    let a = Attempt::password("CORP\\acc_svc", src(1), 1234);
    let sid = Some("S-1-5-21-9-9-9-1105");
    let ok = fx.site.directory_decided(&a, "CORP", sid, Outcome::Ok { policy_stale: false }, fx.now());
    assert_eq!(ok.outcome, OK);
    assert_eq!(ids(&ok.events), ["4624"]);
    assert_eq!(s(&ok.events[0], "TargetDomainName"), "CORP");
    assert_eq!(s(&ok.events[0], "TargetUserName"), "acc_svc");
    assert_eq!(s(&ok.events[0], "TargetUserSid"), "S-1-5-21-9-9-9-1105");
    let cases = [
        (Outcome::InvalidCredentials, sid, "0xC000006A"),
        (Outcome::InvalidCredentials, None, "0xC0000064"),
        (Outcome::AccountDisabled, sid, "0xC0000072"),
        (Outcome::LockedOut { retry_after: Some(600) }, sid, "0x0"),
    ];
    for (outcome, sid, sub) in cases {
        let r = fx.site.directory_decided(&a, "CORP", sid, outcome, fx.now());
        assert_eq!(r.outcome, outcome);
        assert_eq!(ids(&r.events), ["4625"]);
        assert_eq!(s(&r.events[0], "SubStatus"), sub, "{outcome:?}");
        assert_eq!(s(&r.events[0], "WorkstationName"), a.source.caller_computer_name());
    }
    assert_eq!(counters(&fx), before, "the directory keeps the counters");
}

#[test]
fn two_phase_refuses_a_raced_attempt_instead_of_counting_it() {
    // Two attempts pass phase 1 together; the first one locks the account while the
    // second is hashing. The second must be refused, not counted (S3).
    let mut fx = Fx::classic();
    fx.policy.threshold = 1;
    let now = fx.now();
    let p1 = match fx.site.precheck(&fx.policy, Attempt::password("ACC_user", src(1), 1), now) {
        Step::Verify(p) => p,
        Step::Done(r) => panic!("{r:?}"),
    };
    let p2 = match fx.site.precheck(&fx.policy, Attempt::password("ACC_user", src(2), 2), now) {
        Step::Verify(p) => p,
        Step::Done(r) => panic!("{r:?}"),
    };
    let Step::Done(r1) = fx.site.complete(&fx.policy, p1, false, now) else { panic!() };
    assert_eq!(ids(&r1.events), ["4625", "4740"]);
    let Step::Done(r2) = fx.site.complete(&fx.policy, p2, false, now) else { panic!() };
    assert_eq!(r2.outcome, locked(Some(600)));
    assert!(b(&r2.events[0], "Verified"), "the password was checked");
    assert_eq!(fx.rec().bad_count, 1);
}

#[test]
fn two_phase_asks_again_when_the_hash_changed_while_hashing() {
    let mut fx = Fx::classic();
    let now = fx.now();
    let Step::Verify(p) = fx.site.precheck(&fx.policy, Attempt::password("ACC_user", src(1), 1), now) else {
        panic!()
    };
    fx.site.repair_password("ACC_user", PasswordHash::new("$argon2id$new"), now).unwrap();
    match fx.site.complete(&fx.policy, p, false, now) {
        Step::Verify(p2) => assert_eq!(p2.password_hash().as_str(), "$argon2id$new"),
        Step::Done(r) => panic!("{r:?}"),
    }
    assert_eq!(fx.rec().bad_count, 0, "a stale verification never counts");
}

#[test]
fn the_app_ids_logons_carry_package_acc_app_id() {
    // 4.2: AuthenticationPackageName ∈ {acc-password, acc-app-id, acc-mtls}; the App ID's
    // logons ("Use Application Credentials") are acc-app-id in every form of its name.
    let app = AppIdName {
        account: "svc_appid".into(),
        directory: crate::name::DirectoryNames { netbios: "CORP".into(), dns: "corp.example".into() },
    };
    let package = |name: &str, app: Option<&AppIdName>| Attempt::named(name, src(1), 1, app).package;
    for name in ["CORP\\svc_appid", "corp.example\\SVC_APPID", "svc_appid@corp.example", "svc_appid"] {
        assert_eq!(package(name, Some(&app)), AuthPackage::AppId, "{name}");
    }
    for name in ["CORP\\svc_appid2", "OTHER\\svc_appid", "ACC_user", "acc_svc@corp.example"] {
        assert_eq!(package(name, Some(&app)), AuthPackage::Password, "{name}");
    }
    assert_eq!(package("CORP\\svc_appid", None), AuthPackage::Password, "no App ID known");
    // The package reaches the 4624 and the 4625 of the attempt.
    let mut fx = Fx::classic();
    fx.site.add_unmanaged_account("svc_appid", PasswordHash::new(HASH1)).unwrap();
    for good in [true, false] {
        let attempt = Attempt::named("svc_appid", src(2), 1, Some(&app));
        let r = fx.site.authenticate(&fx.policy, attempt, fx.now(), |_| good);
        assert_eq!(s(&r.events[0], "AuthenticationPackageName"), "acc-app-id");
    }
}
