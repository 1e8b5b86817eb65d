//! Request paths into shares: `GET /v1/shares/{share}/{path}` turned into a validated
//! [`ShareName`] and [`SharePath`] (a list of relative components), or a typed refusal with
//! its HTTP status. Pure: the site server canonicalises the joined path on disk (symlinks)
//! and asks [`is_within`] / [`relative_to_root`] whether the result stayed in the share.
//!
//! Status codes (a choice, applied consistently):
//! - **400** for every malformed or hostile path: bad percent-encoding, invalid UTF-8,
//!   characters that must be encoded, NUL and control characters, backslashes, encoded
//!   slashes, `.` and `..` segments (traversal is a malformed request here: the path never
//!   resolves, so nothing was denied), absolute paths, drive letters, `:`, empty segments,
//!   trailing dots and spaces, Windows device names, look-alike separators, invalid share
//!   names.
//! - **414** when the path exceeds a length or depth limit ([`MAX_RAW_PATH_BYTES`],
//!   [`MAX_PATH_BYTES`], [`MAX_SEGMENT_BYTES`], [`MAX_DEPTH`]).
//! - **403** only for a canonical path that leaves the share ([`PathError::LeavesShare`]);
//!   otherwise 403 is reserved for ACL denials (which write a 5145 event).
//!
//! Decoding happens exactly once: `%252e%252e` is the literal name `%2e%2e`. Names are not
//! Unicode-normalised (the file system decides what a name is; ACLs match exactly).
//! Trailing dots/spaces, `:` and device names are refused because Windows file systems
//! alias them (`secret.` is `secret`, `file:stream` is a stream), which would let a request
//! dodge a file-level Deny; the same goes for look-alike characters that Windows "best fit"
//! code-page mapping turns into `.`, `/`, `\` or `:`.

use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[cfg(test)]
mod tests;

/// The route prefix [`ShareRequest::from_uri_path`] expects.
pub const SHARES_PREFIX: &str = "/v1/shares/";
/// Longest raw (still percent-encoded) path after the share name, in bytes.
pub const MAX_RAW_PATH_BYTES: usize = 4096;
/// Longest decoded relative path (components joined with `/`), in bytes.
pub const MAX_PATH_BYTES: usize = 1024;
/// Longest decoded component, in bytes (`NAME_MAX` on Linux).
pub const MAX_SEGMENT_BYTES: usize = 255;
/// Most components in a relative path.
pub const MAX_DEPTH: usize = 32;
/// Longest share name, in characters.
pub const MAX_SHARE_NAME_CHARS: usize = 64;

/// Characters refused in names because Windows best-fit mapping turns them into `.`, `/`,
/// `\` or `:` (fullwidth and small forms, division and fraction slashes, set minus, one-dot
/// leader, ratio).
const LOOKALIKES: &[char] = &[
    '\u{FF0E}', '\u{FE52}', '\u{2024}', '\u{FF0F}', '\u{2215}', '\u{2044}', '\u{FF3C}', '\u{2216}',
    '\u{FE68}', '\u{29F5}', '\u{FF1A}', '\u{FE55}', '\u{2236}',
];

/// Windows device names: a component equal to one of these, with or without an extension,
/// opens the device instead of a file.
const DEVICE_NAMES: &[&str] = &[
    "con",
    "prn",
    "aux",
    "nul",
    "com1",
    "com2",
    "com3",
    "com4",
    "com5",
    "com6",
    "com7",
    "com8",
    "com9",
    "lpt1",
    "lpt2",
    "lpt3",
    "lpt4",
    "lpt5",
    "lpt6",
    "lpt7",
    "lpt8",
    "lpt9",
    "conin$",
    "conout$",
    "com\u{b9}",
    "com\u{b2}",
    "com\u{b3}",
    "lpt\u{b9}",
    "lpt\u{b2}",
    "lpt\u{b3}",
];

