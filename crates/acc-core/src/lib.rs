//! Pure domain logic of acc.
//!
//! Everything here decides and nothing here does: no sockets, no files, and no clock reads
//! in the logic. Callers pass the current time in (read from a `time::Clock`: the one wall
//! clock, `time::SystemClock`, lives here so that every role reads time the same way, or a
//! `time::FixedClock` in tests) and apply the decisions that come back (write the
//! event, persist the record, send the response). That keeps the rules of
//! `shared/spec/credentials.md` testable exhaustively and in milliseconds.

pub mod acl;
pub mod agent_binding;
pub mod credential_check;
pub mod event;
pub mod failover;
pub mod generation;
pub mod lockout;
pub mod migrate;
pub mod name;
pub mod password;
pub mod retry;
pub mod share_path;
pub mod time;
pub mod units;
