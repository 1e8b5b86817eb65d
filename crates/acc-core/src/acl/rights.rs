//! Rights at the two levels of a share and the one currency both are measured in.
//!
//! A share-level ACE grants `Read`, `Change` or `Full` (as SMB share permissions); a
//! file-level ACE grants one of the NTFS standard rights `Read`, `ReadAndExecute`, `Write`,
//! `Modify`, `FullControl`. Both are mapped onto a Windows [`AccessMask`], so "what does this
//! allow" is one bit test and the effective access of a share is the bitwise intersection of
//! the two levels (specification F25). This module also parses the CLI's
//! `read|change|full` and `share|file` words. It knows nothing about principals or paths.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A Windows access mask (the bits of `ACCESS_MASK` for files and directories).
///
/// The bits acc uses, with their Windows names:
///
/// | bit | file name | directory name |
/// | --- | --- | --- |
/// | `0x1` | `FILE_READ_DATA` (ReadData) | `FILE_LIST_DIRECTORY` (ListDirectory) |
/// | `0x2` | `FILE_WRITE_DATA` (WriteData) | `FILE_ADD_FILE` |
/// | `0x4` | `FILE_APPEND_DATA` (AppendData) | `FILE_ADD_SUBDIRECTORY` |
/// | `0x8` | `FILE_READ_EA` | |
/// | `0x10` | `FILE_WRITE_EA` | |
/// | `0x20` | `FILE_EXECUTE` | `FILE_TRAVERSE` |
/// | `0x40` | | `FILE_DELETE_CHILD` |
/// | `0x80` | `FILE_READ_ATTRIBUTES` | |
/// | `0x100` | `FILE_WRITE_ATTRIBUTES` | |
/// | `0x10000` | `DELETE` | |
/// | `0x20000` | `READ_CONTROL` | |
/// | `0x40000` | `WRITE_DAC` | |
/// | `0x80000` | `WRITE_OWNER` | |
/// | `0x100000` | `SYNCHRONIZE` | |
///
/// "Read" in every check of this crate means [`AccessMask::READ_DATA`] (`0x1`): it is the bit
/// a download needs and the one the 5145 event reports as `AccessMask`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccessMask(pub u32);

impl AccessMask {
    /// No access.
    pub const NONE: AccessMask = AccessMask(0);
    /// `FILE_READ_DATA` / `FILE_LIST_DIRECTORY`: read a file's content, list a folder.
    pub const READ_DATA: AccessMask = AccessMask(0x1);
    /// `FILE_WRITE_DATA` / `FILE_ADD_FILE`.
    pub const WRITE_DATA: AccessMask = AccessMask(0x2);
    /// `FILE_APPEND_DATA` / `FILE_ADD_SUBDIRECTORY`.
    pub const APPEND_DATA: AccessMask = AccessMask(0x4);
    /// `FILE_READ_EA`.
    pub const READ_EA: AccessMask = AccessMask(0x8);
    /// `FILE_WRITE_EA`.
    pub const WRITE_EA: AccessMask = AccessMask(0x10);
    /// `FILE_EXECUTE` / `FILE_TRAVERSE`.
    pub const EXECUTE: AccessMask = AccessMask(0x20);
    /// `FILE_DELETE_CHILD`.
    pub const DELETE_CHILD: AccessMask = AccessMask(0x40);
    /// `FILE_READ_ATTRIBUTES`.
    pub const READ_ATTRIBUTES: AccessMask = AccessMask(0x80);
    /// `FILE_WRITE_ATTRIBUTES`.
    pub const WRITE_ATTRIBUTES: AccessMask = AccessMask(0x100);
    /// `DELETE`.
    pub const DELETE: AccessMask = AccessMask(0x1_0000);
    /// `READ_CONTROL` (read permissions).
    pub const READ_CONTROL: AccessMask = AccessMask(0x2_0000);
    /// `WRITE_DAC` (change permissions).
    pub const WRITE_DAC: AccessMask = AccessMask(0x4_0000);
    /// `WRITE_OWNER` (take ownership).
    pub const WRITE_OWNER: AccessMask = AccessMask(0x8_0000);
    /// `SYNCHRONIZE`.
    pub const SYNCHRONIZE: AccessMask = AccessMask(0x10_0000);

    /// Every bit of `other` is set in `self`.
    pub const fn contains(self, other: AccessMask) -> bool {
        self.0 & other.0 == other.0
    }

    /// At least one bit of `other` is set in `self`.
    pub const fn intersects(self, other: AccessMask) -> bool {
        self.0 & other.0 != 0
    }

    /// Bits in both.
    pub const fn intersection(self, other: AccessMask) -> AccessMask {
        AccessMask(self.0 & other.0)
    }

    /// Bits in either.
    pub const fn union(self, other: AccessMask) -> AccessMask {
        AccessMask(self.0 | other.0)
    }

    /// Bits of `self` that are not in `other`.
    pub const fn difference(self, other: AccessMask) -> AccessMask {
        AccessMask(self.0 & !other.0)
    }

