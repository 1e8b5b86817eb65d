//! JSON shape of events: a single object whose keys keep the specification's order
//! (envelope first, then the fields as listed in section 4), read back into the same
//! ordered form. Written by hand because the workspace does not enable `preserve_order`.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Event, EventId, FieldValue, Keywords, StampedEvent};
use crate::lockout::LockoutMode;
use crate::time::Timestamp;

impl Serialize for FieldValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            FieldValue::Str(v) => s.serialize_str(v),
            FieldValue::UInt(v) => s.serialize_u64(*v),
            FieldValue::Int(v) => s.serialize_i64(*v),
            FieldValue::Bool(v) => s.serialize_bool(*v),
            FieldValue::List(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
        }
    }
}

struct FieldValueVisitor;

impl<'de> Visitor<'de> for FieldValueVisitor {
    type Value = FieldValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, number, boolean or list of strings")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<FieldValue, E> {
        Ok(FieldValue::Bool(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<FieldValue, E> {
        Ok(FieldValue::UInt(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<FieldValue, E> {
        Ok(match u64::try_from(v) {
            Ok(u) => FieldValue::UInt(u),
            Err(_) => FieldValue::Int(v),
        })
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<FieldValue, E> {
        Ok(FieldValue::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<FieldValue, E> {
        Ok(FieldValue::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FieldValue, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<String>()? {
            items.push(item);
        }
        Ok(FieldValue::List(items))
    }
}

impl<'de> Deserialize<'de> for FieldValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FieldValueVisitor)
    }
}

impl Serialize for StampedEvent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let e = &self.event;
        let envelope = 6 + usize::from(e.mode.is_some());
        let mut map = s.serialize_map(Some(envelope + e.fields.len()))?;
        match &e.id {
            EventId::Windows(n) => map.serialize_entry("EventID", n)?,
            EventId::Acc(name) => map.serialize_entry("EventID", name.as_ref())?,
        }
        map.serialize_entry("Seq", &self.seq)?;
        map.serialize_entry("TimeCreated", &e.time.to_rfc3339())?;
        map.serialize_entry("Computer", &self.computer)?;
        map.serialize_entry("SiteId", &self.site_id)?;
        map.serialize_entry("Keywords", e.keywords.as_str())?;
        if let Some(mode) = e.mode {
            map.serialize_entry("Mode", mode.as_str())?;
        }
        for (name, value) in &e.fields {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

struct StampedVisitor;

impl<'de> Visitor<'de> for StampedVisitor {
    type Value = StampedEvent;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an event object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StampedEvent, A::Error> {
        let mut id = None;
        let mut seq = None;
        let mut time = None;
        let mut computer = None;
        let mut site_id = None;
        let mut keywords = None;
        let mut mode = None;
        let mut fields = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let value: FieldValue = map.next_value()?;
            let text = || match &value {
                FieldValue::Str(s) => Ok(s.clone()),
                _ => Err(de::Error::custom(format!("{key} must be a string"))),
            };
            match key.as_str() {
                "EventID" => {
                    id = Some(match &value {
                        FieldValue::UInt(n) => {
                            EventId::Windows(u16::try_from(*n).map_err(|_| de::Error::custom("EventID"))?)
                        }
                        FieldValue::Str(s) => EventId::Acc(Cow::Owned(s.clone())),
                        _ => return Err(de::Error::custom("EventID must be a number or a name")),
                    })
                }
                "Seq" => match value {
                    FieldValue::UInt(n) => seq = Some(n),
                    _ => return Err(de::Error::custom("Seq must be a number")),
                },
                "TimeCreated" => time = Some(Timestamp::parse_rfc3339(&text()?).map_err(de::Error::custom)?),
                "Computer" => computer = Some(text()?),
                "SiteId" => site_id = Some(text()?),
                "Keywords" => {
                    keywords = Some(match text()?.as_str() {
                        "Audit Success" => Keywords::AuditSuccess,
                        "Audit Failure" => Keywords::AuditFailure,
                        other => return Err(de::Error::custom(format!("Keywords {other}"))),
                    })
                }
                "Mode" => {
                    mode = Some(match text()?.as_str() {
                        "classic" => LockoutMode::Classic,
                        "smart" => LockoutMode::Smart,
                        other => return Err(de::Error::custom(format!("Mode {other}"))),
                    })
                }
                _ => fields.push((key, value)),
            }
        }
        let missing = |name: &'static str| de::Error::missing_field(name);
        Ok(StampedEvent {
            seq: seq.ok_or_else(|| missing("Seq"))?,
            computer: computer.ok_or_else(|| missing("Computer"))?,
            site_id: site_id.ok_or_else(|| missing("SiteId"))?,
            event: Event {
                id: id.ok_or_else(|| missing("EventID"))?,
                time: time.ok_or_else(|| missing("TimeCreated"))?,
                keywords: keywords.ok_or_else(|| missing("Keywords"))?,
                mode,
                fields,
            },
        })
    }
}

impl<'de> Deserialize<'de> for StampedEvent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(StampedVisitor)
    }
}
