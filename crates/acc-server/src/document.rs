//! The policy document: everything a policy revision fixes (authentication mode, password
//! policy, lockout and site settings, the ACC generations, the package sources' ACLs), and
//! the pure rules that turn a requested change into the next document, with the checks,
//! order and exact messages of specification 3.2.2 and 5.5, and the `acc.rotation` events
//! of the rotation steps a revision takes.
//!
//! No I/O here: the vault, the directory and the clock come in through [`AuthContext`], so
//! every rule is tested in memory. Passwords are never part of a document; a local-form
//! generation carries the argon2id hash site servers verify against (K2), which
//! [`redacted`] hides from people.

use acc_core::acl::{Caller, Principal, check_package_sources, grant_read};
use acc_core::credential_check::{
    CheckContext, DirectoryLookup, GenerationPhase, GenerationRecord, NewCredential, PasswordOracle,
    app_mode_warning, check_new_credential,
};
use acc_core::lockout::LockoutPolicy;
use acc_core::name::{DirectoryNames, UserNameForm};
use acc_core::password::{PasswordPolicy, Secret};
use serde::Serialize;
use serde_json::{Map, Value, json};

/// The upper bound of `rotation.grace`: 90 days.
pub const MAX_GRACE: u64 = 7_776_000;

pub use acc_proto::AuthMode;

pub use acc_proto::admin::policy::{
    Assignment, AuthSettings, DEFAULT_GRACE, Generation, PolicyDocument, RevokedCert, TrustAnchor,
};

/// The records the credential check needs.
fn records(doc: &PolicyDocument) -> Vec<GenerationRecord> {
    doc.generations
        .iter()
        .map(|g| GenerationRecord { number: g.number, user_name: g.user_name.clone(), phase: g.phase })
        .collect()
}

pub use acc_proto::admin::Problem;

/// What a requested change became: the next document, the warnings to show once, and a
/// one-line summary for the revision history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    /// The next document.
    pub document: PolicyDocument,
    /// Warnings (W-APPMODE, W-DOMAIN, W-THRESHOLD, lab values).
    pub warnings: Vec<String>,
    /// What `--grant-read` added, one line each.
    pub granted: Vec<String>,
}

/// Applies a change of the site settings: `patch` holds the `LockoutPolicy` fields to set
/// (JSON names); the rest keep their values. Unknown fields and wrong types are refused
/// naming the field.
pub fn change_site(doc: &PolicyDocument, patch: &Map<String, Value>) -> Result<Saved, Vec<Problem>> {
    const FIELD: &str = "lockout and site settings";
    let mut document = doc.clone();
    let mut value = serde_json::to_value(&doc.site).unwrap_or(Value::Null);
    if let Value::Object(current) = &mut value {
        for (k, v) in patch {
            if let Some(size) = event_log_size(&mut document, k) {
                *size = v
                    .as_u64()
                    .ok_or_else(|| format!("{k}: give a number of bytes"))
                    .and_then(|n| {
                        acc_core::event::retention::check_max_size(n).map_err(|e| format!("{k}: {e}"))
                    })
                    .map_err(|m| vec![Problem::new(FIELD, "", format!("settings: {m}"))])?;
                continue;
            }
            if !current.contains_key(k) {
                return Err(vec![Problem::new(FIELD, "", format!("settings: unknown site setting '{k}'"))]);
            }
            current.insert(k.clone(), v.clone());
        }
    }
    let site: LockoutPolicy =
        serde_json::from_value(value).map_err(|e| vec![Problem::new(FIELD, "", format!("settings: {e}"))])?;
    let validation = site.validate();
    if !validation.is_ok() {
        return Err(validation.errors.iter().map(|e| Problem::new(FIELD, "", e.to_string())).collect());
    }
    document.site = site;
    Ok(Saved {
        document,
        warnings: validation.warnings.iter().map(ToString::to_string).collect(),
        granted: Vec::new(),
    })
}

/// The event log size a site setting names (`event_log_max_size`, `event_store_max_size`).
fn event_log_size<'a>(doc: &'a mut PolicyDocument, key: &str) -> Option<&'a mut u64> {
    match key {
        "event_log_max_size" => Some(&mut doc.event_log_max_size),
        "event_store_max_size" => Some(&mut doc.event_store_max_size),
        _ => None,
    }
}

/// A requested change of the authentication page.
#[derive(Debug, Clone)]
pub struct AuthRequest {
    /// The mode to save.
    pub mode: AuthMode,
    /// A new credential's user name (`None`: keep the current one).
    pub user_name: Option<String>,
    /// Its password.
    pub password: Secret,
    /// The password typed a second time.
    pub confirmation: Secret,
    /// A new password policy (`None`: keep it).
    pub password_policy: Option<PasswordPolicy>,
    /// `--grant-read`: grant Read on the package sources in the same revision (3.2.3).
    pub grant_read: bool,
    /// `--force`: save even when sites or agents would be unable to connect.
    pub force: bool,
}

