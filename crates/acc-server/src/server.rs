//! The running management server's state: the policy document in force, the tokens, the
//! directory, and the one path by which settings change: validate against the document in
//! force, seal new secrets, store the next revision in one transaction, then publish it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, RwLock};

use acc_core::credential_check::{DirectoryLookup, DomainAccountState, PasswordOracle};
use acc_core::name::UserName;
use acc_core::password::Secret;
use acc_core::time::{Clock, SystemClock};
use serde_json::{Map, Value};

use crate::catalog::Catalog;
use crate::config::ServerConfig;
use crate::document::{self, AuthContext, AuthRequest, PolicyDocument, Problem, Saved};
use crate::error::ServerError;
use crate::init::directory_secret_name;
use crate::inventory::Inventory;
use crate::layout::Layout;
use crate::policy::{PolicyState, SaveGuard};
use crate::store::{self, DirectoryAccount, RevisionRow, SealedSecret, TokenRow};
use crate::tokens::{self, Role};
use crate::vault::{self, Vault};

/// The vault name of generation `n`'s password.
pub fn generation_secret_name(n: u32) -> String {
    format!("acc.generation.{n}")
}

/// The key of the database's save lock (PostgreSQL advisory lock): "acc.save".
const SAVE_LOCK: i64 = 0x6163_632e_7361_7665;

/// Who is calling the API.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The token's role.
    pub role: Role,
    /// The token's description (the author of revisions).
    pub name: String,
}

/// Why a save did not happen.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// Refused: the messages of 5.5, in order.
    #[error("{}", .0.first().map(|p| p.message.as_str()).unwrap_or("refused"))]
    Refused(Vec<Problem>),
    /// The server failed.
    #[error(transparent)]
    Server(#[from] ServerError),
}

/// A saved revision.
pub use acc_proto::admin::SaveOutcome;

/// The management server.
pub struct Server {
    layout: Layout,
    /// The one clock every rule of the server is decided by (the system clock, or a
    /// chosen time in tests).
    clock: std::sync::Arc<dyn Clock>,
    config: ServerConfig,
    pub(crate) pool: store::Pool,
    vault: Vault,
    /// The revision in force, the save lock and the long-poll channel.
    policy: PolicyState,
    tokens: RwLock<HashMap<String, TokenRow>>,
    /// The fleet CA, which signs site servers' (and agents') certificates.
    fleet_ca: acc_pki::x509::Ca,
    /// The site servers and agents.
    pub(crate) inventory: Inventory,
    /// Package versions and the denials already reported.
    catalog: Catalog,
    /// Serialises the directory's logons and administration (its counters are one state).
    directory_serial: tokio::sync::Mutex<()>,
    /// The `update-config` counters of sites and agents, and the stop flag.
    long_polls: crate::wake::LongPolls,
    /// The URL site servers and agents use (the bound address once running).
    url: Mutex<String>,
    /// The server's own event sequence and the event store's growth.
    own_events: crate::event_store::OwnEvents,
    /// The management server nodes on this store as last read from it (the heartbeat of
    /// `nodes` refreshes them).
    node_registry: Mutex<Vec<store::NodeRow>>,
    /// The agents' credential of the revision in force, opened once for every agent.
    agent_answers: crate::checkin::AgentAnswers,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("name", &self.config.name).finish_non_exhaustive()
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Reads one inventory table into memory.
async fn load_inventory<T: serde::de::DeserializeOwned>(
    pool: &store::Pool,
    inventory: store::Inventory,
    layout: &Layout,
) -> Result<BTreeMap<String, T>, ServerError> {
    let mut records = BTreeMap::new();
    for (name, text) in store::records(pool, inventory).await? {
        let record: T = serde_json::from_str(&text).map_err(|e| ServerError::Config {
            path: layout.database().display().to_string(),
            detail: format!("{inventory:?} record {name}: {e}"),
        })?;
        records.insert(name, record);
    }
    Ok(records)
}

impl Server {
    /// Opens an initialised data directory, on the system clock.
    pub async fn open(layout: Layout) -> Result<Server, ServerError> {
        Server::open_with_clock(layout, std::sync::Arc::new(SystemClock)).await
    }

