//! Account names as Windows treats them: kept as typed, compared case-insensitively
//! (specification 1.2, 5.4). Parsing of the user-name forms (`name`, `.\name`,
//! `DOMAIN\name`, `name@dns.domain`) and their validation live here too.

use std::fmt;
use std::hash::{Hash, Hasher};

use serde::{Deserialize, Serialize};

/// A local account name (or the account part of a domain name). Displayed as created,
/// compared and hashed case-insensitively (Unicode lower case), as on Windows.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccountName(String);

impl AccountName {
    /// Wraps a name without validating it; use the user-name rules to validate input.
    pub fn new(name: impl Into<String>) -> Self {
        AccountName(name.into())
    }

    /// The name as it was created.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The comparison key: the name in Unicode lower case.
    pub fn folded(&self) -> String {
        self.0.to_lowercase()
    }
}

impl PartialEq for AccountName {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0 || self.folded() == other.folded()
    }
}

impl Eq for AccountName {}

impl Hash for AccountName {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.folded().hash(state);
    }
}

impl PartialOrd for AccountName {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for AccountName {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.folded().cmp(&other.folded())
    }
}

impl fmt::Display for AccountName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for AccountName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn compares_case_insensitively_but_keeps_the_typed_form() {
        let a = AccountName::new("ACC_User_v1");
        let b = AccountName::new("acc_user_V1");
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "ACC_User_v1");
        let set: HashSet<_> = [a, b].into_iter().collect();
        assert_eq!(set.len(), 1);
        assert_ne!(AccountName::new("ACC_user"), AccountName::new("ACC_user2"));
    }
}
