//! The agent's HTTP proxy: `proxy-url`, `no-proxy` and `proxy-credentials-file` of
//! `acc.yml`, each winning over its environment variable (`https_proxy`/`HTTPS_PROXY`,
//! `no_proxy`/`NO_PROXY`). Every connection the agent makes (enrollment, check-in, policy,
//! renewal, site servers, downloads) takes its TLS from here, so none goes around the proxy.
//! The credentials file's content never reaches a log, an error or `Debug`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use acc_net::proxy::{self, Proxy, ProxyCredentials, ProxyError, ProxySettings, ProxyUrl};

/// Why the proxy settings are unusable; never the credentials themselves.
#[derive(Debug, thiserror::Error)]
pub enum ProxyConfigError {
    /// `proxy-url` carries a user name and password.
    #[error(
        "holds a user name and password; put them in proxy-credentials-file (USER:PASSWORD, mode 0400) and give http://HOST:PORT here"
    )]
    CredentialsInUrl,
    /// `proxy-url` is not `http://HOST:PORT`.
    #[error("'{url}': {detail}")]
    Url {
        /// The value given.
        url: String,
        /// What is wrong.
        detail: String,
    },
    /// The credentials file cannot be read.
    #[error("{}: cannot read the proxy credentials ({error})", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The credentials file is not `USER:PASSWORD`.
    #[error("{}: {error}", path.display())]
    Credentials {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        error: ProxyError,
    },
    /// The proxy (from `acc.yml` or the environment) is unusable.
    #[error(transparent)]
    Proxy(#[from] ProxyError),
}

/// The proxy keys of `acc.yml`, checked (the environment is read when the agent connects).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyConfig {
    /// `proxy-url` (an empty string: no proxy, whatever the environment says).
    pub url: Option<String>,
    /// `no-proxy`: hosts, domains, addresses or CIDR ranges reached directly.
    pub no_proxy: Option<Vec<String>>,
    /// `proxy-credentials-file`: `USER:PASSWORD` on its first line.
    pub credentials_file: Option<PathBuf>,
}

/// Checks a `proxy-url` value: `http://HOST:PORT`, without credentials (`acc.yml` is
/// readable by others; they go in `proxy-credentials-file`).
pub fn check_url(url: &str) -> Result<(), ProxyConfigError> {
    if url.trim().is_empty() {
        return Ok(());
    }
    match ProxyUrl::parse(url, "proxy-url") {
        Ok((_, None)) => Ok(()),
        Ok((_, Some(_))) => Err(ProxyConfigError::CredentialsInUrl),
        Err(ProxyError::Url { detail, .. }) => Err(ProxyConfigError::Url { url: url.to_string(), detail }),
        Err(e) => Err(e.into()),
    }
}

/// Reads the credentials file: a refusal names the file, never its content.
fn read_credentials(path: &Path) -> Result<ProxyCredentials, ProxyConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| ProxyConfigError::Read { path: path.to_path_buf(), error })?;
    ProxyCredentials::parse(&text)
        .map_err(|error| ProxyConfigError::Credentials { path: path.to_path_buf(), error })
}

/// The proxy for `config` and the environment read by `env`, if any.
pub fn resolve(
    config: &ProxyConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Arc<Proxy>>, ProxyConfigError> {
    let credentials = config.credentials_file.as_deref().map(read_credentials).transpose()?;
    let settings =
        ProxySettings { url: config.url.as_deref(), no_proxy: config.no_proxy.as_deref(), credentials };
    Ok(proxy::resolve(settings, env)?.map(Arc::new))
}

/// [`resolve`] with this process's environment.
pub fn from_env(config: &ProxyConfig) -> Result<Option<Arc<Proxy>>, ProxyConfigError> {
    resolve(config, &|k| std::env::var(k).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_url_in_acc_yml_is_http_without_credentials() {
        assert!(check_url("http://proxy.corp:3128").is_ok());
        assert!(check_url("").is_ok());
        let e = check_url("http://bob:secret@proxy:3128").unwrap_err().to_string();
        assert!(e.contains("proxy-credentials-file") && !e.contains("secret"), "{e}");
        let e = check_url("https://proxy:3128").unwrap_err().to_string();
        assert!(e.starts_with("'https://proxy:3128': https:// proxies are not supported"), "{e}");
    }

    #[test]
    fn the_credentials_file_is_read_and_named_never_shown() {
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("proxy.cred");
        let config = ProxyConfig {
            url: Some("http://p:3128".into()),
            credentials_file: Some(file.clone()),
            ..ProxyConfig::default()
        };
        let e = resolve(&config, &|_| None).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{}: cannot read the proxy credentials", file.display())), "{e}");
        std::fs::write(&file, "no-colon-secret\n").unwrap();
        let e = resolve(&config, &|_| None).unwrap_err().to_string();
        assert!(e.contains("USER:PASSWORD") && !e.contains("no-colon-secret"), "{e}");
        std::fs::write(&file, "agent:Pr0xy-Secret\n").unwrap();
        let p = resolve(&config, &|_| Some("http://env:1".into())).unwrap().unwrap();
        assert_eq!(p.url.to_string(), "http://p:3128");
        assert_eq!(p.credentials.as_ref().map(ProxyCredentials::user), Some("agent"));
        assert!(!format!("{p:?}").contains("Pr0xy-Secret"));
        let env = |k: &str| (k == "HTTPS_PROXY").then(|| "http://env:1".to_string());
        let from_env = resolve(&ProxyConfig::default(), &env).unwrap().unwrap();
        assert_eq!(from_env.url.to_string(), "http://env:1");
        assert_eq!(resolve(&ProxyConfig::default(), &|_| None).unwrap(), None);
    }
}
