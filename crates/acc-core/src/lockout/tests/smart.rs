//! Smart mode, 2.3 M1–M9: source blocks with escalation and "one more try", the
//! unfamiliar lock, familiarity, and the lockout loop of 3.1.6.

use super::*;

fn block(fx: &mut Fx, source: &Source, from_secs: i64) -> AttemptResult {
    let mut last = None;
    for i in 0..fx.policy.source_threshold {
        last = Some(fx.at(from_secs + i64::from(i)).bad(source));
    }
    last.unwrap()
}

fn make_familiar(fx: &mut Fx, source: &Source) {
    assert_eq!(fx.good(source).outcome, OK);
}

#[test]
fn m1_m2_unknown_and_disabled_carry_mode_smart_and_familiar() {
    let mut fx = Fx::smart();
    let r = fx.attempt_as("nobody", &src(1), true);
    assert_eq!(r.outcome, Outcome::InvalidCredentials);
    assert_eq!(r.events[0].mode, Some(LockoutMode::Smart));
    assert!(!b(&r.events[0], "Familiar"));
    assert_eq!(s(&r.events[0], "SubStatus"), "0xC0000064");
    let subject = fx.site.site_subject();
    fx.site.disable("ACC_user", DisabledBy::Admin, &subject, fx.now()).unwrap();
    let r = fx.good(&src(1));
    assert_eq!(r.outcome, Outcome::AccountDisabled);
    assert_eq!(s(&r.events[0], "SubStatus"), "0xC0000072");
    assert_eq!(fx.verifications, 0);
}

#[test]
fn m8_ts_failures_block_the_source_with_4740_scope_source() {
    let mut fx = Fx::smart();
    let r = block(&mut fx, &src(1), 0);
    assert_eq!(r.outcome, Outcome::InvalidCredentials);
    assert_eq!(ids(&r.events), ["4625", "4740"]);
    let e = &r.events[1];
    assert_eq!(e.field_names(), fields_4740("BlockSeconds"));
    assert_eq!(s(e, "LockScope"), "source");
    assert_eq!(s(e, "CallerComputerName"), "PC1");
    assert_eq!(s(e, "IpAddress"), "10.0.0.1");
    assert_eq!(n(e, "BlockSeconds"), 300);
    let st = &fx.rec().sources[&src(1)];
    assert_eq!(st.block_time, Some(Timestamp(T0 + 4_000)));
    assert_eq!((st.block_len, st.streak, st.count), (300, 0, 5));
    assert_eq!(fx.rec().lock_time, None, "a source block is not an account lock");
    assert_eq!(fx.label(), "enabled");
}

#[test]
fn m3_a_blocked_source_is_refused_before_hashing_and_others_are_not() {
    let mut fx = Fx::smart();
    block(&mut fx, &src(1), 0);
    let before = fx.site.accounts.clone();
    let v = fx.verifications;
    for good in [true, false] {
        let r = fx.at(5).attempt_as("ACC_user", &src(1), good);
        assert_eq!(r.outcome, locked(Some(299)));
        let e = &r.events[0];
        assert_eq!(s(e, "Status"), "0xC0000234");
        assert_eq!(s(e, "LockScope"), "source");
        assert!(!b(e, "Verified"));
    }
    assert_eq!(fx.verifications, v);
    assert_eq!(fx.site.accounts, before);
    assert_eq!(fx.good(&src(2)).outcome, OK, "another agent is unaffected");
}

#[test]
fn m3_block_is_in_force_at_its_end_and_one_more_try_follows() {
    let mut fx = Fx::smart();
    block(&mut fx, &src(1), 0); // block_time = 4 s, len 300 → end 304 s
    assert_eq!(fx.at(304).good(&src(1)).outcome, locked(Some(1)));
    // One ms later the block has expired: count := Ts-1, bad_time := end; one failure
    // blocks again, escalated to 600 s.
    let r = fx.at_ms(304_001).bad(&src(1));
    assert_eq!(ids(&r.events), ["4625", "4740"]);
    assert_eq!(n(&r.events[1], "BlockSeconds"), 600);
}

#[test]
fn m3_one_more_try_lasts_w_after_the_block_end() {
    // Failure exactly W after the block's end: still Ts-1 + 1 = Ts → blocked again.
    let mut fx = Fx::smart();
    block(&mut fx, &src(1), 0);
    let r = fx.at(304 + 600).bad(&src(1));
    assert_eq!(ids(&r.events), ["4625", "4740"]);
    // 1 ms later: the count restarts at 1.
    let mut fx = Fx::smart();
    block(&mut fx, &src(1), 0);
    let r = fx.at_ms(904_001).bad(&src(1));
    assert_eq!(ids(&r.events), ["4625"]);
    assert_eq!(fx.rec().sources[&src(1)].count, 1);
}

