//! Lockout policy: the defaults of 2.1 and the validation messages of 5.5, verbatim.

use super::*;

fn messages(p: &LockoutPolicy) -> (Vec<String>, Vec<String>) {
    let v = p.validate();
    (v.errors.iter().map(ToString::to_string).collect(), v.warnings.iter().map(ToString::to_string).collect())
}

fn with(f: impl FnOnce(&mut LockoutPolicy)) -> LockoutPolicy {
    let mut p = LockoutPolicy::default();
    f(&mut p);
    p
}

#[test]
fn defaults_are_those_of_2_1_and_valid() {
    let p = LockoutPolicy::default();
    assert_eq!(p.mode, LockoutMode::Smart);
    assert_eq!((p.threshold, p.reset_after, p.duration), (10, 600, 600));
    assert_eq!((p.source_threshold, p.unfamiliar_threshold), (5, 20));
    assert_eq!((p.source_block_base, p.source_block_max), (300, 3600));
    assert_eq!(p.escalation_memory, 86_400);
    assert_eq!((p.familiar_ttl, p.familiar_max), (2_592_000, 100_000));
    assert!(p.reenable_locked_local_account && p.create_acc_on_site_servers);
    assert_eq!((p.acc_refresh_interval, p.lockout_loop_count), (21_600, 3));
    assert_eq!(p.validate(), PolicyValidation::default());
    assert!(p.validate().is_ok());
}