/// Why a request path or share name was refused. `index` is the 1-based component number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// The share name is not 1–64 of `a-z`, `0-9`, `-`.
    #[error("invalid share name '{0}': use 1 to 64 lower-case letters, digits and '-'")]
    ShareName(String),
    /// The request is not under [`SHARES_PREFIX`].
    #[error("not a share path: expected /v1/shares/{{share}}/{{path}}")]
    NotSharePath,
    /// `%` not followed by two hex digits.
    #[error("malformed percent-encoding in the path")]
    MalformedEncoding,
    /// The decoded bytes of a component are not UTF-8 (includes overlong forms).
    #[error("path component {index} is not valid UTF-8 after decoding")]
    InvalidUtf8 {
        /// Component number.
        index: usize,
    },
    /// A raw character that must be percent-encoded (space, non-ASCII, `?`, `#`).
    #[error("the path contains a character that must be percent-encoded")]
    UnencodedCharacter,
    /// A NUL byte (raw or `%00`).
    #[error("path component {index} contains a NUL byte")]
    Nul {
        /// Component number.
        index: usize,
    },
    /// A control character other than NUL.
    #[error("path component {index} contains a control character")]
    ControlCharacter {
        /// Component number.
        index: usize,
    },
    /// A backslash (raw or `%5c`).
    #[error("path component {index} contains a backslash; use '/' between components")]
    Backslash {
        /// Component number.
        index: usize,
    },
    /// `%2f` inside a component.
    #[error("path component {index} contains an encoded '/' (%2f)")]
    EncodedSlash {
        /// Component number.
        index: usize,
    },
    /// A `..` component (raw or encoded).
    #[error("path component {index} is '..': paths may not leave their folder")]
    Traversal {
        /// Component number.
        index: usize,
    },
    /// A `.` component (raw or encoded).
    #[error("path component {index} is '.': give the path without '.' components")]
    DotSegment {
        /// Component number.
        index: usize,
    },
    /// The path starts with `/`.
    #[error("the path is absolute; give it relative to the share root")]
    Absolute,
    /// The first component is a drive (`C:`).
    #[error("the path starts with a drive letter; give it relative to the share root")]
    DriveLetter,
    /// `:` elsewhere (alternate data streams).
    #[error("path component {index} contains ':'")]
    Colon {
        /// Component number.
        index: usize,
    },
    /// `a//b`, a trailing `/`.
    #[error("path component {index} is empty ('//' or a trailing '/')")]
    EmptySegment {
        /// Component number.
        index: usize,
    },
    /// A component ending in `.` or space (`file.`, `...`).
    #[error("path component {index} ends with '.' or a space")]
    TrailingDotOrSpace {
        /// Component number.
        index: usize,
    },
    /// A Windows device name (`CON`, `nul.txt`).
    #[error("path component {index} is a reserved device name")]
    DeviceName {
        /// Component number.
        index: usize,
    },
    /// A character that Windows maps onto `.`, `/`, `\` or `:`.
    #[error("path component {index} contains a look-alike of '.', '/', '\\' or ':'")]
    Lookalike {
        /// Component number.
        index: usize,
    },
    /// A component longer than [`MAX_SEGMENT_BYTES`].
    #[error("path component {index} is longer than {MAX_SEGMENT_BYTES} bytes")]
    SegmentTooLong {
        /// Component number.
        index: usize,
    },
    /// The raw or decoded path is longer than its limit.
    #[error("the path is longer than {MAX_PATH_BYTES} bytes")]
    TooLong,
    /// More than [`MAX_DEPTH`] components.
    #[error("the path has more than {MAX_DEPTH} components")]
    TooDeep,
    /// The canonical path is outside the share root (a symlink leaving the share).
    #[error("the path resolves outside the share")]
    LeavesShare,
}

impl PathError {
    /// The HTTP status to answer with: 400, 414 or 403 (see the module header). Never 5xx.
    pub const fn status(&self) -> u16 {
        match self {
            PathError::TooLong | PathError::TooDeep | PathError::SegmentTooLong { .. } => 414,
            PathError::LeavesShare => 403,
            _ => 400,
        }
    }
}

/// A share name: 1–64 characters of `a-z`, `0-9`, `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ShareName(String);

impl ShareName {
    /// Validates a share name.
    pub fn parse(name: &str) -> Result<ShareName, PathError> {
        let ok = (1..=MAX_SHARE_NAME_CHARS).contains(&name.len())
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok { Ok(ShareName(name.to_owned())) } else { Err(PathError::ShareName(sanitise(name))) }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for ShareName {
    type Err = PathError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ShareName::parse(s)
    }
}

impl TryFrom<String> for ShareName {
    type Error = PathError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        ShareName::parse(&value)
    }
}

impl From<ShareName> for String {
    fn from(name: ShareName) -> String {
        name.0
    }
}

impl fmt::Display for ShareName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Input echoed in an error: control characters escaped, at most 64 characters.
fn sanitise(text: &str) -> String {
    text.chars().take(64).flat_map(char::escape_debug).collect()
}

/// A validated path relative to a share root: zero components is the root itself. No
/// component is empty, `.`, `..`, or holds `/`, `\`, NUL, control characters or `:`.
/// Displayed with `/` between components (the root displays as the empty string).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SharePath(Vec<String>);

