//! The CRLs a site enforces (the operator's, `acc site crl set`, and the fleet CRL the
//! management server pushes) past their nextUpdate. An expired CRL stays in force: the
//! site keeps refusing every certificate it lists and accepts the others, so a site cut
//! off from its management server never refuses the whole fleet; instead it raises one
//! `acc.crl` alert event per expired CRL (and logs it), checked every 30 seconds.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use acc_core::time::Timestamp;
use acc_pki::crl::Crl;
use time::OffsetDateTime;

use crate::layout::Layout;
use crate::site::Site;

/// How often the CRLs are looked at.
const EVERY: Duration = Duration::from_secs(30);

/// The CRL files a site may enforce, with their source.
fn files(layout: &Layout) -> [(&'static str, PathBuf); 2] {
    [("operator", layout.crl()), ("fleet", layout.management_crl())]
}

/// The CRLs past their nextUpdate at `now`, with their source.
pub fn expired(layout: &Layout, now: OffsetDateTime) -> Vec<(&'static str, Crl)> {
    files(layout)
        .into_iter()
        .filter_map(|(source, path)| {
            let crl = Crl::from_bytes(&std::fs::read(path).ok()?).ok()?;
            crl.next_update.is_some_and(|n| n <= now).then_some((source, crl))
        })
        .collect()
}

/// Raises one `acc.crl` event for each CRL that expires, until the task is dropped.
pub async fn watch_loop(site: Arc<Site>) {
    let mut alerted: HashSet<(String, i64)> = HashSet::new();
    loop {
        let now = Timestamp(site.now_ms()).to_datetime();
        for (source, crl) in expired(site.layout(), now) {
            let Some(next) = crl.next_update else { continue };
            if !alerted.insert((crl.issuer.clone(), next.unix_timestamp())) {
                continue;
            }
            let next_text = next.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
            let revoked = crl.revoked.len();
            tracing::error!(source, issuer = %crl.issuer, next_update = %next_text, revoked,
                "A CRL expired: its revoked certificates stay refused; fetch a fresh one.");
            let written = site
                .write_events(|t| {
                    vec![acc_core::event::catalogue::acc_crl_expired(
                        t,
                        source,
                        &crl.issuer,
                        &next_text,
                        revoked,
                    )]
                })
                .await;
            if let Err(e) = written {
                tracing::error!(error = %e, "The acc.crl event could not be written.");
            }
        }
        tokio::time::sleep(EVERY).await;
    }
}
