//! A minimal DER writer: just the encodings X.509 certificates, CSRs and CRLs need.
//!
//! acc-pki builds its own TBS structures (instead of going through a certificate
//! generator) so that a subject read from a CSR is copied byte for byte, multi-valued
//! RDNs and repeated attributes included. Parsing is left to `x509-parser`.

use time::OffsetDateTime;

/// ASN.1 universal tags used by acc.
pub mod tag {
    pub const BOOLEAN: u8 = 0x01;
    pub const INTEGER: u8 = 0x02;
    pub const BIT_STRING: u8 = 0x03;
    pub const OCTET_STRING: u8 = 0x04;
    pub const NULL: u8 = 0x05;
    pub const OID: u8 = 0x06;
    pub const UTF8_STRING: u8 = 0x0c;
    pub const PRINTABLE_STRING: u8 = 0x13;
    pub const IA5_STRING: u8 = 0x16;
    pub const UTC_TIME: u8 = 0x17;
    pub const GENERALIZED_TIME: u8 = 0x18;
    pub const SEQUENCE: u8 = 0x30;
    pub const SET: u8 = 0x31;
}

/// One TLV: `tag`, definite length, `content`.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// SEQUENCE of already-encoded parts.
pub fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(tag::SEQUENCE, &parts.concat())
}

/// SET OF already-encoded elements, sorted as DER requires (X.690 11.6).
pub fn set_of(mut elements: Vec<Vec<u8>>) -> Vec<u8> {
    elements.sort();
    tlv(tag::SET, &elements.concat())
}

/// Context-specific constructed tag `[n]` (EXPLICIT, or IMPLICIT for constructed types).
pub fn ctx(n: u8, content: &[u8]) -> Vec<u8> {
    tlv(0xa0 | n, content)
}

/// Context-specific primitive tag `[n]` (IMPLICIT on a primitive type).
pub fn ctx_prim(n: u8, content: &[u8]) -> Vec<u8> {
    tlv(0x80 | n, content)
}

/// INTEGER from an unsigned big-endian magnitude (leading zeros trimmed, a zero byte
/// prepended when the high bit is set so the value stays positive).
pub fn uint(magnitude: &[u8]) -> Vec<u8> {
    let trimmed: &[u8] = {
        let skip = magnitude.iter().take_while(|b| **b == 0).count();
        &magnitude[skip.min(magnitude.len().saturating_sub(1))..]
    };
    let mut content = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.is_empty() {
        content.push(0);
    } else {
        if trimmed[0] & 0x80 != 0 {
            content.push(0);
        }
        content.extend_from_slice(trimmed);
    }
    tlv(tag::INTEGER, &content)
}

/// INTEGER from a small non-negative number.
pub fn small_uint(v: u64) -> Vec<u8> {
    uint(&v.to_be_bytes())
}

/// OBJECT IDENTIFIER from its arcs.
pub fn oid(arcs: &[u64]) -> Vec<u8> {
    assert!(arcs.len() >= 2, "an OID has at least two arcs");
    let mut content = Vec::new();
    push_base128(&mut content, arcs[0] * 40 + arcs[1]);
    for arc in &arcs[2..] {
        push_base128(&mut content, *arc);
    }
    tlv(tag::OID, &content)
}

fn push_base128(out: &mut Vec<u8>, mut v: u64) {
    let mut tmp = [0u8; 10];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            break;
        }
    }
    let last = tmp.len() - 1;
    for (j, b) in tmp.iter().enumerate().skip(i) {
        out.push(if j == last { *b } else { *b | 0x80 });
    }
}

/// BOOLEAN.
pub fn boolean(v: bool) -> Vec<u8> {
    tlv(tag::BOOLEAN, &[if v { 0xff } else { 0x00 }])
}

/// NULL.
pub fn null() -> Vec<u8> {
    tlv(tag::NULL, &[])
}

/// OCTET STRING.
pub fn octets(v: &[u8]) -> Vec<u8> {
    tlv(tag::OCTET_STRING, v)
}

