//! A server role's data directory, the part the management server and the site server
//! share: the root, the TLS files under `tls/` that the listener serves, and the role's
//! JSON configuration file (`server.json`, `site.json`) read strictly. Each role's own
//! `Layout` wraps a [`DataDir`] and adds its files.
//!
//! It lives here because what the two roles share is what their listener needs: the TLS
//! certificate and key, and the configuration's cap on unauthenticated connections
//! ([`crate::Limits`]).
//!
//! ```text
//! DIR/tls/ca.crt       the CA that clients trust for this server's TLS
//! DIR/tls/ca.key       its key (0400)
//! DIR/tls/server.crt   the TLS server certificate (and server.key, 0400)
//! ```

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The paths every server data directory has.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// The data directory rooted at `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        DataDir { root: dir.into() }
    }

    /// The data directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `tls/`.
    pub fn tls_dir(&self) -> PathBuf {
        self.root.join("tls")
    }

    /// `tls/ca.crt`: the CA that clients trust for this server's TLS.
    pub fn tls_ca_cert(&self) -> PathBuf {
        self.tls_dir().join("ca.crt")
    }

    /// `tls/ca.key`.
    pub fn tls_ca_key(&self) -> PathBuf {
        self.tls_dir().join("ca.key")
    }

    /// `tls/server.crt`.
    pub fn tls_cert(&self) -> PathBuf {
        self.tls_dir().join("server.crt")
    }

    /// `tls/server.key`.
    pub fn tls_key(&self) -> PathBuf {
        self.tls_dir().join("server.key")
    }
}

/// Declares a role's `Layout`: a [`DataDir`] (which it dereferences to) with the role's
/// `ROLE.json` (`config()`) and `ROLE.db` (`database()`); the role adds its own paths in
/// its own `impl`.
#[macro_export]
macro_rules! role_layout {
    ($(#[$meta:meta])* $name:ident, $role:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone)]
        pub struct $name {
            dir: $crate::datadir::DataDir,
        }

        impl ::std::ops::Deref for $name {
            type Target = $crate::datadir::DataDir;

            fn deref(&self) -> &$crate::datadir::DataDir {
                &self.dir
            }
        }

        impl $name {
            /// The layout rooted at `dir`.
            pub fn new(dir: impl Into<::std::path::PathBuf>) -> Self {
                $name { dir: $crate::datadir::DataDir::new(dir) }
            }

            #[doc = concat!("`", $role, ".json`.")]
            pub fn config(&self) -> ::std::path::PathBuf {
                self.root().join(concat!($role, ".json"))
            }

            #[doc = concat!("`", $role, ".db`.")]
            pub fn database(&self) -> ::std::path::PathBuf {
                self.root().join(concat!($role, ".db"))
            }
        }
    };
}

/// Why a role's configuration file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    /// The file does not exist: the directory (named) was never initialised.
    #[error("{0}: not initialised")]
    Missing(String),
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not the configuration: bad JSON, an unknown key, a bad value.
    #[error("{path}: {detail}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        detail: String,
    },
}

/// A role's configuration file (`server.json`, `site.json`): read strictly, written as
/// pretty JSON, and the source of the listener's cap on unauthenticated connections.
pub trait RoleConfig: Serialize + DeserializeOwned {
    /// The cap's key in the file (`max_unauthenticated_per_address`).
    const CAP_KEY: &'static str;

    /// Connections one address may hold before one of its requests authenticated; unset:
    /// [`crate::MAX_UNAUTHENTICATED_PER_ADDRESS`].
    fn unauthenticated_cap(&self) -> Option<usize>;

    /// Reads the file at `path` strictly (the type refuses unknown keys); a cap of 0 is
    /// refused.
    fn read(path: &Path) -> Result<Self, ConfigFileError> {
        let shown = || path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                ConfigFileError::Missing(path.parent().unwrap_or(path).display().to_string())
            } else {
                ConfigFileError::Io { path: shown(), source: e }
            }
        })?;
        let config: Self = serde_json::from_str(&text)
            .map_err(|e| ConfigFileError::Invalid { path: shown(), detail: e.to_string() })?;
        if config.unauthenticated_cap() == Some(0) {
            return Err(ConfigFileError::Invalid {
                path: shown(),
                detail: format!(
                    "{} is 0; give at least 1, or leave it out for the default {}",
                    Self::CAP_KEY,
                    crate::MAX_UNAUTHENTICATED_PER_ADDRESS
                ),
            });
        }
        Ok(config)
    }

    /// The listener's limits: the defaults, with this role's cap on unauthenticated
    /// connections per address.
    fn listener_limits(&self) -> crate::Limits {
        crate::Limits::with_unauthenticated_cap(self.unauthenticated_cap())
    }

    /// The text written to the file: pretty JSON and a final newline.
    fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Serialize, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Conf {
        cap: Option<usize>,
    }

    impl RoleConfig for Conf {
        const CAP_KEY: &'static str = "cap";

        fn unauthenticated_cap(&self) -> Option<usize> {
            self.cap
        }
    }

    fn load(path: &Path) -> Result<Conf, ConfigFileError> {
        Conf::read(path)
    }

    #[test]
    fn a_missing_file_names_the_directory_and_bad_content_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("role.json");
        assert!(
            matches!(load(&p), Err(ConfigFileError::Missing(d)) if d == dir.path().display().to_string())
        );
        std::fs::write(&p, r#"{"cap":1,"colour":"red"}"#).unwrap();
        let e = load(&p).unwrap_err().to_string();
        assert!(e.starts_with(&p.display().to_string()) && e.contains("colour"), "{e}");
        std::fs::write(&p, r#"{"cap":0}"#).unwrap();
        let e = load(&p).unwrap_err().to_string();
        assert!(e.ends_with("cap is 0; give at least 1, or leave it out for the default 1024"), "{e}");
        std::fs::write(&p, r#"{"cap":null}"#).unwrap();
        assert_eq!(load(&p).unwrap().listener_limits().max_unauthenticated_per_address, 1024);
        std::fs::write(&p, r#"{"cap":16}"#).unwrap();
        assert_eq!(load(&p).unwrap().to_json(), "{\n  \"cap\": 16\n}\n");
    }

    #[test]
    fn the_tls_files_are_under_tls() {
        let d = DataDir::new("/data");
        assert_eq!(d.tls_cert(), Path::new("/data/tls/server.crt"));
        assert_eq!(d.tls_ca_key(), Path::new("/data/tls/ca.key"));
    }
}
