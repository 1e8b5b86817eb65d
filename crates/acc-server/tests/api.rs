//! The REST API in process (the router, a real data directory and SQLite file): tokens and
//! roles, settings with the specification's messages, revisions, diffs, OpenAPI.

use std::sync::Arc;

use acc_server::init::{InitOptions, init};
use acc_server::layout::Layout;
use acc_server::server::Server;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

struct Api {
    router: axum::Router,
    admin: String,
    _tmp: tempfile::TempDir,
}

/// A server initialised in a temporary directory: (the directory's owner, the data
/// directory, the server).
async fn server() -> (tempfile::TempDir, std::path::PathBuf, Arc<Server>) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("server");
    let opts = InitOptions {
        data_dir: dir.clone(),
        domain: "CORP".into(),
        app_id: "svc_acc_app".into(),
        listen: "127.0.0.1:0".parse().unwrap(),
        hostname: "mgmt01".into(),
        organisation: String::new(),
        max_unauthenticated_per_address: None,
        database: None,
    };
    init(&opts).await.unwrap();
    let server = Arc::new(Server::open(Layout::new(&dir)).await.unwrap());
    (tmp, dir, server)
}

async fn api() -> Api {
    let (tmp, dir, server) = server().await;
    let admin = std::fs::read_to_string(dir.join("admin-token")).unwrap().trim().to_string();
    Api { router: acc_server::run::app(server), admin, _tmp: tmp }
}

impl Api {
    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let body = match body {
            Some(b) => {
                req = req.header("content-type", "application/json");
                Body::from(b.to_string())
            }
            None => Body::empty(),
        };
        let resp = self.router.clone().oneshot(req.body(body).unwrap()).await.unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.call(method, path, Some(&self.admin.clone()), body).await
    }
}

