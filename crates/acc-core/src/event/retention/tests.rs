//! Tests of the retention decision: sizes, bounds, and what a full log gives up.

use proptest::prelude::*;

use super::*;

#[test]
fn sizes_parse_with_binary_units_and_print_back() {
    assert_eq!(parse_size("512MiB"), Ok(512 * MIB));
    assert_eq!(parse_size("512 mib"), Ok(512 * MIB));
    assert_eq!(parse_size("1G"), Ok(GIB));
    assert_eq!(parse_size("65536"), Ok(64 * KIB));
    assert_eq!(parse_size("2TiB"), Ok(2 * TIB));
    for bad in ["", "MiB", "-1MiB", "1.5GiB", "12 parsecs", "99999999999999999999", "18446744073709551615T"] {
        let e = parse_size(bad).unwrap_err().to_string();
        assert!(e.contains("is not a size") && e.contains("512MiB"), "{bad}: {e}");
    }
    assert_eq!(format_size(128 * MIB), "128 MiB");
    assert_eq!(format_size(GIB + 1), "1073741825 B");
    assert_eq!(format_size(3 * KIB), "3 KiB");
}

#[test]
fn maximum_sizes_are_bounded() {
    assert_eq!(check_max_size(MIB), Ok(MIB));
    assert_eq!(check_max_size(TIB), Ok(TIB));
    assert_eq!(
        check_max_size(MIB - 1).unwrap_err().to_string(),
        "1048575 B is below the smallest maximum size, 1 MiB"
    );
    assert!(
        check_max_size(TIB + 1).unwrap_err().to_string().contains("above the largest maximum size, 1 TiB")
    );
    assert!(check_max_size(DEFAULT_SITE_MAX_SIZE).is_ok() && check_max_size(DEFAULT_SERVER_MAX_SIZE).is_ok());
}

#[test]
fn a_log_under_its_maximum_keeps_everything() {
    let u = Usage { bytes: MIB, events: 1000, acknowledged: 1000 };
    assert_eq!(plan(&u, MIB), None);
    assert_eq!(plan(&Usage { bytes: 5 * MIB, events: 0, acknowledged: 0 }, MIB), None);
}

#[test]
fn a_full_standalone_log_drops_its_oldest_events_down_to_the_slack() {
    // 1 KiB a event, 16 KiB over a 1 MiB maximum: back to 1 MiB - 64 KiB.
    let u = Usage { bytes: MIB + 16 * KIB, events: 1040, acknowledged: 1040 };
    assert_eq!(plan(&u, MIB), Some(Removal { events: 80, unacknowledged: 0, reason: Reason::MaxSize }));
    assert_eq!(slack(128 * MIB), 8 * MIB);
}

#[test]
fn a_joined_site_keeps_unacknowledged_events_until_the_hard_limit() {
    // Nothing acknowledged, over the maximum but under twice it: nothing goes.
    let u = Usage { bytes: MIB + 16 * KIB, events: 1040, acknowledged: 0 };
    assert_eq!(plan(&u, MIB), None);
    // Some acknowledged: only those go, even if fewer than the slack would want.
    let u = Usage { bytes: MIB + 16 * KIB, events: 1040, acknowledged: 30 };
    assert_eq!(plan(&u, MIB), Some(Removal { events: 30, unacknowledged: 0, reason: Reason::MaxSize }));
    // Past twice the maximum, the fewest unacknowledged events that bring it back under.
    let u = Usage { bytes: 2 * MIB + 8 * KIB, events: 2056, acknowledged: 0 };
    let r = plan(&u, MIB).unwrap();
    assert_eq!(r.reason, Reason::HardLimit);
    assert_eq!(r.events, r.unacknowledged);
    assert_eq!(r.events, 8 + 128, "8 KiB over, down to 2 MiB - 128 KiB of slack");
    assert_eq!(Reason::HardLimit.to_string(), "hard-limit");
}

