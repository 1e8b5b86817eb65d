//! Pure domain logic of acc.
//!
//! Everything here decides and nothing here does: no sockets, no files, no clock reads.
//! Callers pass the current time in and apply the decisions that come back (write the
//! event, persist the record, send the response). That keeps the rules of
//! `shared/spec/credentials.md` testable exhaustively and in milliseconds.

pub mod acl;
pub mod agent_binding;
pub mod credential_check;
pub mod event;
pub mod lockout;
pub mod name;
pub mod password;
pub mod retry;
pub mod share_path;
pub mod time;
pub mod units;
