//! What the agent keeps in `state-dir` (0700): `agent.json` (0600) with its check-in
//! counter, the policy it runs with (the credential's password sealed under the machine
//! key, never in clear), its token at each site server (sealed the same way: the secret
//! that binds its agent id to it there), the health it last saw and its cached packages;
//! `machine.key` (0600), the key that seals them. Written atomically: a crash leaves the
//! old file or the new one.

use std::path::{Path, PathBuf};

use acc_pki::sealed::SealingKey;
use acc_proto::AgentPolicy;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// The sealed credential's name (associated data).
const CREDENTIAL: &str = "acc.agent.credential";
/// The prefix of a sealed site token's name (associated data): + the site's URL.
const SITE_TOKEN: &str = "acc.agent.site-token:";

/// The agent's token at one site server, sealed under the machine key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteToken {
    /// The site's URL, where the token was answered.
    pub url: String,
    /// The site's name, as its registration answer gave it (found again if its URL
    /// changes).
    pub site: String,
    /// The token, sealed (base64).
    pub sealed: String,
}

/// Why the state cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// A file or folder.
    #[error("{path}: {reason}")]
    Io {
        /// The path.
        path: String,
        /// Why.
        reason: String,
    },
    /// The machine key.
    #[error("{0}")]
    Key(String),
}

fn io(path: &Path, e: impl std::fmt::Display) -> StateError {
    StateError::Io { path: path.display().to_string(), reason: e.to_string() }
}

/// `agent.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentState {
    /// This installation's id (`Acc-Agent-Id` at site servers), made at first start.
    pub agent_id: String,
    /// The check-in counter: it only moves forward on this machine.
    pub seq: u64,
    /// The policy in force, its password removed (see `sealed_password`).
    pub policy: Option<AgentPolicy>,
    /// The credential's password, sealed under the machine key (base64).
    pub sealed_password: Option<String>,
    /// The agent's token at each site server it registered with.
    pub site_tokens: Vec<SiteToken>,
    /// A newer revision that could not be applied, and why.
    pub failed_revision: Option<i64>,
    /// Why it failed.
    pub failure: Option<String>,
    /// When it failed (Unix milliseconds): it is tried again [`RETRY_FAILED_MS`] later.
    pub failed_at_ms: Option<i64>,
    /// When the management server last answered (Unix milliseconds).
    pub last_check_in_ms: Option<i64>,
    /// The management server nodes, as the last policy listed them (empty: `server-url`).
    pub servers: Vec<String>,
    /// The site server in use.
    pub site_server: Option<String>,
    /// Whether it answered the last request.
    pub site_reachable: Option<bool>,
    /// Packages in the cache (`name@version`).
    pub packages: Vec<String>,
    /// The last connection, as logged.
    pub last_connection: Option<String>,
}

/// How long a revision that failed waits before it is tried again.
pub const RETRY_FAILED_MS: i64 = 5 * 60 * 1000;

impl AgentState {
    /// The revision in force (0 before the first policy).
    pub fn revision(&self) -> i64 {
        self.policy.as_ref().map_or(0, |p| p.revision)
    }

    /// The revision to long-poll after at `now_ms`: past a failed revision, until it is
    /// due to be tried again.
    pub fn poll_after(&self, now_ms: i64) -> i64 {
        match (self.failed_revision, self.failed_at_ms) {
            (Some(failed), Some(at)) if now_ms - at < RETRY_FAILED_MS => self.revision().max(failed),
            _ => self.revision(),
        }
    }
}

/// The state folder.
#[derive(Debug)]
pub struct StateStore {
    dir: PathBuf,
    key: SealingKey,
}