impl SharePath {
    /// The share root.
    pub fn root() -> SharePath {
        SharePath(Vec::new())
    }

    /// Parses the raw, percent-encoded path of a request URL (the part after
    /// `/v1/shares/{share}/`). The empty string is the root.
    pub fn from_url(raw: &str) -> Result<SharePath, PathError> {
        if raw.len() > MAX_RAW_PATH_BYTES {
            return Err(PathError::TooLong);
        }
        if raw.is_empty() {
            return Ok(SharePath::root());
        }
        if raw.starts_with('/') {
            return Err(PathError::Absolute);
        }
        let mut components = Vec::new();
        for (i, raw_segment) in raw.split('/').enumerate() {
            let index = i + 1;
            if index > MAX_DEPTH {
                return Err(PathError::TooDeep);
            }
            let bytes = percent_decode(raw_segment, index)?;
            let segment = String::from_utf8(bytes).map_err(|_| PathError::InvalidUtf8 { index })?;
            components.push(segment);
        }
        SharePath::from_components(components)
    }

    /// Parses a path as an operator types it (CLI `--path`, configuration): not
    /// percent-encoded, `/` between components, same rules otherwise. The empty string is
    /// the root.
    pub fn from_plain(text: &str) -> Result<SharePath, PathError> {
        if text.is_empty() {
            return Ok(SharePath::root());
        }
        if text.starts_with('/') {
            return Err(PathError::Absolute);
        }
        if text.len() > MAX_PATH_BYTES {
            return Err(PathError::TooLong);
        }
        SharePath::from_components(text.split('/').map(str::to_owned).collect())
    }

    /// Validates already-decoded components.
    pub fn from_components(components: Vec<String>) -> Result<SharePath, PathError> {
        if components.len() > MAX_DEPTH {
            return Err(PathError::TooDeep);
        }
        for (i, c) in components.iter().enumerate() {
            check_component(c, i + 1)?;
        }
        let joined = components.iter().map(String::len).sum::<usize>() + components.len().saturating_sub(1);
        if joined > MAX_PATH_BYTES {
            return Err(PathError::TooLong);
        }
        Ok(SharePath(components))
    }

    /// The components, root first.
    pub fn components(&self) -> &[String] {
        &self.0
    }

    /// Whether this is the share root.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of components.
    pub fn depth(&self) -> usize {
        self.0.len()
    }

    /// The root, then every ancestor, then this path itself.
    pub fn ancestors_and_self(&self) -> impl Iterator<Item = SharePath> + '_ {
        (0..=self.0.len()).map(|n| SharePath(self.0[..n].to_vec()))
    }

    /// Whether `ancestor` is this path or one of its ancestors.
    pub fn starts_with(&self, ancestor: &SharePath) -> bool {
        self.0.starts_with(&ancestor.0)
    }

    /// `root` with the components appended: a path the I/O layer opens (after it
    /// canonicalises it and checks [`is_within`]).
    pub fn join_to(&self, root: &Path) -> PathBuf {
        let mut path = root.to_path_buf();
        path.extend(&self.0);
        path
    }
}

impl FromStr for SharePath {
    type Err = PathError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SharePath::from_plain(s)
    }
}

impl TryFrom<String> for SharePath {
    type Error = PathError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        SharePath::from_plain(&value)
    }
}

impl From<SharePath> for String {
    fn from(path: SharePath) -> String {
        path.to_string()
    }
}

impl fmt::Display for SharePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("/"))
    }
}

/// A parsed `GET /v1/shares/{share}/{path}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareRequest {
    /// The share.
    pub share: ShareName,
    /// The path in the share (the root for `/v1/shares/{share}` and `/v1/shares/{share}/`).
    pub path: SharePath,
}

impl ShareRequest {
    /// Parses the raw (percent-encoded) path of the request URI, e.g.
    /// `/v1/shares/software-library/pkg/file.bin`. The query string must already be cut off
    /// (`uri.path()`).
    pub fn from_uri_path(uri_path: &str) -> Result<ShareRequest, PathError> {
        let rest = uri_path.strip_prefix(SHARES_PREFIX).ok_or(PathError::NotSharePath)?;
        ShareRequest::from_share_and_path(rest)
    }

