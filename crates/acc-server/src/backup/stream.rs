//! The sealed container of a backup file: a versioned header, then the payload sealed a
//! chunk at a time under a key derived from the operator's passphrase.
//!
//! ```text
//! header   magic "ACC-BKP\0" (8) | version u16 | Argon2id m KiB u32 | t u32 | p u32 | salt (16)
//! check    acc_pki::sealed of nothing under "acc-backup/check/<header hex>" (28)
//! chunks   length u32 | acc_pki::sealed of ≤ 1 MiB under "acc-backup/<index>/<more|last>/<header hex>"
//! ```
//!
//! Integers are big-endian. The key is Argon2id(passphrase, salt) with the costs of the
//! header; the check opens only with the right passphrase, so a wrong one is told apart from
//! a damaged file before anything is written. Each chunk's name binds it to the header, to
//! its place and to whether it ends the payload: reordered, dropped, truncated or appended
//! chunks do not open.

use std::io::{Read, Write};

use acc_core::password::Secret;
use acc_pki::sealed::SealingKey;

use super::BackupError;

/// The first bytes of every backup file.
pub const MAGIC: &[u8; 8] = b"ACC-BKP\0";
/// The format version this code writes and reads.
pub const VERSION: u16 = 1;
/// The largest plaintext of one chunk.
pub const CHUNK: usize = 1 << 20;
const HEADER_LEN: usize = 8 + 2 + 4 * 3 + SALT_LEN;
const SALT_LEN: usize = 16;
/// A sealed value's overhead: nonce (12) and tag (16).
const SEALED_OVERHEAD: usize = 28;

/// The Argon2id costs the key is derived with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfCost {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Passes.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

impl KdfCost {
    /// What backups are written with: 64 MiB, 3 passes, 1 lane (OWASP's Argon2id guidance
    /// exceeded; about a quarter of a second on a server core).
    pub const DEFAULT: KdfCost = KdfCost { m_kib: 64 * 1024, t: 3, p: 1 };
    /// The most a backup file may ask for (1 GiB, 64 passes, 16 lanes): more is a damaged
    /// or hostile header, not a backup.
    const MAX: KdfCost = KdfCost { m_kib: 1 << 20, t: 64, p: 16 };

    fn key(&self, passphrase: &Secret, salt: &[u8]) -> Result<SealingKey, BackupError> {
        if self.m_kib > Self::MAX.m_kib || self.t > Self::MAX.t || self.p > Self::MAX.p {
            return Err(BackupError::Damaged(format!(
                "the header asks for Argon2id m={} KiB t={} p={}, beyond what acc writes",
                self.m_kib, self.t, self.p
            )));
        }
        let params = argon2::Params::new(self.m_kib, self.t, self.p, Some(32))
            .map_err(|e| BackupError::Damaged(format!("the header's Argon2id costs: {e}")))?;
        let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut key = [0u8; 32];
        argon
            .hash_password_into(passphrase.expose().as_bytes(), salt, &mut key)
            .map_err(|e| BackupError::Damaged(format!("key derivation: {e}")))?;
        let sealing = SealingKey::from_key(&key);
        key.fill(0);
        Ok(sealing?)
    }
}

fn header_bytes(cost: KdfCost, salt: &[u8]) -> Vec<u8> {
    let mut h = Vec::with_capacity(HEADER_LEN);
    h.extend_from_slice(MAGIC);
    h.extend_from_slice(&VERSION.to_be_bytes());
    for n in [cost.m_kib, cost.t, cost.p] {
        h.extend_from_slice(&n.to_be_bytes());
    }
    h.extend_from_slice(salt);
    h
}

fn check_name(header: &[u8]) -> String {
    format!("acc-backup/check/{}", hex::encode(header))
}

fn chunk_name(header: &[u8], index: u64, last: bool) -> String {
    format!("acc-backup/{index}/{}/{}", if last { "last" } else { "more" }, hex::encode(header))
}

/// Writes a backup: the header, then what is written to it sealed a chunk at a time;
/// [`SealedWriter::finish`] seals the last chunk (without it the file does not open).
pub struct SealedWriter<W: Write> {
    out: W,
    key: SealingKey,
    header: Vec<u8>,
    buf: Vec<u8>,
    index: u64,
}

impl<W: Write> SealedWriter<W> {
    /// Derives the key from `passphrase` with a random salt and writes the header to `out`.
    pub fn new(mut out: W, passphrase: &Secret, cost: KdfCost) -> Result<Self, BackupError> {
        let salt = acc_pki::sealed::random_bytes(SALT_LEN)?;
        let key = cost.key(passphrase, &salt)?;
        let header = header_bytes(cost, &salt);
        let check = key.seal(&check_name(&header), b"")?;
        out.write_all(&header)?;
        out.write_all(&check)?;
        Ok(SealedWriter { out, key, header, buf: Vec::with_capacity(CHUNK), index: 0 })
    }

