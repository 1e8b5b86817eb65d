//! A real `acc server run` process and simulated site servers for benchmarks: each
//! simulated site joins with its own key and fleet certificate and speaks the real
//! protocol (policy long-poll, acknowledgement, event batches) over its own mTLS
//! connection, many per process. [`Nodes`]: several `acc server run` processes on one
//! PostgreSQL database (node 1 initialised on it, the others joined by node token), which
//! the benchmarks spread their simulated sites and agents across.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use acc_net::client::{ClientTls, Connection, Endpoint, Response};
use acc_pki::key::{Curve, PrivateKey};
use acc_proto::{JoinRequest, JoinResponse, JoinToken, SiteAck, SitePolicy};
use anyhow::{Context, Result, bail};
use bytes::Bytes;
use serde_json::{Value, json};

/// The benchmark's management server.
pub struct ServerUnderTest {
    child: Child,
    /// Its URL.
    pub endpoint: Endpoint,
    /// The fleet CA (PEM).
    pub ca_pem: Vec<u8>,
    token: String,
    /// Its data directory.
    pub dir: std::path::PathBuf,
    _tmp: tempfile::TempDir,
}

impl ServerUnderTest {
    /// Initialises a server in a temporary directory and starts it on a free port.
    pub async fn start() -> Result<ServerUnderTest> {
        let (tmp, dir) = Self::init().await?;
        Self::run(tmp, dir)
    }

    /// Initialises a server in a temporary directory (not started: its store can be filled
    /// first); the directory and its data directory.
    pub async fn init() -> Result<(tempfile::TempDir, std::path::PathBuf)> {
        Self::init_on(None).await
    }

    /// [`Self::init`] with its store on the PostgreSQL database `database` (which `acc
    /// server init` refuses when it already holds a store), or SQLite when `None`.
    pub async fn init_on(
        database: Option<acc_server::store::PostgresTarget>,
    ) -> Result<(tempfile::TempDir, std::path::PathBuf)> {
        let tmp = tempfile::tempdir()?;
        let dir = tmp.path().join("server");
        acc_server::init::init(&acc_server::init::InitOptions {
            data_dir: dir.clone(),
            domain: "CORP".into(),
            app_id: "svc_acc_app".into(),
            listen: "127.0.0.1:0".parse()?,
            hostname: "bench".into(),
            organisation: String::new(),
            max_unauthenticated_per_address: None,
            database,
        })
        .await?;
        Ok((tmp, dir))
    }

    /// Starts `acc server run` on the data directory `dir` (made by [`Self::init`]).
    pub fn run(tmp: tempfile::TempDir, dir: std::path::PathBuf) -> Result<ServerUnderTest> {
        let layout = acc_server::layout::Layout::new(&dir);
        let token = std::fs::read_to_string(layout.admin_token())?.trim().to_string();
        Self::run_with(tmp, dir, "127.0.0.1:0", token)
    }

    /// Starts `acc server run` on `dir`, listening on `listen`; `token` is the admin
    /// token of its fleet (a joined node keeps none in its directory).
    fn run_with(
        tmp: tempfile::TempDir,
        dir: std::path::PathBuf,
        listen: &str,
        token: String,
    ) -> Result<ServerUnderTest> {
        let layout = acc_server::layout::Layout::new(&dir);
        let mut child = Command::new(std::env::current_exe()?)
            .args(["server", "run", "--data-dir"])
            .arg(&dir)
            .args(["--listen", listen])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("start acc server run")?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().context("stdout")?).read_line(&mut line)?;
        let Some(i) = line.find("https://") else { bail!("acc server run said: {line}") };
        let endpoint = Endpoint::parse(line[i..].trim())?;
        let ca_pem = std::fs::read(layout.ca_cert())?;
        Ok(ServerUnderTest { child, endpoint, ca_pem, token, dir, _tmp: tmp })
    }

    /// Kills the process at once (SIGKILL, as a machine that dies) and reaps it.
    pub fn kill(&mut self) -> Result<()> {
        self.child.kill().context("kill the node")?;
        self.child.wait().context("reap the node")?;
        Ok(())
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// An admin connection.
    pub async fn admin(&self) -> Result<Admin> {
        let tls = ClientTls::new(&self.ca_pem, None)?;
        Ok(Admin { conn: Connection::open(&tls, &self.endpoint).await?, token: self.token.clone() })
    }

    /// Resident memory of the server process (VmRSS), in KiB.
    pub fn rss_kib(&self) -> u64 {
        super::site::status_kib(self.pid(), "VmRSS:")
    }

    /// Peak resident memory of the server process (VmHWM), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        super::site::status_kib(self.pid(), "VmHWM:")
    }

    /// CPU time (user + system) the server process used, in seconds.
    pub fn cpu_secs(&self) -> f64 {
        super::site::cpu_seconds(self.pid()).unwrap_or(0.0)
    }
}

