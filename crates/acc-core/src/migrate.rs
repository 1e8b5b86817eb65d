//! Versioned database migrations, decided here and applied by each store: one mechanism
//! for the management server's and the site server's databases (and for a second backend).
//! A store keeps the number of the last migration applied (SQLite: `PRAGMA user_version`);
//! [`pending`] says which of the store's [`Migration`]s still apply, in order, and refuses
//! a database written by a newer acc. Each migration's SQL lives in the crate's
//! `migrations/` directory; the store applies a migration and records its number in one
//! transaction, so a failed step leaves the database at the version before it.

/// One schema change: applied to every database whose version is below `version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    /// 1, 2, 3 … without gaps.
    pub version: i64,
    /// What it adds, for messages.
    pub name: &'static str,
    /// The statements (semicolon-separated).
    pub sql: &'static str,
}

impl Migration {
    /// The migration and its version number as one SQLite script (the version in
    /// `PRAGMA user_version`), for the store to run in one transaction.
    pub fn sqlite_script(&self) -> String {
        format!("{}\n;\nPRAGMA user_version = {};", self.sql.trim_end(), self.version)
    }
}

/// Why a database's migrations cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MigrationError {
    /// The database was written by a newer acc.
    #[error("schema version {found} is newer than this acc ({known}); upgrade acc")]
    Newer {
        /// The database's version.
        found: i64,
        /// The last version this acc knows.
        known: i64,
    },
    /// The list is not numbered 1, 2, 3 … (a mistake in the code, caught by its tests).
    #[error("migration {got} is listed where {wanted} belongs")]
    Misnumbered {
        /// The number found.
        got: i64,
        /// The number expected.
        wanted: i64,
    },
}

/// The last version of `migrations` (0 for none).
pub fn latest(migrations: &[Migration]) -> i64 {
    migrations.last().map_or(0, |m| m.version)
}

/// The migrations a database at version `found` still needs, in order.
pub fn pending(found: i64, migrations: &[Migration]) -> Result<&[Migration], MigrationError> {
    for (i, m) in migrations.iter().enumerate() {
        let wanted = i64::try_from(i).unwrap_or(i64::MAX).saturating_add(1);
        if m.version != wanted {
            return Err(MigrationError::Misnumbered { got: m.version, wanted });
        }
    }
    let known = latest(migrations);
    if found > known {
        return Err(MigrationError::Newer { found, known });
    }
    let done = usize::try_from(found.max(0)).unwrap_or(usize::MAX);
    Ok(&migrations[done.min(migrations.len())..])
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: [Migration; 3] = [
        Migration { version: 1, name: "base", sql: "CREATE TABLE a (x TEXT)" },
        Migration { version: 2, name: "b", sql: "CREATE TABLE b (x TEXT)" },
        Migration { version: 3, name: "c", sql: "CREATE TABLE c (x TEXT)" },
    ];

    #[test]
    fn a_database_gets_the_migrations_after_its_version_in_order() {
        let versions = |found| pending(found, &LIST).unwrap().iter().map(|m| m.version).collect::<Vec<_>>();
        assert_eq!(versions(0), [1, 2, 3], "a new (or unversioned) database gets all");
        assert_eq!(versions(1), [2, 3]);
        assert_eq!(versions(3), Vec::<i64>::new());
        assert_eq!(latest(&LIST), 3);
        assert_eq!(latest(&[]), 0);
    }

    #[test]
    fn a_sqlite_script_ends_by_recording_its_version() {
        assert_eq!(LIST[1].sqlite_script(), "CREATE TABLE b (x TEXT)\n;\nPRAGMA user_version = 2;");
    }

    #[test]
    fn a_newer_database_and_a_misnumbered_list_are_refused() {
        let err = pending(4, &LIST).unwrap_err();
        assert_eq!(err, MigrationError::Newer { found: 4, known: 3 });
        assert_eq!(err.to_string(), "schema version 4 is newer than this acc (3); upgrade acc");
        let gap = [LIST[0], LIST[2]];
        assert_eq!(pending(0, &gap).unwrap_err(), MigrationError::Misnumbered { got: 3, wanted: 2 });
    }
}
