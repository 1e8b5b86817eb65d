//! Effective time (1.5 T1–T3): the high-water mark, the `acc.clock` event, and the
//! persisted state surviving a restart (T5).

use super::*;

#[test]
fn t1_effective_time_never_goes_backwards() {
    let mut fx = Fx::classic();
    fx.at(100).bad(&src(1));
    // The clock steps back 50 s: the failure is stamped at the high-water mark.
    let r = fx.at(50).bad(&src(1));
    assert_eq!(ids(&r.events), ["acc.clock", "4625"]);
    assert_eq!(r.events[1].time, Timestamp(T0 + 100_000));
    assert_eq!(fx.rec().bad_time, Some(Timestamp(T0 + 100_000)));
    assert_eq!(fx.site.hwm, Some(Timestamp(T0 + 100_000)));
}

#[test]
fn t1_a_backwards_step_cannot_shorten_a_lock() {
    let mut fx = Fx::classic();
    for i in 0..10 {
        fx.at(i).bad(&src(1));
    }
    // Lock at 9 s ends after 609 s. Reading 700 s then 0 s: the lock is gone at 700 s
    // (forward step), but a reading of 300 s after a reading of 500 s keeps it.
    fx.at(500);
    assert_eq!(fx.good(&src(1)).outcome, locked(Some(109)));
    fx.at(300);
    assert_eq!(fx.good(&src(1)).outcome, locked(Some(109)));
}

#[test]
fn t2_one_acc_clock_event_per_backwards_step() {
    let mut fx = Fx::classic();
    fx.at(100).good(&src(1));
    let r = fx.at(90).good(&src(1));
    assert_eq!(ids(&r.events), ["acc.clock", "4624"]);
    let e = &r.events[0];
    assert_eq!(e.field_names(), ["Kind", "Wall", "HighWaterMark", "DeltaMs"]);
    assert_eq!(s(e, "Kind"), "backwards");
    assert_eq!(s(e, "Wall"), "2025-06-02T12:01:30.000Z");
    assert_eq!(s(e, "HighWaterMark"), "2025-06-02T12:01:40.000Z");
    assert_eq!(e.field("DeltaMs"), Some(&FieldValue::Int(-10_000)));
    assert_eq!(e.time, Timestamp(T0 + 100_000));
    // Still behind: no second event for the same step.
    assert_eq!(ids(&fx.at(95).good(&src(1)).events), ["4624"]);
    // Back to normal, then a new step: a new event.
    assert_eq!(ids(&fx.at(101).good(&src(1)).events), ["4624"]);
    assert_eq!(ids(&fx.at(50).good(&src(1)).events), ["acc.clock", "4624"]);
}

#[test]
fn t2_up_to_2_s_backwards_is_tolerated_silently() {
    let mut fx = Fx::classic();
    fx.at(100).good(&src(1));
    assert_eq!(ids(&fx.at_ms(98_000).good(&src(1)).events), ["4624"]);
    assert_eq!(ids(&fx.at_ms(97_999).good(&src(1)).events), ["acc.clock", "4624"]);
}

#[test]
fn t2_a_reading_within_tolerance_ends_the_step() {
    let mut fx = Fx::classic();
    fx.at(100).good(&src(1));
    fx.at(90).good(&src(1)); // step 1
    fx.at(99).good(&src(1)); // within 2 s of hwm (100): normal
    assert_eq!(ids(&fx.at(90).good(&src(1)).events), ["acc.clock", "4624"]);
}

#[test]
fn t5_state_round_trips_through_json_and_keeps_the_lock() {
    let mut fx = Fx::smart();
    fx.good(&src(1));
    for i in 0..5 {
        fx.at(i).bad(&src(2));
    }
    for i in 0..20 {
        fx.at(10 + i).bad(&src(300 + u32::try_from(i).unwrap()));
    }
    let json = serde_json::to_string(&fx.site).unwrap();
    let back: SiteState = serde_json::from_str(&json).unwrap();
    assert_eq!(back, fx.site);
    fx.site = back;
    assert_eq!(fx.at(40).good(&src(2)).outcome, locked(Some(264)));
    // src(2)'s 5 failures count toward Tu = 20 too: the lock starts at 24 s.
    assert_eq!(fx.good(&src(77)).outcome, locked(Some(584)));
    assert_eq!(fx.good(&src(1)).outcome, OK);
}

#[test]
fn stamping_numbers_events_from_1_in_write_order() {
    let mut fx = Fx::classic();
    // The fixture's creation wrote 4 events that were never stamped; stamp a batch now.
    let events = fx.bad(&src(1)).events;
    let mut more = fx.at(1).good(&src(1)).events;
    let mut all = events;
    all.append(&mut more);
    let stamped = fx.site.stamp(all);
    assert_eq!(stamped.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(fx.site.seq, 2);
    assert!(stamped.iter().all(|e| e.computer == "SITE-01"));
    assert!(stamped.windows(2).all(|w| w[0].event.time <= w[1].event.time));
}
