//! Errors of the site server. Messages say what happened and what to do; the binary adds
//! nothing but the `error:` prefix. [`SiteError`] is every error of the crate; the share
//! edits' own refusals ([`ShareError`], raised by `shares`) are kept here beside it.

/// A share edit or lookup that cannot be done. Messages are one line and name the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ShareError {
    /// No share of that name.
    #[error(
        "share '{0}' does not exist; see `acc site shares list`, or create it with `acc site shares add {0}`"
    )]
    UnknownShare(String),
    /// `add` of an existing share.
    #[error("share '{0}' already exists")]
    Exists(String),
    /// A bad share name.
    #[error("{0}")]
    Name(acc_core::share_path::PathError),
    /// A refused ACL edit (target, right, nothing to revoke).
    #[error(transparent)]
    Edit(#[from] acc_core::acl::AceEditError),
}

/// Everything that can go wrong in acc-site.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SiteError {
    /// A file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// `site.json` is missing: the directory was never initialised.
    #[error("{0}: not a site data directory; run `acc site init --data-dir {0}` first")]
    NotInitialised(String),
    /// `acc site init` on an initialised directory.
    #[error("{0}: already initialised (site.json exists); use another --data-dir or remove it")]
    AlreadyInitialised(String),
    /// `site.json` is malformed.
    #[error("{path}: {detail}")]
    Config {
        /// The file.
        path: String,
        /// What is wrong.
        detail: String,
    },
    /// A bad `--name`.
    #[error("site name '{0}': use 1 to 15 letters, digits and '-' (not first), like a NetBIOS name")]
    BadName(String),
    /// PKI trouble (TLS files).
    #[error(transparent)]
    Pki(#[from] acc_pki::PkiError),
    /// An administrative change the account state does not allow.
    #[error(transparent)]
    Admin(acc_core::lockout::AdminError),
    /// A task operation refused (task server).
    #[error(transparent)]
    Task(#[from] crate::tasks::TaskError),
    /// Input refused, one message per problem.
    #[error("{}", .0.join("; "))]
    Invalid(Vec<String>),
    /// A subject made from the site name does not parse (never expected: names are validated).
    #[error(transparent)]
    Subject(#[from] acc_pki::subject::SubjectError),
    /// Another process held the data directory's lock for the whole wait without a server
    /// answering on its admin socket.
    #[error(
        "{0}: another process has held the data directory's lock (site.lock) for {1} s and no site server answers on its admin socket; wait for the other `acc site` command to finish, or check `acc site run`"
    )]
    Busy(String, u64),
    /// `acc site run` on a data directory whose server already runs.
    #[error("{0}: a site server is already running on this data directory (its admin socket answers)")]
    Running(String),
    /// The server closed the admin connection before answering (it stopped).
    #[error(
        "{0}: the site server stopped before it answered; check whether the change was made once it runs again"
    )]
    AdminClosed(String),
    /// The listen address cannot be bound.
    #[error("cannot listen on {0}: {1}")]
    Bind(String, String),
    /// A share edit or lookup refused.
    #[error(transparent)]
    Share(#[from] ShareError),
    /// The database failed.
    #[error("site database: {0}")]
    Database(String),
    /// The running site server refused an administrative request (its reason).
    #[error("{0}")]
    AdminRefused(String),
    /// A request's writes were not committed.
    #[error("site database: {0}")]
    Write(#[from] crate::writer::WriteError),
    /// An agent id no agent registered here.
    #[error(
        "agent '{0}' is not registered with this site server; `acc site agents` lists the registered ids"
    )]
    UnknownAgent(String),
    /// Talking to the management server failed.
    #[error("management server: {0}")]
    Management(String),
    /// The management server answered and refused a request (it is reachable).
    #[error("the management server refused {what}: {status}: {message}")]
    Refused {
        /// What was refused (`the policy long-poll`, `the events` …).
        what: &'static str,
        /// The HTTP status.
        status: axum::http::StatusCode,
        /// The server's reason.
        message: String,
    },
}

impl SiteError {
    /// A refusal (4xx): asking again at once would be refused again.
    pub fn is_refusal(&self) -> bool {
        matches!(self, SiteError::Refused { status, .. } if status.is_client_error())
    }

    /// Wraps an I/O error with its path.
    pub fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        SiteError::Io { path: path.display().to_string(), source }
    }
}

impl From<sqlx::Error> for SiteError {
    fn from(e: sqlx::Error) -> Self {
        SiteError::Database(e.to_string())
    }
}

impl From<acc_net::datadir::ConfigFileError> for SiteError {
    fn from(e: acc_net::datadir::ConfigFileError) -> Self {
        use acc_net::datadir::ConfigFileError as E;
        match e {
            E::Missing(dir) => SiteError::NotInitialised(dir),
            E::Io { path, source } => SiteError::Io { path, source },
            E::Invalid { path, detail } => SiteError::Config { path, detail },
        }
    }
}
