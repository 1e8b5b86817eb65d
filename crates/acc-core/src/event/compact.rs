//! Compact storage of repeated logons: a flood of identical refusals (the same account,
//! caller, address and status, thousands of times) differs from one event to the next only
//! in `Seq`, `TimeCreated` and a few volatile fields. Such an event splits into its
//! **shape** (the event with those emptied, stored once) and what **varies** (the volatile
//! fields' values, a few bytes); [`join`] puts the event back exactly as it was written.
//! Each event keeps its own row and `Seq`, so it still counts as one event in every search,
//! in forwarding and in removals.
//!
//! Only logons (4624, 4625) are split: they are what floods repeat. The store decides when a
//! shape is worth keeping (when it repeats); this module only splits and joins.

use super::{EventId, FieldValue, StampedEvent};
use crate::time::Timestamp;

/// Fields that change between otherwise identical logons: the client's port and the
/// logon id of a 4624.
pub const VOLATILE: [&str; 2] = ["IpPort", "TargetLogonId"];

/// Whether events of `id` are split into shape and variation.
pub fn splits(id: &EventId) -> bool {
    matches!(id, EventId::Windows(4624 | 4625))
}

/// An event split in two.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// The event with `Seq` 0, `TimeCreated` at the epoch and its volatile fields emptied:
    /// the same for every repetition.
    pub shape: StampedEvent,
    /// The volatile fields' values, in the order the event has them.
    pub vary: Vec<FieldValue>,
}

/// Splits `e` into its shape and what varies.
pub fn split(e: &StampedEvent) -> Split {
    let mut shape = e.clone();
    shape.seq = 0;
    shape.event.time = Timestamp(0);
    let mut vary = Vec::new();
    for (name, value) in &mut shape.event.fields {
        if VOLATILE.contains(&name.as_str()) {
            vary.push(std::mem::replace(value, FieldValue::UInt(0)));
        }
    }
    Split { shape, vary }
}

/// The event of `shape` with `Seq` `seq`, `TimeCreated` `time` and the volatile values
/// `vary`; `None` when `vary` does not fit the shape.
pub fn join(shape: &StampedEvent, seq: u64, time: Timestamp, vary: Vec<FieldValue>) -> Option<StampedEvent> {
    let values = vary;
    let mut e = shape.clone();
    e.seq = seq;
    e.event.time = time;
    let mut values = values.into_iter();
    for (name, value) in &mut e.event.fields {
        if VOLATILE.contains(&name.as_str()) {
            *value = values.next()?;
        }
    }
    values.next().is_none().then_some(e)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::event::{Event, Keywords};

    fn logon(port: u16, logon_id: Option<&str>, caller: &str) -> StampedEvent {
        Event::new(EventId::LOGON_FAILURE, Timestamp(1_780_000_000_123), Keywords::AuditFailure)
            .with("TargetUserName", "ACC_user")
            .with("WorkstationName", caller)
            .with("IpPort", port)
            .with_opt("TargetLogonId", logon_id)
            .with("Verified", true)
            .stamp(42, "SITE-01", "1111-2222")
    }

    #[test]
    fn identical_refusals_share_a_shape_and_differ_in_a_few_bytes() {
        let (a, b) = (split(&logon(51_000, None, "STALE01")), split(&logon(51_001, None, "STALE01")));
        assert_eq!(a.shape, b.shape);
        assert_eq!((a.vary, b.vary), (vec![FieldValue::UInt(51_000)], vec![FieldValue::UInt(51_001)]));
        assert_ne!(a.shape, split(&logon(51_000, None, "OTHER")).shape, "another caller is another shape");
        assert!(splits(&EventId::LOGON_FAILURE) && splits(&EventId::LOGON_SUCCESS));
        assert!(!splits(&EventId::ACCOUNT_LOCKED_OUT) && !splits(&EventId::ACC_EVENT_LOG));
    }

    #[test]
    fn a_variation_that_does_not_fit_its_shape_is_refused() {
        let shape = split(&logon(1, Some("0x3e8"), "A")).shape;
        assert!(join(&shape, 1, Timestamp(0), vec![FieldValue::UInt(1)]).is_none(), "too few");
        let three = vec![FieldValue::UInt(1), "0x3e8".into(), FieldValue::UInt(3)];
        assert!(join(&shape, 1, Timestamp(0), three).is_none(), "too many");
    }

    proptest! {
        #[test]
        fn a_split_event_joins_back_exactly(
            port in any::<u16>(),
            logon_id in proptest::option::of("0x[0-9a-f]{1,8}"),
            caller in "[A-Z0-9-]{1,15}",
            seq in 1u64..u64::from(u32::MAX),
            ms in 0i64..4_000_000_000_000,
        ) {
            let mut e = logon(port, logon_id.as_deref(), &caller);
            e.seq = seq;
            e.event.time = Timestamp(ms);
            let s = split(&e);
            // Stored as JSON and read back.
            let shape: StampedEvent = serde_json::from_str(&serde_json::to_string(&s.shape).unwrap()).unwrap();
            let vary: Vec<FieldValue> = serde_json::from_str(&serde_json::to_string(&s.vary).unwrap()).unwrap();
            let back = join(&shape, seq, Timestamp(ms), vary).unwrap();
            prop_assert_eq!(serde_json::to_string(&back).unwrap(), serde_json::to_string(&e).unwrap());
            prop_assert_eq!(back, e);
        }
    }
}