/// What [`change_auth`] needs from the world.
pub struct AuthContext<'a> {
    /// The App ID's account name.
    pub app_id: &'a str,
    /// The App ID as displayed (`CORP\svc_acc_app`).
    pub app_id_display: &'a str,
    /// The directory's names.
    pub directory: &'a DirectoryNames,
    /// The site servers in the inventory (names) and those that have not yet created the
    /// provisioning generation.
    pub site_servers: &'a [String],
    /// The management server's name.
    pub management_server: &'a str,
    /// The organisation name setting (empty when unset).
    pub organisation: &'a str,
    /// The vault's answers.
    pub passwords: &'a dyn PasswordOracle,
    /// The directory.
    pub directory_lookup: &'a dyn DirectoryLookup,
    /// The site servers that have not acknowledged the provisioning generation.
    pub pending_sites: &'a [String],
    /// Hashes a new local-form password (argon2id PHC).
    pub hash: &'a dyn Fn(&Secret) -> Result<String, crate::error::ServerError>,
    /// Now, Unix milliseconds.
    pub now_ms: i64,
}

/// Applies a change of the authentication page: checks V1–V7 in the order of 5.5 (user
/// name, password, rotation, share access) and, for a new credential, adds a generation in
/// `provisioning` (switched at once by [`settle`] when no site server has to create it).
pub fn change_auth(
    doc: &PolicyDocument,
    req: &AuthRequest,
    ctx: &AuthContext<'_>,
) -> Result<Saved, Vec<Problem>> {
    let mut document = doc.clone();
    let mut warnings = Vec::new();
    let mut granted = Vec::new();
    if let Some(policy) = req.password_policy {
        document.auth.password_policy = policy;
    }
    let current =
        doc.generation_in(GenerationPhase::Provisioning).or(doc.generation_in(GenerationPhase::Active));
    let new_name = match (&req.user_name, req.mode) {
        (Some(name), _) => Some(name.as_str()),
        // Credential mode with no credential yet: the empty name gets U-EMPTY.
        (None, AuthMode::Credential) if current.is_none() => Some(""),
        (None, _) => None,
    };
    if let Some(typed) = new_name {
        let records = records(&document);
        let check_ctx = CheckContext {
            app_id: ctx.app_id,
            directory: ctx.directory,
            site_servers: ctx.site_servers,
            management_server: ctx.management_server,
            organisation: ctx.organisation,
            generations: &records,
            policy: document.auth.password_policy,
            passwords: ctx.passwords,
            directory_lookup: ctx.directory_lookup,
        };
        let new =
            NewCredential { user_name: typed, password: &req.password, confirmation: &req.confirmation };
        let check = check_new_credential(&new, &check_ctx);
        if !check.passed() {
            return Err(check
                .errors
                .iter()
                .map(|e| Problem::new(e.field.label(), e.id, e.message.clone()))
                .collect());
        }
        let Some(user_name) = check.user_name else {
            return Err(vec![Problem::new("user name", "", "user name: could not be validated")]);
        };
        if let Some(busy) = doc.generation_in(GenerationPhase::Provisioning) {
            let pending =
                if ctx.pending_sites.is_empty() { "none".to_string() } else { ctx.pending_sites.join(", ") };
            return Err(vec![Problem::new(
                "rotation",
                "R-BUSY",
                format!(
                    "rotation: generation {} ('{}') is still provisioning (pending: {pending}); finish, force-switch or cancel it first",
                    busy.number, busy.user_name
                ),
            )]);
        }
        // The ACC as ACLs name it: a UPN or DNS-qualified name is the directory's
        // `NETBIOS\name` (3.2.3), the local form the local account.
        let principal = Principal::for_user_name(&user_name.stored(), ctx.directory)
            .map_err(|e| vec![Problem::new("user name", "", format!("user name: {e}"))])?;
        let caller = Caller::for_principal(principal);
        if let Err(refusal) = check_package_sources(&document.shares, &caller) {
            if !req.grant_read {
                return Err(vec![Problem::new("share access", "", refusal.to_string())]);
            }
            let changes = grant_read(&mut document.shares, &caller)
                .map_err(|e| vec![Problem::new("share access", "", e.to_string())])?;
            granted = changes.iter().map(ToString::to_string).collect();
        }
        let password_hash = match user_name.form() {
            UserNameForm::Local => Some(
                (ctx.hash)(&req.password.nfc())
                    .map_err(|e| vec![Problem::new("password", "", format!("password: {e}"))])?,
            ),
            UserNameForm::Domain => None,
        };
        warnings.extend(check.warnings);
        document.generations.push(Generation {
            number: check.next_generation,
            user_name: user_name.stored(),
            phase: GenerationPhase::Provisioning,
            password_hash,
            saved_at: ctx.now_ms,
            retire_deadline: None,
        });
    }
    document.auth.mode = req.mode;
    if req.mode == AuthMode::Application {
        warnings.push(app_mode_warning(ctx.app_id_display));
    }
    Ok(Saved { document, warnings, granted })
}

