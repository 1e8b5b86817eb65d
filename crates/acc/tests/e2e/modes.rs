//! The files a role keeps its state in are its owner's only: databases (with SQLite's
//! `-wal` and `-shm`) are 0600 inside 0700 directories, from their first byte, and a
//! database an older version made 0644 is narrowed when it is next opened.

use std::os::unix::fs::PermissionsExt;

use crate::util::{Dir, SiteProc, wait_for};

fn mode(d: &Dir, file: &str) -> u32 {
    std::fs::metadata(d.join(file)).unwrap_or_else(|e| panic!("{file}: {e}")).permissions().mode() & 0o777
}

/// Waits until every one of `files` exists (SQLite makes `-wal`/`-shm` when it opens).
fn all_there(d: &Dir, files: &[&str]) {
    wait_for(30, &format!("{files:?}"), || files.iter().all(|f| d.join(f).exists()).then_some(()));
}

#[test]
fn databases_are_private_to_their_owner() {
    let d = Dir::new();
    crate::site::site_with_account(&d);
    let site = SiteProc::start(&d.join("site"));
    let site_files = ["site/site.db", "site/site.db-wal", "site/site.db-shm"];
    all_there(&d, &site_files);
    for f in site_files {
        assert_eq!(mode(&d, f), 0o600, "{f}");
    }
    assert_eq!(mode(&d, "site"), 0o700);
    drop(site);

    // A database left readable by an older version is narrowed at its next opening.
    std::fs::set_permissions(d.join("site/site.db"), std::fs::Permissions::from_mode(0o644)).unwrap();
    d.acc(&["site", "accounts", "list", "--data-dir", "site"]).ok();
    assert_eq!(mode(&d, "site/site.db"), 0o600);

    d.acc(&["server", "init", "--data-dir", "server", "--domain", "CORP", "--listen", "127.0.0.1:0"]).ok();
    let server = SiteProc::start_role("server", &d.join("server"), None);
    let server_files = ["server/server.db", "server/server.db-wal", "server/server.db-shm"];
    all_there(&d, &server_files);
    for f in server_files {
        assert_eq!(mode(&d, f), 0o600, "{f}");
    }
    drop(server);
}
