//! The conversion of a SQLite event store keyed by site name (acc before origins) into the
//! one keyed by origin, as part of migration 2: the old table is set aside before the
//! migration's statements create the new one, and its rows copied in after them, in the
//! same transaction.
//!
//! Each old row goes to the server's own origin when the server wrote it (its `Computer`
//! is the server's name and its `SiteId` is absent or that name), else to the origin of the
//! site of that name in the inventory, or `site-name:NAME` for a site no longer there.

use sqlx::{Any, Transaction};

use crate::event_store::own_origin;
use crate::sites::SiteRecord;

/// Renames an `events` table without an `origin` column to `events_by_name`; true when it
/// did.
pub(super) async fn set_aside(tx: &mut Transaction<'static, Any>) -> Result<bool, sqlx::Error> {
    let columns: Vec<String> =
        sqlx::query_scalar("SELECT name FROM pragma_table_info('events')").fetch_all(&mut **tx).await?;
    if columns.is_empty() || columns.iter().any(|c| c == "origin") {
        return Ok(false);
    }
    tracing::info!("Keying stored events by origin instead of site name (once).");
    sqlx::query("ALTER TABLE events RENAME TO events_by_name").execute(&mut **tx).await?;
    sqlx::query("DROP INDEX IF EXISTS events_by_time").execute(&mut **tx).await?;
    Ok(true)
}

/// Copies the rows of `events_by_name` into `events`, in time order, and drops it.
pub(super) async fn convert(
    tx: &mut Transaction<'static, Any>,
    server_name: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("CREATE TEMPORARY TABLE site_origins (name TEXT PRIMARY KEY, origin TEXT NOT NULL)")
        .execute(&mut **tx)
        .await?;
    let sites: Vec<(String, String)> =
        sqlx::query_as("SELECT name, record FROM sites").fetch_all(&mut **tx).await?;
    for (name, record) in sites {
        let Ok(site) = serde_json::from_str::<SiteRecord>(&record) else { continue };
        sqlx::query("INSERT INTO site_origins (name, origin) VALUES ($1, $2)")
            .bind(name)
            .bind(site.origin())
            .execute(&mut **tx)
            .await?;
    }
    sqlx::query(
        "INSERT INTO events (origin, seq, site, event_id, time_ms, target_user, body)
         SELECT CASE WHEN e.site = $1 AND COALESCE(json_extract(e.body, '$.SiteId'), $1) = $1 THEN $2
                     ELSE COALESCE(o.origin, 'site-name:' || e.site) END,
                e.seq, e.site, e.event_id, e.time_ms, e.target_user, e.body
         FROM events_by_name e LEFT JOIN site_origins o ON o.name = e.site
         ORDER BY e.time_ms, e.site, e.seq",
    )
    .bind(server_name)
    .bind(own_origin(server_name))
    .execute(&mut **tx)
    .await?;
    sqlx::query("DROP TABLE events_by_name").execute(&mut **tx).await?;
    sqlx::query("DROP TABLE site_origins").execute(&mut **tx).await?;
    Ok(())
}
