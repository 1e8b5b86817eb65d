//! Save-time validation of a new ACC (user name, password, confirmation): checks V1–V4
//! and V6 of specification 3.2.2 for the first two fields of 5.5, with the exact messages
//! and the warnings W-DOMAIN and W-APPMODE.
//!
//! It owns the order (user name, then password; at most one message per field; the first
//! failing check within a field; no password check at all after U-APPID) and the rules
//! tying a new name to earlier generations (U-REUSED, U-NOCHANGE, U-PWCHANGE, P-APPID,
//! P-REUSED). It holds no stored password: the caller's vault answers through
//! [`PasswordOracle`], and the directory through [`DirectoryLookup`]. Lockout, site,
//! rotation and share-access fields are checked elsewhere and come after these two.

use serde::Serialize;

use crate::name::{
    DirectoryNames, NameParts, UserName, UserNameError, UserNameForm, UserNameRules, suggest_user_name,
    validate_user_name,
};
use crate::password::{PasswordContext, PasswordError, PasswordPolicy, Secret, check_password_entry};

/// A field of the settings form, in the order of 5.5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Field {
    /// `user name`.
    #[serde(rename = "user name")]
    UserName,
    /// `password`.
    #[serde(rename = "password")]
    Password,
}

impl Field {
    /// The field label used in the messages.
    pub const fn label(self) -> &'static str {
        match self {
            Field::UserName => "user name",
            Field::Password => "password",
        }
    }
}

/// One refused field: the message id of 5.5 and the exact message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field the message belongs to.
    pub field: Field,
    /// The message id, e.g. `P-CLASSES`.
    pub id: &'static str,
    /// The message, verbatim as the console and the REST API return it.
    pub message: String,
}

impl From<UserNameError> for FieldError {
    fn from(err: UserNameError) -> Self {
        FieldError { field: Field::UserName, id: err.id(), message: err.to_string() }
    }
}

impl From<PasswordError> for FieldError {
    fn from(err: PasswordError) -> Self {
        FieldError { field: Field::Password, id: err.id(), message: err.to_string() }
    }
}

pub use crate::generation::GenerationPhase;

/// What the check needs to know about one existing generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerationRecord {
    /// 1, 2, 3 … per management server.
    pub number: u32,
    /// The stored user name (`ACC_User_v1`, `CORP\acc_svc`).
    pub user_name: String,
    /// Its phase.
    pub phase: GenerationPhase,
}

/// The vault's answers about stored passwords (K4). The candidate is passed in NFC, the
/// form that is hashed. Implementations compare with the vault and never log.
pub trait PasswordOracle {
    /// `true` when `password` is the App ID's password.
    fn is_app_id_password(&self, password: &Secret) -> bool;
    /// The generation (number and user name) that used `password`, if any; with several,
    /// the most recent.
    fn generation_with_password(&self, password: &Secret) -> Option<(u32, String)>;
    /// `true` when `password` is the password of generation `number`.
    fn is_password_of_generation(&self, number: u32, password: &Secret) -> bool;
}

/// What the directory says about a domain account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DomainAccountState {
    /// It exists and is enabled.
    Enabled,
    /// It exists and is disabled.
    Disabled,
    /// It does not exist.
    NotFound,
}

/// The directory on the management server (V6). Asked only for a domain-form name that
/// passed every other user-name check.
pub trait DirectoryLookup {
    /// The state of the domain account `user_name`.
    fn domain_account_state(&self, user_name: &UserName) -> DomainAccountState;
}

/// Everything the check needs besides the entered values.
#[derive(Clone, Copy)]
pub struct CheckContext<'a> {
    /// The App ID's sAMAccountName, e.g. `svc_appid`.
    pub app_id: &'a str,
    /// The directory's NetBIOS and DNS names.
    pub directory: &'a DirectoryNames,
    /// The names of every site server in the inventory.
    pub site_servers: &'a [String],
    /// The management server's name.
    pub management_server: &'a str,
    /// The organisation name setting (empty when unset).
    pub organisation: &'a str,
    /// Every generation of this management server, including removed ones.
    pub generations: &'a [GenerationRecord],
    /// The password policy in force.
    pub policy: PasswordPolicy,
    /// The vault.
    pub passwords: &'a dyn PasswordOracle,
    /// The directory.
    pub directory_lookup: &'a dyn DirectoryLookup,
}

/// The values the administrator entered.
#[derive(Debug, Clone, Copy)]
pub struct NewCredential<'a> {
    /// The user name as typed.
    pub user_name: &'a str,
    /// The password.
    pub password: &'a Secret,
    /// The password typed a second time.
    pub confirmation: &'a Secret,
}

/// The result of [`check_new_credential`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialCheck {
    /// At most one message per field, user name first.
    pub errors: Vec<FieldError>,
    /// Warnings to show with a successful save (W-DOMAIN); empty when there are errors.
    pub warnings: Vec<String>,
    /// The validated user name, when the user-name field passed.
    pub user_name: Option<UserName>,
    /// The number the new generation would get.
    pub next_generation: u32,
}