    fn seal_chunk(&mut self, last: bool) -> Result<(), BackupError> {
        let sealed = self.key.seal(&chunk_name(&self.header, self.index, last), &self.buf)?;
        self.buf.clear();
        self.index += 1;
        let len = u32::try_from(sealed.len()).map_err(|_| BackupError::Damaged("chunk too large".into()))?;
        self.out.write_all(&len.to_be_bytes())?;
        self.out.write_all(&sealed)?;
        Ok(())
    }

    /// Seals what is buffered as the last chunk and returns the output.
    pub fn finish(mut self) -> Result<W, BackupError> {
        self.seal_chunk(true)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> Write for SealedWriter<W> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let n = data.len().min(CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == CHUNK {
            self.seal_chunk(false).map_err(std::io::Error::other)?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Reads a backup: checks the header and the passphrase, then yields the payload, opening
/// a chunk at a time; an error (as `std::io::Error` carrying a [`BackupError`]) when a
/// chunk does not open or the file ends before the last one.
pub struct SealedReader<R: Read> {
    input: R,
    key: SealingKey,
    header: Vec<u8>,
    plain: Vec<u8>,
    pos: usize,
    index: u64,
    done: bool,
}

fn read_exact_or<R: Read>(r: &mut R, buf: &mut [u8], what: &str) -> Result<(), BackupError> {
    r.read_exact(buf).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => BackupError::Damaged(format!("the file ends inside the {what}")),
        _ => BackupError::Read(e),
    })
}

impl<R: Read> SealedReader<R> {
    /// Reads and checks the header, derives the key and checks the passphrase.
    pub fn new(mut input: R, passphrase: &Secret) -> Result<Self, BackupError> {
        let mut header = vec![0u8; HEADER_LEN];
        let mut magic = [0u8; 8];
        input.read_exact(&mut magic).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => BackupError::NotABackup,
            _ => BackupError::Read(e),
        })?;
        if &magic != MAGIC {
            return Err(BackupError::NotABackup);
        }
        header[..8].copy_from_slice(&magic);
        read_exact_or(&mut input, &mut header[8..10], "header")?;
        let version = u16::from_be_bytes([header[8], header[9]]);
        if version != VERSION {
            return Err(BackupError::Version(version));
        }
        read_exact_or(&mut input, &mut header[10..], "header")?;
        let n = |i: usize| u32::from_be_bytes(header[i..i + 4].try_into().expect("4 bytes"));
        let cost = KdfCost { m_kib: n(10), t: n(14), p: n(18) };
        let key = cost.key(passphrase, &header[22..])?;
        let mut check = [0u8; SEALED_OVERHEAD];
        read_exact_or(&mut input, &mut check, "header")?;
        if key.open_sealed(&check_name(&header), &check).is_none() {
            return Err(BackupError::WrongPassphrase);
        }
        Ok(SealedReader { input, key, header, plain: Vec::new(), pos: 0, index: 0, done: false })
    }

    fn next_chunk(&mut self) -> Result<(), BackupError> {
        let mut len = [0u8; 4];
        read_exact_or(&mut self.input, &mut len, "payload (truncated)")?;
        let len = u32::from_be_bytes(len) as usize;
        if !(SEALED_OVERHEAD..=CHUNK + SEALED_OVERHEAD).contains(&len) {
            return Err(BackupError::Damaged(format!("chunk {} has an impossible length {len}", self.index)));
        }
        let mut sealed = vec![0u8; len];
        read_exact_or(&mut self.input, &mut sealed, "payload (truncated)")?;
        let opened = [false, true].into_iter().find_map(|last| {
            self.key.open_sealed(&chunk_name(&self.header, self.index, last), &sealed).map(|p| (p, last))
        });
        let Some((plain, last)) = opened else {
            return Err(BackupError::Damaged(format!(
                "chunk {} does not open (the file was altered)",
                self.index
            )));
        };
        self.index += 1;
        self.plain = plain;
        self.pos = 0;
        if last {
            let mut extra = [0u8; 1];
            if self.input.read(&mut extra)? != 0 {
                return Err(BackupError::Damaged("data follows the last chunk".into()));
            }
            self.done = true;
        }
        Ok(())
    }
}

