//! The Windows agent under Wine (issue 19): `acc.exe`, cross-built for
//! `x86_64-pc-windows-gnu`, against a real Linux `acc server run` and `acc site run` on
//! loopback. The test builds what it needs: `acc.exe` (cargo decides whether the sources
//! changed), a Wine prefix of its own, and the `bcryptprimitives.dll` shim (Wine 8 lacks
//! `ProcessPrng`, which Rust's standard library imports) made with mingw. A missing wine,
//! mingw or Rust target fails the test, with the command that installs it.
//!
//! What Wine cannot show (NTFS enforcing the DACL, the real service control manager) is
//! unit-tested in `acc-windows` and documented in docs/agent.md.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::agent::{credential_fleet, log_when};
use crate::server::{Fleet, sites_when};
use crate::util::{Dir, wait_for};

const TARGET: &str = "x86_64-pc-windows-gnu";
const WINE: &str = "/usr/lib/wine/wine64";

/// `ProcessPrng` on top of `RtlGenRandom` (advapi32's SystemFunction036).
const SHIM_C: &str = r#"#include <windows.h>
#include <ntsecapi.h>
BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!RtlGenRandom(data, n)) return FALSE;
        data += n;
        len -= n;
    }
    return TRUE;
}
"#;
const SHIM_DEF: &str = "LIBRARY bcryptprimitives\nEXPORTS\n    ProcessPrng\n";

fn installed(what: &str, path: &str, install: &str) {
    assert!(
        Path::new(path).exists() || Command::new(path).arg("--version").output().is_ok(),
        "{what} is missing ({path}); install it: {install}"
    );
}

/// `acc.exe` for Windows, built once per test run beside the Linux build
/// (`target/x86_64-pc-windows-gnu/debug/`); cargo rebuilds it when a source changed.
fn acc_exe() -> &'static Path {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let target_dir = std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(|| root.join("target"), PathBuf::from);
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let out = Command::new(cargo)
            .args(["build", "--locked", "-p", "acc", "--target", TARGET])
            .env("CARGO_TARGET_DIR", &target_dir)
            .current_dir(&root)
            .output()
            .expect("run cargo");
        assert!(
            out.status.success(),
            "cargo build --target {TARGET} failed (needs `rustup target add {TARGET}` and `apt-get install gcc-mingw-w64-x86-64 cmake`):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        target_dir.join(TARGET).join("debug/acc.exe")
    })
}

/// A Wine prefix of this test's own, with the shim in `C:\windows\system32`.
struct Wine {
    prefix: PathBuf,
}

impl Wine {
    fn new(d: &Dir) -> Wine {
        installed("wine", WINE, "apt-get install wine64");
        installed("mingw", "x86_64-w64-mingw32-gcc", "apt-get install gcc-mingw-w64-x86-64");
        let wine = Wine { prefix: d.join("wine") };
        let shim = d.join("shim");
        std::fs::create_dir_all(&shim).unwrap();
        std::fs::write(shim.join("bcp.c"), SHIM_C).unwrap();
        std::fs::write(shim.join("bcp.def"), SHIM_DEF).unwrap();
        let gcc = Command::new("x86_64-w64-mingw32-gcc")
            .args(["-shared", "-o", "bcryptprimitives.dll", "bcp.c", "bcp.def", "-ladvapi32"])
            .current_dir(&shim)
            .output()
            .expect("run x86_64-w64-mingw32-gcc");
        assert!(gcc.status.success(), "the shim does not build: {}", String::from_utf8_lossy(&gcc.stderr));
        let boot = wine.command("wineboot").arg("--init").output().expect("run wineboot");
        assert!(boot.status.success(), "wineboot: {}", String::from_utf8_lossy(&boot.stderr));
        std::fs::copy(
            shim.join("bcryptprimitives.dll"),
            wine.prefix.join("drive_c/windows/system32/bcryptprimitives.dll"),
        )
        .unwrap();
        wine
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(WINE);
        c.arg(program).env("WINEPREFIX", &self.prefix).env("WINEDEBUG", "-all").env_remove("ACC_LOG");
        c
    }