    /// Opens an initialised data directory whose time is told by `clock`.
    pub async fn open_with_clock(
        layout: Layout,
        clock: std::sync::Arc<dyn Clock>,
    ) -> Result<Server, ServerError> {
        let config = ServerConfig::load(&layout.config())?;
        let vault = Vault::open(&layout.vault_key())?;
        let target = config.store_target(&layout);
        let pool = store::open(&target, false, &config.name).await?;
        let (number, text) = store::latest_revision(&pool).await?.ok_or_else(|| ServerError::Config {
            path: target.describe(),
            detail:
                "has no policy revision; the data directory is damaged (re-run acc server init elsewhere)"
                    .into(),
        })?;
        let document: PolicyDocument = serde_json::from_str(&text).map_err(|e| ServerError::Config {
            path: target.describe(),
            detail: format!("revision {number} does not parse: {e}"),
        })?;
        let tokens = store::tokens(&pool).await?.into_iter().map(|t| (t.digest.clone(), t)).collect();
        let read = |p: std::path::PathBuf| std::fs::read(&p).map_err(|e| ServerError::io(&p, e));
        let ca_key = acc_pki::key::PrivateKey::from_bytes(&read(layout.ca_key())?)?;
        let fleet_ca = acc_pki::x509::Ca::new(&read(layout.ca_cert())?, ca_key)?;
        let sites = load_inventory(&pool, store::Inventory::Sites, &layout).await?;
        let agents = load_inventory(&pool, store::Inventory::Agents, &layout).await?;
        crate::event_store::open(&pool).await?;
        let own_origin = crate::event_store::own_origin(&config.name);
        let event_seq = crate::event_store::max_seq(&pool, &own_origin).await?;
        let event_growth = acc_core::event::retention::Growth::new(document.event_store_max_size);
        Ok(Server {
            fleet_ca,
            inventory: Inventory::new(sites, agents),
            directory_serial: tokio::sync::Mutex::new(()),
            catalog: Catalog::new(store::packages(&pool).await?),
            long_polls: crate::wake::LongPolls::default(),
            url: Mutex::new(config.url.clone()),
            node_registry: Mutex::new(Vec::new()),
            agent_answers: crate::checkin::AgentAnswers::default(),
            own_events: crate::event_store::OwnEvents::new(event_seq, event_growth),
            layout,
            clock,
            config,
            pool,
            vault,
            policy: PolicyState::new(number, document),
            tokens: RwLock::new(tokens),
        })
    }

    /// The server's clock, in Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        self.clock.now().millis()
    }

    /// The server's clock, as a calendar time (for certificates).
    pub fn now_utc(&self) -> time::OffsetDateTime {
        self.clock.now_utc()
    }

    /// `server.json`.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// The URL site servers and agents use.
    pub fn url(&self) -> String {
        lock(&self.url).clone()
    }

    /// Sets the URL from the address actually bound (`--listen`, port 0): an unspecified
    /// address keeps the configured host.
    pub fn set_bound(&self, addr: std::net::SocketAddr) {
        let host = if addr.ip().is_unspecified() {
            acc_net::client::Endpoint::parse(&self.config.url)
                .map(|e| e.host().to_string())
                .unwrap_or_else(|_| "127.0.0.1".into())
        } else {
            addr.ip().to_string()
        };
        let host = if host.contains(':') { format!("[{host}]") } else { host };
        *lock(&self.url) = format!("https://{host}:{}", addr.port());
    }

    /// The data directory.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The database.
    pub fn pool(&self) -> &store::Pool {
        &self.pool
    }

    /// The fleet CA, which signs site servers' (and agents') certificates.
    pub(crate) fn fleet_ca(&self) -> &acc_pki::x509::Ca {
        &self.fleet_ca
    }

    /// Package versions and the denials already reported.
    pub(crate) fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The lock that serialises the directory's logons and administration.
    pub(crate) fn directory_serial(&self) -> &tokio::sync::Mutex<()> {
        &self.directory_serial
    }

    /// The `update-config` counters of sites and agents, and the stop flag.
    pub(crate) fn long_polls(&self) -> &crate::wake::LongPolls {
        &self.long_polls
    }

    /// The server's own event sequence and the event store's growth.
    pub(crate) fn own_events(&self) -> &crate::event_store::OwnEvents {
        &self.own_events
    }

    /// The policy answer agents are sent now, rendered once.
    pub(crate) fn agent_answers(&self) -> &crate::checkin::AgentAnswers {
        &self.agent_answers
    }

    /// The management server nodes as last read from the store.
    pub(crate) fn node_registry(&self) -> &Mutex<Vec<store::NodeRow>> {
        &self.node_registry
    }

    /// The revision in force and a copy of its document (to change and save).
    pub fn current(&self) -> (i64, PolicyDocument) {
        self.policy.current()
    }

