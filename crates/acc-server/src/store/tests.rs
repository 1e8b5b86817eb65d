//! The store's tests, each on both backends (SQLite and a fresh database on the test
//! PostgreSQL cluster): revisions with their secrets, migrations, join tokens, the other
//! areas' round trips; and the SQLite-only upgrades of databases made before versions.

use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

use super::test_cluster::on_both_backends;
use super::*;

async fn fresh(target: &Target) -> Pool {
    open(target, true, "MGMT").await.unwrap()
}

#[test]
fn both_dialects_list_the_same_migrations() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let list = |d: &str| {
        let mut names: Vec<String> = std::fs::read_dir(dir.join(d))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(list("sqlite"), list("postgres"));
    assert_eq!(list("sqlite"), migrations::FILES);
    for (i, (s, p)) in migrations::SQLITE.iter().zip(&migrations::POSTGRES).enumerate() {
        assert_eq!((s.version, s.name), (p.version, p.name));
        assert!(migrations::FILES[i].starts_with(&format!("{:04}_", s.version)));
    }
}

on_both_backends! {
    async fn revisions_and_their_secrets_are_saved_together(target: Target) {
        let pool = fresh(&target).await;
        assert!(latest_revision(&pool).await.unwrap().is_none());
        let row = |n| RevisionRow { number: n, created_at: 5, author: "admin".into(), summary: "s".into() };
        let secret = SealedSecret { name: "acc.generation.1".into(), sealed: vec![1, 2, 3] };
        save_revision(&pool, &row(1), "{\"a\":1}", std::slice::from_ref(&secret)).await.unwrap();
        // A second revision 1 fails and leaves its secret unwritten.
        let other = SealedSecret { name: "acc.generation.2".into(), sealed: vec![9] };
        assert!(save_revision(&pool, &row(1), "{}", &[other]).await.is_err());
        let stored = secrets(&pool, "acc.generation.").await.unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].sealed, [1, 2, 3]);
        save_revision(&pool, &row(2), "{\"a\":2}", &[]).await.unwrap();
        assert_eq!(latest_revision(&pool).await.unwrap(), Some((2, "{\"a\":2}".to_string())));
        assert_eq!(revisions(&pool, 10).await.unwrap().iter().map(|r| r.number).collect::<Vec<_>>(), [2, 1]);
        assert_eq!(revision(&pool, 1).await.unwrap().unwrap().1, "{\"a\":1}");
        put_secret(&pool, &SealedSecret { name: "directory.x".into(), sealed: vec![7] }).await.unwrap();
        put_secret(&pool, &SealedSecret { name: "directory.x".into(), sealed: vec![8] }).await.unwrap();
        assert_eq!(secrets(&pool, "directory.").await.unwrap()[0].sealed, [8], "replaced");
    }

    async fn directory_accounts_keep_their_flag(target: Target) {
        let pool = fresh(&target).await;
        let acc = |key: &str, enabled| DirectoryAccount {
            name_key: key.into(),
            name: key.to_uppercase(),
            enabled,
            password_hash: "h".into(),
        };
        add_directory_account(&pool, &acc("svc", true)).await.unwrap();
        add_directory_account(&pool, &acc("off", false)).await.unwrap();
        let e = add_directory_account(&pool, &acc("svc", true)).await.unwrap_err().to_string();
        assert!(e.contains("already exists"), "{e}");
        let all = directory_accounts(&pool).await.unwrap();
        let got: Vec<(&str, &str, bool)> = all.iter().map(|a| (a.name_key.as_str(), a.name.as_str(), a.enabled)).collect();
        assert_eq!(got, [("off", "OFF", false), ("svc", "SVC", true)]);
    }

    async fn join_tokens_expire_and_run_out(target: Target) {
        let pool = fresh(&target).await;
        let terms = TokenTerms { created_at: 0, expires_at: 100, uses: 2, supersede: true };
        put_join_token(&pool, "site", "d", &terms).await.unwrap();
        put_join_token(&pool, "agent", "e", &TokenTerms { supersede: false, ..terms }).await.unwrap();
        assert!(token_supersedes(&pool, "d").await.unwrap());
        assert!(!token_supersedes(&pool, "e").await.unwrap() && !token_supersedes(&pool, "x").await.unwrap());
        assert!(!use_join_token(&pool, "site", "other", 1).await.unwrap());
        assert!(!use_join_token(&pool, "agent", "d", 1).await.unwrap(), "a site token does not enroll agents");
        assert!(!use_join_token(&pool, "site", "d", 100).await.unwrap(), "expired at 100");
        assert!(use_join_token(&pool, "site", "d", 1).await.unwrap());
        assert!(use_join_token(&pool, "site", "d", 2).await.unwrap());
        assert!(!use_join_token(&pool, "site", "d", 3).await.unwrap(), "two uses only");
    }

    async fn tokens_certificates_inventories_state_and_packages_round_trip(target: Target) {
        let pool = fresh(&target).await;
        let token = TokenRow {
            digest: "ab".into(),
            role: crate::tokens::Role::Admin,
            description: "first".into(),
            created_at: 1,
            expires_at: None,
        };
        put_token(&pool, &token).await.unwrap();
        put_token(&pool, &TokenRow { digest: "cd".into(), expires_at: Some(9), ..token.clone() }).await.unwrap();
        let mut got: Vec<(String, Option<i64>)> =
            tokens(&pool).await.unwrap().into_iter().map(|t| (t.digest, t.expires_at)).collect();
        got.sort();
        assert_eq!(got, [("ab".to_string(), None), ("cd".to_string(), Some(9))]);

        let cert = |serial: &str, at| IssuedCert {
            serial: serial.into(),
            kind: "agent".into(),
            name: "pc1".into(),
            subject: "CN=pc1".into(),
            issued_at: at,
            not_after: at + 10,
        };
        put_cert(&pool, &cert("02", 20)).await.unwrap();
        put_cert(&pool, &cert("01", 10)).await.unwrap();
        assert!(put_cert(&pool, &cert("01", 30)).await.is_err(), "a serial is issued once");
        assert_eq!(certs(&pool).await.unwrap().iter().map(|c| c.serial.as_str()).collect::<Vec<_>>(), ["01", "02"]);

        put_record(&pool, Inventory::Sites, "b", "{\"v\":1}").await.unwrap();
        put_record(&pool, Inventory::Sites, "a", "{}").await.unwrap();
        put_record(&pool, Inventory::Sites, "b", "{\"v\":2}").await.unwrap();
        put_record(&pool, Inventory::Agents, "pc", "{}").await.unwrap();
        assert_eq!(
            records(&pool, Inventory::Sites).await.unwrap(),
            [("a".to_string(), "{}".to_string()), ("b".to_string(), "{\"v\":2}".to_string())]
        );
        assert_eq!(records(&pool, Inventory::Agents).await.unwrap().len(), 1);

        assert_eq!(state_value(&pool, "k").await.unwrap(), None);
        put_state_value(&pool, "k", "1").await.unwrap();
        put_state_value(&pool, "k", "2").await.unwrap();
        assert_eq!(state_value(&pool, "k").await.unwrap().as_deref(), Some("2"));

        let manifest = acc_proto::PackageManifest {
            share: "software-library".into(),
            name: "tool".into(),
            version: "1.0".into(),
            files: Vec::new(),
        };
        let mut row = PackageRow { manifest, created_at: 3, author: "admin".into(), committed: false };
        put_package(&pool, &row).await.unwrap();
        assert!(!packages(&pool).await.unwrap()[0].committed);
        row.committed = true;
        put_package(&pool, &row).await.unwrap();
        assert_eq!(packages(&pool).await.unwrap(), [row]);
    }

    /// A database of a newer acc is refused, untouched.
    async fn a_database_of_a_newer_acc_is_refused(target: Target) {
        let pool = fresh(&target).await;
        sqlx::query("INSERT INTO schema_migrations (version, name) VALUES (99, 'future')").execute(&pool).await.unwrap();
        pool.close().await;
        let err = open(&target, false, "MGMT").await.unwrap_err().to_string();
        assert!(err.contains("schema version 99 is newer than this acc"), "{err}");
        assert!(err.contains(&target.describe()), "{err}");
    }

    async fn a_failed_migration_leaves_the_database_at_the_version_before(target: Target) {
        let pool = fresh(&target).await;
        let where_ = target.describe();
        let known = migrations::for_backend(backend(&pool));
        let latest = acc_core::migrate::latest(known);
        let next = |sql| acc_core::migrate::Migration { version: latest + 1, name: "broken", sql };
        let mut list = known.to_vec();
        list.push(next("CREATE TABLE half (x TEXT); INSERT INTO nowhere VALUES (1)"));
        let err = migrations::migrate(&pool, &where_, "MGMT", &list).await.unwrap_err().to_string();
        assert!(err.contains(&format!("migration {} (broken) failed", latest + 1)) && err.contains("nowhere"), "{err}");
        assert_eq!(migrations::version(&pool).await.unwrap(), latest);
        assert!(sqlx::query("SELECT COUNT(*) FROM half").fetch_one(&pool).await.is_err(), "nothing of the failed step stays");
        list.pop();
        list.push(next("CREATE TABLE half (x TEXT)"));
        migrations::migrate(&pool, &where_, "MGMT", &list).await.unwrap();
        assert_eq!(migrations::version(&pool).await.unwrap(), latest + 1);
    }
}

