//! Backup and restore of a real data directory made by `init`.

use std::path::{Path, PathBuf};

use acc_core::password::Secret;

use super::stream::{KdfCost, SealedWriter};
use super::*;
use crate::init::{InitOptions, init};
use crate::store;
use crate::vault::Vault;

/// Cheap costs: these tests are about what is kept, not the KDF.
const COST: KdfCost = KdfCost { m_kib: 256, t: 1, p: 1 };

async fn data_dir(root: &Path) -> Layout {
    let dir = root.join("server");
    init(&InitOptions {
        data_dir: dir.clone(),
        domain: "CORP".into(),
        app_id: "svc_acc_app".into(),
        listen: "127.0.0.1:8443".parse().unwrap(),
        hostname: "mgmt01".into(),
        organisation: String::new(),
        max_unauthenticated_per_address: None,
        database: None,
    })
    .await
    .unwrap();
    let layout = Layout::new(&dir);
    let pkg = layout.package_dir("tool", "1.0");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(pkg.join("setup.bin"), vec![7u8; 3 * stream::CHUNK / 2]).unwrap();
    let staging = layout.package_staging("tool", "2.0");
    std::fs::create_dir_all(&staging).unwrap();
    std::fs::write(staging.join("part"), b"upload in progress").unwrap();
    layout
}

fn pass() -> Secret {
    Secret::new("correct horse battery staple")
}

/// Every file under `dir` but the database and lock, relative path → (mode, content).
fn files(dir: &Path) -> Vec<(String, u32, Vec<u8>)> {
    fn walk(dir: &Path, rel: &str, out: &mut Vec<(String, u32, Vec<u8>)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap()).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name().into_string().unwrap();
            let child = if rel.is_empty() { name.clone() } else { format!("{rel}/{name}") };
            let meta = e.metadata().unwrap();
            if meta.is_dir() {
                out.push((child.clone(), fsmode::mode(&meta), Vec::new()));
                walk(&e.path(), &child, out);
            } else if !child.starts_with("server.db") && child != "server.lock" {
                out.push((child, fsmode::mode(&meta), std::fs::read(e.path()).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, "", &mut out);
    out
}

fn leftovers(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect()
}

#[tokio::test]
async fn a_restored_directory_holds_every_file_the_same_database_and_an_opening_vault() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = data_dir(tmp.path()).await;
    // A write in progress on the server's pool: the backup neither waits for it nor keeps it.
    let pool = store::open(&store::Target::Sqlite(layout.database()), false, "mgmt01").await.unwrap();
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("CREATE TABLE uncommitted_probe (x TEXT)").execute(&mut *tx).await.unwrap();

    let file = tmp.path().join("acc.backup");
    let summary = backup(&layout, &file, &pass(), COST, false).await.unwrap();
    tx.rollback().await.unwrap();
    assert!(summary.files >= 7 && summary.bytes > 3 * stream::CHUNK as u64 / 2, "{summary:?}");
    assert_eq!(fsmode::mode(&std::fs::metadata(&file).unwrap()) & 0o777, 0o600);
    let sealed = std::fs::read(&file).unwrap();
    for clear in [&b"PRIVATE KEY"[..], &std::fs::read(layout.vault_key()).unwrap(), b"SQLite format"] {
        assert!(!sealed.windows(clear.len()).any(|w| w == clear), "something in clear");
    }
    assert!(leftovers(layout.root()).is_empty() && leftovers(tmp.path()).is_empty());

    let target = tmp.path().join("restored");
    let restored = restore(&file, &target, &pass(), false).await.unwrap();
    assert_eq!(restored, summary);
    let mut expected = files(layout.root());
    expected.retain(|(p, ..)| !p.starts_with("packages/.staging"));
    assert_eq!(files(&target), expected);
    assert_eq!(fsmode::mode(&std::fs::metadata(&target).unwrap()) & 0o777, 0o700);
    assert!(leftovers(tmp.path()).is_empty());

    let (old, new) = (
        pool,
        store::open(&store::Target::Sqlite(Layout::new(&target).database()), false, "mgmt01").await.unwrap(),
    );
    assert_eq!(store::tokens(&old).await.unwrap().len(), store::tokens(&new).await.unwrap().len());
    let vault = Vault::open(&Layout::new(&target).vault_key()).unwrap();
    let secret = &store::secrets(&new, "directory.").await.unwrap()[0];
    assert_eq!(vault.open_sealed(&secret.name, &secret.sealed).unwrap().expose().len(), 24);
    let probe: Option<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE name = 'uncommitted_probe'")
            .fetch_optional(&new)
            .await
            .unwrap();
    assert_eq!(probe, None, "the snapshot is of committed state");
}

#[tokio::test]
async fn a_wrong_passphrase_or_a_used_target_is_refused_and_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = data_dir(tmp.path()).await;
    let file = tmp.path().join("acc.backup");
    backup(&layout, &file, &pass(), COST, false).await.unwrap();

    let target = tmp.path().join("restored");
    let err = restore(&file, &target, &Secret::new("wrong horse"), false).await.unwrap_err();
    assert_eq!(err.to_string(), "wrong passphrase: the backup does not open with it");
    assert!(!target.exists() && leftovers(tmp.path()).is_empty());

    let err = restore(&file, layout.root(), &pass(), false).await.unwrap_err().to_string();
    assert!(err.ends_with("not empty; restore into a new directory, or give --force to replace it"), "{err}");
    let lock = crate::run::DirLock::acquire(&layout).unwrap();
    let err = restore(&file, layout.root(), &pass(), true).await.unwrap_err().to_string();
    assert!(err.contains("another acc server is running"), "{err}");
    drop(lock);
    std::fs::write(layout.root().join("stray"), b"x").unwrap();
    restore(&file, layout.root(), &pass(), true).await.unwrap();
    assert!(!layout.root().join("stray").exists(), "--force replaces the directory");
    assert!(layout.vault_key().exists() && leftovers(tmp.path()).is_empty());

    std::fs::create_dir(&target).unwrap();
    restore(&file, &target, &pass(), false).await.unwrap();
    assert!(Layout::new(&target).ca_key().exists(), "an empty directory is a fine target");
}

