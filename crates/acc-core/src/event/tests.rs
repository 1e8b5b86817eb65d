//! Tests of the event envelope.
