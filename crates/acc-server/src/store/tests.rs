//! The store's tests: revisions with their secrets, migrations, join tokens.

use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

use super::*;

#[tokio::test]
async fn revisions_and_their_secrets_are_saved_together() {
    let tmp = tempfile::tempdir().unwrap();
    let pool = open(&tmp.path().join("s.db"), true).await.unwrap();
    assert!(latest_revision(&pool).await.unwrap().is_none());
    let row = |n| RevisionRow { number: n, created_at: 5, author: "admin".into(), summary: "s".into() };
    let secret = SealedSecret { name: "acc.generation.1".into(), sealed: vec![1, 2, 3] };
    save_revision(&pool, &row(1), "{\"a\":1}", std::slice::from_ref(&secret)).await.unwrap();
    // A second revision 1 fails and leaves its secret unwritten.
    let other = SealedSecret { name: "acc.generation.2".into(), sealed: vec![9] };
    assert!(save_revision(&pool, &row(1), "{}", &[other]).await.is_err());
    assert_eq!(secrets(&pool, "acc.generation.").await.unwrap().len(), 1);
    save_revision(&pool, &row(2), "{\"a\":2}", &[]).await.unwrap();
    assert_eq!(latest_revision(&pool).await.unwrap(), Some((2, "{\"a\":2}".to_string())));
    assert_eq!(revisions(&pool, 10).await.unwrap().iter().map(|r| r.number).collect::<Vec<_>>(), [2, 1]);
    assert_eq!(revision(&pool, 1).await.unwrap().unwrap().1, "{\"a\":1}");
    let acc = DirectoryAccount {
        name_key: "svc".into(),
        name: "svc".into(),
        enabled: true,
        password_hash: "h".into(),
    };
    add_directory_account(&pool, &acc).await.unwrap();
    assert!(add_directory_account(&pool, &acc).await.unwrap_err().to_string().contains("already exists"));
    assert!(directory_accounts(&pool).await.unwrap()[0].enabled);
}

/// A database made before schema versions (the same tables, `user_version` 0, rows in
/// them) opens as version 1 with its rows; one of a newer acc is refused, untouched.
#[tokio::test]
async fn a_database_from_before_versions_migrates_and_a_newer_one_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("s.db");
    {
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .unwrap()
            .create_if_missing(true);
        let old = SqlitePoolOptions::new().connect_with(options).await.unwrap();
        // What `open` ran on every start before versions: these very statements.
        sqlx::raw_sql(MIGRATIONS[0].sql).execute(&old).await.unwrap();
        sqlx::query("INSERT INTO revisions VALUES (1, 5, 'acc server init', 'initial settings', '{}')")
            .execute(&old)
            .await
            .unwrap();
        old.close().await;
    }
    let pool = open(&path, false).await.unwrap();
    let version: i64 = sqlx::query_scalar("PRAGMA user_version").fetch_one(&pool).await.unwrap();
    assert_eq!(version, acc_core::migrate::latest(&MIGRATIONS));
    assert_eq!(latest_revision(&pool).await.unwrap(), Some((1, "{}".to_string())));
    sqlx::query("PRAGMA user_version = 99").execute(&pool).await.unwrap();
    pool.close().await;
    let err = open(&path, false).await.unwrap_err().to_string();
    assert!(err.contains("s.db") && err.contains("schema version 99 is newer than this acc"), "{err}");
}

#[tokio::test]
async fn a_failed_migration_leaves_the_database_at_the_version_before() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("s.db");
    let pool = open(&path, true).await.unwrap();
    let known = acc_core::migrate::latest(&MIGRATIONS);
    let next = |sql| Migration { version: known + 1, name: "broken", sql };
    let mut broken = MIGRATIONS.to_vec();
    broken.push(next("CREATE TABLE half (x TEXT); INSERT INTO nowhere VALUES (1)"));
    let err = migrate(&pool, &path, &broken).await.unwrap_err().to_string();
    let step = format!("migration {} (broken) failed", known + 1);
    assert!(err.contains(&step) && err.contains("nowhere"), "{err}");
    let version: i64 = sqlx::query_scalar("PRAGMA user_version").fetch_one(&pool).await.unwrap();
    assert_eq!(version, known);
    let half: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE name = 'half'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(half, 0, "nothing of the failed step stays");
    let mut fixed = MIGRATIONS.to_vec();
    fixed.push(next("CREATE TABLE half (x TEXT)"));
    migrate(&pool, &path, &fixed).await.unwrap();
    let version: i64 = sqlx::query_scalar("PRAGMA user_version").fetch_one(&pool).await.unwrap();
    assert_eq!(version, known + 1);
}

#[tokio::test]
async fn join_tokens_expire_and_run_out() {
    let tmp = tempfile::tempdir().unwrap();
    let pool = open(&tmp.path().join("s.db"), true).await.unwrap();
    let terms = TokenTerms { created_at: 0, expires_at: 100, uses: 2, supersede: true };
    put_join_token(&pool, "site", "d", &terms).await.unwrap();
    assert!(token_supersedes(&pool, "d").await.unwrap() && !token_supersedes(&pool, "x").await.unwrap());
    assert!(!use_join_token(&pool, "site", "other", 1).await.unwrap());
    assert!(!use_join_token(&pool, "agent", "d", 1).await.unwrap(), "a site token does not enroll agents");
    assert!(!use_join_token(&pool, "site", "d", 100).await.unwrap(), "expired at 100");
    assert!(use_join_token(&pool, "site", "d", 1).await.unwrap());
    assert!(use_join_token(&pool, "site", "d", 2).await.unwrap());
    assert!(!use_join_token(&pool, "site", "d", 3).await.unwrap(), "two uses only");
}
