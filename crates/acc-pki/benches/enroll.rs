//! How fast the fleet CA enrolls: CSR parse + signature verification + certificate
//! signing + PEM encoding, per second on one core, next to `openssl speed ecdsap256`
//! measured in the same run (openssl's raw P-256 sign and verify rates on one core).
//!
//! Run with `cargo bench -p acc-pki` (`ACC_BENCH_SECONDS`, default 5, sets each phase's
//! length; `ACC_BENCH_JSON=FILE` also writes the figures as JSON, for `bench/all.sh`).
//! The target (issue 2) is at least 3,000 certificates per second.

use std::process::Command;
use std::time::{Duration, Instant};

use acc_pki::csr::{self, Csr};
use acc_pki::key::{Curve, PrivateKey};
use acc_pki::subject::Subject;
use acc_pki::x509::{self, Ca, Profile};
use acc_pki::{pem, serial};
use time::OffsetDateTime;

fn main() {
    let seconds: u64 = std::env::var("ACC_BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(5);
    let now = OffsetDateTime::now_utc();
    let ca_key = PrivateKey::generate(Curve::P256).expect("CA key");
    let ca_der =
        x509::self_signed_ca(&ca_key, &Subject::parse("/CN=Bench CA").unwrap(), 3650, &[1], now).unwrap();
    let ca = Ca::new(&ca_der, ca_key).unwrap();

    // Requests are made up front: the agents make them, the CA only verifies and signs.
    let requests: Vec<String> = (0..1000)
        .map(|i| {
            let key = PrivateKey::generate(Curve::P256).unwrap();
            let subject = Subject::parse(&format!("/O=Fleet/CN=agent-{i:05}")).unwrap();
            pem::encode("CERTIFICATE REQUEST", &csr::build(&key, &subject, &[]).unwrap())
        })
        .collect();

    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut issued = 0u64;
    let mut bytes = 0usize;
    while Instant::now() < deadline {
        for req in requests.iter().take(100) {
            let csr = Csr::from_bytes(req.as_bytes()).expect("valid CSR");
            let der = ca.issue(&csr, Profile::Client, 365, &serial::random().unwrap(), now).unwrap();
            bytes += pem::encode("CERTIFICATE", &der).len();
            issued += 1;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let rate = issued as f64 / elapsed;
    println!(
        "acc-pki enroll (CSR verify + sign + PEM), 1 core: {rate:.0} certificates/s ({issued} in {elapsed:.1} s, {} B each)",
        bytes / issued.max(1) as usize
    );

    let speed = openssl_speed(seconds);
    match speed {
        Some((sign, verify)) => {
            // One enrollment = one P-256 verify (the CSR) + one P-256 sign (the certificate).
            let crypto_bound = 1.0 / (1.0 / sign + 1.0 / verify);
            println!("openssl speed ecdsap256, 1 core: {sign:.0} sign/s, {verify:.0} verify/s");
            println!(
                "  -> openssl's bound for one verify + one sign: {crypto_bound:.0} ops/s; acc reaches {:.2}x of it",
                rate / crypto_bound
            );
        }
        None => {
            println!("openssl speed: not available (apt-get install -y openssl) — no baseline in this run")
        }
    }
    println!("target: >= 3000 certificates/s -> {}", if rate >= 3000.0 { "met" } else { "NOT MET" });
    if let Ok(file) = std::env::var("ACC_BENCH_JSON") {
        let (sign, verify) = speed.unwrap_or((0.0, 0.0));
        let json = format!(
            "{{\"scenario\":\"enroll\",\"certificates_per_s\":{rate:.1},\"openssl_sign_per_s\":{sign:.1},\"openssl_verify_per_s\":{verify:.1}}}\n"
        );
        if let Err(e) = std::fs::write(&file, json) {
            eprintln!("ACC_BENCH_JSON: {file}: cannot write: {e}");
            std::process::exit(1);
        }
    }
}

/// `openssl speed -seconds N ecdsap256` → (sign/s, verify/s).
fn openssl_speed(seconds: u64) -> Option<(f64, f64)> {
    let out = Command::new("openssl")
        .args(["speed", "-seconds", &seconds.to_string(), "ecdsap256"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    // " 256 bits ecdsa (nistp256)   0.0000s   0.0001s  43521.4  14201.3"
    let line = text.lines().find(|l| l.contains("ecdsa (nistp256)"))?;
    let nums: Vec<f64> = line.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    let n = nums.len();
    (n >= 2).then(|| (nums[n - 2], nums[n - 1]))
}