    /// The revision in force and its document, shared (to read, without a copy).
    pub fn in_force(&self) -> (i64, std::sync::Arc<PolicyDocument>) {
        self.policy.shared()
    }

    /// The number of the revision in force.
    pub fn revision(&self) -> i64 {
        self.policy.revision()
    }

    /// A receiver that wakes when a new revision is in force (saved here or, adopted, by
    /// another node).
    pub fn revisions(&self) -> tokio::sync::watch::Receiver<i64> {
        self.policy.subscribe()
    }

    /// Puts the database's latest revision in force if it is newer than the one in force
    /// (waking the long-polls); returns whether it was.
    pub(crate) async fn adopt_latest(&self) -> Result<bool, ServerError> {
        let Some((number, text)) = store::latest_revision(self.pool()).await? else {
            return Ok(false);
        };
        self.adopt(number, &text)
    }

    /// Puts revision `number` (its document `text`) in force if it is newer.
    pub(crate) fn adopt(&self, number: i64, text: &str) -> Result<bool, ServerError> {
        if number <= self.policy.revision() {
            return Ok(false);
        }
        let document = serde_json::from_str(text).map_err(|e| ServerError::Config {
            path: self.config().store_target(self.layout()).describe(),
            detail: format!("revision {number} does not parse: {e}"),
        })?;
        let adopted = self.policy.publish(number, document);
        if adopted {
            tracing::info!(revision = number, "Policy revision saved by another node adopted.");
        }
        Ok(adopted)
    }