/// BIT STRING with no unused bits.
pub fn bits(v: &[u8]) -> Vec<u8> {
    let mut content = Vec::with_capacity(v.len() + 1);
    content.push(0);
    content.extend_from_slice(v);
    tlv(tag::BIT_STRING, &content)
}

/// BIT STRING for a named-bit list (KeyUsage): bit 0 is the most significant bit of
/// the first byte; trailing zero bits are dropped as DER requires.
pub fn named_bits(bit_numbers: &[u8]) -> Vec<u8> {
    let Some(&highest) = bit_numbers.iter().max() else {
        return tlv(tag::BIT_STRING, &[0]);
    };
    let nbytes = usize::from(highest / 8) + 1;
    let mut bytes = vec![0u8; nbytes];
    for &b in bit_numbers {
        bytes[usize::from(b / 8)] |= 0x80 >> (b % 8);
    }
    let unused = 7 - (highest % 8);
    let mut content = vec![unused];
    content.extend_from_slice(&bytes);
    tlv(tag::BIT_STRING, &content)
}

/// Time as RFC 5280 4.1.2.5 wants it: UTCTime through 2049, GeneralizedTime after.
pub fn time(t: OffsetDateTime) -> Vec<u8> {
    let t = t.to_offset(time::UtcOffset::UTC);
    let (y, mo, d, h, mi, s) = (t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute(), t.second());
    if (1950..2050).contains(&y) {
        let text = format!("{:02}{mo:02}{d:02}{h:02}{mi:02}{s:02}Z", y % 100);
        tlv(tag::UTC_TIME, text.as_bytes())
    } else {
        let text = format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}Z");
        tlv(tag::GENERALIZED_TIME, text.as_bytes())
    }
}