#[test]
fn serde_uses_the_setting_names_and_fills_defaults() {
    let p: LockoutPolicy = serde_json::from_str(r#"{"mode":"classic","threshold":3}"#).unwrap();
    assert_eq!(p.mode, LockoutMode::Classic);
    assert_eq!(p.threshold, 3);
    assert_eq!(p.reset_after, 600);
    assert!(serde_json::from_str::<LockoutPolicy>(r#"{"thresold":3}"#).is_err());
}

#[test]
fn l_t_threshold_out_of_range() {
    let (e, w) = messages(&with(|p| p.threshold = 1000));
    assert_eq!(e, ["lockout.threshold: 1000 is out of range; use 0 (never lock) to 999"]);
    assert!(w.is_empty());
    assert!(with(|p| p.threshold = 0).validate().is_ok());
    assert!(with(|p| p.threshold = 999).validate().is_ok());
}

#[test]
fn w_threshold_above_100_warns_only() {
    let (e, w) = messages(&with(|p| p.threshold = 101));
    assert!(e.is_empty());
    assert_eq!(
        w,
        ["warning: lockout.threshold 101 is above 100, the most consecutive failures NIST SP 800-63B allows"]
    );
    assert!(with(|p| p.threshold = 100).validate().warnings.is_empty());
}

#[test]
fn l_w_reset_after_out_of_range() {
    for v in [0, 5_999_941] {
        let (e, _) = messages(&with(|p| {
            p.reset_after = v;
            p.duration = 0;
        }));
        assert_eq!(
            e,
            [format!("lockout.reset_after: {v} s is out of range; use 60 to 5999940 s (1 to 99999 minutes)")]
        );
    }
}

#[test]
fn l_d_duration_out_of_range_and_zero_allowed() {
    let (e, _) = messages(&with(|p| p.duration = 5_999_941));
    assert_eq!(e, ["lockout.duration: 5999941 s is out of range; use 0 (until unlocked) or 60 to 5999940 s"]);
    assert!(with(|p| p.duration = 0).validate().is_ok());
}

#[test]
fn l_dw_duration_shorter_than_window() {
    let p = with(|p| {
        p.mode = LockoutMode::Classic;
        p.duration = 300;
    });
    let (e, _) = messages(&p);
    assert_eq!(
        e,
        [
            "lockout.duration: 300 s is shorter than lockout.reset_after 600 s; use 0 (until unlocked) or at least 600 s"
        ]
    );
    // Classic with T = 0 never locks: the duration is irrelevant.
    let p = with(|p| {
        p.mode = LockoutMode::Classic;
        p.threshold = 0;
        p.duration = 300;
    });
    assert!(p.validate().is_ok());
    // Smart mode locks on Tu > 0 regardless of T.
    let p = with(|p| {
        p.threshold = 0;
        p.duration = 300;
    });
    assert_eq!(p.validate().errors.len(), 1);
    assert!(with(|p| p.duration = 600).validate().is_ok());
}

#[test]
fn l_ts_l_tu_and_l_tstu() {
    let (e, _) = messages(&with(|p| p.source_threshold = 0));
    assert_eq!(e, ["lockout.source_threshold: 0 is out of range; use 1 to 100"]);
    let (e, _) = messages(&with(|p| p.unfamiliar_threshold = 101));
    assert_eq!(e, ["lockout.unfamiliar_threshold: 101 is out of range; use 2 to 100"]);
    let (e, _) = messages(&with(|p| p.unfamiliar_threshold = 1));
    assert_eq!(e, ["lockout.unfamiliar_threshold: 1 is out of range; use 2 to 100"]);
    let (e, _) = messages(&with(|p| {
        p.source_threshold = 20;
        p.unfamiliar_threshold = 20;
    }));
    assert_eq!(
        e,
        [
            "lockout.source_threshold: 20 must be less than lockout.unfamiliar_threshold 20; otherwise one source alone could lock out every unfamiliar source"
        ]
    );
}

#[test]
fn l_refresh_out_of_range() {
    for v in [0, 1_209_601] {
        let (e, _) = messages(&with(|p| p.acc_refresh_interval = v));
        assert_eq!(
            e,
            [format!("site.acc_refresh_interval: {v} s is out of range; use 60 to 1209600 s (2 weeks)")]
        );
    }
}

#[test]
fn lab_values_are_accepted_with_a_warning() {
    let p = with(|p| {
        p.reset_after = 5;
        p.duration = 10;
        p.source_block_base = 2;
        p.source_block_max = 8;
        p.escalation_memory = 60;
        p.familiar_ttl = 30;
        p.acc_refresh_interval = 1;
    });
    let (e, w) = messages(&p);
    assert!(e.is_empty(), "{e:?}");
    assert_eq!(
        w,
        [
            "warning: lockout.reset_after 5 s is below the production minimum 60 s; use it for labs and tests only",
            "warning: lockout.duration 10 s is below the production minimum 60 s; use it for labs and tests only",
            "warning: lockout.source_block_base 2 s is below the production minimum 60 s; use it for labs and tests only",
            "warning: lockout.source_block_max 8 s is below the production minimum 60 s; use it for labs and tests only",
            "warning: lockout.escalation_memory 60 s is below the production minimum 3600 s; use it for labs and tests only",
            "warning: lockout.familiar_ttl 30 s is below the production minimum 86400 s; use it for labs and tests only",
            "warning: site.acc_refresh_interval 1 s is below the production minimum 60 s; use it for labs and tests only",
        ]
    );
}

#[test]
fn one_message_per_field_in_field_order() {
    let p = with(|p| {
        p.threshold = 1000;
        p.reset_after = 0;
        p.duration = 30;
        p.source_threshold = 0;
        p.unfamiliar_threshold = 0;
        p.acc_refresh_interval = 0;
    });
    let (e, w) = messages(&p);
    assert_eq!(
        e,
        [
            "lockout.threshold: 1000 is out of range; use 0 (never lock) to 999",
            "lockout.reset_after: 0 s is out of range; use 60 to 5999940 s (1 to 99999 minutes)",
            "lockout.source_threshold: 0 is out of range; use 1 to 100",
            "lockout.unfamiliar_threshold: 0 is out of range; use 2 to 100",
            "site.acc_refresh_interval: 0 s is out of range; use 60 to 1209600 s (2 weeks)",
        ]
    );
    assert_eq!(w.len(), 1, "{w:?}");
}

#[test]
fn other_ranges_of_2_1() {
    assert_eq!(
        with(|p| p.source_block_max = 200).validate().errors,
        [PolicyError::SourceBlockMax { value: 200, base: 300 }]
    );
    assert_eq!(with(|p| p.familiar_max = 999).validate().errors, [PolicyError::FamiliarMax(999)]);
    assert_eq!(with(|p| p.lockout_loop_count = 1).validate().errors, [PolicyError::LockoutLoopCount(1)]);
    assert_eq!(
        with(|p| p.escalation_memory = 604_801).validate().errors,
        [PolicyError::EscalationMemory(604_801)]
    );
}

#[test]
fn block_len_escalates_and_caps() {
    let p = LockoutPolicy::default();
    let lens: Vec<u64> = (0..7).map(|s| p.block_len(s)).collect();
    assert_eq!(lens, [300, 600, 1200, 2400, 3600, 3600, 3600]);
    assert_eq!(p.block_len(200), 3600);
}