impl StateStore {
    /// Opens (creating) the state folder and its machine key.
    pub fn open(dir: &Path) -> Result<StateStore, StateError> {
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| io(dir, e))?;
        }
        let key = SealingKey::open_or_create(&dir.join("machine.key"))
            .map_err(|e| StateError::Key(e.to_string()))?;
        Ok(StateStore { dir: dir.to_path_buf(), key })
    }

    /// Reads the state only, without the machine key (for `acc agent status`, which may run
    /// as another user): `None` when there is none yet.
    pub fn peek(dir: &Path) -> Result<Option<AgentState>, StateError> {
        let path = dir.join("agent.json");
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| io(&path, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path, e)),
        }
    }

    /// Clears what an earlier enrollment left in `dir` (its `agent.json`: agent id, policy,
    /// site servers, sealed credential; its downloads and cached packages), so that a new
    /// enrollment, perhaps with another management server, starts clean. The machine key
    /// stays. Returns the earlier agent id, when there was a state.
    pub fn clear(dir: &Path) -> Result<Option<String>, StateError> {
        let previous = StateStore::peek(dir)
            .unwrap_or_else(|_| Some(AgentState { agent_id: "unknown".into(), ..AgentState::default() }));
        for sub in ["downloads", "packages"] {
            let path = dir.join(sub);
            match std::fs::remove_dir_all(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&path, e)),
                _ => {}
            }
        }
        let path = dir.join("agent.json");
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(&path, e)),
            _ => Ok(previous.map(|s| s.agent_id)),
        }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The saved state (a fresh one, with a new agent id, when none).
    pub fn load(&self) -> Result<AgentState, StateError> {
        let mut state = StateStore::peek(&self.dir)?.unwrap_or_default();
        if state.agent_id.is_empty() {
            let bytes = acc_pki::sealed::random_bytes(16).map_err(|e| StateError::Key(e.to_string()))?;
            state.agent_id = hex::encode(bytes);
        }
        Ok(state)
    }

    /// Saves the state (0600, atomically).
    pub fn save(&self, state: &AgentState) -> Result<(), StateError> {
        let path = self.dir.join("agent.json");
        let bytes = serde_json::to_vec_pretty(state).map_err(|e| io(&path, e))?;
        acc_pki::fsutil::write_file(&path, &bytes, 0o600, true).map_err(|e| io(&path, e))
    }

    /// Puts `policy` into `state`, its password sealed.
    pub fn set_policy(&self, state: &mut AgentState, mut policy: AgentPolicy) -> Result<(), StateError> {
        state.sealed_password = match policy.auth.password.take() {
            Some(p) => Some(base64::engine::general_purpose::STANDARD.encode(
                self.key.seal(CREDENTIAL, p.as_bytes()).map_err(|e| StateError::Key(e.to_string()))?,
            )),
            None => None,
        };
        state.policy = Some(policy);
        Ok(())
    }

    /// Keeps `token`, answered by site `site` at `url`, sealed in `state` (replacing the
    /// one of that URL or site).
    pub fn set_site_token(
        &self,
        state: &mut AgentState,
        url: &str,
        site: &str,
        token: &str,
    ) -> Result<(), StateError> {
        let sealed = self
            .key
            .seal(&format!("{SITE_TOKEN}{site}"), token.as_bytes())
            .map_err(|e| StateError::Key(e.to_string()))?;
        state.site_tokens.retain(|t| t.url != url && t.site != site);
        state.site_tokens.push(SiteToken {
            url: url.to_string(),
            site: site.to_string(),
            sealed: base64::engine::general_purpose::STANDARD.encode(sealed),
        });
        Ok(())
    }

    /// The token for the site at `url` (or, when its URL changed, named `name`), opened.
    pub fn site_token(&self, state: &AgentState, url: &str, name: &str) -> Option<String> {
        let t = state
            .site_tokens
            .iter()
            .find(|t| t.url == url)
            .or_else(|| state.site_tokens.iter().find(|t| t.site.eq_ignore_ascii_case(name)))?;
        let sealed = base64::engine::general_purpose::STANDARD.decode(&t.sealed).ok()?;
        let plain = self.key.open_sealed(&format!("{SITE_TOKEN}{}", t.site), &sealed)?;
        String::from_utf8(plain).ok()
    }

    /// The policy in force with its password opened.
    pub fn policy(&self, state: &AgentState) -> Option<AgentPolicy> {
        let mut policy = state.policy.clone()?;
        policy.auth.password = state
            .sealed_password
            .as_deref()
            .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
            .and_then(|b| self.key.open_sealed(CREDENTIAL, &b))
            .and_then(|b| String::from_utf8(b).ok());
        Some(policy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use acc_proto::{AgentAuth, AgentLimits};

    #[test]
    fn a_failed_revision_is_skipped_until_it_is_due_again() {
        let mut s = AgentState { failed_revision: Some(9), failed_at_ms: Some(1_000), ..Default::default() };
        assert_eq!(s.poll_after(1_000 + RETRY_FAILED_MS - 1), 9);
        assert_eq!(s.poll_after(1_000 + RETRY_FAILED_MS), 0, "tried again");
        s.failed_revision = None;
        assert_eq!(s.poll_after(0), 0);
    }

    #[test]
    fn the_password_is_sealed_at_rest_and_the_counter_survives() {
        let d = tempfile::tempdir().unwrap();
        let store = StateStore::open(&d.path().join("state")).unwrap();
        let mut state = store.load().unwrap();
        state.seq = 41;
        let policy = AgentPolicy {
            revision: 7,
            force: 0,
            auth: AgentAuth {
                mode: acc_proto::AuthMode::Credential,
                user_name: Some("ACC_user".into()),
                password: Some("Correct-Horse-9".into()),
                generation: Some(2),
            },
            limits: AgentLimits { threshold: 5, window_secs: 600 },
            site_servers: Vec::new(),
            servers: Vec::new(),
        };
        store.set_policy(&mut state, policy.clone()).unwrap();
        store.save(&state).unwrap();
        let on_disk = std::fs::read_to_string(d.path().join("state/agent.json")).unwrap();
        assert!(!on_disk.contains("Correct-Horse-9") && on_disk.contains("ACC_user"), "{on_disk}");
        let again = StateStore::open(&d.path().join("state")).unwrap();
        let loaded = again.load().unwrap();
        assert_eq!((loaded.seq, loaded.revision()), (41, 7));
        assert_eq!(again.policy(&loaded), Some(policy));
        std::fs::remove_file(d.path().join("state/machine.key")).unwrap();
        let rekeyed = StateStore::open(&d.path().join("state")).unwrap();
        assert_eq!(rekeyed.policy(&loaded).unwrap().auth.password, None, "another machine key opens nothing");
    }

    #[test]
    fn clearing_leaves_no_earlier_enrollment_behind_but_the_machine_key() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("state");
        assert_eq!(StateStore::clear(&dir).unwrap(), None, "nothing to clear");
        let store = StateStore::open(&dir).unwrap();
        let state = store.load().unwrap();
        store.save(&state).unwrap();
        std::fs::create_dir_all(dir.join("packages/tools@1.0")).unwrap();
        std::fs::write(dir.join("packages/tools@1.0/a.bin"), b"x").unwrap();
        assert_eq!(StateStore::clear(&dir).unwrap(), Some(state.agent_id.clone()));
        assert!(!dir.join("agent.json").exists() && !dir.join("packages").exists());
        assert!(dir.join("machine.key").exists());
        let fresh = StateStore::open(&dir).unwrap().load().unwrap();
        assert_ne!(fresh.agent_id, state.agent_id, "a new agent id");
    }

    #[test]
    fn site_tokens_are_sealed_per_site_and_found_again_by_name() {
        let d = tempfile::tempdir().unwrap();
        let store = StateStore::open(&d.path().join("state")).unwrap();
        let mut state = store.load().unwrap();
        store.set_site_token(&mut state, "https://127.0.0.1:8444", "SITE1", "tok-one-secret").unwrap();
        store.set_site_token(&mut state, "https://127.0.0.1:8445", "SITE2", "tok-two-secret").unwrap();
        store.save(&state).unwrap();
        let on_disk = std::fs::read_to_string(d.path().join("state/agent.json")).unwrap();
        assert!(!on_disk.contains("tok-one") && on_disk.contains("SITE1"), "{on_disk}");
        let loaded = store.load().unwrap();
        assert_eq!(
            store.site_token(&loaded, "https://127.0.0.1:8444", "x").as_deref(),
            Some("tok-one-secret")
        );
        assert_eq!(
            store.site_token(&loaded, "https://127.0.0.1:9999", "site2").as_deref(),
            Some("tok-two-secret"),
            "a site whose URL changed is found by its name"
        );
        assert_eq!(store.site_token(&loaded, "https://127.0.0.1:9999", "SITE3"), None);
        // A new token for a site replaces its old one, wherever it was.
        store.set_site_token(&mut state, "https://127.0.0.1:9999", "SITE1", "tok-three").unwrap();
        assert_eq!(state.site_tokens.len(), 2);
        assert_eq!(store.site_token(&state, "https://127.0.0.1:8444", "SITE1").as_deref(), Some("tok-three"));
        // A token sealed for one site does not open as another's.
        let mut swapped = state.clone();
        swapped.site_tokens.retain(|t| t.site == "SITE1");
        swapped.site_tokens[0].site = "SITE2".into();
        assert_eq!(store.site_token(&swapped, "https://127.0.0.1:9999", "SITE2"), None);
    }
}