/// A SQLite database made before schema versions (the first tables, `user_version` 0, rows
/// in them, BOOLEAN flags) opens at the last version with its rows and flags.
#[tokio::test]
async fn a_sqlite_database_from_before_versions_migrates() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("s.db");
    {
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .unwrap()
            .create_if_missing(true);
        let old = SqlitePoolOptions::new().connect_with(options).await.unwrap();
        // What `open` ran on every start before versions: these very statements.
        sqlx::raw_sql(migrations::SQLITE[0].sql).execute(&old).await.unwrap();
        sqlx::query("INSERT INTO revisions VALUES (1, 5, 'acc server init', 'initial settings', '{}')")
            .execute(&old)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO directory_accounts VALUES ('svc', 'svc', TRUE, 'h'), ('off', 'off', FALSE, 'h')",
        )
        .execute(&old)
        .await
        .unwrap();
        sqlx::query("INSERT INTO join_tokens VALUES ('d', 'agent', 0, 100, 1, TRUE)")
            .execute(&old)
            .await
            .unwrap();
        old.close().await;
    }
    let target = Target::Sqlite(path);
    let pool = open(&target, false, "MGMT").await.unwrap();
    assert_eq!(migrations::version(&pool).await.unwrap(), acc_core::migrate::latest(&migrations::SQLITE));
    assert_eq!(latest_revision(&pool).await.unwrap(), Some((1, "{}".to_string())));
    let flags: Vec<bool> = directory_accounts(&pool).await.unwrap().iter().map(|a| a.enabled).collect();
    assert_eq!(flags, [false, true]);
    assert!(token_supersedes(&pool, "d").await.unwrap());
    pool.close().await;
    let pool = open(&target, false, "MGMT").await.unwrap();
    assert_eq!(directory_accounts(&pool).await.unwrap().len(), 2, "opened again: nothing applied twice");
}