/// A step of the rotation state machine, for the `acc.rotation` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RotationStep {
    /// The generation.
    pub generation: u32,
    /// Its user name.
    pub user_name: String,
    /// Phase before.
    pub from: GenerationPhase,
    /// Phase after.
    pub to: GenerationPhase,
    /// `all-sites-created`, `superseded`, `deadline`, `all-agents-acked` …
    pub reason: &'static str,
    /// Retiring: the deadline (Unix milliseconds).
    pub retire_deadline: Option<i64>,
}

/// Moves `g` to `to` for `reason`, as a step of the rotation.
pub(crate) fn step(g: &mut Generation, to: GenerationPhase, reason: &'static str) -> RotationStep {
    let from = g.phase;
    g.phase = to;
    RotationStep {
        generation: g.number,
        user_name: g.user_name.clone(),
        from,
        to,
        reason,
        retire_deadline: g.retire_deadline,
    }
}

/// Moves the generations along 1.4 at `now_ms`: the switch P3 when every site server has
/// the provisioning generation (`all_sites_created`, true with no site servers, and always
/// for a domain form), and the removal P6 of a retiring generation past its deadline.
pub fn settle(doc: &mut PolicyDocument, all_sites_created: bool, now_ms: i64) -> Vec<RotationStep> {
    settle_as(doc, all_sites_created, now_ms, "all-sites-created")
}

/// `--force-switch` (P4): the switch at once, whatever the sites acknowledged; pending
/// sites create the account when they come back.
pub fn force_switch(doc: &mut PolicyDocument, now_ms: i64) -> Vec<RotationStep> {
    settle_as(doc, true, now_ms, "force-switch")
}

/// `--cancel` (P4): the provisioning generation becomes `removed`; sites delete its account.
pub fn cancel(doc: &mut PolicyDocument) -> Vec<RotationStep> {
    doc.generations
        .iter_mut()
        .filter(|g| g.phase == GenerationPhase::Provisioning)
        .map(|g| step(g, GenerationPhase::Removed, "cancel"))
        .collect()
}

/// The `acc.rotation` events (4.3) of one revision: every generation whose phase changed
/// between `before` and `after`, with the reason of the step that changed it (`saved` for a
/// new generation), numbered from `seq`'s next value.
pub fn rotation_events(
    before: &PolicyDocument,
    after: &PolicyDocument,
    steps: &[RotationStep],
    computer: &str,
    now_ms: i64,
    mut next_seq: impl FnMut() -> i64,
) -> Vec<acc_proto::ForwardedEvent> {
    let mut out = Vec::new();
    for g in &after.generations {
        let from = before.generations.iter().find(|b| b.number == g.number).map(|b| b.phase);
        if from == Some(g.phase) {
            continue;
        }
        let reason = steps
            .iter()
            .rev()
            .find(|s| s.generation == g.number && s.to == g.phase)
            .map_or("saved", |s| s.reason);
        let n = next_seq();
        let body = json!({
            "EventID": "acc.rotation",
            "Seq": n,
            "TimeCreated": crate::event_store::time_created(now_ms),
            "Computer": computer,
            "Keywords": "Audit Success",
            "Generation": g.number,
            "UserName": g.user_name,
            "From": from.map_or(Value::Null, |p| json!(p)),
            "To": g.phase,
            "Reason": reason,
            "RetireDeadline": g.retire_deadline.map_or(Value::Null, crate::event_store::time_created),
            "Stalled": false,
        });
        out.push(acc_proto::ForwardedEvent {
            seq: n,
            event_id: "acc.rotation".into(),
            time_ms: now_ms,
            target_user: Some(g.user_name.to_lowercase()),
            body,
        });
    }
    out
}

/// Checks `rotation.grace` (L-GRACE).
pub fn check_grace(grace: u64) -> Result<(), Problem> {
    if grace > MAX_GRACE {
        return Err(Problem::new(
            "rotation",
            "L-GRACE",
            format!("rotation.grace: {grace} s is out of range; use 0 to 7776000 s (90 days)"),
        ));
    }
    Ok(())
}

