//! Smart mode, rule M8a (2.3 M8.2 and M5a): one address adds at most `Ts` failures per
//! window to the unfamiliar aggregate, whatever caller names it sends; once two or more
//! names used up its share, its unfamiliar callers are refused before hashing for `W`.

use super::*;

/// A source at address `ip` that names itself `caller`.
fn at(ip: &str, caller: &str) -> Source {
    Source::parse(ip, caller).unwrap()
}

/// The attacker's n-th attempt: always 192.0.2.66, a new caller name every time.
fn rotating(n: u32) -> Source {
    at("192.0.2.66", &format!("fake{n}"))
}

/// `count` wrong passwords from 192.0.2.66 with a new name each, one per second from
/// `from_secs`; the last result.
fn flood(fx: &mut Fx, from_secs: i64, count: u32) -> AttemptResult {
    let mut last = None;
    for i in 0..count {
        last = Some(fx.at(from_secs + i64::from(i)).bad(&rotating(i)));
    }
    last.unwrap()
}

fn share<'a>(fx: &'a Fx, ip: &str) -> Option<&'a AddressShare> {
    fx.rec().shares.get(ip)
}

#[test]
fn m8a_one_address_adds_at_most_ts_failures_to_unf_count() {
    let mut fx = Fx::smart();
    for i in 0..4 {
        fx.at(i64::from(i)).bad(&rotating(i));
        assert_eq!(fx.rec().unf_count, i + 1);
    }
    // The fifth name uses up the share (Ts = 5); the unfamiliar count stops there.
    fx.at(4).bad(&rotating(4));
    assert_eq!(fx.rec().unf_count, 5);
    fx.at(5).bad(&rotating(5));
    assert_eq!(fx.rec().unf_count, 5, "refused at the address (M5a), not counted");
    let sh = share(&fx, "192.0.2.66").unwrap();
    assert_eq!((sh.n, sh.since, sh.callers.len()), (5, Timestamp(T0 + 4_000), 5));
}

#[test]
fn m8a_two_names_using_up_the_share_write_4740_scope_address() {
    let mut fx = Fx::smart();
    let r = flood(&mut fx, 0, 5);
    assert_eq!(
        r.outcome,
        Outcome::InvalidCredentials,
        "the attempt that blocks still reports a bad password"
    );
    assert_eq!(ids(&r.events), ["4625", "4740"], "4625 then 4740 (4.2)");
    let e = &r.events[1];
    assert_eq!(e.field_names(), fields_4740("BlockSeconds"));
    assert_eq!(s(e, "LockScope"), "address");
    assert_eq!(s(e, "CallerComputerName"), "192.0.2.66", "CallerComputerName = ip");
    assert_eq!(s(e, "IpAddress"), "192.0.2.66");
    assert_eq!(n(e, "BlockSeconds"), 600, "BlockSeconds = W");
    assert_eq!(s(e, "TargetUserName"), "ACC_user");
    assert_eq!(fx.rec().lock_time, None, "an address block is not an account lock");
    assert_eq!(fx.label(), "enabled");
    let shown = fx.site.displayed_state(&fx.policy, "ACC_user", fx.now()).unwrap();
    assert_eq!(shown.blocked_addresses, 1);
}

#[test]
fn m5a_the_blocked_address_refuses_unfamiliar_callers_before_hashing() {
    let mut fx = Fx::smart();
    flood(&mut fx, 0, 5); // since = 4 s
    let before = fx.site.accounts.clone();
    let v = fx.verifications;
    for (i, good) in [(100, false), (101, true)] {
        let r = fx.at(10).attempt_as("ACC_user", &rotating(i), good);
        assert_eq!(r.outcome, locked(Some(594)), "retry_after = ceil(since + W - t)");
        assert_eq!(ids(&r.events), ["4625"]);
        let e = &r.events[0];
        assert_eq!(s(e, "Status"), "0xC0000234");
        assert_eq!(s(e, "SubStatus"), "0x0");
        assert_eq!(s(e, "LockScope"), "address");
        assert!(!b(e, "Verified"));
        assert!(!b(e, "Familiar"));
    }
    // A caller name that already failed there is refused the same way.
    assert_eq!(fx.at(11).good(&rotating(0)).outcome, locked(Some(593)));
    assert_eq!(fx.verifications, v, "nothing was hashed");
    assert_eq!(fx.site.accounts, before, "nothing changed");
    // Another address is not affected.
    assert_eq!(fx.good(&at("192.0.2.7", "newagent")).outcome, OK);
}

#[test]
fn m5a_the_block_lasts_until_exactly_since_plus_w() {
    let mut fx = Fx::smart();
    flood(&mut fx, 0, 5); // since = 4 s, W = 600 s
    assert_eq!(fx.at(604).good(&rotating(50)).outcome, locked(Some(1)));
    // 1 ms later the share is past its window: the caller is verified and succeeds.
    assert_eq!(fx.at_ms(604_001).good(&rotating(51)).outcome, OK);
}

