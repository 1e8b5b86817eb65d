//! The web console's users: who may sign in, with which role. Names are checked here,
//! passwords against the specification's rules (5.5, NIST policy) and kept only as their
//! Argon2id hash; verification runs off the async threads. The first user, `admin`, is made
//! by `acc server init`, which writes its password once to `DIR/admin-password`.
//! Every change is an `acc.console` event with who made it.

use acc_core::password::{PasswordContext, PasswordPolicy, Secret};
use serde_json::json;

use crate::error::ServerError;
use crate::server::Server;
use crate::store::{self, UserRow};
use crate::tokens::Role;

/// The longest user name, characters.
pub const MAX_NAME_CHARS: usize = 64;

/// The first user's name.
pub const FIRST_USER: &str = "admin";

/// The length of the first user's random password.
pub const FIRST_PASSWORD_CHARS: usize = 20;

/// A signed-in console user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    /// The user name as created.
    pub name: String,
    /// Its role.
    pub role: Role,
}

/// Checks a user name: 1 to 64 letters, digits, `.`, `_` or `-`, starting with a letter or
/// digit. Returns it unchanged.
pub fn check_user_name(name: &str) -> Result<&str, ServerError> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    let n = name.chars().count();
    if n == 0 || n > MAX_NAME_CHARS {
        return Err(ServerError::Invalid(format!(
            "user name: give 1 to {MAX_NAME_CHARS} characters (letters, digits, '.', '_', '-')"
        )));
    }
    if !name.chars().all(ok_char) || !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(ServerError::Invalid(format!(
            "user name '{}': use letters, digits, '.', '_' and '-' only, starting with a letter or digit",
            name.escape_debug()
        )));
    }
    Ok(name)
}

/// The rules of 5.5 for a console user's password (NIST policy: 15 characters or more,
/// not common, not a name of this system, not a pattern).
pub fn check_user_password(
    user: &str,
    password: &Secret,
    server_name: &str,
    organisation: &str,
) -> Result<Secret, ServerError> {
    let context =
        PasswordContext { user_name: user, management_server: server_name, site_servers: &[], organisation };
    let nfc = password.nfc();
    acc_core::password::check_password(&PasswordPolicy::default(), &nfc, &context)
        .map_err(|e| ServerError::Invalid(e.to_string()))?;
    Ok(nfc)
}

impl From<&UserRow> for acc_proto::users::User {
    fn from(u: &UserRow) -> Self {
        acc_proto::users::User {
            name: u.name.clone(),
            role: u.role.as_str().into(),
            created_at: u.created_at,
            password_changed_at: u.password_changed_at,
        }
    }
}

/// A hash to verify against when the user does not exist, so that an unknown name costs
/// the same time as a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        acc_core::password::hash_password(&Secret::new("decoy password, never valid"), &[7u8; 16])
            .unwrap_or_default()
    })
}

impl Server {
    /// Every console user, by name.
    pub async fn users(&self) -> Result<acc_proto::users::UserList, ServerError> {
        let rows = store::users(&self.pool).await?;
        Ok(acc_proto::users::UserList { users: rows.iter().map(Into::into).collect() })
    }

    /// Creates a console user; `by` is who asks (for the event).
    pub async fn add_user(
        &self,
        name: &str,
        role: Role,
        password: &Secret,
        by: &str,
    ) -> Result<acc_proto::users::User, ServerError> {
        let name = check_user_name(name)?;
        let nfc = check_user_password(name, password, &self.config().name, &self.config().organisation)?;
        let now = self.now_ms();
        let row = UserRow {
            name_key: name.to_lowercase(),
            name: name.to_string(),
            role,
            password_hash: crate::vault::hash_password(&nfc)?,
            created_at: now,
            password_changed_at: now,
        };
        if !store::add_user(&self.pool, &row).await? {
            return Err(ServerError::Invalid(format!("user '{name}' exists; choose another name")));
        }
        self.user_event("user_added", name, by, json!({ "Role": role.as_str() })).await;
        Ok((&row).into())
    }