    /// Whether this mask lets its holder read data (the bit every check of this crate needs).
    pub const fn allows_read(self) -> bool {
        self.contains(AccessMask::READ_DATA)
    }
}

impl fmt::Debug for AccessMask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccessMask({self})")
    }
}

/// As Windows prints it in events: lower-case hex with `0x`, e.g. `0x1`, `0x1200a9`.
impl fmt::Display for AccessMask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

/// A share-level right, ordered `Read < Change < Full` (SMB share permissions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ShareRight {
    /// Read and execute: `0x1200a9`.
    Read,
    /// Read, write and delete: `0x1301bf`.
    Change,
    /// Everything, including changing permissions: `0x1f01ff`.
    Full,
}

impl ShareRight {
    /// The access mask Windows stores in a share's security descriptor for this right.
    pub const fn mask(self) -> AccessMask {
        match self {
            ShareRight::Read => AccessMask(0x12_00a9),
            ShareRight::Change => AccessMask(0x13_01bf),
            ShareRight::Full => AccessMask(0x1f_01ff),
        }
    }

    /// The name as the console shows it.
    pub const fn as_str(self) -> &'static str {
        match self {
            ShareRight::Read => "Read",
            ShareRight::Change => "Change",
            ShareRight::Full => "Full Control",
        }
    }
}

impl fmt::Display for ShareRight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A file-level right: the NTFS standard permissions. They are not totally ordered
/// (`Write` alone does not include `Read`); compare them through [`FileRight::mask`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileRight {
    /// Read data, attributes, extended attributes and permissions: `0x120089`.
    Read,
    /// `Read` plus execute/traverse: `0x1200a9`.
    ReadAndExecute,
    /// Write data, append, write attributes and extended attributes: `0x100116`. No read.
    Write,
    /// `ReadAndExecute` plus `Write` plus delete: `0x1301bf`.
    Modify,
    /// Everything: `0x1f01ff`.
    FullControl,
}

impl FileRight {
    /// Every file-level right, weakest first (by the number of bits).
    pub const ALL: [FileRight; 5] = [
        FileRight::Read,
        FileRight::ReadAndExecute,
        FileRight::Write,
        FileRight::Modify,
        FileRight::FullControl,
    ];

    /// The access mask Windows stores in an ACE for this right (with `SYNCHRONIZE`, as
    /// Explorer and `icacls` write it).
    pub const fn mask(self) -> AccessMask {
        match self {
            FileRight::Read => AccessMask(0x12_0089),
            FileRight::ReadAndExecute => AccessMask(0x12_00a9),
            FileRight::Write => AccessMask(0x10_0116),
            FileRight::Modify => AccessMask(0x13_01bf),
            FileRight::FullControl => AccessMask(0x1f_01ff),
        }
    }

    /// The name as the Windows security dialog shows it.
    pub const fn as_str(self) -> &'static str {
        match self {
            FileRight::Read => "Read",
            FileRight::ReadAndExecute => "Read & Execute",
            FileRight::Write => "Write",
            FileRight::Modify => "Modify",
            FileRight::FullControl => "Full Control",
        }
    }
}

impl fmt::Display for FileRight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The right word of `acc site shares grant SHARE PRINCIPAL read|change|full`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GrantRight {
    /// `read`.
    Read,
    /// `change`.
    Change,
    /// `full`.
    Full,
}

impl GrantRight {
    /// The share-level right this word grants.
    pub const fn share_right(self) -> ShareRight {
        match self {
            GrantRight::Read => ShareRight::Read,
            GrantRight::Change => ShareRight::Change,
            GrantRight::Full => ShareRight::Full,
        }
    }

    /// The file-level right this word grants: `read` is NTFS `Read`, `change` is `Modify`
    /// (what SMB `Change` corresponds to), `full` is `FullControl`.
    pub const fn file_right(self) -> FileRight {
        match self {
            GrantRight::Read => FileRight::Read,
            GrantRight::Change => FileRight::Modify,
            GrantRight::Full => FileRight::FullControl,
        }
    }
}

/// The level word of `--level share|file`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AclLevel {
    /// The share's own ACL (SMB share permissions).
    Share,
    /// The ACLs of the folders and files in the share (NTFS permissions).
    File,
}

impl fmt::Display for AclLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AclLevel::Share => "share",
            AclLevel::File => "file",
        })
    }
}

/// A CLI word that is not a right or a level.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RightParseError {
    /// Not `read`, `change` or `full`.
    #[error("unknown right '{0}': expected read, change or full")]
    Right(String),
    /// Not a file-level right name.
    #[error("unknown file-level right '{0}': expected read, read-and-execute, write, modify or full-control")]
    FileRight(String),
    /// Not `share` or `file`.
    #[error("unknown level '{0}': expected share or file")]
    Level(String),
}

impl FromStr for GrantRight {
    type Err = RightParseError;