#[test]
fn m5a_a_share_restarts_after_its_window_and_counts_again() {
    let mut fx = Fx::smart();
    flood(&mut fx, 0, 5);
    assert_eq!(fx.rec().unf_count, 5);
    let r = fx.at_ms(604_001).bad(&rotating(60));
    assert_eq!(ids(&r.events), ["4625"]);
    let sh = share(&fx, "192.0.2.66").unwrap();
    assert_eq!((sh.n, sh.callers.len()), (1, 1), "a new share (0, t, {{}}) took it");
    // The previous unfamiliar failure is more than W ago: the aggregate restarts at 1.
    assert_eq!(fx.rec().unf_count, 1);
}

#[test]
fn m5a_familiar_sources_at_the_blocked_address_are_not_affected() {
    let mut fx = Fx::smart();
    let real = at("192.0.2.66", "realagent");
    assert_eq!(fx.good(&real).outcome, OK);
    flood(&mut fx, 1, 5);
    let r = fx.at(10).good(&real);
    assert_eq!(r.outcome, OK);
    assert!(b(&r.events[0], "Familiar"));
    // A familiar failure is its own source's business (M8.1), never the share's.
    let r = fx.at(11).bad(&real);
    assert_eq!(ids(&r.events), ["4625"]);
    assert_eq!(s(&r.events[0], "SubStatus"), "0xC000006A");
    assert_eq!(share(&fx, "192.0.2.66").unwrap().n, 5);
}

#[test]
fn m5a_one_source_alone_never_blocks_its_address() {
    // One name: its own source block handles it (M3, M8.4); the share holds one caller.
    let mut fx = Fx::smart();
    let one = at("192.0.2.66", "stale");
    for i in 0..5 {
        fx.at(i).bad(&one);
    }
    let sh = share(&fx, "192.0.2.66").unwrap();
    assert_eq!((sh.n, sh.callers.len()), (5, 1));
    let r = fx.at(5).good(&one);
    assert_eq!(s(&r.events[0], "LockScope"), "source");
    // Another unfamiliar caller at the same address is verified and logs on.
    assert_eq!(fx.at(6).good(&at("192.0.2.66", "newagent")).outcome, OK);
    assert_eq!(fx.site.displayed_state(&fx.policy, "ACC_user", fx.now()).unwrap().blocked_addresses, 0);
}

#[test]
fn m5a_once_a_second_name_uses_up_the_share_the_first_is_refused_too() {
    let mut fx = Fx::smart();
    let one = at("192.0.2.66", "stale");
    // Four failures from one name, then the share's last place goes to a second name.
    for i in 0..4 {
        fx.at(i).bad(&one);
    }
    let r = fx.at(4).bad(&at("192.0.2.66", "other"));
    assert_eq!(ids(&r.events), ["4625", "4740"]);
    assert_eq!(s(&r.events[1], "LockScope"), "address");
    assert_eq!(fx.rec().unf_count, 5);
    // The first name is a known (ip, caller) pair but unfamiliar: the address refuses it.
    let r = fx.at(5).bad(&one);
    assert_eq!(s(&r.events[0], "LockScope"), "address");
    assert_eq!(fx.rec().sources[&one].count, 4, "refused attempts change nothing (S3)");
}

#[test]
fn m8a_a_failure_beyond_a_single_name_share_still_blocks_its_own_source() {
    // Ts = 3: one name fills the share; a second name beyond it is counted for its own
    // source (M8.1), written (M8.3) and blocks that source (M8.4), but never reaches
    // `unf_count` and never blocks the address (its share holds one name).
    let mut fx = Fx::smart();
    fx.policy.source_threshold = 3;
    let first = at("192.0.2.66", "first");
    for i in 0..3 {
        fx.at(i).bad(&first);
    }
    let second = at("192.0.2.66", "second");
    let mut last = None;
    for i in 3..6 {
        last = Some(fx.at(i).bad(&second));
        assert_eq!(fx.rec().unf_count, 3);
    }
    let r = last.unwrap();
    assert_eq!(ids(&r.events), ["4625", "4740"]);
    assert_eq!(s(&r.events[1], "LockScope"), "source");
    assert_eq!(s(&r.events[1], "CallerComputerName"), "SECOND");
    assert_eq!(share(&fx, "192.0.2.66").unwrap().callers.len(), 1);
}

#[test]
fn m8a_the_address_block_and_the_unfamiliar_lock_in_one_attempt() {
    // Tu = 6: one failure elsewhere, then five names from one address; the fifth uses up
    // the share and brings unf_count to Tu. Events: 4625, 4740 address, 4740 unfamiliar.
    let mut fx = Fx::smart();
    fx.policy.unfamiliar_threshold = 6;
    fx.at(0).bad(&src(9));
    let r = flood(&mut fx, 1, 5);
    assert_eq!(ids(&r.events), ["4625", "4740", "4740"]);
    assert_eq!(s(&r.events[1], "LockScope"), "address");
    assert_eq!(s(&r.events[2], "LockScope"), "unfamiliar");
    assert_eq!(s(&r.events[2], "CallerComputerName"), "FAKE4");
}