    /// Removes a console user; the last admin cannot be removed.
    pub async fn remove_user(&self, name: &str, by: &str) -> Result<(), ServerError> {
        let users = store::users(&self.pool).await?;
        let key = name.to_lowercase();
        let Some(user) = users.iter().find(|u| u.name_key == key) else {
            return Err(no_such_user(name));
        };
        if user.role == Role::Admin && users.iter().filter(|u| u.role == Role::Admin).count() == 1 {
            return Err(ServerError::Invalid(format!(
                "user '{}' is the last admin; add another admin before removing it",
                user.name
            )));
        }
        if !store::remove_user(&self.pool, &key).await? {
            return Err(no_such_user(name));
        }
        self.user_event("user_removed", &user.name, by, json!({})).await;
        Ok(())
    }

    /// Sets a console user's password.
    pub async fn set_user_password(
        &self,
        name: &str,
        password: &Secret,
        by: &str,
    ) -> Result<(), ServerError> {
        let key = name.to_lowercase();
        let users = store::users(&self.pool).await?;
        let user = users.iter().find(|u| u.name_key == key).ok_or_else(|| no_such_user(name))?;
        let nfc =
            check_user_password(&user.name, password, &self.config().name, &self.config().organisation)?;
        let hash = crate::vault::hash_password(&nfc)?;
        if !store::set_user_password(&self.pool, &key, &hash, self.now_ms()).await? {
            return Err(no_such_user(name));
        }
        self.user_event("password_set", &user.name, by, json!({})).await;
        Ok(())
    }

    /// Checks a user name and password; `None` for an unknown user or a wrong password
    /// (the same work either way). Argon2id runs on a blocking thread.
    pub async fn verify_user(&self, name: &str, password: &Secret) -> Result<Option<SignedIn>, ServerError> {
        let key = name.to_lowercase();
        let user = store::users(&self.pool).await?.into_iter().find(|u| u.name_key == key);
        let hash = user.as_ref().map_or_else(|| decoy_hash().to_string(), |u| u.password_hash.clone());
        let nfc = password.nfc();
        let ok = tokio::task::spawn_blocking(move || acc_core::password::verify_password(&hash, &nfc))
            .await
            .unwrap_or(false);
        Ok(user.filter(|_| ok).map(|u| SignedIn { name: u.name, role: u.role }))
    }

    /// One `acc.console` event: `action` on user `user`, by `by`, with `fields`.
    pub(crate) async fn user_event(&self, action: &str, user: &str, by: &str, fields: serde_json::Value) {
        let mut body = json!({ "Action": action, "TargetUserName": user, "SubjectUserName": by });
        if let (Some(b), serde_json::Value::Object(f)) = (body.as_object_mut(), fields) {
            b.extend(f);
        }
        self.record_event("acc.console", "Audit Success", Some(user), body).await;
    }
}

fn no_such_user(name: &str) -> ServerError {
    ServerError::Invalid(format!("user '{}' does not exist; see acc ctl user list", name.escape_debug()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_are_checked() {
        assert_eq!(check_user_name("alice.o-k_1").unwrap(), "alice.o-k_1");
        for bad in ["", "-x", "a b", "ünï", &"a".repeat(65)] {
            assert!(check_user_name(bad).unwrap_err().to_string().starts_with("user name"), "{bad}");
        }
    }

    #[test]
    fn passwords_follow_the_rules_of_5_5() {
        let check = |p: &str| check_user_password("alice", &Secret::new(p), "MGMT01", "Examplecorp");
        assert!(check("correct horse battery staple").is_ok());
        assert!(check("short1!").unwrap_err().to_string().contains("too short"));
        assert!(check("abcdefghijklmnopq").unwrap_err().to_string().contains("pattern"));
    }
}