/// AlgorithmIdentifier for a signature algorithm.
pub fn algorithm(arcs: &[u64], with_null_params: bool) -> Vec<u8> {
    if with_null_params { seq(&[&oid(arcs), &null()]) } else { seq(&[&oid(arcs)]) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_use_the_short_and_long_forms() {
        assert_eq!(tlv(0x04, &[1, 2]), vec![0x04, 2, 1, 2]);
        let long = tlv(0x04, &[0u8; 200]);
        assert_eq!(&long[..3], &[0x04, 0x81, 200]);
        let longer = tlv(0x04, &[0u8; 300]);
        assert_eq!(&longer[..4], &[0x04, 0x82, 0x01, 0x2c]);
    }

    #[test]
    fn integers_stay_positive_and_minimal() {
        assert_eq!(uint(&[0, 0, 5]), vec![0x02, 1, 5]);
        assert_eq!(uint(&[0x80]), vec![0x02, 2, 0, 0x80]);
        assert_eq!(uint(&[]), vec![0x02, 1, 0]);
        assert_eq!(uint(&[0, 0]), vec![0x02, 1, 0]);
        assert_eq!(small_uint(2), vec![0x02, 1, 2]);
    }

    #[test]
    fn oids_encode_as_openssl_does() {
        // 1.2.840.10045.4.3.2 ecdsa-with-SHA256
        assert_eq!(
            oid(&[1, 2, 840, 10045, 4, 3, 2]),
            vec![0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]
        );
        // 2.5.4.3 commonName
        assert_eq!(oid(&[2, 5, 4, 3]), vec![0x06, 3, 0x55, 4, 3]);
    }

    #[test]
    fn key_usage_bits_drop_trailing_zeros() {
        // digitalSignature (0) alone: 03 02 07 80
        assert_eq!(named_bits(&[0]), vec![0x03, 2, 7, 0x80]);
        // keyCertSign (5) + cRLSign (6): 03 02 01 06
        assert_eq!(named_bits(&[5, 6]), vec![0x03, 2, 1, 0x06]);
    }

    #[test]
    fn set_of_is_sorted() {
        let s = set_of(vec![vec![2, 1, 9], vec![2, 1, 1]]);
        assert_eq!(s, vec![0x31, 6, 2, 1, 1, 2, 1, 9]);
    }

    #[test]
    fn times_switch_to_generalized_in_2050() {
        let t = time::macros::datetime!(2049-12-31 23:59:59 UTC);
        assert_eq!(time(t)[0], tag::UTC_TIME);
        assert_eq!(&time(t)[2..], b"491231235959Z");
        let t = time::macros::datetime!(2050-01-01 00:00:00 UTC);
        assert_eq!(time(t)[0], tag::GENERALIZED_TIME);
        assert_eq!(&time(t)[2..], b"20500101000000Z");
    }
}

/// One Extension: `SEQUENCE { extnID, critical DEFAULT FALSE, extnValue OCTET STRING }`.
pub fn extension(extn_id: &[u64], critical: bool, value: &[u8]) -> Vec<u8> {
    if critical {
        seq(&[&oid(extn_id), &boolean(true), &octets(value)])
    } else {
        seq(&[&oid(extn_id), &octets(value)])
    }
}

/// A forward-only DER reader, enough to classify key files (which container, which
/// curve, how many RSA bits) before handing them to aws-lc-rs.
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

/// One element read: its tag and content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Element<'a> {
    /// The identifier octet.
    pub tag: u8,
    /// The content octets.
    pub content: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Reads from `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { rest: bytes }
    }

    /// Whether everything was read.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The next element, or `None` when the input is malformed or exhausted.
    pub fn next_element(&mut self) -> Option<Element<'a>> {
        let (&tag, rest) = self.rest.split_first()?;
        let (&first, mut rest) = rest.split_first()?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            let mut len = 0usize;
            for &b in &rest[..n] {
                len = (len << 8) | usize::from(b);
            }
            rest = &rest[n..];
            len
        };
        if rest.len() < len {
            return None;
        }
        let (content, after) = rest.split_at(len);
        self.rest = after;
        Some(Element { tag, content })
    }

    /// The next element if it has `tag`.
    pub fn expect(&mut self, tag: u8) -> Option<&'a [u8]> {
        let save = *self;
        match self.next_element() {
            Some(e) if e.tag == tag => Some(e.content),
            _ => {
                *self = save;
                None
            }
        }
    }
}

/// Decodes OID content octets into their dotted form.
pub fn oid_to_string(content: &[u8]) -> String {
    let mut arcs: Vec<u64> = Vec::new();
    let mut v: u64 = 0;
    for &b in content {
        v = (v << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = if v < 80 { v / 40 } else { 2 };
                arcs.push(first);
                arcs.push(v - first * 40);
            } else {
                arcs.push(v);
            }
            v = 0;
        }
    }
    arcs.iter().map(u64::to_string).collect::<Vec<_>>().join(".")
}

#[cfg(test)]
mod reader_tests {
    use super::*;

    #[test]
    fn reads_back_what_the_writer_wrote() {
        let encoded = seq(&[&small_uint(1), &oid(&[1, 2, 840, 10045, 3, 1, 7]), &octets(&[0; 300])]);
        let mut outer = Reader::new(&encoded);
        let body = outer.expect(tag::SEQUENCE).unwrap();
        assert!(outer.is_empty());
        let mut r = Reader::new(body);
        assert_eq!(r.expect(tag::INTEGER), Some(&[1u8][..]));
        assert_eq!(oid_to_string(r.expect(tag::OID).unwrap()), "1.2.840.10045.3.1.7");
        assert_eq!(r.expect(tag::OCTET_STRING).map(<[u8]>::len), Some(300));
        assert!(r.is_empty());
    }

    #[test]
    fn refuses_truncated_input() {
        assert_eq!(Reader::new(&[0x30, 5, 1]).next_element(), None);
        assert_eq!(Reader::new(&[0x30, 0x85, 1, 1, 1, 1, 1]).next_element(), None);
        assert_eq!(Reader::new(&[]).next_element(), None);
    }
}