#[test]
fn m8a_one_address_alone_never_locks_unfamiliar_sources_but_many_still_do() {
    let mut fx = Fx::smart();
    // One address, a new name on every attempt, for an hour at one per second.
    for i in 0..3600u32 {
        fx.at(i64::from(i)).bad(&rotating(i));
        assert!(fx.rec().unf_count <= 5);
    }
    assert_eq!(fx.rec().lock_time, None);
    assert_eq!(fx.at(3600).good(&at("192.0.2.7", "newagent")).outcome, OK);
    // Four addresses at Ts each (and one more failure) still reach Tu = 20.
    let mut fx = Fx::smart();
    let mut t = 0;
    let mut last = None;
    for a in 0..4u32 {
        for c in 0..5u32 {
            last = Some(fx.at(t).bad(&at(&format!("198.51.100.{a}"), &format!("x{c}"))));
            t += 1;
        }
    }
    assert_eq!(fx.rec().unf_count, 20);
    let r = last.unwrap();
    assert_eq!(ids(&r.events), ["4625", "4740", "4740"]);
    assert_eq!(s(&r.events[2], "LockScope"), "unfamiliar");
    assert_eq!(fx.label(), "locked_out");
}

#[test]
fn m7_success_keeps_the_share() {
    // M7: the unfamiliar aggregate (and so every share) is not changed by a success.
    let mut fx = Fx::smart();
    fx.at(0).bad(&rotating(0));
    fx.at(1).bad(&rotating(1));
    assert_eq!(fx.at(2).good(&rotating(2)).outcome, OK);
    let sh = share(&fx, "192.0.2.66").unwrap();
    assert_eq!((sh.n, sh.since), (2, Timestamp(T0 + 1_000)));
    assert_eq!(fx.rec().unf_count, 2);
}

#[test]
fn m8a_shares_are_cleared_with_unf_count_when_the_lock_expires() {
    let mut fx = Fx::smart();
    fx.policy.unfamiliar_threshold = 6;
    fx.policy.duration = 600;
    fx.at(0).bad(&src(9));
    flood(&mut fx, 1, 5); // lock_time = 5 s, address share since = 5 s
    assert!(!fx.rec().shares.is_empty());
    // At 606 s the lock has expired: cleared lazily together with every share, so the
    // address is no longer blocked even though its share (since 5 s) would still count.
    let r = fx.at(605).bad(&rotating(70));
    assert_eq!(s(&r.events[0], "LockScope"), "unfamiliar", "still locked at lock_time + D");
    let r = fx.at_ms(605_001).bad(&rotating(71));
    assert_eq!(ids(&r.events), ["4625"]);
    assert_eq!(s(&r.events[0], "SubStatus"), "0xC000006A", "verified, not refused");
    assert_eq!(fx.rec().unf_count, 1);
    assert_eq!(share(&fx, "192.0.2.66").unwrap().n, 1, "a fresh share");
}

#[test]
fn m8a_shares_are_cleared_by_an_admin_unlock_and_by_re_enable() {
    let admin = crate::event::catalogue::Subject::admin("S-1-5-21-9-9-9-500", "alice", "MGMT-01", "0x1");
    for via_refresh in [false, true] {
        let mut fx = Fx::smart();
        fx.policy.unfamiliar_threshold = 6;
        fx.at(0).bad(&src(9));
        flood(&mut fx, 1, 5);
        assert_eq!(fx.label(), "locked_out");
        fx.at(10);
        let now = fx.now();
        if via_refresh {
            let g = ManagedGeneration {
                generation: 1,
                user_name: "ACC_user".into(),
                phase: GenerationPhase::Active,
                password_hash: Some(PasswordHash::new(HASH1)),
            };
            fx.site.refresh(&fx.policy, &[g], RefreshTrigger::Manual, now);
        } else {
            fx.site.admin_unlock(&fx.policy, "ACC_user", false, &admin, now).unwrap();
        }
        assert_eq!((fx.rec().unf_count, fx.rec().shares.len()), (0, 0), "refresh: {via_refresh}");
        assert_eq!(fx.at(11).good(&rotating(80)).outcome, OK, "the address is open again");
    }
}

#[test]
fn m8a_shares_are_per_account() {
    let mut fx = Fx::smart();
    fx.site.create_managed_account("ACC_user_v2", 2, PasswordHash::new("h2"), false, fx.now()).unwrap();
    flood(&mut fx, 0, 5);
    let r = fx.at(5).attempt_as("ACC_user_v2", &rotating(90), true);
    assert_eq!(r.outcome, OK, "another account's aggregate has its own shares");
}

#[test]
fn m8a_classic_mode_keeps_no_shares() {
    let mut fx = Fx::classic();
    for i in 0..3 {
        fx.at(i).bad(&rotating(u32::try_from(i).unwrap()));
    }
    assert!(fx.rec().shares.is_empty());
}