#[test]
fn m3_expired_block_then_success_resets_the_source() {
    let mut fx = Fx::smart();
    block(&mut fx, &src(1), 0);
    assert_eq!(fx.at(305).good(&src(1)).outcome, OK);
    assert!(!fx.rec().sources.contains_key(&src(1)), "M7: back to a fresh source");
    // A fresh source: the next block is 300 s again (streak reset).
    let r = block(&mut fx, &src(1), 400);
    assert_eq!(n(&r.events[1], "BlockSeconds"), 300);
}

#[test]
fn m8_escalation_is_300_600_1200_2400_then_3600() {
    let mut fx = Fx::smart();
    let mut t = 0;
    let mut lens = Vec::new();
    let r = block(&mut fx, &src(1), t);
    lens.push(n(&r.events[1], "BlockSeconds"));
    t += 4;
    for _ in 0..6 {
        // After each block, the single "one more try" failure blocks again.
        t += i64::try_from(*lens.last().unwrap()).unwrap() + 1;
        let r = fx.at(t).bad(&src(1));
        assert_eq!(ids(&r.events), ["4625", "4740"]);
        lens.push(n(&r.events[1], "BlockSeconds"));
    }
    assert_eq!(lens, [300, 600, 1200, 2400, 3600, 3600, 3600]);
}

#[test]
fn m8_escalation_memory_is_inclusive() {
    let policy =
        LockoutPolicy { reset_after: 60, duration: 60, escalation_memory: 3600, ..LockoutPolicy::default() };
    // Second block starts exactly escalation_memory after the first: escalates.
    let mut fx = Fx::new(policy.clone());
    block(&mut fx, &src(1), 0); // last_block_time = 4 s
    let r = block(&mut fx, &src(1), 3600); // the 5th failure at 3604 s
    assert_eq!(n(&r.events[1], "BlockSeconds"), 600);
    // 1 ms later: a new streak.
    let mut fx = Fx::new(policy);
    block(&mut fx, &src(1), 0);
    for i in 0..4 {
        fx.at(3600 + i).bad(&src(1));
    }
    let r = fx.at_ms(3_604_001).bad(&src(1));
    assert_eq!(n(&r.events[1], "BlockSeconds"), 300);
}

#[test]
fn m4_familiarity_is_evaluated_before_the_attempt() {
    let mut fx = Fx::smart();
    let r = fx.good(&src(1));
    assert!(!b(&r.events[0], "Familiar"), "first success: not yet familiar");
    let r = fx.at(1).good(&src(1));
    assert!(b(&r.events[0], "Familiar"));
    let r = fx.at(2).bad(&src(1));
    assert!(b(&r.events[0], "Familiar"));
}

#[test]
fn m4_familiar_until_exactly_familiar_ttl() {
    let mut fx = Fx::smart();
    make_familiar(&mut fx, &src(1));
    let ttl = i64::try_from(fx.policy.familiar_ttl).unwrap();
    let r = fx.at(ttl).bad(&src(1));
    assert!(b(&r.events[0], "Familiar"));
    assert_eq!(fx.rec().unf_count, 0);
    let r = fx.at_ms(ttl * 1000 + 1).bad(&src(1));
    assert!(!b(&r.events[0], "Familiar"));
    assert_eq!(fx.rec().unf_count, 1);
}

#[test]
fn familiar_with_any_generation_counts_site_wide() {
    let mut fx = Fx::smart();
    fx.site.create_managed_account("ACC_user_v2", 2, PasswordHash::new("h2"), false, fx.now()).unwrap();
    assert_eq!(fx.attempt_as("ACC_user_v2", &src(1), true).outcome, OK);
    let r = fx.at(1).bad(&src(1));
    assert!(b(&r.events[0], "Familiar"));
}

/// Locks unfamiliar sources out with Tu failures from Tu/2 sources (2 each, no blocks).
fn lock_unfamiliar(fx: &mut Fx, from_secs: i64) -> AttemptResult {
    let tu = fx.policy.unfamiliar_threshold;
    let mut last = None;
    for i in 0..tu {
        last = Some(fx.at(from_secs + i64::from(i)).bad(&src(100 + i / 2)));
    }
    last.unwrap()
}