    /// Waits for the right to save a revision: this process's save lock, and on PostgreSQL
    /// the database's (`pg_advisory_xact_lock` in the save transaction), so that saves of
    /// every node are one at a time. The database's latest revision is then in force (a
    /// newer one of another node is adopted first), so the change is validated against
    /// the revision it replaces.
    pub(crate) async fn saving(&self) -> Result<SaveGuard<'_>, ServerError> {
        let local = self.policy.saving().await;
        if store::backend(&self.pool) == store::Backend::Sqlite {
            return Ok(SaveGuard::new(local, None));
        }
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(SAVE_LOCK).execute(&mut *tx).await?;
        if store::latest_number(&mut tx).await? > self.policy.revision() {
            self.adopt_latest().await?;
        }
        Ok(SaveGuard::new(local, Some(tx)))
    }

    /// The caller a bearer token stands for, if it is known and not expired.
    pub fn authenticate(&self, token: &str) -> Option<Caller> {
        let digest = tokens::digest_hex(token);
        let tokens = self.tokens.read().unwrap_or_else(|p| p.into_inner());
        let t = tokens.get(&digest)?;
        if crate::rules::token_expired(t.expires_at, self.now_ms()) {
            return None;
        }
        Some(Caller { role: t.role, name: t.description.clone() })
    }

    /// Creates an API token; returns its text (shown once).
    pub async fn create_token(
        &self,
        role: Role,
        ttl_secs: Option<u64>,
        description: &str,
    ) -> Result<(String, TokenRow), ServerError> {
        if description.trim().is_empty() || description.len() > 200 {
            return Err(ServerError::Invalid(
                "token description: give 1 to 200 characters saying who or what uses it".into(),
            ));
        }
        let token = tokens::new_token("acc")?;
        let now = self.now_ms();
        let expires_at =
            ttl_secs.map(|s| now.saturating_add(i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX)));
        let row = TokenRow {
            digest: tokens::digest_hex(&token),
            role,
            description: description.to_string(),
            created_at: now,
            expires_at,
        };
        store::put_token(&self.pool, &row).await?;
        self.tokens.write().unwrap_or_else(|p| p.into_inner()).insert(row.digest.clone(), row.clone());
        Ok((token, row))
    }

    /// Reads the API tokens again (another node created one).
    pub(crate) async fn reload_tokens(&self) -> Result<(), ServerError> {
        let tokens = store::tokens(&self.pool).await?.into_iter().map(|t| (t.digest.clone(), t)).collect();
        *self.tokens.write().unwrap_or_else(|p| p.into_inner()) = tokens;
        Ok(())
    }

    /// Every API token (never their text).
    pub fn tokens(&self) -> Vec<TokenRow> {
        let mut v: Vec<TokenRow> =
            self.tokens.read().unwrap_or_else(|p| p.into_inner()).values().cloned().collect();
        v.sort_by_key(|t| t.created_at);
        v
    }

    /// Saves a change of the site settings as a new revision.
    pub async fn save_site(
        &self,
        patch: &Map<String, Value>,
        author: &str,
    ) -> Result<SaveOutcome, SaveError> {
        let guard = self.saving().await?;
        let (_, doc) = self.in_force();
        let saved = document::change_site(&doc, patch).map_err(SaveError::Refused)?;
        self.commit(guard, &doc, saved, Vec::new(), author).await
    }

    /// Saves a change of the authentication settings as a new revision.
    pub async fn save_auth(&self, req: AuthRequest, author: &str) -> Result<SaveOutcome, SaveError> {
        self.save_credential(req, None, author).await
    }

    /// `credential rotate`: a new credential (and optionally a new `rotation.grace`) as a
    /// new revision; the switch follows the sites' acknowledgements.
    pub async fn save_credential(
        &self,
        req: AuthRequest,
        grace: Option<u64>,
        author: &str,
    ) -> Result<SaveOutcome, SaveError> {
        if let Some(g) = grace {
            document::check_grace(g).map_err(|p| SaveError::Refused(vec![p]))?;
        }
        let guard = self.saving().await?;
        let (_, doc) = self.in_force();
        let oracle = self.oracle(&doc).await?;
        let directory = store::directory_accounts(&self.pool).await?;
        // The check borrows non-Send trait objects: it runs in a block that ends before
        // the next await.
        let saved = {
            let lookup = Directory { config: &self.config, accounts: &directory };
            let names = self.config.directory();
            let app_id_display = self.config.app_id_display();
            let (sites, pending) = {
                let registry = self.inventory.sites();
                (registry.keys().cloned().collect::<Vec<_>>(), crate::sites::pending_sites(&doc, &registry))
            };
            let ctx = AuthContext {
                app_id: &self.config.app_id,
                app_id_display: &app_id_display,
                directory: &names,
                site_servers: &sites,
                management_server: &self.config.name,
                organisation: &self.config.organisation,
                passwords: &oracle,
                directory_lookup: &lookup,
                pending_sites: &pending,
                hash: &vault::hash_password,
                now_ms: self.now_ms(),
            };
            document::change_auth(&doc, &req, &ctx).map_err(SaveError::Refused)?
        };
        let mut saved = saved;
        if let Some(g) = grace {
            saved.document.rotation_grace = g;
        }
        self.check_impact(&doc, &saved.document, req.force)?;
        let mut secrets = Vec::new();
        if let Some(new) =
            saved.document.generations.iter().find(|g| !doc.generations.iter().any(|o| o.number == g.number))
        {
            let name = generation_secret_name(new.number);
            let sealed = self.vault.seal(&name, &req.password.nfc())?;
            secrets.push(SealedSecret { name, sealed });
        }
        self.commit(guard, &doc, saved, secrets, author).await
    }

    /// Refuses a change that would leave sites or agents unable to connect, with the
    /// counts, unless `force` (see [`crate::impact`]).
    pub(crate) fn check_impact(
        &self,
        before: &PolicyDocument,
        after: &PolicyDocument,
        force: bool,
    ) -> Result<(), SaveError> {
        let impact = crate::impact::assess(
            before,
            after,
            self.policy.revision(),
            &self.inventory.sites(),
            &self.inventory.agents(),
            &self.fleet_ca.subject(),
            self.now_ms(),
        );
        if impact.is_empty() {
            return Ok(());
        }
        if force {
            tracing::warn!(impact = %impact.message(), "Saved with --force.");
            return Ok(());
        }
        Err(SaveError::Refused(vec![Problem {
            field: "impact".into(),
            id: crate::impact::IMPACT_ID.into(),
            message: impact.message(),
        }]))
    }

    /// Moves the rotation along (the switch waits for every site server to have created
    /// the new generation), stores the revision with its sealed secrets, and publishes it.
    pub(crate) async fn commit(
        &self,
        guard: SaveGuard<'_>,
        before: &PolicyDocument,
        saved: Saved,
        secrets: Vec<SealedSecret>,
        author: &str,
    ) -> Result<SaveOutcome, SaveError> {
        self.commit_steps(guard, before, saved, secrets, author, Vec::new()).await
    }

    /// [`Server::commit`] with rotation steps already taken (force-switch, cancel), for
    /// the `acc.rotation` events.
    pub(crate) async fn commit_steps(
        &self,
        guard: SaveGuard<'_>,
        before: &PolicyDocument,
        mut saved: Saved,
        secrets: Vec<SealedSecret>,
        author: &str,
        mut steps: Vec<document::RotationStep>,
    ) -> Result<SaveOutcome, SaveError> {
        let all_created = crate::sites::all_sites_created(&saved.document, &self.inventory.sites());
        steps.extend(document::settle(&mut saved.document, all_created, self.now_ms()));
        if saved.document == *before {
            return Err(SaveError::Refused(vec![Problem {
                field: "settings".into(),
                id: "U-NOCHANGE".into(),
                message: "acc: nothing changed".into(),
            }]));
        }
        let summary = document::summary(before, &saved.document);
        let number = self.policy.revision() + 1;
        let row = RevisionRow {
            number,
            created_at: self.now_ms(),
            author: author.to_string(),
            summary: summary.clone(),
        };
        let text = serde_json::to_string(&saved.document).map_err(|e| ServerError::Invalid(e.to_string()))?;
        guard.store(&self.pool, &row, &text, &secrets).await?;
        let events = document::rotation_events(
            before,
            &saved.document,
            &steps,
            &self.config.name,
            self.now_ms(),
            || self.own_events.next_seq(),
        );
        self.policy.publish(number, saved.document);
        if let Err(e) = self.store_own_events(&events).await {
            tracing::error!(error = %e, "The acc.rotation events could not be stored.");
        }
        for e in &events {
            tracing::info!(event = %e.body, "acc.rotation");
        }
        tracing::info!(revision = number, author, summary = %summary, "Policy revision saved.");
        Ok(SaveOutcome { revision: number, warnings: saved.warnings, granted: saved.granted, summary })
    }

    /// Commits `next`, a document derived from `before` without new secrets or warnings.
    pub(crate) async fn commit_document(
        &self,
        guard: SaveGuard<'_>,
        before: &PolicyDocument,
        next: PolicyDocument,
        author: &str,
    ) -> Result<SaveOutcome, SaveError> {
        self.commit(
            guard,
            before,
            Saved { document: next, warnings: Vec::new(), granted: Vec::new() },
            Vec::new(),
            author,
        )
        .await
    }

    /// Opens the vault entry `name`, if there is one.
    pub(crate) async fn open_secret(&self, name: &str) -> Result<Option<Secret>, ServerError> {
        match store::secrets(&self.pool, name).await?.into_iter().find(|s| s.name == name) {
            Some(s) => Ok(Some(self.vault.open_sealed(&s.name, &s.sealed)?)),
            None => Ok(None),
        }
    }

    /// The vault's answers for the credential check, decrypted for one save.
    async fn oracle(&self, doc: &PolicyDocument) -> Result<VaultOracle, ServerError> {
        let app_id = self.open_secret(&directory_secret_name(&self.config.app_id)).await?;
        let mut generations = Vec::new();
        for g in &doc.generations {
            if let Some(p) = self.open_secret(&generation_secret_name(g.number)).await? {
                generations.push((g.number, g.user_name.clone(), p));
            }
        }
        Ok(VaultOracle { app_id, generations })
    }
}