#[tokio::test]
async fn tokens_gate_every_route_by_role() {
    let api = api().await;
    let (s, v) = api.call("GET", "/v1/settings", None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(v["error"], "unauthorized");
    assert!(v["message"].as_str().unwrap().contains("--token-file"), "{v}");
    let (s, _) = api.call("GET", "/v1/settings", Some("acc_forged"), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, v) =
        api.admin("POST", "/v1/tokens", Some(json!({"role": "viewer", "description": "dashboard"}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let viewer = v["token"].as_str().unwrap().to_string();
    let (s, v) = api.call("GET", "/v1/settings", Some(&viewer), None).await;
    assert_eq!((s, v["revision"].as_i64()), (StatusCode::OK, Some(1)));
    assert_eq!(v["auth"]["mode"], "application");
    assert_eq!(v["app_id"], "CORP\\svc_acc_app");
    let (s, v) = api.call("PUT", "/v1/settings/site", Some(&viewer), Some(json!({"threshold": 5}))).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(v["message"], "this needs the admin role; the token 'dashboard' has viewer");
    let (s, v) = api.admin("POST", "/v1/tokens", Some(json!({"role": "root", "description": "x"}))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(v["message"].as_str().unwrap().contains("viewer, operator, admin"));
    let (_, v) = api.admin("GET", "/v1/tokens", None).await;
    let listed = v.to_string();
    assert!(!listed.contains(&viewer) && !listed.contains(&api.admin) && listed.contains("dashboard"));
    let (s, _) = api
        .admin("POST", "/v1/tokens", Some(json!({"role": "operator", "description": "ci", "ttl_secs": 0})))
        .await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let api = api().await;
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let req = Request::builder()
            .uri("/v1/settings")
            .header("authorization", format!("{scheme} {}", api.admin))
            .body(Body::empty())
            .unwrap();
        let resp = api.router.clone().oneshot(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{scheme}");
    }
    let req = Request::builder()
        .uri("/v1/settings")
        .header("authorization", format!("Basic {}", api.admin))
        .body(Body::empty())
        .unwrap();
    assert_eq!(api.router.clone().oneshot(req).await.unwrap().status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_stopping_server_answers_waiting_policy_long_polls_at_once() {
    let (_tmp, _, server) = server().await;
    let revision = server.current().0;
    let waiting = {
        let server = server.clone();
        tokio::spawn(async move {
            server.wait_policy("SITE1", revision, 0, std::time::Duration::from_secs(60)).await
        })
    };
    tokio::task::yield_now().await;
    server.begin_stop();
    let answer = tokio::time::timeout(std::time::Duration::from_secs(30), waiting)
        .await
        .expect("the long-poll answered when the server began to stop")
        .unwrap();
    assert!(answer.is_none(), "nothing new");
    // A poll arriving after that answers at once too.
    let late = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        server.wait_policy("SITE1", revision, 0, std::time::Duration::from_secs(60)),
    )
    .await
    .expect("a late poll answers at once");
    assert!(late.is_none());
}

#[tokio::test]
async fn credentials_are_checked_in_the_order_and_words_of_the_specification() {
    let api = api().await;
    let body = json!({
        "mode": "credential", "user_name": "ACC_user", "password": "weakpassword",
        "password_policy": {"mode": "complexity"}
    });
    let (s, v) = api.admin("PUT", "/v1/settings/auth", Some(body)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"], "invalid_settings");
    assert_eq!(v["errors"][0]["id"], "P-CLASSES");
    assert_eq!(v["errors"][0]["field"], "password");
    let (s, v) = api
        .admin(
            "PUT",
            "/v1/settings/auth",
            Some(json!({"mode": "credential", "user_name": "svc_acc_app", "password": "x"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["errors"].as_array().unwrap().len(), 1, "U-APPID alone: {v}");
    assert_eq!(v["errors"][0]["id"], "U-APPID");
    let (s, v) = api.admin("PUT", "/v1/settings/auth", Some(json!({"mode": "credential", "user_name": "CORP\\nobody", "password": "Correct-Horse-Battery-42"}))).await;
    assert_eq!(
        (s, v["errors"][0]["id"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("U-DOMAIN-NOT-FOUND"))
    );
    // Nothing refused was saved.
    assert_eq!(api.admin("GET", "/v1/settings", None).await.1["revision"], 1);

    let strong = json!({"mode": "credential", "user_name": "ACC_user", "password": "Correct-Horse-Battery-42", "password_policy": {"mode": "complexity"}});
    let (s, v) = api.admin("PUT", "/v1/settings/auth", Some(strong.clone())).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["revision"], 2);
    let (_, v) = api.admin("GET", "/v1/settings", None).await;
    assert_eq!(v["credential"], json!({"generation": 1, "user_name": "ACC_user"}));
    assert_eq!(v["generations"][0]["password_hash"], "[REDACTED]");
    assert!(!v.to_string().contains("Correct-Horse") && !v.to_string().contains("argon2"));
    let (s, v) = api.admin("PUT", "/v1/settings/auth", Some(strong)).await;
    assert_eq!((s, v["message"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("acc: nothing changed")));

    let (_, v) = api.admin("PUT", "/v1/settings/auth", Some(json!({"mode": "application"}))).await;
    assert_eq!(
        v["warnings"][0],
        "warning: agents will authenticate with the App ID 'CORP\\svc_acc_app'; stale agents can lock it out and stop the console \u{2014} prefer an Agent Connectivity Credential"
    );
}

#[tokio::test]
async fn site_settings_revisions_and_diffs() {
    let api = api().await;
    let (s, v) =
        api.admin("PUT", "/v1/settings/site", Some(json!({"threshold": 1000, "duration": 30}))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        v["errors"][0]["message"],
        "lockout.threshold: 1000 is out of range; use 0 (never lock) to 999"
    );
    let (s, v) = api
        .admin(
            "PUT",
            "/v1/settings/site",
            Some(json!({"mode": "classic", "threshold": 3, "reset_after": 30, "duration": 30})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["warnings"].as_array().unwrap().len(), 2, "two lab values: {v}");
    let (_, v) = api.admin("GET", "/v1/policy/revisions", None).await;
    let rows = v["revisions"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["summary"], "site.mode, site.threshold, site.reset_after, site.duration");
    assert_eq!(rows[1]["author"], "acc server init");
    let (_, v) = api.admin("GET", "/v1/policy/diff?from=1&to=2", None).await;
    assert_eq!(v["changes"][1], json!({"path": "site.threshold", "from": 10, "to": 3}));
    let (s, v) = api.admin("GET", "/v1/policy/revisions/9", None).await;
    assert_eq!(
        (s, v["message"].as_str()),
        (StatusCode::NOT_FOUND, Some("revision 9 does not exist; revisions are 1 to 2"))
    );
    let (s, _) = api.admin("GET", "/v1/policy/revisions/x", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, v) = api.admin("PUT", "/v1/settings/site", Some(json!(["not", "an", "object"]))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
}

#[tokio::test]
async fn every_documented_operation_exists() {
    let api = api().await;
    let (s, doc) = api.call("GET", "/v1/openapi.json", None, None).await;
    assert_eq!(s, StatusCode::OK);
    let checked_in = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi/server.json");
    let checked_in: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(checked_in).unwrap()).unwrap();
    assert!(doc == checked_in, "the served document differs from docs/openapi/server.json");
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 8);
    for (path, ops) in paths {
        for method in ops.as_object().unwrap().keys() {
            let concrete = path
                .replace("{number}", "1")
                .replace("{serial}", "01")
                .replace("{name}", "tools")
                .replace("{version}", "1.0");
            let (s, v) = api.admin(&method.to_uppercase(), &concrete, None).await;
            assert_ne!(v["message"], "no such API route; see /v1/openapi.json", "{method} {path}: {s}");
            assert_ne!(s, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        }
    }
    let (s, v) = api.admin("GET", "/v1/nothing", None).await;
    assert_eq!((s, v["error"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
}