impl CredentialCheck {
    /// `true` when both fields passed (share access may then be checked, 5.5).
    pub fn passed(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Validates a new ACC for the user-name and password fields of 5.5.
pub fn check_new_credential(new: &NewCredential<'_>, ctx: &CheckContext<'_>) -> CredentialCheck {
    let next_generation = ctx.generations.iter().map(|g| g.number).max().unwrap_or(0).saturating_add(1);
    let mut errors = Vec::new();
    let name_result = check_user_name(new.user_name, ctx, next_generation);
    let user_name = match name_result {
        Ok(name) => Some(name),
        Err(UserNameError::AppId { typed }) => {
            // One mistake, one message: the password is not looked at.
            errors.push(UserNameError::AppId { typed }.into());
            return CredentialCheck { errors, warnings: Vec::new(), user_name: None, next_generation };
        }
        Err(err) => {
            errors.push(err.into());
            None
        }
    };
    if let Err(err) = check_password_field(new, ctx, next_generation) {
        errors.push(err.into());
    }
    let warnings = match &user_name {
        Some(name) if errors.is_empty() && name.form() == UserNameForm::Domain => {
            vec![domain_warning(name.typed())]
        }
        _ => Vec::new(),
    };
    CredentialCheck { errors, warnings, user_name, next_generation }
}

/// The user-name field: U-EMPTY … U-DOT (5.4), U-REUSED (V3), U-DOMAIN-* (V6).
fn check_user_name(
    typed: &str,
    ctx: &CheckContext<'_>,
    next_generation: u32,
) -> Result<UserName, UserNameError> {
    let rules =
        UserNameRules { app_id: ctx.app_id, directory: ctx.directory, site_servers: ctx.site_servers };
    let name = validate_user_name(typed, &rules)?;
    let key = name.parts().key(ctx.directory);
    let reused = ctx
        .generations
        .iter()
        .filter(|g| matches!(g.phase, GenerationPhase::Retiring | GenerationPhase::Removed))
        .filter(|g| NameParts::split(&g.user_name).key(ctx.directory) == key)
        .map(|g| g.number)
        .max();
    if let Some(generation) = reused {
        return Err(UserNameError::Reused {
            typed: typed.to_owned(),
            generation,
            suggestion: suggest_user_name(name.account().as_str(), next_generation),
        });
    }
    if name.form() == UserNameForm::Domain {
        match ctx.directory_lookup.domain_account_state(&name) {
            DomainAccountState::Enabled => {}
            DomainAccountState::Disabled => {
                return Err(UserNameError::DomainDisabled { typed: typed.to_owned() });
            }
            DomainAccountState::NotFound => {
                return Err(UserNameError::DomainNotFound { typed: typed.to_owned() });
            }
        }
    }
    Ok(name)
}

/// The password field: U-NOCHANGE, U-PWCHANGE (3.2.5), P-EMPTY … P-PATTERN (5.1–5.3),
/// P-APPID (V2), P-REUSED (V4).
fn check_password_field(
    new: &NewCredential<'_>,
    ctx: &CheckContext<'_>,
    next_generation: u32,
) -> Result<(), PasswordError> {
    let nfc = new.password.nfc();
    let parts = NameParts::split(new.user_name);
    let active = ctx.generations.iter().find(|g| g.phase == GenerationPhase::Active);
    if let Some(active) =
        active.filter(|a| NameParts::split(&a.user_name).key(ctx.directory) == parts.key(ctx.directory))
    {
        if ctx.passwords.is_password_of_generation(active.number, &nfc) {
            return Err(PasswordError::NoChange);
        }
        return Err(PasswordError::PasswordChange {
            name: active.user_name.clone(),
            suggestion: suggest_user_name(parts.account, next_generation),
        });
    }
    let context = PasswordContext {
        user_name: new.user_name,
        management_server: ctx.management_server,
        site_servers: ctx.site_servers,
        organisation: ctx.organisation,
    };
    check_password_entry(&ctx.policy, new.password, new.confirmation, &context)?;
    if ctx.passwords.is_app_id_password(&nfc) {
        return Err(PasswordError::AppId);
    }
    if let Some((generation, name)) = ctx.passwords.generation_with_password(&nfc) {
        return Err(PasswordError::Reused { generation, name });
    }
    Ok(())
}

/// W-DOMAIN: shown when a domain-form ACC is saved.
pub fn domain_warning(typed: &str) -> String {
    format!(
        "warning: '{}' is a domain account; site servers will not create, re-enable or refresh it, and its lockouts are domain-wide",
        crate::name::shown(typed)
    )
}

/// W-APPMODE: shown when the authentication mode `application` is saved; `app_id` is the
/// App ID as displayed, e.g. `CORP\svc_appid`.
pub fn app_mode_warning(app_id: &str) -> String {
    format!(
        "warning: agents will authenticate with the App ID '{}'; stale agents can lock it out and stop the console \u{2014} prefer an Agent Connectivity Credential",
        crate::name::shown(app_id)
    )
}

#[cfg(test)]
mod tests;