/// Decrypted passwords for one credential check; dropped right after it.
struct VaultOracle {
    app_id: Option<Secret>,
    generations: Vec<(u32, String, Secret)>,
}

fn same(stored: &Secret, candidate: &Secret) -> bool {
    stored.nfc().matches(candidate)
}

impl PasswordOracle for VaultOracle {
    fn is_app_id_password(&self, password: &Secret) -> bool {
        self.app_id.as_ref().is_some_and(|p| same(p, password))
    }

    fn generation_with_password(&self, password: &Secret) -> Option<(u32, String)> {
        self.generations.iter().rev().find(|(_, _, p)| same(p, password)).map(|(n, u, _)| (*n, u.clone()))
    }

    fn is_password_of_generation(&self, number: u32, password: &Secret) -> bool {
        self.generations.iter().any(|(n, _, p)| *n == number && same(p, password))
    }
}

/// The directory's view for V6: accounts of this server's domain only.
struct Directory<'a> {
    config: &'a ServerConfig,
    accounts: &'a [DirectoryAccount],
}

impl DirectoryLookup for Directory<'_> {
    fn domain_account_state(&self, user_name: &UserName) -> DomainAccountState {
        let ours = user_name.domain().is_some_and(|d| {
            d.eq_ignore_ascii_case(&self.config.domain) || d.eq_ignore_ascii_case(&self.config.dns_domain)
        });
        let key = user_name.account().as_str().to_lowercase();
        match self.accounts.iter().find(|a| ours && a.name_key == key) {
            Some(a) if a.enabled => DomainAccountState::Enabled,
            Some(_) => DomainAccountState::Disabled,
            None => DomainAccountState::NotFound,
        }
    }
}
