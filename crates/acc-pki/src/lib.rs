//! Offline PKI.