#[test]
fn m8_tu_unfamiliar_failures_lock_unfamiliar_sources() {
    let mut fx = Fx::smart();
    let r = lock_unfamiliar(&mut fx, 0);
    assert_eq!(ids(&r.events), ["4625", "4740"]);
    let e = &r.events[1];
    assert_eq!(s(e, "LockScope"), "unfamiliar");
    assert_eq!(n(&r.events[1], "LockoutDurationSeconds"), 600);
    assert!(e.field("BlockSeconds").is_none());
    assert_eq!(fx.rec().lock_scope, Some(LockScope::Unfamiliar));
    assert_eq!(fx.label(), "locked_out");
    let disp = fx.site.displayed_state(&fx.policy, "ACC_user", fx.now()).unwrap();
    assert_eq!(disp.lock_scope, Some(LockScope::Unfamiliar));
}

#[test]
fn m5_unfamiliar_lock_refuses_unfamiliar_sources_only() {
    let mut fx = Fx::smart();
    make_familiar(&mut fx, &src(1));
    lock_unfamiliar(&mut fx, 10); // lock_time = 29 s
    let before = fx.site.accounts.clone();
    let v = fx.verifications;
    let r = fx.at(30).good(&src(50));
    assert_eq!(r.outcome, locked(Some(599)));
    assert_eq!(s(&r.events[0], "LockScope"), "unfamiliar");
    assert!(!b(&r.events[0], "Familiar"));
    assert_eq!(fx.verifications, v);
    assert_eq!(fx.site.accounts, before);
    // The familiar agent keeps working (M5 "continue").
    let r = fx.good(&src(1));
    assert_eq!(r.outcome, OK);
    assert!(b(&r.events[0], "Familiar"));
    // A familiar failure counts for its source but never for the aggregate.
    let unf = fx.rec().unf_count;
    fx.bad(&src(1));
    assert_eq!(fx.rec().unf_count, unf);
    assert_eq!(fx.rec().lock_time, Some(Timestamp(T0 + 29_000)), "not extended");
}

#[test]
fn m5_unfamiliar_lock_expires_lazily_and_clears_the_aggregate() {
    let mut fx = Fx::smart();
    lock_unfamiliar(&mut fx, 0); // lock_time = 19 s
    assert_eq!(fx.at(619).good(&src(60)).outcome, locked(Some(1)));
    let r = fx.at_ms(619_001).bad(&src(60));
    assert_eq!(ids(&r.events), ["4625"]);
    assert_eq!(fx.rec().lock_time, None);
    assert_eq!(fx.rec().unf_count, 1, "aggregate restarted");
}

#[test]
fn m5_with_d_0_the_unfamiliar_lock_has_no_retry_after_but_blocks_do() {
    let mut fx = Fx::smart();
    fx.policy.duration = 0;
    lock_unfamiliar(&mut fx, 0);
    assert_eq!(fx.at(100_000).good(&src(61)).outcome, locked(None));
    let mut fx = Fx::smart();
    fx.policy.duration = 0;
    block(&mut fx, &src(1), 0);
    assert_eq!(fx.at(5).good(&src(1)).outcome, locked(Some(299)));
}

#[test]
fn m7_success_does_not_touch_the_unfamiliar_aggregate() {
    let mut fx = Fx::smart();
    fx.bad(&src(1));
    fx.bad(&src(2));
    assert_eq!(fx.rec().unf_count, 2);
    fx.good(&src(1));
    assert_eq!(fx.rec().unf_count, 2);
    assert_eq!(fx.rec().unf_time, Some(Timestamp(T0)));
}

#[test]
fn m8_one_attempt_can_block_the_source_and_lock_unfamiliar_sources() {
    let mut fx = Fx::smart();
    fx.policy.source_threshold = 5;
    fx.policy.unfamiliar_threshold = 6;
    fx.at(0).bad(&src(9));
    let r = block(&mut fx, &src(1), 1);
    assert_eq!(ids(&r.events), ["4625", "4740", "4740"]);
    assert_eq!(s(&r.events[1], "LockScope"), "source");
    assert_eq!(s(&r.events[2], "LockScope"), "unfamiliar");
}

#[test]
fn m9_familiar_failures_never_lock_the_account() {
    let mut fx = Fx::smart();
    for i in 0..30 {
        make_familiar(&mut fx, &src(i));
    }
    let mut t = 1;
    for _ in 0..3 {
        for i in 0..30 {
            fx.at(t).bad(&src(i));
            t += 1;
        }
    }
    assert_eq!(fx.rec().unf_count, 0);
    assert_eq!(fx.rec().lock_time, None);
    assert_eq!(fx.at(t).good(&src(99)).outcome, OK, "unfamiliar newcomers unaffected");
}