impl Drop for ServerUnderTest {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The benchmark's management server nodes: one on SQLite, or `n` on one PostgreSQL
/// database.
pub struct Nodes {
    /// Node 1 (initialised the store; its data directory holds the fleet CA's key), then the
    /// joined ones.
    pub nodes: Vec<ServerUnderTest>,
}

impl Nodes {
    /// Node 1 initialised on `database` (SQLite when `None`) and `n − 1` more joined to it
    /// by node token, each started on its own port of 127.0.0.1.
    pub async fn start(database: Option<&str>, n: usize) -> Result<Nodes> {
        if n == 0 {
            bail!("--nodes 0: give at least 1");
        }
        let target = match database {
            Some(url) => Some(acc_server::store::PostgresTarget::parse(url, None)?),
            None if n > 1 => bail!(
                "--nodes {n}: several management server nodes share one PostgreSQL store; give --database postgres://USER@HOST/DB (an empty database)"
            ),
            None => None,
        };
        let (tmp, dir) = ServerUnderTest::init_on(target).await?;
        let first = ServerUnderTest::run(tmp, dir)?;
        let mut nodes = vec![first];
        for k in 2..=n {
            let node = Self::join(&nodes[0], k).await.with_context(|| format!("node {k}"))?;
            nodes.push(node);
        }
        Ok(Nodes { nodes })
    }

    /// Joins node `k` as `acc server join` does (a node token from node 1) and starts it.
    async fn join(first: &ServerUnderTest, k: usize) -> Result<ServerUnderTest> {
        let mut admin = first.admin().await?;
        let token = admin.call("POST", "/v1/node-tokens", json!({ "ttl_secs": 600 })).await?;
        let token = token["token"].as_str().context("no node token")?.to_string();
        let listen = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let tmp = tempfile::tempdir()?;
        let dir = tmp.path().join(format!("node{k}"));
        acc_server::node_join::join(&acc_server::node_join::JoinOptions {
            data_dir: dir.clone(),
            token,
            listen,
            url: None,
            name: Some(format!("NODE{k}")),
            hostname: "bench".into(),
            database_password_file: None,
        })
        .await?;
        ServerUnderTest::run_with(tmp, dir, &listen.to_string(), first.token.clone())
    }

    /// Node 1.
    pub fn first(&self) -> &ServerUnderTest {
        &self.nodes[0]
    }

    /// The node client `i` uses (round-robin).
    pub fn for_client(&self, i: usize) -> &ServerUnderTest {
        &self.nodes[i % self.nodes.len()]
    }

    /// Every node's URL, in node order.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.endpoint.to_string()).collect()
    }

    /// Resident memory of every node, in KiB.
    pub fn rss_kib(&self) -> u64 {
        self.nodes.iter().map(ServerUnderTest::rss_kib).sum()
    }

    /// CPU time of every node, in seconds.
    pub fn cpu_secs(&self) -> f64 {
        self.nodes.iter().map(ServerUnderTest::cpu_secs).sum()
    }
}

/// An admin's keep-alive connection with its bearer token.
pub struct Admin {
    conn: Connection,
    token: String,
}

