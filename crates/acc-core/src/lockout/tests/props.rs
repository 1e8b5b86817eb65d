//! Property tests: invariants that must hold for any sequence of attempts, clock
//! readings (including backwards steps) and administrative actions.

use proptest::prelude::*;

use super::*;
use crate::event::catalogue::Subject;

/// One step of a random history.
#[derive(Debug, Clone)]
enum Op {
    /// An attempt from source `src` as `ACC_user` (or an unknown name when `known` is
    /// false), with the right password when `good`.
    Attempt {
        src: u32,
        good: bool,
        known: bool,
    },
    Refresh,
    Unlock {
        sources: bool,
    },
    Disable,
    Enable,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        12 => (0u32..8, any::<bool>(), prop::bool::weighted(0.95))
            .prop_map(|(src, good, known)| Op::Attempt { src, good, known }),
        1 => Just(Op::Refresh),
        1 => any::<bool>().prop_map(|sources| Op::Unlock { sources }),
        1 => Just(Op::Disable),
        1 => Just(Op::Enable),
    ]
}

/// Clock steps: mostly forward by up to 15 minutes, sometimes backwards by up to 30 s.
fn step() -> impl Strategy<Value = i64> {
    prop_oneof![
        8 => 0i64..900_000,
        1 => -30_000i64..0,
    ]
}

fn mode() -> impl Strategy<Value = LockoutMode> {
    prop_oneof![Just(LockoutMode::Classic), Just(LockoutMode::Smart)]
}