#[test]
fn p5_success_on_a_retiring_generation_is_policy_stale() {
    let mut fx = Fx::smart();
    fx.site.accounts[0].lifecycle = Lifecycle::Retiring;
    let r = fx.good(&src(1));
    assert_eq!(r.outcome, Outcome::Ok { policy_stale: true });
    assert_eq!(s(&r.events[0], "AccPhase"), "retiring");
    assert_eq!(n(&r.events[0], "AccGeneration"), 1);
    // S5: lock rules apply unchanged.
    block(&mut fx, &src(2), 1);
    assert_eq!(fx.at(6).good(&src(2)).outcome, locked(Some(299)));
    lock_unfamiliar(&mut fx, 10);
    assert_eq!(fx.label(), "retiring (locked out)");
}

#[test]
fn lockout_loop_fires_from_the_third_lock_in_24_h() {
    let mut fx = Fx::smart();
    fx.policy.duration = 60;
    fx.policy.reset_after = 60;
    let mut ids_seen = Vec::new();
    for k in 0..4 {
        let r = lock_unfamiliar(&mut fx, k * 1000);
        ids_seen.push(ids(&r.events));
    }
    assert_eq!(ids_seen[0], ["4625", "4740"]);
    assert_eq!(ids_seen[1], ["4625", "4740"]);
    assert_eq!(ids_seen[2], ["4625", "4740", "acc.lockout_loop"]);
    assert_eq!(ids_seen[3], ["4625", "4740", "acc.lockout_loop"]);
    let r = lock_unfamiliar(&mut fx, 5000);
    let e = r.events.last().unwrap();
    assert_eq!(e.field_names(), ["TargetUserName", "Lockouts24h", "TopCallers"]);
    assert_eq!(s(e, "TargetUserName"), "ACC_user");
    assert_eq!(n(e, "Lockouts24h"), 5);
    // Every lock used sources 100..109 twice each: 10 failures per caller over 5 rounds.
    assert_eq!(
        e.field("TopCallers"),
        Some(&FieldValue::List(vec![
            "PC100:10".into(),
            "PC101:10".into(),
            "PC102:10".into(),
            "PC103:10".into(),
            "PC104:10".into(),
        ]))
    );
}

#[test]
fn lockout_loop_counts_only_the_last_86400_s_and_ranks_by_failures() {
    let mut fx = Fx::classic();
    fx.policy.threshold = 3;
    fx.policy.reset_after = 60;
    fx.policy.duration = 60;
    let lock = |fx: &mut Fx, at: i64, callers: [u32; 3]| {
        let mut r = None;
        for (i, c) in callers.into_iter().enumerate() {
            r = Some(fx.at(at + i64::try_from(i).unwrap()).bad(&src(c)));
        }
        r.unwrap()
    };
    lock(&mut fx, 0, [1, 1, 1]);
    lock(&mut fx, 100, [2, 2, 3]);
    // Third lock more than 86,400 s after the first: only two in the window.
    let r = lock(&mut fx, 86_402, [4, 5, 5]);
    assert_eq!(ids(&r.events), ["4625", "4740"]);
    // The fourth lock happens at 86,502 s: the locks at 102 s (exactly 86,400 s before,
    // inclusive), 86,404 s and 86,502 s count; PC2's failures at 100 and 101 s are out.
    let r = lock(&mut fx, 86_500, [5, 6, 6]);
    let e = r.events.last().unwrap();
    assert_eq!(n(e, "Lockouts24h"), 3);
    assert_eq!(
        e.field("TopCallers"),
        Some(&FieldValue::List(vec!["PC5:3".into(), "PC6:2".into(), "PC3:1".into(), "PC4:1".into(),]))
    );
}

#[test]
fn caller_computer_name_falls_back_to_the_ip_in_4740() {
    let mut fx = Fx::smart();
    let anonymous = Source::parse("::ffff:192.0.2.7", "not a name").unwrap();
    let r = block(&mut fx, &anonymous, 0);
    assert_eq!(s(&r.events[1], "CallerComputerName"), "192.0.2.7");
    assert_eq!(s(&r.events[0], "WorkstationName"), "192.0.2.7");
}

#[test]
fn forgotten_sources_are_pruned_without_changing_behaviour() {
    let mut fx = Fx::smart();
    // Many one-off unfamiliar sources, spread out so the aggregate never locks.
    for i in 0..1100u32 {
        fx.at(i64::from(i) * 700).bad(&src(1000 + i));
    }
    assert!(fx.rec().sources.len() <= 1025, "{}", fx.rec().sources.len());
    assert_eq!(fx.rec().lock_time, None);
}
