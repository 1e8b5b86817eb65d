//! A throwaway PostgreSQL cluster for tests, one per test binary: `initdb` in a temporary
//! directory, `pg_ctl` on a free port of 127.0.0.1 with its unix socket in that directory and
//! `fsync=off`, a fresh database per test. PostgreSQL's binaries are found by `pg_config
//! --bindir` (else `/usr/lib/postgresql/*/bin`); when they are missing the test FAILS with
//! what to install, never skips. As root, the cluster runs as the `postgres` user
//! (`initdb` refuses root). The cluster is stopped and its directory removed when the test
//! binary exits: a small shell waits on a pipe only this process holds.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::Connection as _;

use super::connect::PostgresTarget;

/// A running cluster.
#[derive(Debug)]
pub struct Cluster {
    /// The port on 127.0.0.1.
    pub port: u16,
    /// The temporary directory (data, socket, log).
    pub dir: PathBuf,
    /// The shell that stops the cluster when this process exits (holds our pipe).
    _reaper: Child,
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();
static NEXT_DB: AtomicU32 = AtomicU32::new(0);

/// The cluster of this test binary, started on first use.
pub fn cluster() -> &'static Cluster {
    CLUSTER.get_or_init(|| start().unwrap_or_else(|e| panic!("the PostgreSQL test cluster: {e}")))
}

/// A new empty database on the cluster, as `acc server init --database` would name it.
pub async fn fresh_database() -> PostgresTarget {
    let c = cluster();
    let name = format!("t{}", NEXT_DB.fetch_add(1, Ordering::SeqCst));
    let mut admin =
        sqlx::PgConnection::connect(&c.url("postgres")).await.expect("connect to the test cluster");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("create a test database");
    admin.close().await.ok();
    PostgresTarget { url: c.url(&name), password_file: None }
}

/// A second node's data directory `to`: a copy of the first node's `from` (the same
/// store, CA and vault key) with `name` in its `server.json`, for two nodes on one database
/// without `acc server join`.
pub fn copy_node(from: &Path, to: &Path, name: &str) {
    copy_dir(from, to);
    let config = crate::layout::Layout::new(to).config();
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&config).expect("read server.json"))
            .expect("server.json");
    json["name"] = serde_json::Value::from(name);
    std::fs::write(&config, serde_json::to_string_pretty(&json).expect("server.json"))
        .expect("write server.json");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create the copy's directory");
    for entry in std::fs::read_dir(from).expect("read the data directory") {
        let entry = entry.expect("read the data directory");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a file's type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy a file");
        }
    }
}

impl Cluster {
    /// The URL of database `db` for the user `acc` (trust authentication, no TLS).
    pub fn url(&self, db: &str) -> String {
        format!("postgres://acc@127.0.0.1:{}/{db}?sslmode=disable", self.port)
    }
}

/// Where `initdb` and `pg_ctl` are.
pub fn bindir() -> Result<PathBuf, String> {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && dir.join("initdb").exists() {
            return Ok(dir);
        }
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .filter(|b| b.join("initdb").exists())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found.pop().ok_or_else(|| {
        "PostgreSQL's initdb and pg_ctl are not installed (no pg_config, no /usr/lib/postgresql/*/bin); \
         install Debian's postgresql package (.ci/run does)"
            .to_string()
    })
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `program args…`, as the `postgres` user when we are root.
fn as_cluster_owner(program: &Path, root: bool) -> Command {
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn run(mut c: Command, what: &str) -> Result<(), String> {
    let out = c.output().map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn start() -> Result<Cluster, String> {
    let bin = bindir()?;
    let root = is_root();
    let dir = std::env::temp_dir().join(format!("acc-pg-{}-{}", std::process::id(), rand_suffix()));
    let data = dir.join("data");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if root {
        run(
            {
                let mut c = Command::new("chown");
                c.arg("postgres:postgres").arg(&dir);
                c
            },
            "chown of the cluster directory",
        )?;
    }
    let mut initdb = as_cluster_owner(&bin.join("initdb"), root);
    initdb.arg("-D").arg(&data).args(["-A", "trust", "-U", "acc", "-E", "UTF8", "--locale=C", "--no-sync"]);
    run(initdb, "initdb")?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("a free port: {e}"))?
        .port();
    let options = format!(
        "-k {} -p {port} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
         -c full_page_writes=off -c max_connections=300 -c shared_buffers=32MB",
        dir.display()
    );
    let mut pg_ctl = as_cluster_owner(&bin.join("pg_ctl"), root);
    pg_ctl
        .arg("-D")
        .arg(&data)
        .arg("-l")
        .arg(dir.join("log"))
        .args(["-w", "-t", "60", "-o", &options, "start"]);
    run(pg_ctl, "pg_ctl start").map_err(|e| {
        let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
        format!("{e}\n{log}")
    })?;
    // Stops the cluster and removes its directory once this process is gone (its end of
    // the pipe closes, `read` returns).
    let stop = format!(
        "read _; {} '{}' -D '{}' stop -m immediate >/dev/null 2>&1; rm -rf '{}'",
        if root { "runuser -u postgres --" } else { "" },
        bin.join("pg_ctl").display(),
        data.display(),
        dir.display()
    );
    let mut reaper = Command::new("sh")
        .args(["-c", &stop])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("the cluster's reaper: {e}"))?;
    // Keep the pipe open (nothing is ever written) for the life of the process.
    if let Some(stdin) = reaper.stdin.as_mut() {
        stdin.flush().ok();
    }
    Ok(Cluster { port, dir, _reaper: reaper })
}

fn rand_suffix() -> u64 {
    let mut b = [0u8; 8];
    aws_lc_rs::rand::fill(&mut b).ok();
    u64::from_le_bytes(b)
}

/// Defines each `async fn NAME(target: Target) { … }` as a module `NAME` with two tests,
/// `NAME::sqlite` (a file in a temporary directory) and `NAME::postgres` (a fresh database
/// on the test cluster).
#[cfg(test)]
macro_rules! on_both_backends {
    ($($(#[$meta:meta])* async fn $name:ident($t:ident: Target) $body:block)*) => {$(
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn run($t: $crate::store::Target) $body
            #[tokio::test]
            async fn sqlite() {
                let tmp = tempfile::tempdir().unwrap();
                run($crate::store::Target::Sqlite(tmp.path().join("s.db"))).await;
            }
            #[tokio::test]
            async fn postgres() {
                let pg = $crate::store::test_cluster::fresh_database().await;
                run($crate::store::Target::Postgres(pg)).await;
            }
        }
    )*};
}
#[cfg(test)]
pub(crate) use on_both_backends;
