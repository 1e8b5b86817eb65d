//! Familiar sources of one site server (2.3 M4, M7): source → time of its last success
//! with any ACC generation, capped at `familiar_max` entries, least recently successful
//! evicted first. A second index ordered by time makes the eviction O(log n).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::policy::within;
use super::source::Source;
use crate::time::Timestamp;

/// The familiar-source map with its LRU index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FamiliarSet {
    by_source: BTreeMap<Source, Timestamp>,
    by_time: BTreeSet<(Timestamp, Source)>,
}

impl FamiliarSet {
    /// True iff `source` succeeded within `ttl` seconds before `t` (T3).
    pub fn is_familiar(&self, source: &Source, t: Timestamp, ttl: u64) -> bool {
        self.by_source.get(source).is_some_and(|last| within(*last, t, ttl))
    }

    /// The last success of `source`, if remembered.
    pub fn last_success(&self, source: &Source) -> Option<Timestamp> {
        self.by_source.get(source).copied()
    }

    /// Records a success at `t`, then evicts the least recently successful entries until
    /// at most `max` remain.
    pub fn record_success(&mut self, source: &Source, t: Timestamp, max: usize) {
        if let Some(old) = self.by_source.insert(source.clone(), t) {
            self.by_time.remove(&(old, source.clone()));
        }
        self.by_time.insert((t, source.clone()));
        while self.by_source.len() > max {
            let Some((_, oldest)) = self.by_time.pop_first() else {
                break;
            };
            self.by_source.remove(&oldest);
        }
    }

    /// Number of remembered sources.
    pub fn len(&self) -> usize {
        self.by_source.len()
    }

    /// True when no source is remembered.
    pub fn is_empty(&self) -> bool {
        self.by_source.is_empty()
    }
}

impl Serialize for FamiliarSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.by_source.iter())
    }
}

impl<'de> Deserialize<'de> for FamiliarSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let pairs: Vec<(Source, Timestamp)> = Vec::deserialize(d)?;
        let mut set = FamiliarSet::default();
        for (source, t) in pairs {
            set.by_time.insert((t, source.clone()));
            set.by_source.insert(source, t);
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u8) -> Source {
        Source::parse(&format!("10.0.0.{n}"), "pc").unwrap()
    }

    #[test]
    fn familiar_until_exactly_ttl() {
        let mut f = FamiliarSet::default();
        f.record_success(&s(1), Timestamp::from_secs(100), 10);
        assert!(f.is_familiar(&s(1), Timestamp::from_secs(100), 50));
        assert!(f.is_familiar(&s(1), Timestamp::from_secs(150), 50));
        assert!(!f.is_familiar(&s(1), Timestamp(150_001), 50));
        assert!(!f.is_familiar(&s(2), Timestamp::from_secs(100), 50));
    }

    #[test]
    fn evicts_least_recently_successful() {
        let mut f = FamiliarSet::default();
        f.record_success(&s(1), Timestamp::from_secs(1), 2);
        f.record_success(&s(2), Timestamp::from_secs(2), 2);
        f.record_success(&s(1), Timestamp::from_secs(3), 2);
        f.record_success(&s(3), Timestamp::from_secs(4), 2);
        assert_eq!(f.len(), 2);
        assert_eq!(f.last_success(&s(2)), None);
        assert_eq!(f.last_success(&s(1)), Some(Timestamp::from_secs(3)));
        assert_eq!(f.last_success(&s(3)), Some(Timestamp::from_secs(4)));
    }

    #[test]
    fn round_trips_through_json_with_its_index() {
        let mut f = FamiliarSet::default();
        f.record_success(&s(1), Timestamp::from_secs(1), 10);
        f.record_success(&s(2), Timestamp::from_secs(2), 10);
        let json = serde_json::to_string(&f).unwrap();
        let mut back: FamiliarSet = serde_json::from_str(&json).unwrap();
        assert_eq!(back, f);
        back.record_success(&s(3), Timestamp::from_secs(3), 2);
        assert_eq!(back.last_success(&s(1)), None);
    }
}