impl<R: Read> Read for SealedReader<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.plain.len() {
            if self.done {
                return Ok(0);
            }
            self.next_chunk().map_err(std::io::Error::other)?;
        }
        let n = out.len().min(self.plain.len() - self.pos);
        out[..n].copy_from_slice(&self.plain[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cheap costs: the tests are about the format, not the KDF.
    const TEST_COST: KdfCost = KdfCost { m_kib: 256, t: 1, p: 1 };

    fn seal(payload: &[u8], pass: &str) -> Vec<u8> {
        let mut w = SealedWriter::new(Vec::new(), &Secret::new(pass), TEST_COST).unwrap();
        w.write_all(payload).unwrap();
        w.finish().unwrap()
    }

    fn open(file: &[u8], pass: &str) -> Result<Vec<u8>, BackupError> {
        let mut r = SealedReader::new(file, &Secret::new(pass))?;
        let mut out = Vec::new();
        r.read_to_end(&mut out).map_err(BackupError::from_io)?;
        Ok(out)
    }

    fn payload(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 251) as u8).collect()
    }

    #[test]
    fn payloads_of_every_size_round_trip_and_never_appear_in_clear() {
        for len in [0, 1, 1000, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + 5] {
            let p = payload(len);
            let file = seal(&p, "correct horse battery");
            assert_eq!(&file[..8], MAGIC);
            assert_eq!(open(&file, "correct horse battery").unwrap(), p, "len {len}");
        }
        let secret = b"-----BEGIN PRIVATE KEY----- the fleet CA key";
        let file = seal(secret, "correct horse battery");
        assert!(!file.windows(20).any(|w| secret.windows(20).any(|s| s == w)));
    }

    #[test]
    fn the_same_payload_and_passphrase_seal_differently_each_time() {
        assert_ne!(seal(b"same", "pass phrase 1"), seal(b"same", "pass phrase 1"));
    }

    #[test]
    fn a_wrong_passphrase_is_told_apart_from_damage() {
        let file = seal(&payload(5000), "correct horse battery");
        let err = open(&file, "correct horse battery!").unwrap_err();
        assert!(matches!(err, BackupError::WrongPassphrase), "{err}");
        assert_eq!(err.to_string(), "wrong passphrase: the backup does not open with it");
    }

    #[test]
    fn every_flipped_byte_after_the_magic_is_refused() {
        let file = seal(&payload(3000), "pass phrase 2");
        for i in 8..file.len() {
            let mut bad = file.clone();
            bad[i] ^= 0x01;
            let err = open(&bad, "pass phrase 2").unwrap_err();
            assert!(
                matches!(
                    err,
                    BackupError::WrongPassphrase | BackupError::Damaged(_) | BackupError::Version(_)
                ),
                "byte {i}: {err}"
            );
        }
    }

    #[test]
    fn truncated_reordered_or_extended_files_are_refused() {
        let file = seal(&payload(2 * CHUNK + 10), "pass phrase 3");
        for cut in [0, 5, 30, 70, 80, CHUNK, file.len() - 1] {
            let err = open(&file[..cut], "pass phrase 3").unwrap_err();
            assert!(matches!(err, BackupError::NotABackup | BackupError::Damaged(_)), "cut {cut}: {err}");
        }
        // Dropping the last chunk leaves a file that ends on a "more" chunk.
        let start = HEADER_LEN + SEALED_OVERHEAD;
        let first_len = u32::from_be_bytes(file[start..start + 4].try_into().unwrap()) as usize;
        let two_chunks = start + 2 * (4 + first_len);
        let err = open(&file[..two_chunks], "pass phrase 3").unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");
        // Swapping the first two chunks.
        let mut swapped = file[..start].to_vec();
        swapped.extend_from_slice(&file[start + 4 + first_len..two_chunks]);
        swapped.extend_from_slice(&file[start..start + 4 + first_len]);
        swapped.extend_from_slice(&file[two_chunks..]);
        let err = open(&swapped, "pass phrase 3").unwrap_err();
        assert!(err.to_string().contains("chunk 0 does not open"), "{err}");
        let mut longer = file.clone();
        longer.push(0);
        assert!(open(&longer, "pass phrase 3").unwrap_err().to_string().contains("follows the last chunk"));
    }

    #[test]
    fn the_header_says_the_version_and_other_files_are_not_backups() {
        let mut file = seal(b"x", "pass phrase 4");
        assert_eq!(u16::from_be_bytes([file[8], file[9]]), VERSION);
        file[9] = 2;
        let err = open(&file, "pass phrase 4").unwrap_err();
        assert_eq!(
            err.to_string(),
            "backup format version 2: this acc reads version 1; restore with the acc that made it"
        );
        let err = open(b"SQLite format 3\0....", "pass phrase 4").unwrap_err();
        assert!(matches!(err, BackupError::NotABackup), "{err}");
        let mut hostile = seal(b"x", "pass phrase 4");
        hostile[10..14].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(open(&hostile, "pass phrase 4").unwrap_err().to_string().contains("beyond what acc writes"));
    }

    #[test]
    fn the_default_cost_derives_a_working_key() {
        let mut w = SealedWriter::new(Vec::new(), &Secret::new("pass phrase 5"), KdfCost::DEFAULT).unwrap();
        w.write_all(b"payload").unwrap();
        let file = w.finish().unwrap();
        assert_eq!(&file[10..22], &[0, 1, 0, 0, 0, 0, 0, 3, 0, 0, 0, 1]);
        assert_eq!(open(&file, "pass phrase 5").unwrap(), b"payload");
    }
}