    /// Parses `{share}` or `{share}/{path}` (raw, percent-encoded).
    pub fn from_share_and_path(raw: &str) -> Result<ShareRequest, PathError> {
        let (raw_share, raw_path) = raw.split_once('/').unwrap_or((raw, ""));
        if raw_share.len() > MAX_SHARE_NAME_CHARS * 3 {
            return Err(PathError::ShareName(sanitise(raw_share)));
        }
        let share_bytes =
            percent_decode(raw_share, 0).map_err(|_| PathError::ShareName(sanitise(raw_share)))?;
        let share_text =
            String::from_utf8(share_bytes).map_err(|_| PathError::ShareName(sanitise(raw_share)))?;
        Ok(ShareRequest { share: ShareName::parse(&share_text)?, path: SharePath::from_url(raw_path)? })
    }
}

/// Decodes one raw segment. Raw characters must be printable ASCII other than `?` and `#`;
/// a raw backslash or control character gets its own error.
fn percent_decode(raw: &str, index: usize) -> Result<Vec<u8>, PathError> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'%' => {
                let hi = bytes.get(i + 1).and_then(|h| hex_value(*h));
                let lo = bytes.get(i + 2).and_then(|l| hex_value(*l));
                match (hi, lo) {
                    (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
                    _ => return Err(PathError::MalformedEncoding),
                }
                i += 3;
            }
            0 => return Err(PathError::Nul { index }),
            b'\\' => return Err(PathError::Backslash { index }),
            b if b.is_ascii_control() => return Err(PathError::ControlCharacter { index }),
            b'!'..=b'~' if b != b'?' && b != b'#' => {
                out.push(b);
                i += 1;
            }
            _ => return Err(PathError::UnencodedCharacter),
        }
    }
    Ok(out)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The rules every component obeys, in a fixed order so each input gets one answer.
fn check_component(c: &str, index: usize) -> Result<(), PathError> {
    if c.is_empty() {
        return Err(PathError::EmptySegment { index });
    }
    if c == ".." {
        return Err(PathError::Traversal { index });
    }
    if c == "." {
        return Err(PathError::DotSegment { index });
    }
    if c.contains('\0') {
        return Err(PathError::Nul { index });
    }
    if c.contains('/') {
        return Err(PathError::EncodedSlash { index });
    }
    if c.contains('\\') {
        return Err(PathError::Backslash { index });
    }
    if c.chars().any(char::is_control) {
        return Err(PathError::ControlCharacter { index });
    }
    if c.contains(LOOKALIKES) {
        return Err(PathError::Lookalike { index });
    }
    if c.contains(':') {
        let b = c.as_bytes();
        if index == 1 && b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':' {
            return Err(PathError::DriveLetter);
        }
        return Err(PathError::Colon { index });
    }
    if c.ends_with('.') || c.ends_with(' ') {
        return Err(PathError::TrailingDotOrSpace { index });
    }
    if c.len() > MAX_SEGMENT_BYTES {
        return Err(PathError::SegmentTooLong { index });
    }
    let stem = c.split('.').next().unwrap_or(c).trim_end().to_ascii_lowercase();
    if DEVICE_NAMES.contains(&stem.as_str()) {
        return Err(PathError::DeviceName { index });
    }
    Ok(())
}

/// Whether `candidate` is `root` or below it, comparing components only (no file system
/// access). Both must already be canonical (the site server resolves symlinks with
/// `std::fs::canonicalize` first). A `.` or `..` component in either, or an empty root,
/// answers `false`: canonical paths never hold them, so their presence means the caller
/// skipped canonicalisation.
pub fn is_within(root: &Path, candidate: &Path) -> bool {
    let dotted = |p: &Path| p.components().any(|c| matches!(c, Component::CurDir | Component::ParentDir));
    if root.as_os_str().is_empty() || dotted(root) || dotted(candidate) {
        return false;
    }
    candidate.starts_with(root)
}

/// The path of `candidate` inside the share rooted at `root`, both canonical: what the site
/// server evaluates file-level ACLs on (so a symlink or an alias inside the share is judged
/// by where it really leads). [`PathError::LeavesShare`] (403) when it is outside the root;
/// a component that is not UTF-8 or breaks the component rules is refused as in requests.
pub fn relative_to_root(root: &Path, candidate: &Path) -> Result<SharePath, PathError> {
    if !is_within(root, candidate) {
        return Err(PathError::LeavesShare);
    }
    let rest = candidate.strip_prefix(root).map_err(|_| PathError::LeavesShare)?;
    let mut components = Vec::new();
    for (i, c) in rest.components().enumerate() {
        match c {
            Component::Normal(os) => {
                let text = os.to_str().ok_or(PathError::InvalidUtf8 { index: i + 1 })?;
                components.push(text.to_owned());
            }
            _ => return Err(PathError::LeavesShare),
        }
    }
    SharePath::from_components(components)
}