impl Admin {
    /// A JSON request; the answer of a 2xx.
    pub async fn call(&mut self, method: &str, path: &str, body: Value) -> Result<Value> {
        let auth = format!("Bearer {}", self.token);
        let r = self
            .conn
            .send(
                method,
                path,
                &[("authorization", &auth), ("content-type", "application/json")],
                Bytes::from(body.to_string()),
            )
            .await?;
        let v: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        if !r.status.is_success() {
            bail!("{method} {path}: {} {}", r.status, v["message"]);
        }
        Ok(v)
    }
}

/// A simulated site server: joined, with its own mTLS connection.
pub struct SimSite {
    conn: Connection,
    /// Its TLS identity (the fleet CA, its certificate and key), to connect again.
    pub tls: ClientTls,
    /// The revision it applied last.
    pub revision: i64,
}

impl SimSite {
    /// Joins `server` as `name` with `token` and connects with the new certificate.
    pub async fn join(server: &ServerUnderTest, token: &str, name: &str) -> Result<SimSite> {
        let token = JoinToken::decode(token)?;
        let key = PrivateKey::generate(Curve::P256)?;
        let csr = acc_pki::csr::build(&key, &acc_pki::subject::Subject::parse(&format!("/CN={name}"))?, &[])?;
        let req = JoinRequest {
            secret: token.secret,
            name: name.to_string(),
            url: format!("https://127.0.0.1:1/{name}"),
            csr_pem: acc_pki::pem::encode("CERTIFICATE REQUEST", &csr),
            replace: false,
        };
        let tls = ClientTls::new(&server.ca_pem, None)?;
        let mut conn = Connection::open(&tls, &server.endpoint).await?;
        let r = post(&mut conn, "/v1/sites/join", serde_json::to_vec(&req)?).await?;
        let joined: JoinResponse = serde_json::from_slice(&r.body).context("join response")?;
        let tls = ClientTls::new(
            &server.ca_pem,
            Some((joined.certificate_pem.as_bytes(), key.to_pkcs8_pem()?.as_bytes())),
        )?;
        Ok(SimSite { conn: Connection::open(&tls, &server.endpoint).await?, tls, revision: 0 })
    }

    /// Waits (up to `wait` seconds on the server) for a revision above the applied one,
    /// acknowledges it; returns it, or `None` when none came.
    pub async fn poll_and_ack(&mut self, wait: u64) -> Result<Option<i64>> {
        let path = format!("/v1/site/policy?after={}&wait={wait}", self.revision);
        let r = self.conn.send("GET", &path, &[], Bytes::new()).await?;
        if r.status.as_u16() == 204 {
            return Ok(None);
        }
        let policy: SitePolicy = serde_json::from_slice(&r.body).context("site policy")?;
        let ack = SiteAck { revision: policy.revision, ..Default::default() };
        post(&mut self.conn, "/v1/site/ack", serde_json::to_vec(&ack)?).await?;
        self.revision = policy.revision;
        Ok(Some(policy.revision))
    }

    /// Sends one batch of `n` synthetic 4625 events numbered from `first_seq`; returns how
    /// many the server stored.
    pub async fn send_events(&mut self, first_seq: i64, n: i64) -> Result<u64> {
        let events: Vec<Value> = (first_seq..first_seq + n)
            .map(|seq| {
                json!({ "seq": seq, "event_id": "4625", "time_ms": 1_700_000_000_000i64 + seq, "target_user": "acc_user",
                        "body": { "EventID": 4625, "Seq": seq, "TargetUserName": "ACC_user", "WorkstationName": "BENCH", "IpAddress": "127.0.0.1" } })
            })
            .collect();
        let r = post(&mut self.conn, "/v1/site/events", serde_json::to_vec(&json!({ "events": events }))?)
            .await?;
        let v: Value = serde_json::from_slice(&r.body)?;
        Ok(v["stored"].as_u64().unwrap_or(0))
    }
}

async fn post(conn: &mut Connection, path: &str, body: Vec<u8>) -> Result<Response> {
    let r = conn.send("POST", path, &[("content-type", "application/json")], Bytes::from(body)).await?;
    if !r.status.is_success() {
        bail!("POST {path}: {} {}", r.status, String::from_utf8_lossy(&r.body));
    }
    Ok(r)
}
