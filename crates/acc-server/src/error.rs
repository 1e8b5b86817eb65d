//! The management server's errors: each says what went wrong and what to do.

use std::path::Path;

/// An error of the management server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// `acc server init` on an initialised directory.
    #[error("{0}: already initialised (server.json exists); use another --data-dir or run the server")]
    AlreadyInitialised(String),
    /// A directory that `acc server init` did not make.
    #[error(
        "{0}: not a management server data directory (no server.json); run `acc server init --data-dir {0}` first"
    )]
    NotInitialised(String),
    /// Another server holds the data directory.
    #[error("{0}: another acc server is running on this data directory")]
    Busy(String),
    /// A malformed file in the data directory.
    #[error("{path}: {detail}")]
    Config {
        /// The file.
        path: String,
        /// What is wrong.
        detail: String,
    },
    /// A bad command-line or API value.
    #[error("{0}")]
    Invalid(String),
    /// The listen address could not be bound.
    #[error("cannot listen on {0}: {1}")]
    Bind(String, String),
    /// The vault could not open a secret (wrong master key or damaged entry).
    #[error("vault: {0}")]
    Vault(String),
    /// PKI failures.
    #[error(transparent)]
    Pki(#[from] acc_pki::PkiError),
    /// Database failures.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The PostgreSQL database could not be reached or refused the connection (the URL
    /// holds no password).
    #[error("cannot reach the database {url}: {detail}")]
    DatabaseUnreachable {
        /// The database URL, without a password.
        url: String,
        /// What the connection attempt said, on one line.
        detail: String,
    },
}

impl ServerError {
    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> ServerError {
        ServerError::Io { path: path.display().to_string(), source }
    }
}

impl From<acc_net::datadir::ConfigFileError> for ServerError {
    fn from(e: acc_net::datadir::ConfigFileError) -> Self {
        use acc_net::datadir::ConfigFileError as E;
        match e {
            E::Missing(dir) => ServerError::NotInitialised(dir),
            E::Io { path, source } => ServerError::Io { path, source },
            E::Invalid { path, detail } => ServerError::Config { path, detail },
        }
    }
}

impl From<acc_proto::admin::UnknownRole> for ServerError {
    fn from(e: acc_proto::admin::UnknownRole) -> Self {
        ServerError::Invalid(e.to_string())
    }
}
