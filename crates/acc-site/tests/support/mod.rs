//! What the acc-site integration tests share: an initialised data directory.

use std::path::Path;

use acc_site::init::{InitOptions, init};

/// `acc site init --data-dir DIR --name SITE-01 --listen 127.0.0.1:0`.
pub fn init_site(dir: &Path) {
    init(&InitOptions {
        data_dir: dir.to_path_buf(),
        name: Some("SITE-01".into()),
        listen: "127.0.0.1:0".parse().unwrap(),
        tls: None,
        hostname: "h".into(),
        max_unauthenticated_per_address: None,
    })
    .unwrap();
}