#[tokio::test]
async fn an_unreachable_postgres_database_is_one_line_without_the_password() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("pw");
    std::fs::write(&file, "hunter2\n").unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("postgres://acc@127.0.0.1:{port}/fleet?sslmode=disable");
    let pg = PostgresTarget::parse(&url, Some(&file)).unwrap();
    let err = open(&Target::Postgres(pg), true, "MGMT").await.unwrap_err().to_string();
    assert!(err.starts_with(&format!("cannot reach the database {url}: ")), "{err}");
    assert!(!err.contains("hunter2") && !err.contains('\n'), "{err}");
}

#[tokio::test]
async fn a_wrong_password_is_refused_by_postgres_and_not_shown() {
    let c = test_cluster::cluster();
    // The test cluster trusts every local connection; a user that does not exist is refused
    // all the same, which is the path a wrong password takes.
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("pw");
    std::fs::write(&file, "hunter2\n").unwrap();
    let url = c.url("postgres").replace("acc@", "nobody@");
    let pg = PostgresTarget::parse(&url, Some(&file)).unwrap();
    let err = open(&Target::Postgres(pg), true, "MGMT").await.unwrap_err().to_string();
    assert!(err.contains("cannot reach the database") && err.contains("nobody"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}

/// Every table of a SQLite store is copied to an empty PostgreSQL database and verified; a
/// target that is not empty is refused; the events' positions go on after the copied ones.
#[tokio::test]
async fn a_sqlite_store_is_copied_to_postgres_verified_and_never_into_a_full_one() {
    let tmp = tempfile::tempdir().unwrap();
    let from = fresh(&Target::Sqlite(tmp.path().join("s.db"))).await;
    let row = RevisionRow { number: 1, created_at: 5, author: "admin".into(), summary: "s".into() };
    let secret = SealedSecret { name: "acc.generation.1".into(), sealed: vec![1, 2, 3] };
    save_revision(&from, &row, "{\"a\":\"é\"}", &[secret]).await.unwrap();
    let token = TokenRow {
        digest: "ab".into(),
        role: crate::tokens::Role::Admin,
        description: "t".into(),
        created_at: 1,
        expires_at: None,
    };
    put_token(&from, &token).await.unwrap();
    let account = DirectoryAccount {
        name_key: "svc".into(),
        name: "svc".into(),
        enabled: true,
        password_hash: "h".into(),
    };
    add_directory_account(&from, &account).await.unwrap();
    put_join_token(
        &from,
        "agent",
        "d",
        &TokenTerms { created_at: 0, expires_at: 9, uses: 1, supersede: true },
    )
    .await
    .unwrap();
    put_record(&from, Inventory::Sites, "SITE1", "{}").await.unwrap();
    put_state_value(&from, "k", "v").await.unwrap();
    let events: Vec<acc_proto::ForwardedEvent> = (1..=5)
        .map(|seq| acc_proto::ForwardedEvent {
            seq,
            event_id: "4625".into(),
            time_ms: seq,
            target_user: (seq % 2 == 0).then(|| "u".to_string()),
            body: serde_json::json!({ "Seq": seq }),
        })
        .collect();
    crate::event_store::insert(&from, "site:AA", "SITE1", &events).await.unwrap();

    let pg = Target::Postgres(test_cluster::fresh_database().await);
    let to = fresh(&pg).await;
    let copied = transfer::copy(&from, &to, &pg.describe()).await.unwrap();
    let rows = |t: &str| copied.iter().find(|c| c.table == t).unwrap().rows;
    assert_eq!(copied.len(), transfer::TABLES.len());
    assert_eq!((rows("revisions"), rows("secrets"), rows("events"), rows("certificates")), (1, 1, 5, 0));
    assert_eq!(latest_revision(&to).await.unwrap(), Some((1, "{\"a\":\"é\"}".to_string())));
    assert!(directory_accounts(&to).await.unwrap()[0].enabled && token_supersedes(&to, "d").await.unwrap());
    assert_eq!(tokens(&to).await.unwrap()[0].expires_at, None);
    let more = [acc_proto::ForwardedEvent { seq: 6, ..events[0].clone() }];
    crate::event_store::insert(&to, "site:AA", "SITE1", &more).await.unwrap();
    let last: i64 = sqlx::query_scalar("SELECT MAX(n) FROM events").fetch_one(&to).await.unwrap();
    assert_eq!(last, 6, "a new event goes after the copied ones");

    let err = transfer::copy(&from, &to, &pg.describe()).await.unwrap_err().to_string();
    assert!(err.contains("is not empty (table revisions has 1 rows)"), "{err}");
}

on_both_backends! {
    /// Events stored before migration 6 get their machine and address from their text, so
    /// the search by either finds them as it finds events stored after it.
    async fn migration_6_fills_machine_and_address_of_stored_events(target: Target) {
        let pool = connect::pool(&target, true).await.unwrap();
        migrations::migrate(&pool, "test", "VM", &migrations::for_backend(backend(&pool))[..5]).await.unwrap();
        let bodies = [
            serde_json::json!({ "EventID": 4625, "WorkstationName": "WS-7", "IpAddress": "10.0.0.7" }),
            serde_json::json!({ "EventID": 4740, "CallerComputerName": "WS-8", "IpAddress": "-" }),
            serde_json::json!({ "EventID": 4625, "WorkstationName": "-", "CallerComputerName": "ws-7" }),
            serde_json::json!({ "EventID": "acc.refresh" }),
        ];
        for (seq, body) in (1_i64..).zip(&bodies) {
            sqlx::query(
                "INSERT INTO events (origin, seq, site, event_id, time_ms, target_user, body)
                 VALUES ('site:01', $1, 'SITE1', $2, $3, NULL, $4)",
            )
            .bind(seq)
            .bind(body["EventID"].to_string())
            .bind(seq * 10)
            .bind(body.to_string())
            .execute(&pool)
            .await
            .unwrap();
        }
        pool.close().await;
        let pool = open(&target, false, "VM").await.unwrap();
        let find = |machine: Option<&str>, address: Option<&str>| {
            let f = crate::event_store::EventFilter {
                machine: machine.map(Into::into),
                address: address.map(Into::into),
                all: true,
                ..Default::default()
            };
            let pool = pool.clone();
            async move {
                let page = crate::event_store::search(&pool, &f).await.unwrap();
                page.events.iter().map(|e| e["EventID"].clone()).collect::<Vec<_>>()
            }
        };
        assert_eq!(find(Some("ws-7"), None).await, [4625, 4625], "WorkstationName, else CallerComputerName");
        assert_eq!(find(Some("WS-8"), None).await, [4740], "any case");
        assert_eq!(find(None, Some("10.0.0.7")).await, [4625]);
        assert!(find(None, Some("-")).await.is_empty(), "'-' is no address");
        assert_eq!(find(Some("ws-7"), Some("10.0.0.7")).await, [4625], "both");
    }
}
