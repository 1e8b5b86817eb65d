//! `verify-package`: the cached copy of a package is checked against its manifest, file by
//! file (SHA-256 and size); the result names the files that differ.

use std::path::Path;

use serde_json::Value;

use super::Outcome;

/// Check the cached copy of package `name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyPackage {
    /// The package.
    pub name: String,
}

impl VerifyPackage {
    /// From a payload naming the package (`name` or `package`).
    pub fn parse(payload: &Value) -> VerifyPackage {
        VerifyPackage { name: super::package_name(payload) }
    }

    /// Verifies it in the cache under `state_dir`.
    pub fn run(self, state_dir: &Path) -> Outcome {
        let name = &self.name;
        match crate::download::verify(state_dir, name) {
            Ok(bad) if bad.is_empty() => {
                Outcome::completed(format!("{name}: every file matches its SHA-256"))
            }
            Ok(bad) => {
                Outcome::failed(format!("{name}: {} differ from the manifest: {}", bad.len(), bad.join(", ")))
            }
            Err(e) => Outcome::failed(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use acc_proto::agent_site::ResultStatus;

    #[test]
    fn a_package_not_in_the_cache_fails_with_the_way_out() {
        let d = tempfile::tempdir().unwrap();
        let out = VerifyPackage { name: "tools".into() }.run(d.path());
        assert_eq!(out.status, ResultStatus::Failed);
        assert_eq!(out.output, "package tools is not in the cache; download it first");
        let out = VerifyPackage { name: "../x".into() }.run(d.path());
        assert!(out.output.starts_with("package name '../x'"), "{}", out.output);
    }
}
