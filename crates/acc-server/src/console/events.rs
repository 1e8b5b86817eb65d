//! Security events (`/ui/events?id=&user=&machine=&address=&site=&since=&cursor=`): the
//! events of every site searched by event ID, user, machine, address, site server and time, through the same query as
//! `GET /v1/events` ([`crate::event_store::search`]) and paged by its cursor; each event in
//! full on demand. Read-only; any role.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use axum::routing::get;
use serde_json::Value;

use super::{Console, PageError, PageUser, render};
use crate::api::query_param;
use crate::event_store::EventFilter;

/// The most recent events shown when no start time is given.
pub const RECENT: i64 = 100;

/// The routes.
pub fn routes() -> Router<Arc<Console>> {
    Router::new().route("/ui/events", get(show))
}

/// The search as typed in the form.
#[derive(Debug, Default)]
struct Query {
    id: String,
    user: String,
    machine: String,
    address: String,
    site: String,
    since: String,
}

struct Row {
    time: String,
    id: String,
    site: String,
    user: String,
    machine: String,
    address: String,
    full: String,
}

#[derive(askama::Template)]
#[template(path = "events.html")]
struct EventsPage {
    user: Option<PageUser>,
    query: Query,
    rows: Vec<Row>,
    next: Option<String>,
}

fn text(e: &Value, k: &str) -> String {
    match &e[k] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        v => v.to_string(),
    }
}

/// `2026-12-06T08:00`, `2026-12-06 08:00:00` or `2026-12-06` (UTC) as Unix milliseconds.
fn parse_since(s: &str) -> Result<i64, PageError> {
    let refused = || {
        PageError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("Since '{s}' is not a time; give it as 2026-12-06 08:00 (UTC)."),
        )
    };
    let mut t = s.trim().replace('T', " ");
    match t.len() {
        10 => t.push_str(" 00:00:00"),
        16 => t.push_str(":00"),
        _ => {}
    }
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let at = time::PrimitiveDateTime::parse(&t, &format).map_err(|_| refused())?;
    i64::try_from(at.assume_utc().unix_timestamp_nanos() / 1_000_000).map_err(|_| refused())
}

/// The event store's filter of a search.
fn filter(q: &Query, cursor: Option<&str>) -> Result<EventFilter, PageError> {
    let some = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
    let since_ms = some(&q.since).map(|s| parse_since(&s)).transpose()?;
    let cursor = cursor.map(|c| c.parse::<acc_proto::EventCursor>()).transpose().map_err(|e| {
        PageError::new(StatusCode::UNPROCESSABLE_ENTITY, format!("The page link is damaged: {e}"))
    })?;
    Ok(EventFilter {
        id: some(&q.id),
        site: some(&q.site).map(|s| s.to_ascii_uppercase()),
        user: some(&q.user),
        machine: some(&q.machine),
        address: some(&q.address),
        since_ms,
        limit: RECENT,
        all: since_ms.is_some(),
        cursor,
        ..Default::default()
    })
}

/// The link to the page after `cursor` of the search `q`.
fn link(q: &Query, cursor: &str) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    s.append_pair("id", &q.id)
        .append_pair("user", &q.user)
        .append_pair("machine", &q.machine)
        .append_pair("address", &q.address)
        .append_pair("site", &q.site)
        .append_pair("since", &q.since)
        .append_pair("cursor", cursor);
    format!("/ui/events?{}", s.finish())
}

async fn show(State(console): State<Arc<Console>>, req: Request) -> Result<Response, PageError> {
    let s = console.viewing(req.headers()).await?;
    let uri: &Uri = req.uri();
    let param = |k: &str| query_param(uri, k).unwrap_or_default();
    let query = Query {
        id: param("id"),
        user: param("user"),
        machine: param("machine"),
        address: param("address"),
        site: param("site"),
        since: param("since"),
    };
    let found = crate::event_store::search(
        &console.server.pool,
        &filter(&query, query_param(uri, "cursor").as_deref())?,
    )
    .await?;
    let rows = found
        .events
        .iter()
        .map(|e| {
            let machine = [text(e, "WorkstationName"), text(e, "CallerComputerName")]
                .into_iter()
                .find(|m| !m.is_empty() && m != "-")
                .unwrap_or_default();
            Row {
                time: text(e, "TimeCreated"),
                id: text(e, "EventID"),
                site: text(e, "Computer"),
                user: text(e, "TargetUserName"),
                machine,
                address: text(e, "IpAddress"),
                full: serde_json::to_string_pretty(e).unwrap_or_default(),
            }
        })
        .collect();
    let next = found.next.as_deref().map(|c| link(&query, c));
    render(&EventsPage { user: Some((&s).into()), query, rows, next })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_the_forms_a_browser_and_a_person_send() {
        assert_eq!(parse_since("1970-01-01").unwrap(), 0);
        assert_eq!(parse_since("1970-01-01T00:01").unwrap(), 60_000);
        assert_eq!(parse_since("1970-01-01 00:00:02").unwrap(), 2_000);
        let PageError::Page { text, .. } = parse_since("yesterday").unwrap_err() else {
            panic!("a bad time is shown as a page");
        };
        assert_eq!(text, "Since 'yesterday' is not a time; give it as 2026-12-06 08:00 (UTC).");
    }
}
