//! Tests of the event envelope: JSON field order, stamping, round trip, extension by
//! other modules, and that no secret reaches an event.

use super::catalogue::{self, Subject, Target};
use super::*;
use crate::lockout::{Attempt, LockoutPolicy, PasswordHash, SiteIdentity, SiteState, Source, Step};

fn site() -> SiteState {
    SiteState::new(SiteIdentity {
        computer: "SITE-01".into(),
        site_id: "11111111-2222-4333-8444-555555555555".into(),
        fleet_name: "ACC".into(),
        domain_sid: "S-1-5-21-1-2-3".into(),
    })
}

const T: Timestamp = Timestamp(1_748_865_604_000);

#[test]
fn json_keeps_the_envelope_then_the_fields_in_order() {
    let mut site = site();
    let policy = LockoutPolicy { mode: LockoutMode::Classic, ..LockoutPolicy::default() };
    site.create_managed_account("ACC_user", 1, PasswordHash::new("h"), false, T).unwrap();
    let src = Source::parse("10.0.0.7", "ws-7").unwrap();
    let r = site.authenticate(&policy, Attempt::password("ACC_user", src, 51_000), T, |_| false);
    let stamped = site.stamp(r.events);
    let json = serde_json::to_string(&stamped[0]).unwrap();
    let sid = site.account("ACC_user").unwrap().sid.clone();
    let expected = format!(
        concat!(
            r#"{{"EventID":4625,"Seq":1,"TimeCreated":"2025-06-02T12:00:04.000Z","Computer":"SITE-01","#,
            r#""SiteId":"11111111-2222-4333-8444-555555555555","Keywords":"Audit Failure","Mode":"classic","#,
            r#""SubjectUserSid":"S-1-5-18","SubjectUserName":"SITE-01$","SubjectDomainName":"ACC","#,
            r#""SubjectLogonId":"0x3e7","TargetUserSid":"{sid}","TargetUserName":"ACC_user","#,
            r#""TargetDomainName":"SITE-01","Status":"0xC000006D","SubStatus":"0xC000006A","#,
            r#""FailureReason":"Unknown user name or bad password.","LogonType":3,"#,
            r#""LogonProcessName":"acc-site","AuthenticationPackageName":"acc-password","#,
            r#""WorkstationName":"WS-7","IpAddress":"10.0.0.7","IpPort":51000,"Verified":true,"#,
            r#""AccGeneration":1}}"#
        ),
        sid = sid
    );
    assert_eq!(json, expected);
}

#[test]
fn acc_events_serialise_their_id_as_a_string_and_lists_as_arrays() {
    let e = catalogue::acc_refresh(T, "manual", vec!["create A".into()], T.plus_secs(60));
    let json = serde_json::to_string(&e.stamp(7, "SITE-01", "id")).unwrap();
    assert_eq!(
        json,
        r#"{"EventID":"acc.refresh","Seq":7,"TimeCreated":"2025-06-02T12:00:04.000Z","Computer":"SITE-01","SiteId":"id","Keywords":"Audit Success","Trigger":"manual","Actions":["create A"],"NextRefreshAt":"2025-06-02T12:01:04.000Z"}"#
    );
}

#[test]
fn stamped_events_round_trip_through_json() {
    let subject = Subject::site("SITE-01", "ACC");
    let target = Target { user_name: "ACC_user", domain_name: "SITE-01", sid: "S-1-5-21-1-2-3-1001" };
    let events = vec![
        catalogue::account_created(T, &subject, target, 4),
        catalogue::acc_clock_backwards(Timestamp(T.millis() - 5000), T),
        catalogue::acc_lockout_loop(T, "ACC_user", 3, vec!["PC1:4".into()]),
    ];
    for (i, e) in events.into_iter().enumerate() {
        let stamped = e.stamp(i as u64 + 1, "SITE-01", "id");
        let json = serde_json::to_string(&stamped).unwrap();
        let back: StampedEvent = serde_json::from_str(&json).unwrap();
        assert_eq!(back, stamped, "{json}");
    }
}