#[test]
fn a_measure_names_the_range_to_remove_and_the_pages_to_give_back() {
    let m = Measure::from_counts((2 * MIB as i64, 2048, Some(101), Some(2148), 700, 200, 4096));
    assert_eq!((m.file_bytes, m.free_bytes), (700 * 4096, 200 * 4096));
    assert_eq!(m.usage(None).acknowledged, 2048);
    assert_eq!(m.usage(Some(150)).acknowledged, 50);
    assert_eq!(m.usage(Some(50)).acknowledged, 0, "acknowledged before the oldest left");
    let r = Removal { events: 1000, unacknowledged: 0, reason: Reason::MaxSize };
    assert_eq!(m.range(&r, None), (101, 1100));
    assert_eq!(m.range(&r, Some(600)), (101, 600), "never past the acknowledged");
    let hard = Removal { events: 1000, unacknowledged: 950, reason: Reason::HardLimit };
    assert_eq!(m.range(&hard, Some(150)), (101, 1100), "the hard limit goes past it");
    let huge = Removal { events: 10 * MAX_REMOVAL, unacknowledged: 0, reason: Reason::MaxSize };
    assert_eq!(m.range(&huge, None), (101, 2148), "not past the newest");
    // 2 MiB of events under a 4 MiB maximum: room for 2 MiB + 256 KiB slack; 800 KiB free.
    assert_eq!(m.surplus_pages(4 * MIB), 0);
    // Over a 1 MiB maximum the log has no room: all but one slack (64 KiB) goes back.
    assert_eq!(m.surplus_pages(MIB), (200 * 4096 - 64 * KIB) / 4096);
}

#[test]
fn growth_calls_for_a_measurement_as_the_log_nears_its_maximum() {
    let g = Growth::new(MIB);
    assert!(g.add(1), "the first events are measured");
    // Half full at 1 KiB an event: measure again after 256 more (half the room).
    g.measured(MIB / 2, 512);
    assert!(!g.add(255) && !g.due());
    assert!(g.add(1) && g.due());
    // Nearly full: every 64 events at least.
    g.measured(MIB - 1024, 1023);
    assert!(!g.add(63) && g.add(1));
    assert!(!g.add(0), "nothing new, nothing to measure");
    g.set_max_size(2 * MIB);
    assert!(g.add(1), "a new maximum is looked at at once");
    assert_eq!(g.max_size(), 2 * MIB);
}

proptest! {
    #[test]
    fn a_removal_never_loses_more_than_it_must(
        max in MIN_MAX_SIZE..64 * MIB,
        events in 1u64..1_000_000,
        per_event in 40u64..4096,
        acked_share in 0u64..=100,
    ) {
        let bytes = events * per_event;
        let acknowledged = events * acked_share / 100;
        let u = Usage { bytes, events, acknowledged };
        let hard = hard_limit(max);
        match plan(&u, max) {
            None => prop_assert!(bytes <= max || (acknowledged == 0 && bytes <= hard)),
            Some(r) => {
                prop_assert!(bytes > max);
                prop_assert!(r.events > 0 && r.events <= events);
                prop_assert!(r.unacknowledged <= r.events);
                let after = bytes - r.events * per_event;
                match r.reason {
                    Reason::MaxSize => {
                        prop_assert_eq!(r.unacknowledged, 0);
                        prop_assert!(r.events <= acknowledged, "only acknowledged events go at max-size");
                        if r.events < acknowledged {
                            prop_assert!(after <= max, "it stops only once under the maximum");
                        }
                    }
                    Reason::HardLimit => {
                        prop_assert_eq!(r.events - r.unacknowledged, acknowledged, "every acknowledged one first");
                        prop_assert!(after <= hard, "back under the hard limit: {} > {}", after, hard);
                        // One event fewer would have left it over the hard limit's low mark.
                        prop_assert!(after + per_event > hard - slack(hard) || r.events == events);
                    }
                }
            }
        }
    }
}