fn apply(fx: &mut Fx, op: &Op) -> Vec<Event> {
    let now = fx.now();
    let admin = Subject::admin("S-1-5-21-9-9-9-500", "alice", "MGMT-01", "0x1");
    match *op {
        Op::Attempt { src: s, good, known } => {
            let name = if known { "ACC_user" } else { "nobody" };
            let before = fx.site.accounts.clone();
            let familiar_before = fx.site.familiar.clone();
            let r = fx.attempt_as(name, &src(s), good);
            if matches!(r.outcome, Outcome::LockedOut { .. } | Outcome::AccountDisabled) || !known {
                // S3/S4/C1: refusals and unknown names change no record and no familiarity.
                assert_eq!(fx.site.accounts, before, "{op:?} -> {:?}", r.outcome);
                assert_eq!(fx.site.familiar, familiar_before);
            }
            if let Outcome::LockedOut { retry_after: Some(secs) } = r.outcome {
                let max = fx.policy.duration.max(fx.policy.source_block_max);
                assert!((1..=max).contains(&secs), "retry_after {secs}");
            }
            r.events
        }
        Op::Refresh => {
            let g = ManagedGeneration {
                generation: 1,
                user_name: "ACC_user".into(),
                phase: GenerationPhase::Active,
                password_hash: Some(PasswordHash::new(HASH1)),
            };
            let sources_before = fx.rec().sources.clone();
            let r = fx.site.refresh(&fx.policy, &[g], RefreshTrigger::Interval, now);
            // A6: refresh never clears a source block.
            assert_eq!(fx.rec().sources, sources_before);
            r.events
        }
        Op::Unlock { sources } => fx.site.admin_unlock(&fx.policy, "ACC_user", sources, &admin, now).unwrap(),
        Op::Disable => fx.site.disable("ACC_user", DisabledBy::Admin, &admin, now).unwrap_or_default(),
        Op::Enable => fx.site.admin_enable("ACC_user", &admin, now).unwrap_or_default(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// T1: event times never decrease, whatever the clock does; refusals never change
    /// counters (checked inside `apply`).
    #[test]
    fn effective_time_never_decreases_and_refusals_change_nothing(
        mode in mode(),
        ops in prop::collection::vec((step(), op()), 1..120),
    ) {
        let mut fx = Fx::new(LockoutPolicy { mode, ..LockoutPolicy::default() });
        let mut last = Timestamp(i64::MIN);
        let mut hwm = fx.site.hwm;
        for (dt, op) in &ops {
            fx.clock.advance_ms(*dt);
            for e in apply(&mut fx, op) {
                prop_assert!(e.time >= last, "{:?} went back from {:?}", e, last);
                last = e.time;
            }
            prop_assert!(fx.site.hwm >= hwm);
            hwm = fx.site.hwm;
        }
        // T5: whatever happened, the state survives persistence unchanged.
        let json = serde_json::to_string(&fx.site).unwrap();
        let back: SiteState = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back, fx.site.clone());
    }

    /// M8.2 / M9: in smart mode, failures of familiar sources never touch the unfamiliar
    /// aggregate and never lock the account.
    #[test]
    fn familiar_failures_never_change_unf_count(
        attempts in prop::collection::vec((0u32..6, any::<bool>(), 0i64..120_000), 1..200),
    ) {
        let mut fx = Fx::smart();
        for s in 0..6 {
            prop_assert_eq!(fx.good(&src(s)).outcome, OK);
        }
        for (s, good, dt) in attempts {
            fx.clock.advance_ms(dt);
            fx.attempt_as("ACC_user", &src(s), good);
            prop_assert_eq!(fx.rec().unf_count, 0);
            prop_assert_eq!(fx.rec().lock_time, None);
        }
    }

    /// 2.3 consequence: with the defaults, one unfamiliar source failing at most once a
    /// second can never lock the account (it adds at most 6 to the aggregate per window).
    #[test]
    fn a_single_unfamiliar_source_at_one_per_second_never_locks(
        gaps in prop::collection::vec(1_000i64..5_000, 1..400),
        caller in 0u32..1000,
    ) {
        let mut fx = Fx::smart();
        let s = src(caller);
        for gap in gaps {
            fx.clock.advance_ms(gap);
            fx.bad(&s);
            prop_assert!(fx.rec().unf_count <= 6, "unf_count {}", fx.rec().unf_count);
            prop_assert_eq!(fx.rec().lock_time, None);
        }
    }

}

/// A caller name the attacker sends: usually a fresh valid one, sometimes one it used
/// before, sometimes one that normalises to `-` (then CallerComputerName is the ip).
fn caller_name() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => (0u32..100_000).prop_map(|n| format!("host{n}")),
        1 => (0u32..4).prop_map(|n| format!("again{n}")),
        1 => Just(String::new()),
        1 => Just("not a name".to_owned()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Rule M8a: one address alone can never cause the unfamiliar lock, whatever names it
    /// rotates, whatever the timing (clock steps backwards included), for any valid
    /// Ts < Tu: it adds at most Ts failures to `unf_count`, and a new agent from another
    /// address still logs on afterwards.
    #[test]
    fn m8a_one_address_alone_never_causes_the_unfamiliar_lock(
        ts in 1u32..10,
        extra in 1u32..10,
        attempts in prop::collection::vec((caller_name(), step(), prop::bool::weighted(0.05)), 1..400),
    ) {
        let mut fx = Fx::smart();
        fx.policy.source_threshold = ts;
        fx.policy.unfamiliar_threshold = ts + extra;
        for (caller, dt, good) in &attempts {
            fx.clock.advance_ms(*dt);
            let r = fx.attempt_as("ACC_user", &Source::parse("203.0.113.9", caller).unwrap(), *good);
            let unfamiliar_lock = r.events.iter().any(|e| {
                e.id.to_string() == "4740" && e.field("LockScope") == Some(&FieldValue::from("unfamiliar"))
            });
            prop_assert!(!unfamiliar_lock, "{:?}", r.events);
            prop_assert!(fx.rec().unf_count <= ts, "unf_count {} > Ts {}", fx.rec().unf_count, ts);
            prop_assert_eq!(fx.rec().lock_time, None);
            prop_assert!(fx.rec().shares.len() <= 1);
        }
        let newcomer = Source::parse("203.0.113.10", "newagent").unwrap();
        prop_assert_eq!(fx.good(&newcomer).outcome, OK);
    }

    /// Rule M8a / M5a: a flood from one address that sends a new name on every attempt
    /// costs at most Ts password verifications per window (Ts >= 2): once two names used
    /// up the share, every further unfamiliar caller is refused before hashing.
    #[test]
    fn m8a_a_rotating_names_flood_needs_at_most_ts_verifications(
        ts in 2u32..10,
        gaps in prop::collection::vec(0i64..2_000, 1..600),
    ) {
        let mut fx = Fx::smart();
        fx.policy.source_threshold = ts;
        fx.policy.unfamiliar_threshold = ts + 1;
        // Within one window (W = 600 s): the gaps add up to at most 600 * 2 s = 1,200 s,
        // so count windows by the share's own restarts.
        let mut windows = 1;
        let mut first_in_window = 0i64;
        for (i, gap) in gaps.iter().enumerate() {
            fx.clock.advance_ms(*gap);
            let t = fx.now().millis() - T0;
            if t - first_in_window > 600_000 {
                windows += 1;
                first_in_window = t;
            }
            fx.bad(&Source::parse("203.0.113.9", &format!("h{i}")).unwrap());
        }
        prop_assert!(fx.verifications <= windows * ts as usize,
            "{} verifications in {} windows", fx.verifications, windows);
    }

    /// M8a bookkeeping: a share never holds more than Ts failures, only live shares are
    /// kept, and `unf_count` is at least the sum of the live shares (every failure a share
    /// holds was added to the aggregate, which restarts only once they are all stale).
    #[test]
    fn m8a_shares_stay_within_their_bounds(
        attempts in prop::collection::vec((0u32..6, caller_name(), step(), any::<bool>()), 1..300),
    ) {
        let mut fx = Fx::smart();
        for (ip, caller, dt, good) in &attempts {
            fx.clock.advance_ms(*dt);
            let source = Source::parse(&format!("198.51.100.{ip}"), caller).unwrap();
            fx.attempt_as("ACC_user", &source, *good);
            let rec = fx.rec();
            let t = fx.site.peek_time(fx.now());
            let mut live = 0;
            for share in rec.shares.values() {
                prop_assert!(share.n <= fx.policy.source_threshold);
                prop_assert!(share.callers.len() <= share.n as usize);
                if share.in_window(&fx.policy, t) {
                    live += share.n;
                }
            }
            if rec.lock_time.is_none() {
                prop_assert!(rec.unf_count >= live, "unf_count {} < live shares {}", rec.unf_count, live);
            }
        }
    }
}

proptest! {
    // Floods run many attempts per case; fewer cases keep the suite fast.
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// A flood from one source costs at most Ts password verifications per block: every
    /// later attempt is refused before hashing.
    #[test]
    fn a_source_flood_needs_at_most_ts_verifications(
        mut times in prop::collection::vec(0i64..300_000, 1..1_000),
        good in any::<bool>(),
    ) {
        times.sort_unstable();
        let mut fx = Fx::smart();
        let s = src(1);
        for t in &times {
            fx.at_ms(*t);
            fx.bad(&s);
        }
        let ts = fx.policy.source_threshold as usize;
        prop_assert_eq!(fx.verifications, times.len().min(ts));
        // Even the right password is refused without hashing while blocked.
        if times.len() >= ts {
            fx.at_ms(300_000);
            let r = fx.attempt_as("ACC_user", &s, good);
            let refused = matches!(r.outcome, Outcome::LockedOut { .. });
            prop_assert!(refused, "{:?}", r.outcome);
            prop_assert_eq!(fx.verifications, ts);
        }
    }

    /// A flood from many unfamiliar sources within one lock duration costs at most Tu
    /// verifications: after the unfamiliar lock every unfamiliar attempt is refused first.
    #[test]
    fn a_many_source_flood_needs_at_most_tu_verifications(
        attempts in prop::collection::vec((0u32..5_000, 0i64..600_000), 1..1_500),
    ) {
        let mut attempts = attempts;
        attempts.sort_unstable_by_key(|a| a.1);
        let mut fx = Fx::smart();
        for (s, t) in attempts {
            fx.at_ms(t);
            fx.bad(&src(s));
        }
        prop_assert!(fx.verifications <= fx.policy.unfamiliar_threshold as usize);
    }

    /// C6/C7 in classic mode: the counter equals the failures since the last reset
    /// within the window, and the account locks exactly at T.
    #[test]
    fn classic_locks_exactly_at_the_threshold(
        threshold in 1u32..15,
        gaps in prop::collection::vec(0i64..600_000, 1..40),
    ) {
        let mut fx = Fx::classic();
        fx.policy.threshold = threshold;
        fx.policy.duration = 0;
        let mut expected = 0u32;
        for (i, gap) in gaps.iter().enumerate() {
            fx.clock.advance_ms(*gap);
            let r = fx.bad(&src(1));
            if expected >= threshold {
                prop_assert_eq!(r.outcome, locked(None));
                continue;
            }
            // Gaps never exceed W (600 s), so every failure counts.
            expected += 1;
            let locks = expected == threshold;
            prop_assert_eq!(fx.rec().bad_count, expected, "attempt {}", i);
            prop_assert_eq!(ids(&r.events).len(), if locks { 2 } else { 1 });
        }
    }
}