#[test]
fn other_modules_can_add_their_own_events() {
    // The share-access check owns 5145; any id and ordered fields are accepted.
    let e = Event::new(EventId::Windows(5145), T, Keywords::AuditFailure)
        .with("ShareName", r"\\*\software-library")
        .with("RelativeTargetName", "pkg/1.0")
        .with("AccessMask", "0x1");
    assert_eq!(e.field_names(), ["ShareName", "RelativeTargetName", "AccessMask"]);
    let json = serde_json::to_string(&e.stamp(1, "MGMT-01", "id")).unwrap();
    assert!(json.starts_with(r#"{"EventID":5145,"Seq":1,"#), "{json}");
    assert!(json.ends_with(r#""AccessMask":"0x1"}"#), "{json}");
}

#[test]
fn keywords_and_status_codes_of_4_2() {
    use catalogue::FailureKind as K;
    let rows = [
        (K::UnknownUser, "0xC000006D", "0xC0000064", "Unknown user name or bad password."),
        (K::BadPassword, "0xC000006D", "0xC000006A", "Unknown user name or bad password."),
        (K::Disabled, "0xC000006E", "0xC0000072", "Account currently disabled."),
        (K::LockedOut, "0xC0000234", "0x0", "Account locked out."),
        (K::NoLogonServers, "0xC000005E", "0x0", "There are currently no logon servers available."),
    ];
    for (k, status, sub, reason) in rows {
        assert_eq!((k.status(), k.sub_status(), k.reason()), (status, sub, reason));
    }
    let subject = Subject::site("S", "ACC");
    let target = Target { user_name: "u", domain_name: "S", sid: "x" };
    assert_eq!(catalogue::password_reset(T, &subject, target, false).keywords, Keywords::AuditFailure);
    assert_eq!(catalogue::password_reset(T, &subject, target, true).keywords, Keywords::AuditSuccess);
}

#[test]
fn no_event_or_debug_output_carries_the_password_hash() {
    let secret = "$argon2id$v=19$m=19456,t=2,p=1$U0VDUkVUU0FMVA$U0VDUkVUSEFTSA";
    let mut site = site();
    let policy = LockoutPolicy::default();
    let mut all = site.create_managed_account("ACC_user", 1, PasswordHash::new(secret), false, T).unwrap();
    let src = Source::parse("10.0.0.7", "ws-7").unwrap();
    let step = site.precheck(&policy, Attempt::password("ACC_user", src.clone(), 1), T);
    let Step::Verify(pending) = &step else { panic!("{step:?}") };
    assert_eq!(pending.password_hash().as_str(), secret);
    assert!(!format!("{step:?}").contains("U0VDUkVU"));
    for i in 0..6 {
        let r =
            site.authenticate(&policy, Attempt::password("ACC_user", src.clone(), 1), T.plus_secs(i), |_| {
                false
            });
        all.extend(r.events);
    }
    all.extend(
        site.repair_password("ACC_user", PasswordHash::new("$argon2id$U0VDUkVUMg"), T.plus_secs(9)).unwrap(),
    );
    let dump = format!("{all:?} {site:?}");
    assert!(!dump.contains("U0VDUkVU"), "a hash leaked into Debug output");
    let json = serde_json::to_string(&site.stamp(all)).unwrap();
    assert!(!json.contains("U0VDUkVU") && !json.contains("argon2"));
}

#[test]
fn a_removal_from_a_full_log_is_one_event_with_its_count_and_range() {
    use super::retention::{MIB, Reason};
    let p = catalogue::Pruned {
        removed: 15_000,
        seqs: (1, 15_000),
        times: (Timestamp(0), T),
        unforwarded: Some(0),
        max_size: 128 * MIB,
        reason: Reason::MaxSize,
    };
    let e = catalogue::acc_event_log_pruned(T, &p);
    assert_eq!(e.id.to_string(), "acc.event_log");
    assert_eq!(e.keywords, Keywords::AuditSuccess);
    assert_eq!(
        e.field_names(),
        [
            "Kind",
            "Reason",
            "Removed",
            "FirstSeq",
            "LastSeq",
            "Oldest",
            "Newest",
            "Unforwarded",
            "MaxSize",
            "Message"
        ]
    );
    assert_eq!(e.field("Removed"), Some(&FieldValue::UInt(15_000)));
    assert!(e.str_field("Message").unwrap().contains("128 MiB); its 15000 oldest events (Seq 1-15000)"));
    let lost = catalogue::acc_event_log_pruned(
        T,
        &catalogue::Pruned { unforwarded: Some(7), reason: Reason::HardLimit, ..p },
    );
    assert_eq!(lost.keywords, Keywords::AuditFailure, "events the server never got are a loss");
    assert!(lost.str_field("Message").unwrap().contains("7 of them never forwarded"));
    let standalone = catalogue::acc_event_log_pruned(T, &catalogue::Pruned { unforwarded: None, ..p });
    assert!(standalone.field("Unforwarded").is_none());
}
