//! The package catalog the management server holds in memory: every package version by
//! (name, version) as loaded from the store, and the (site, package, principal) whose
//! denial was already written as `acc.package_access` (written once until a read
//! succeeds). The package operations are in [`crate::packages`], persistence in
//! [`crate::store`].

use std::collections::{BTreeMap, HashSet};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::store::PackageRow;

/// A package version's key: (name, version).
pub type VersionKey = (String, String);

/// A reported denial: (site, package, principal).
pub type DenialKey = (String, String, String);

/// The package versions and the denials already reported.
#[derive(Debug, Default)]
pub struct Catalog {
    versions: Mutex<BTreeMap<VersionKey, PackageRow>>,
    denials: Mutex<HashSet<DenialKey>>,
}

impl Catalog {
    /// The catalog of `rows` (as the store has them), with no denial reported.
    pub fn new(rows: Vec<PackageRow>) -> Catalog {
        let catalog = Catalog::default();
        catalog.replace(rows);
        catalog
    }

    /// Replaces every version with `rows` (read again from the store).
    pub fn replace(&self, rows: Vec<PackageRow>) {
        *self.versions() =
            rows.into_iter().map(|r| ((r.manifest.name.clone(), r.manifest.version.clone()), r)).collect();
    }

    /// The versions, locked (hold it briefly, never across an `await`).
    pub(crate) fn versions(&self) -> MutexGuard<'_, BTreeMap<VersionKey, PackageRow>> {
        self.versions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The denials already reported, locked (hold it briefly, never across an `await`).
    pub(crate) fn denials(&self) -> MutexGuard<'_, HashSet<DenialKey>> {
        self.denials.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
