//! `download-package`: the package comes into the cache from the first site server that
//! has it (see [`Agent::download`]), its progress logged every 5 s.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::Outcome;
use crate::run::Agent;

/// Bring package `name` into the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadPackage {
    /// The package.
    pub name: String,
}

impl DownloadPackage {
    /// From a payload naming the package (`name` or `package`).
    pub fn parse(payload: &Value) -> DownloadPackage {
        DownloadPackage { name: super::package_name(payload) }
    }

    /// Downloads it, failing over between the site servers.
    pub(in crate::run) async fn run(self, agent: &Agent) -> Outcome {
        let name = &self.name;
        let mut last_log = Instant::now();
        let mut progress = |done: u64, total: u64| {
            if last_log.elapsed() >= Duration::from_secs(5) {
                tracing::info!("download {name}: {done} of {total} bytes");
                last_log = Instant::now();
            }
        };
        match agent.download(name, &mut progress).await {
            Ok(d) => Outcome::completed(format!(
                "{} in the cache ({} bytes, {} fetched now)",
                d.label, d.size, d.fetched
            )),
            Err(e) => Outcome::failed(e.to_string()),
        }
    }
}