#[tokio::test]
async fn backups_are_refused_over_a_file_inside_the_data_directory_or_without_one() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = data_dir(tmp.path()).await;
    let file = tmp.path().join("acc.backup");
    std::fs::write(&file, b"older").unwrap();
    let err = backup(&layout, &file, &pass(), COST, false).await.unwrap_err().to_string();
    assert!(err.ends_with("exists; choose another name or give --force to replace it"), "{err}");
    backup(&layout, &file, &pass(), COST, true).await.unwrap();
    let inside = layout.root().join("packages/acc.backup");
    let err = backup(&layout, &inside, &pass(), COST, false).await.unwrap_err().to_string();
    assert!(err.contains("is inside the data directory"), "{err}");
    let err = backup(&Layout::new(tmp.path()), &file, &pass(), COST, true).await.unwrap_err().to_string();
    assert!(err.contains("not a management server data directory"), "{err}");
}

/// A backup written by hand around the files given.
fn handmade(path: &Path, files: &[(&str, &[u8])]) {
    let out = std::fs::File::create(path).unwrap();
    let mut w = SealedWriter::new(out, &pass(), COST).unwrap();
    for (name, content) in files {
        archive::write_file(&mut w, name, 0o600, content.len() as u64, *content).unwrap();
    }
    archive::write_end(&mut w).unwrap();
    w.finish().unwrap();
}

#[tokio::test]
async fn a_damaged_database_or_a_missing_key_is_refused_before_anything_is_placed() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = data_dir(tmp.path()).await;
    let mut db = std::fs::read(layout.database()).unwrap();
    let page = 4096;
    assert!(db.len() > 3 * page);
    for b in &mut db[page + 8..2 * page] {
        *b = 0xA5;
    }
    let other = |name: &str| std::fs::read(layout.root().join(name)).unwrap();
    let (config, vault, ca, ca_key) =
        (other("server.json"), other("vault.key"), other("tls/ca.crt"), other("tls/ca.key"));
    let file = tmp.path().join("bad.backup");
    let target = tmp.path().join("restored");

    handmade(
        &file,
        &[
            ("server.json", &config),
            ("server.db", &db),
            ("vault.key", &vault),
            ("tls/ca.crt", &ca),
            ("tls/ca.key", &ca_key),
        ],
    );
    let err = restore(&file, &target, &pass(), false).await.unwrap_err().to_string();
    assert!(err.contains("integrity_check") || err.contains("malformed"), "{err}");
    assert!(!target.exists() && leftovers(tmp.path()).is_empty());

    let good_db = std::fs::read(layout.database()).unwrap();
    handmade(
        &file,
        &[("server.json", &config), ("server.db", &good_db), ("tls/ca.crt", &ca), ("tls/ca.key", &ca_key)],
    );
    let err = restore(&file, &target, &pass(), false).await.unwrap_err().to_string();
    assert_eq!(err, "damaged backup: it holds no vault.key");
    assert!(!target.exists() && leftovers(tmp.path()).is_empty());
}
