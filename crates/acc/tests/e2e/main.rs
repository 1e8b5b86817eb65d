//! End-to-end tests of the `acc` binary: one test binary (fast to link), one module per
//! area. Every test runs real processes in its own temporary directory.

mod agent;
mod backup;
mod bench;
mod cli;
mod cluster;
mod console;
mod defence;
mod dev;
mod failover;
mod ha;
mod identity;
mod lifecycle;
mod lockout;
mod metrics;
mod modes;
mod names;
mod pki_openssl;
mod postgres;
mod proxy;
mod security_log;
mod seeds;
mod server;
mod shares;
mod site;
mod tasks;
mod util;
mod windows;