    /// The Linux path of `C:\…` in this prefix.
    fn c(&self, windows_path: &str) -> PathBuf {
        let rest = windows_path.trim_start_matches(r"C:\").replace('\\', "/");
        self.prefix.join("drive_c").join(rest)
    }

    /// Runs `acc.exe ARGS` to its end.
    fn acc(&self, args: &[&str]) -> crate::util::Run {
        self.acc_at(acc_exe().to_str().unwrap(), args)
    }

    /// Runs `EXE ARGS` (a Windows or a Linux path) to its end.
    fn acc_at(&self, exe: &str, args: &[&str]) -> crate::util::Run {
        let output = self.command(exe).args(args).output().expect("run wine");
        crate::util::Run::new(format!("acc.exe {}", args.join(" ")), output)
    }

    /// Waits (30 s) until `log` holds more than `before` lines with `needle`; returns it.
    fn log_when(&self, log: &Path, what: &str, needle: &str, before: usize) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            if text.matches(needle).count() > before {
                return text;
            }
            if std::time::Instant::now() > deadline {
                let q = self.command("sc").args(["query", "acc"]).output().unwrap();
                let tail: Vec<&str> = text.lines().rev().take(10).collect();
                panic!(
                    "timed out waiting for {what}; sc query acc:\n{}\nthe end of {} (newest first):\n{}",
                    String::from_utf8_lossy(&q.stdout),
                    log.display(),
                    tail.join("\n")
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Starts `acc.exe ARGS` in the background.
    fn spawn(&self, args: &[&str], stderr: &Path) -> Background {
        let child = self
            .command(acc_exe().to_str().unwrap())
            .args(args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(stderr).unwrap())
            .spawn()
            .expect("start wine");
        Background(child)
    }
}

impl Drop for Wine {
    fn drop(&mut self) {
        // This prefix's wineserver only (and every Windows process in it).
        let _ = Command::new("/usr/lib/wine/wineserver").arg("-k").env("WINEPREFIX", &self.prefix).status();
    }
}

/// A Windows process under Wine, killed when dropped.
struct Background(std::process::Child);

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Package `a` on SITE1.
fn package_a_on_site1(f: &Fleet) {
    std::fs::create_dir_all(f.d.join("pkg")).unwrap();
    f.d.write("pkg/a.txt", "a\n");
    f.ctl(&["package", "add", "--share", "software-library", "--name", "a", "--version", "1", "pkg"], "")
        .ok();
    f.ctl(&["package", "assign", "a", "--all"], "").ok();
    wait_for(30, "the package on SITE1", || {
        f.d.join("site1/shares/software-library/a/a.txt").exists().then_some(())
    });
}

#[test]
fn the_windows_agent_under_wine_enrolls_connects_registers_as_the_acc_and_downloads() {
    let exe = std::thread::spawn(acc_exe);
    let (f, sites) = credential_fleet(&["SITE1"]);
    let wine = Wine::new(&f.d);
    package_a_on_site1(&f);
    exe.join().unwrap();

    // The server roles say where they run.
    let refused = wine.acc(&["site", "run", "--data-dir", "x"]).fails_with(2);
    assert!(refused.contains("`acc site` runs on Linux and other Unix systems only"), "{refused}");

    // Enrolled into the seed's Windows layout: no --config, no log or state paths.
    let token = f.ctl(&["enroll-token", "create"], "").ok();
    let out = wine.acc(&["agent", "enroll", "--token", token.trim(), "--host-name", "win01"]).ok();
    assert!(out.contains(r"enrolled as win01: certificate C:\ProgramData\acc\acc.crt, configuration C:\ProgramData\acc\acc.yml"), "{out}");
    let log = wine.c(r"C:\ProgramData\acc\log\acc.log");
    let as_acc = format!("connected to {} using TLS 1.3 as ACC_User_v1", sites[0].url);

    // `acc.exe agent run`: mTLS to the management server, the ACC to SITE1, in acc.log.
    let agent = wine.spawn(&["agent", "run"], &f.d.join("win01.stderr"));
    let text = wine.log_when(&log, "the agent registered with SITE1 as the ACC", &as_acc, 0);
    assert!(
        text.contains(&format!("connected to {} using TLS 1.3, client certificate CN=win01", f.server.url)),
        "{text}"
    );
    assert!(wine.c(r"C:\ProgramData\acc\state").is_dir());
    let got = wine.acc(&["agent", "download", "a"]).ok();
    assert!(got.contains("every SHA-256 verified"), "{got}");
    assert_eq!(std::fs::read_to_string(wine.c(r"C:\ProgramData\acc\state\packages\a\a.txt")).unwrap(), "a\n");
    drop(agent);

    // The seed's path: key and CSR made by acc.exe, the lab CA made by openssl and trusted.
    std::fs::create_dir_all(wine.c(r"C:\lab")).unwrap();
    wine.acc(&["pki", "key", "--out", r"C:\lab\acc.key"]).ok();
    wine.acc(&[
        "pki",
        "csr",
        "--key",
        r"C:\lab\acc.key",
        "--subj",
        "/O=ServiceNow/CN=accwin",
        "--out",
        r"C:\lab\acc.csr",
    ])
    .ok();
    crate::pki_openssl::openssl_lab_ca(&f.d);
    f.d.write("client.cnf", f.d.acc(&["pki", "openssl-ext", "--profile", "client"]).ok());
    // The seed's step 3 with the client extensions (the agent tests show the v1 trap).
    std::fs::create_dir_all(f.d.join("labacc")).unwrap();
    std::fs::copy(wine.c(r"C:\lab\acc.csr"), f.d.join("labacc/acc.csr")).unwrap();
    let mut step3 = crate::pki_openssl::SEED_STEP3.to_vec();
    step3.splice(13..13, ["-extfile", "client.cnf"]);
    f.d.openssl(&step3).ok();
    std::fs::copy(f.d.join("labacc/acc.crt"), wine.c(r"C:\lab\acc.crt")).unwrap();
    f.ctl(&["trust", "add", "labca/labcacert.pem"], "").ok();
    let revision = f.json(&["settings", "show", "--json"])["revision"].as_i64().unwrap();
    sites_when(&f, "SITE1 trusts the lab CA", |s| s[0]["applied_revision"].as_i64() == Some(revision));
    std::fs::copy(f.d.join("srv/tls/ca.crt"), wine.c(r"C:\lab\ca.crt")).unwrap();
    let yml = format!(
        "server-url: {}\nca-file: ca.crt\nkey-file: acc.key\ncert-file: acc.crt\nhost-name: accwin\nlog-file: acc.log\nstate-dir: state\n",
        f.server.url
    );
    std::fs::write(wine.c(r"C:\lab\acc.yml"), &yml).unwrap();
    // A key that Linux wrote 0644 is one that Everyone may read, as Wine reports its DACL:
    // refused with the icacls command (Wine's icacls does nothing; chmod 0600 fixes it there).
    let key = wine.c(r"C:\lab\acc.key");
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let open = wine.acc(&["agent", "run", "--config", r"C:\lab\acc.yml"]).fails_with(1);
    assert!(
        open.contains(
            r"C:\lab\acc.key: the key file's DACL gives Everyone (S-1-1-0) access to the agent's private key"
        ) && open.contains(r#"run `icacls "C:\lab\acc.key" /inheritance:r /grant:r *S-1-5-"#)
            && open.contains("/remove *S-1-1-0`"),
        "{open}"
    );
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let _seed = wine.spawn(&["agent", "run", "--config", r"C:\lab\acc.yml"], &f.d.join("accwin.stderr"));
    let lab_log = wine.c(r"C:\lab\acc.log");
    log_when(
        &f.d,
        lab_log.strip_prefix(f.d.path()).unwrap().to_str().unwrap(),
        "the seed's line in acc.log",
        &format!(
            "connected to {} using TLS 1.3, client certificate CN=accwin (issuer CN=Lab CA)",
            f.server.url
        ),
    );
}

#[test]
fn on_linux_the_windows_service_commands_point_at_systemd() {
    let d = Dir::new();
    for args in [&["agent", "service", "install"][..], &["agent", "service", "stop"]] {
        let e = d.acc(args).fails_with(1);
        assert!(
            e.contains(
                "`acc agent service` manages the Windows service; on Linux run the agent with systemd"
            ),
            "{e}"
        );
    }
}
