//! PEM (RFC 7468) reading and writing.
//!
//! Reading keeps every block with its label, so a key file written by
//! `openssl ecparam -genkey` (an `EC PARAMETERS` block before the `EC PRIVATE KEY`) is
//! understood, and notices RFC 1421 headers (`Proc-Type: 4,ENCRYPTED`) so that an
//! encrypted legacy key is reported as encrypted rather than as garbage.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// One PEM block.
#[derive(Clone)]
pub struct Block {
    /// The label between `BEGIN ` and the dashes, e.g. `CERTIFICATE`.
    pub label: String,
    /// Whether RFC 1421 headers said the content is encrypted.
    pub encrypted_header: bool,
    /// The decoded content (DER).
    pub der: Vec<u8>,
}

impl std::fmt::Debug for Block {
    // Never print the content: a block may hold a private key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Block").field("label", &self.label).field("len", &self.der.len()).finish()
    }
}

/// Why a PEM text could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PemError {
    /// A `BEGIN` line without its `END` line.
    #[error("PEM block '{0}' has no END line")]
    Unterminated(String),
    /// The base64 between the lines does not decode.
    #[error("PEM block '{0}' is not valid base64")]
    BadBase64(String),
    /// `END` label differs from `BEGIN` label.
    #[error("PEM block begins as '{0}' but ends as '{1}'")]
    Mismatch(String, String),
}

/// Whether `bytes` look like PEM text (a `-----BEGIN ` line somewhere).
pub fn looks_like_pem(bytes: &[u8]) -> bool {
    bytes.windows(11).any(|w| w == b"-----BEGIN ")
}

/// Decodes every PEM block in `text`; text outside blocks (openssl's `-text` output,
/// comments) is ignored.
pub fn decode_all(text: &[u8]) -> Result<Vec<Block>, PemError> {
    let text = String::from_utf8_lossy(text);
    let mut blocks = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(label) = boundary(line, "BEGIN") else {
            continue;
        };
        let mut body = String::new();
        let mut encrypted_header = false;
        let mut ended = false;
        for line in lines.by_ref() {
            if let Some(end) = boundary(line, "END") {
                if end != label {
                    return Err(PemError::Mismatch(label, end));
                }
                ended = true;
                break;
            }
            let line = line.trim();
            if line.contains(':') {
                if line.starts_with("Proc-Type:") && line.contains("ENCRYPTED") {
                    encrypted_header = true;
                }
                continue;
            }
            body.push_str(line);
        }
        if !ended {
            return Err(PemError::Unterminated(label));
        }
        let der = STANDARD.decode(body.as_bytes()).map_err(|_| PemError::BadBase64(label.clone()))?;
        blocks.push(Block { label, encrypted_header, der });
    }
    Ok(blocks)
}

fn boundary(line: &str, word: &str) -> Option<String> {
    let line = line.trim();
    let rest = line.strip_prefix("-----")?.strip_prefix(word)?.strip_prefix(' ')?;
    let label = rest.strip_suffix("-----")?;
    Some(label.to_string())
}

/// The DER of the first PEM block labelled one of `labels`; `bytes` themselves when they
/// are not PEM (DER input). `expected` names the object in the error.
pub fn der_of(bytes: &[u8], labels: &[&str], expected: &'static str) -> crate::Result<Vec<u8>> {
    if !looks_like_pem(bytes) {
        return Ok(bytes.to_vec());
    }
    let blocks = decode_all(bytes)?;
    blocks
        .iter()
        .find(|b| labels.contains(&b.label.as_str()))
        .map(|b| b.der.clone())
        .ok_or_else(|| crate::PkiError::NotFound { expected, found: labels_found(&blocks) })
}

/// What a PEM text held, for error messages: `found 'CERTIFICATE', 'PRIVATE KEY'`.
pub fn labels_found(blocks: &[Block]) -> String {
    if blocks.is_empty() {
        "no PEM block".to_string()
    } else {
        format!("found {}", blocks.iter().map(|b| format!("'{}'", b.label)).collect::<Vec<_>>().join(", "))
    }
}

/// Encodes DER as one PEM block with 64-character lines.
pub fn encode(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_skips_surrounding_text() {
        let der: Vec<u8> = (0..=255).collect();
        let text = format!("noise\n{}more noise\n", encode("CERTIFICATE", &der));
        let blocks = decode_all(text.as_bytes()).unwrap();
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].label, "CERTIFICATE");
        assert_eq!(blocks[0].der, der);
        assert!(text.lines().all(|l| l.len() <= 64 || !l.starts_with('M')));
    }

    #[test]
    fn reads_ecparam_files_with_two_blocks() {
        let text = format!("{}{}", encode("EC PARAMETERS", &[6, 1, 1]), encode("EC PRIVATE KEY", &[1, 2]));
        let labels: Vec<_> = decode_all(text.as_bytes()).unwrap().into_iter().map(|b| b.label).collect();
        assert_eq!(labels, ["EC PARAMETERS", "EC PRIVATE KEY"]);
    }

    #[test]
    fn notices_legacy_encryption_headers() {
        let text = "-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAQID\n-----END EC PRIVATE KEY-----\n";
        let blocks = decode_all(text.as_bytes()).unwrap();
        assert!(blocks[0].encrypted_header);
    }

    #[test]
    fn reports_broken_blocks() {
        assert_eq!(decode_all(b"-----BEGIN X-----\nAQID\n").unwrap_err(), PemError::Unterminated("X".into()));
        assert_eq!(
            decode_all(b"-----BEGIN X-----\n!!!\n-----END X-----\n").unwrap_err(),
            PemError::BadBase64("X".into())
        );
        assert_eq!(
            decode_all(b"-----BEGIN X-----\nAQID\n-----END Y-----\n").unwrap_err(),
            PemError::Mismatch("X".into(), "Y".into())
        );
    }

    #[test]
    fn debug_never_shows_content() {
        let b = Block { label: "PRIVATE KEY".into(), encrypted_header: false, der: vec![0x42; 8] };
        assert!(!format!("{b:?}").contains("66"));
    }
}