    /// Accepts `read`, `change`, `full` in any case (and `full-control`, `fullcontrol`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "read" => Ok(GrantRight::Read),
            "change" => Ok(GrantRight::Change),
            "full" | "full-control" | "fullcontrol" => Ok(GrantRight::Full),
            _ => Err(RightParseError::Right(s.to_owned())),
        }
    }
}

impl FromStr for ShareRight {
    type Err = RightParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse::<GrantRight>().map(GrantRight::share_right)
    }
}

impl FromStr for FileRight {
    type Err = RightParseError;

    /// Accepts the kebab-case names (`read-and-execute`, `full-control`), the Windows names
    /// without separators (`ReadAndExecute`, `FullControl`) and `full`, in any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().replace(['-', '_', ' '], "").as_str() {
            "read" => Ok(FileRight::Read),
            "readandexecute" | "readexecute" => Ok(FileRight::ReadAndExecute),
            "write" => Ok(FileRight::Write),
            "modify" => Ok(FileRight::Modify),
            "fullcontrol" | "full" => Ok(FileRight::FullControl),
            _ => Err(RightParseError::FileRight(s.to_owned())),
        }
    }
}

impl FromStr for AclLevel {
    type Err = RightParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "share" => Ok(AclLevel::Share),
            "file" => Ok(AclLevel::File),
            _ => Err(RightParseError::Level(s.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_rights_are_ordered_and_nested() {
        assert!(ShareRight::Read < ShareRight::Change && ShareRight::Change < ShareRight::Full);
        assert!(ShareRight::Change.mask().contains(ShareRight::Read.mask()));
        assert!(ShareRight::Full.mask().contains(ShareRight::Change.mask()));
        for r in [ShareRight::Read, ShareRight::Change, ShareRight::Full] {
            assert!(r.mask().allows_read(), "{r}");
        }
    }

    #[test]
    fn file_rights_allow_read_except_write() {
        let read: Vec<_> = FileRight::ALL.iter().filter(|r| r.mask().allows_read()).copied().collect();
        assert_eq!(
            read,
            [FileRight::Read, FileRight::ReadAndExecute, FileRight::Modify, FileRight::FullControl]
        );
        assert!(FileRight::Modify.mask().contains(FileRight::Write.mask()));
        assert!(FileRight::Modify.mask().contains(FileRight::ReadAndExecute.mask()));
        assert!(FileRight::ReadAndExecute.mask().contains(FileRight::Read.mask()));
        assert_eq!(FileRight::FullControl.mask(), ShareRight::Full.mask());
        assert_eq!(FileRight::Modify.mask(), ShareRight::Change.mask());
        assert_eq!(FileRight::ReadAndExecute.mask(), ShareRight::Read.mask());
    }

    #[test]
    fn intersection_of_levels_decides_read() {
        // Share Full with file Write: no read, as on Windows.
        let eff = ShareRight::Full.mask().intersection(FileRight::Write.mask());
        assert!(!eff.allows_read());
        let eff = ShareRight::Read.mask().intersection(FileRight::FullControl.mask());
        assert!(eff.allows_read());
        assert!(!eff.intersects(AccessMask::WRITE_DATA));
    }

    #[test]
    fn masks_print_as_windows_hex() {
        assert_eq!(AccessMask::READ_DATA.to_string(), "0x1");
        assert_eq!(ShareRight::Read.mask().to_string(), "0x1200a9");
        assert_eq!(format!("{:?}", AccessMask(0x116)), "AccessMask(0x116)");
    }

    #[test]
    fn cli_words_parse_with_clear_errors() {
        assert_eq!("read".parse::<GrantRight>(), Ok(GrantRight::Read));
        assert_eq!("Change".parse::<GrantRight>(), Ok(GrantRight::Change));
        assert_eq!("FULL".parse::<GrantRight>(), Ok(GrantRight::Full));
        assert_eq!("full".parse::<ShareRight>(), Ok(ShareRight::Full));
        assert_eq!(
            "write".parse::<GrantRight>().unwrap_err().to_string(),
            "unknown right 'write': expected read, change or full"
        );
        assert_eq!("share".parse::<AclLevel>(), Ok(AclLevel::Share));
        assert_eq!("File".parse::<AclLevel>(), Ok(AclLevel::File));
        assert_eq!(
            "ntfs".parse::<AclLevel>().unwrap_err().to_string(),
            "unknown level 'ntfs': expected share or file"
        );
        assert_eq!("ReadAndExecute".parse::<FileRight>(), Ok(FileRight::ReadAndExecute));
        assert_eq!("full-control".parse::<FileRight>(), Ok(FileRight::FullControl));
        assert_eq!(
            "change".parse::<FileRight>().unwrap_err().to_string(),
            "unknown file-level right 'change': expected read, read-and-execute, write, modify or full-control"
        );
        assert_eq!(GrantRight::Change.file_right(), FileRight::Modify);
        assert_eq!(GrantRight::Read.file_right(), FileRight::Read);
        assert_eq!(GrantRight::Full.share_right(), ShareRight::Full);
    }
}
