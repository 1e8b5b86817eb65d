//! `acc server backup` and `acc server restore` against a real fleet: a backup taken while
//! the server serves, the server lost, rebuilt from the backup, and the site and agents
//! carrying on with it (the same fleet CA, the same vault).

use crate::agent::{AgentProc, credential_fleet, enroll_as, enroll_web01, log_when};
use crate::server::STRONG;
use crate::util::SiteProc;

const PASSPHRASE: &str = "correct horse battery staple";

#[test]
fn a_backup_taken_while_serving_rebuilds_a_server_the_site_and_agents_keep_working_with() {
    let (mut f, _sites) = credential_fleet(&["SITE1"]);
    let token = f.ctl(&["enroll-token", "create", "--uses", "2"], "").ok();
    enroll_web01(&f, &token).ok();
    let _web01 = AgentProc::start(&f.d, "agent/acc.yml");
    log_when(&f.d, "agent/acc.log", "web01 on SITE1 as v1", "as ACC_User_v1");

    // The backup, while the server serves.
    let d = &f.d;
    let pass = d.write("passphrase", format!("{PASSPHRASE}\n"));
    std::fs::set_permissions(&pass, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let args = ["server", "backup", "--data-dir", "srv", "fleet.accbak", "--passphrase-file", "passphrase"];
    let out = d.acc(&args).ok();
    assert!(out.contains("backup of srv written to fleet.accbak"), "{out}");
    let again = d.acc(&args).fails_with(1);
    assert!(
        again.trim().ends_with("fleet.accbak: exists; choose another name or give --force to replace it"),
        "{again}"
    );
    let short = d.acc_with(&["server", "backup", "--data-dir", "srv", "short.accbak"], "too short\n", &[]);
    assert!(short.fails_with(1).contains("a backup needs at least 12"));
    assert!(!d.join("short.accbak").exists());
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(d.join("fleet.accbak")).unwrap().permissions().mode() & 0o777, 0o600);
    let sealed = std::fs::read(d.join("fleet.accbak")).unwrap();
    let admin_token = std::fs::read(d.join("srv/admin-token")).unwrap();
    let vault_key = std::fs::read(d.join("srv/vault.key")).unwrap();
    for clear in [STRONG.as_bytes(), b"PRIVATE KEY", &admin_token, &vault_key] {
        assert!(!sealed.windows(clear.len()).any(|w| w == clear), "a secret in clear in the backup");
    }

    // The machine is lost: the server stops and its data directory is gone.
    let addr = f.server.addr();
    f.server.kill9();
    std::fs::remove_dir_all(d.join("srv")).unwrap();

    let wrong =
        d.acc_with(&["server", "restore", "fleet.accbak", "--data-dir", "srv"], "not the passphrase\n", &[]);
    let err = wrong.fails_with(1);
    assert_eq!(err.trim(), "error: fleet.accbak: wrong passphrase: the backup does not open with it");
    assert!(!d.join("srv").exists(), "a refused restore writes nothing");
    let out = d
        .acc_with(
            &["server", "restore", "fleet.accbak", "--data-dir", "srv"],
            &format!("{PASSPHRASE}\n"),
            &[],
        )
        .ok();
    assert!(out.contains("fleet.accbak restored into srv"), "{out}");
    let used =
        d.acc(&["server", "restore", "fleet.accbak", "--data-dir", "srv", "--passphrase-file", "passphrase"]);
    assert!(used.fails_with(1).contains("srv: not empty; restore into a new directory, or give --force"));

    f.server = SiteProc::start_at("server", &d.join("srv"), &addr, Some(&d.join("server-restored.log")));

    // The same fleet CA signs a new agent, the same vault gives it the ACC's password.
    enroll_as(&f, &token, "web02", "agent2").ok();
    let _web02 = AgentProc::start(d, "agent2/acc.yml");
    log_when(d, "agent2/acc.log", "web02 on SITE1 as v1 from the restored vault", "as ACC_User_v1");
    // A rotation saved on the restored server reaches the site and the first agent.
    f.ctl(
        &["credential", "rotate", "--username", "ACC_User_v2", "--password-stdin", "--grace", "7d"],
        "Second-Strong-Pass-2026\n",
    )
    .ok();
    log_when(d, "agent/acc.log", "web01 on SITE1 as v2 after the restore", "as ACC_User_v2");
}
