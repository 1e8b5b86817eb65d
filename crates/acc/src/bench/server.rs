//! A real `acc server run` process and simulated site servers for benchmarks: each
//! simulated site joins with its own key and fleet certificate and speaks the real
//! protocol (policy long-poll, acknowledgement, event batches) over its own mTLS
//! connection, many per process.

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
            database: None,
        })
        .await?;
        Ok((tmp, dir))
    }

    /// Starts `acc server run` on the data directory `dir` (made by [`Self::init`]).
    pub fn run(tmp: tempfile::TempDir, dir: std::path::PathBuf) -> Result<ServerUnderTest> {
        let layout = acc_server::layout::Layout::new(&dir);
        let mut child = Command::new(std::env::current_exe()?)
            .args(["server", "run", "--data-dir"])
            .arg(&dir)
            .args(["--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("start acc server run")?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().context("stdout")?).read_line(&mut line)?;
        let Some(i) = line.find("https://") else { bail!("acc server run said: {line}") };
        let endpoint = Endpoint::parse(line[i..].trim())?;
        let token = std::fs::read_to_string(layout.admin_token())?.trim().to_string();
        let ca_pem = std::fs::read(layout.ca_cert())?;
        Ok(ServerUnderTest { child, endpoint, ca_pem, token, dir, _tmp: tmp })
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
        Ok(SimSite { conn: Connection::open(&tls, &server.endpoint).await?, revision: 0 })
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