fn settle_as(
    doc: &mut PolicyDocument,
    all_sites_created: bool,
    now_ms: i64,
    reason: &'static str,
) -> Vec<RotationStep> {
    let mut steps = Vec::new();
    let grace_ms = i64::try_from(doc.rotation_grace.saturating_mul(1000)).unwrap_or(i64::MAX);
    let switch =
        doc.generation_in(GenerationPhase::Provisioning).is_some_and(|g| all_sites_created || !g.is_local());
    if switch {
        for g in doc.generations.iter_mut() {
            match g.phase {
                GenerationPhase::Retiring => steps.push(step(g, GenerationPhase::Removed, "superseded")),
                GenerationPhase::Active => {
                    g.retire_deadline = Some(now_ms.saturating_add(grace_ms));
                    let to = if grace_ms == 0 { GenerationPhase::Removed } else { GenerationPhase::Retiring };
                    steps.push(step(g, to, reason));
                }
                _ => {}
            }
        }
        for g in doc.generations.iter_mut().filter(|g| g.phase == GenerationPhase::Provisioning) {
            steps.push(step(g, GenerationPhase::Active, reason));
        }
    }
    for g in doc.generations.iter_mut() {
        if g.phase == GenerationPhase::Retiring && g.retire_deadline.is_some_and(|d| now_ms >= d) {
            steps.push(step(g, GenerationPhase::Removed, "deadline"));
        }
    }
    steps
}

/// The document as people see it: every `password_hash` replaced by `[REDACTED]`.
pub fn redacted(doc: &PolicyDocument) -> PolicyDocument {
    let mut shown = doc.clone();
    for g in &mut shown.generations {
        if g.password_hash.is_some() {
            g.password_hash = Some(REDACTED.into());
        }
    }
    shown
}

/// What [`redacted`] shows instead of a hash.
pub const REDACTED: &str = "[REDACTED]";

/// [`redacted`] as JSON, the form [`diff`] compares.
pub fn redacted_value(doc: &PolicyDocument) -> Value {
    serde_json::to_value(redacted(doc)).unwrap_or(Value::Null)
}

/// One difference between two documents.
pub use acc_proto::admin::SettingChange as Change;

/// The differences between two documents as people see them ([`redacted`]).
pub fn diff_documents(a: &PolicyDocument, b: &PolicyDocument) -> Vec<Change> {
    diff(&redacted_value(a), &redacted_value(b))
}

/// The differences between two (redacted) documents, leaf by leaf in document order.
/// Generations are matched by number and shares by name, so one addition is one change.
pub fn diff(a: &Value, b: &Value) -> Vec<Change> {
    let mut out = Vec::new();
    walk(String::new(), a, b, &mut out);
    out
}

/// The key an array element is matched by: `number` for generations, `name` for shares.
fn element_key(v: &Value, i: usize) -> String {
    v.get("number")
        .map(|n| n.to_string())
        .or_else(|| v.get("name").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| i.to_string())
}

fn walk(path: String, a: &Value, b: &Value, out: &mut Vec<Change>) {
    let join = |k: &str| if path.is_empty() { k.to_string() } else { format!("{path}.{k}") };
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, va) in x {
                walk(join(k), va, y.get(k).unwrap_or(&Value::Null), out);
            }
            for (k, vb) in y.iter().filter(|(k, _)| !x.contains_key(*k)) {
                walk(join(k), &Value::Null, vb, out);
            }
        }
        (Value::Array(x), Value::Array(y)) if x.iter().chain(y).all(|v| v.is_object()) => {
            let keyed = |items: &Vec<Value>| -> Vec<(String, Value)> {
                items.iter().enumerate().map(|(i, v)| (element_key(v, i), v.clone())).collect()
            };
            let (kx, ky) = (keyed(x), keyed(y));
            for (k, va) in &kx {
                let vb = ky.iter().find(|(kb, _)| kb == k).map_or(&Value::Null, |(_, v)| v);
                walk(format!("{path}[{k}]"), va, vb, out);
            }
            for (k, vb) in ky.iter().filter(|(k, _)| !kx.iter().any(|(ka, _)| ka == k)) {
                walk(format!("{path}[{k}]"), &Value::Null, vb, out);
            }
        }
        _ if a != b => out.push(Change { path, from: a.clone(), to: b.clone() }),
        _ => {}
    }
}

/// A one-line summary of a revision: its changed paths (at most five, then a count).
pub fn summary(before: &PolicyDocument, after: &PolicyDocument) -> String {
    let changes = diff_documents(before, after);
    let mut paths: Vec<String> = Vec::new();
    for c in &changes {
        // Summarise a new generation or share as one entry.
        let p = match c.path.find(']') {
            Some(i) if c.path.starts_with("generations[") || c.path.starts_with("shares[") => {
                c.path[..=i].to_string()
            }
            _ => c.path.clone(),
        };
        if !paths.contains(&p) {
            paths.push(p);
        }
    }
    match paths.len() {
        0 => "no change".to_string(),
        n if n <= 5 => paths.join(", "),
        n => format!("{} and {} more", paths[..5].join(", "), n - 5),
    }
}

#[cfg(test)]
mod tests;
