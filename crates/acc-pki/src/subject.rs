//! Distinguished names in openssl's `-subj` grammar.
//!
//! `/C=US/ST=NC/O=Example/OU=ITOM Lab/CN=acclinux/emailAddress=john@example.com`: elements
//! separated by `/`, the attribute type up to `=`, a backslash escapes the next character
//! of a value, an unescaped `+` adds another member to the same (multi-valued) RDN. This
//! follows OpenSSL 3's `parse_name` (apps/lib/apps.c) and its string table
//! (crypto/asn1/tbl_standard.h) under `string_mask = utf8only`, with values read as UTF-8
//! (what `openssl req -utf8` does): `C`, `serialNumber` and `dnQualifier` are
//! PrintableString, `emailAddress` and `DC` IA5String, everything else UTF8String.
//!
//! Where openssl only warns and skips (an unknown attribute, an empty value), acc refuses
//! with an error: a certificate whose subject silently lost a part is a surprise.

use crate::der::{self, tag};

/// How a value is encoded, and how long it may be (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Printable,
    Ia5,
    Utf8,
}

struct Attr {
    short: &'static str,
    long: &'static str,
    oid: &'static [u64],
    kind: Kind,
    min: usize,
    max: usize,
}

const UNBOUNDED: usize = usize::MAX;

const ATTRS: &[Attr] = &[
    Attr { short: "C", long: "countryName", oid: &[2, 5, 4, 6], kind: Kind::Printable, min: 2, max: 2 },
    Attr { short: "ST", long: "stateOrProvinceName", oid: &[2, 5, 4, 8], kind: Kind::Utf8, min: 1, max: 128 },
    Attr { short: "L", long: "localityName", oid: &[2, 5, 4, 7], kind: Kind::Utf8, min: 1, max: 128 },
    Attr { short: "O", long: "organizationName", oid: &[2, 5, 4, 10], kind: Kind::Utf8, min: 1, max: 64 },
    Attr {
        short: "OU",
        long: "organizationalUnitName",
        oid: &[2, 5, 4, 11],
        kind: Kind::Utf8,
        min: 1,
        max: 64,
    },
    Attr { short: "CN", long: "commonName", oid: &[2, 5, 4, 3], kind: Kind::Utf8, min: 1, max: 64 },
    Attr {
        short: "emailAddress",
        long: "emailAddress",
        oid: &[1, 2, 840, 113549, 1, 9, 1],
        kind: Kind::Ia5,
        min: 1,
        max: 128,
    },
    Attr {
        short: "serialNumber",
        long: "serialNumber",
        oid: &[2, 5, 4, 5],
        kind: Kind::Printable,
        min: 1,
        max: 64,
    },
    Attr {
        short: "street",
        long: "streetAddress",
        oid: &[2, 5, 4, 9],
        kind: Kind::Utf8,
        min: 1,
        max: UNBOUNDED,
    },
    Attr { short: "title", long: "title", oid: &[2, 5, 4, 12], kind: Kind::Utf8, min: 1, max: UNBOUNDED },
    Attr {
        short: "description",
        long: "description",
        oid: &[2, 5, 4, 13],
        kind: Kind::Utf8,
        min: 1,
        max: UNBOUNDED,
    },
    Attr { short: "SN", long: "surname", oid: &[2, 5, 4, 4], kind: Kind::Utf8, min: 1, max: 32768 },
    Attr { short: "GN", long: "givenName", oid: &[2, 5, 4, 42], kind: Kind::Utf8, min: 1, max: 32768 },
    Attr { short: "initials", long: "initials", oid: &[2, 5, 4, 43], kind: Kind::Utf8, min: 1, max: 32768 },
    Attr { short: "name", long: "name", oid: &[2, 5, 4, 41], kind: Kind::Utf8, min: 1, max: 32768 },
    Attr {
        short: "generationQualifier",
        long: "generationQualifier",
        oid: &[2, 5, 4, 44],
        kind: Kind::Utf8,
        min: 1,
        max: UNBOUNDED,
    },
    Attr {
        short: "dnQualifier",
        long: "dnQualifier",
        oid: &[2, 5, 4, 46],
        kind: Kind::Printable,
        min: 1,
        max: UNBOUNDED,
    },
    Attr {
        short: "pseudonym",
        long: "pseudonym",
        oid: &[2, 5, 4, 65],
        kind: Kind::Utf8,
        min: 1,
        max: UNBOUNDED,
    },
    Attr {
        short: "postalCode",
        long: "postalCode",
        oid: &[2, 5, 4, 17],
        kind: Kind::Utf8,
        min: 1,
        max: UNBOUNDED,
    },
    Attr {
        short: "businessCategory",
        long: "businessCategory",
        oid: &[2, 5, 4, 15],
        kind: Kind::Utf8,
        min: 1,
        max: UNBOUNDED,
    },
    Attr {
        short: "DC",
        long: "domainComponent",
        oid: &[0, 9, 2342, 19200300, 100, 1, 25],
        kind: Kind::Ia5,
        min: 1,
        max: UNBOUNDED,
    },
    Attr {
        short: "UID",
        long: "userId",
        oid: &[0, 9, 2342, 19200300, 100, 1, 1],
        kind: Kind::Utf8,
        min: 1,
        max: UNBOUNDED,
    },
];

/// Why a subject string was refused. Every message names the attribute and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubjectError {
    /// The string does not start with `/`.
    #[error("subject must start with '/' as in \"/C=US/O=Example/CN=agent1\" (got '{0}')")]
    NoLeadingSlash(String),
    /// No attribute at all.
    #[error("subject is empty; give at least one attribute, e.g. \"/CN=agent1\"")]
    Empty,
    /// `type` without `=value`.
    #[error("subject: missing '=' after attribute type '{0}'")]
    MissingEquals(String),
    /// Backslash as the last character.
    #[error("subject: escape character '\\' at the end of the string")]
    TrailingEscape,
    /// Not a known attribute type.
    #[error("subject: unknown attribute type '{typ}'{hint}")]
    UnknownAttribute {
        /// What was typed.
        typ: String,
        /// A suggestion, with its leading punctuation.
        hint: String,
    },
    /// `type=` with nothing after it.
    #[error("subject: attribute '{0}' has an empty value")]
    EmptyValue(String),
    /// Country is not two letters.
    #[error("subject: country 'C={0}' must be a two-letter ISO 3166 code such as US")]
    BadCountry(String),
    /// Too long or too short for the attribute.
    #[error("subject: attribute '{typ}' is {len} characters; it allows {min} to {max}")]
    BadLength {
        /// Attribute type.
        typ: String,
        /// Characters given.
        len: usize,
        /// Minimum.
        min: usize,
        /// Maximum.
        max: usize,
    },
    /// A character the attribute's string type cannot carry.
    #[error("subject: attribute '{typ}' cannot contain '{ch}' ({kind} only)")]
    BadCharacter {
        /// Attribute type.
        typ: String,
        /// The offending character.
        ch: char,
        /// The allowed set, in words.
        kind: &'static str,
    },
}

/// A parsed subject: the RDNs in order, each a list of (attribute, value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    rdns: Vec<Vec<(&'static str, String)>>,
}

impl Subject {
    /// Parses openssl's `-subj` syntax.
    pub fn parse(text: &str) -> Result<Subject, SubjectError> {
        let Some(mut rest) = text.strip_prefix('/') else {
            return Err(SubjectError::NoLeadingSlash(text.to_string()));
        };
        let mut rdns: Vec<Vec<(&'static str, String)>> = Vec::new();
        let mut continues_rdn = false;
        while !rest.is_empty() {
            let Some(eq) = rest.find('=') else {
                return Err(SubjectError::MissingEquals(rest.to_string()));
            };
            let typ = &rest[..eq];
            if typ.contains('/') {
                let before = &typ[..typ.find('/').unwrap_or(typ.len())];
                return Err(SubjectError::MissingEquals(before.to_string()));
            }
            let mut value = String::new();
            let mut chars = rest[eq + 1..].char_indices();
            let mut consumed = rest.len() - eq - 1;
            let mut next_is_multi = false;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some((_, escaped)) => value.push(escaped),
                        None => return Err(SubjectError::TrailingEscape),
                    },
                    '/' => {
                        consumed = i + 1;
                        break;
                    }
                    '+' => {
                        next_is_multi = true;
                        consumed = i + 1;
                        break;
                    }
                    c => value.push(c),
                }
            }
            let attr = lookup(typ)?;
            check_value(attr, typ, &value)?;
            if continues_rdn {
                if let Some(last) = rdns.last_mut() {
                    last.push((attr.short, value));
                }
            } else {
                rdns.push(vec![(attr.short, value)]);
            }
            continues_rdn = next_is_multi;
            rest = &rest[eq + 1 + consumed..];
        }
        if rdns.is_empty() {
            return Err(SubjectError::Empty);
        }
        Ok(Subject { rdns })
    }

    /// The Name, DER-encoded (SEQUENCE OF SET OF AttributeTypeAndValue).
    pub fn to_der(&self) -> Vec<u8> {
        let mut rdns = Vec::new();
        for rdn in &self.rdns {
            let members = rdn
                .iter()
                .map(|(short, value)| {
                    let attr = ATTRS.iter().find(|a| a.short == *short).unwrap_or(&ATTRS[5]);
                    let string_tag = match attr.kind {
                        Kind::Printable => tag::PRINTABLE_STRING,
                        Kind::Ia5 => tag::IA5_STRING,
                        Kind::Utf8 => tag::UTF8_STRING,
                    };
                    der::seq(&[&der::oid(attr.oid), &der::tlv(string_tag, value.as_bytes())])
                })
                .collect();
            rdns.push(der::set_of(members));
        }
        der::tlv(tag::SEQUENCE, &rdns.concat())
    }

    /// The common name, if there is one (the last CN, as TLS identities use it).
    pub fn common_name(&self) -> Option<&str> {
        self.rdns.iter().flatten().filter(|(t, _)| *t == "CN").map(|(_, v)| v.as_str()).next_back()
    }
}

fn lookup(typ: &str) -> Result<&'static Attr, SubjectError> {
    if let Some(a) = ATTRS.iter().find(|a| a.short == typ || a.long == typ) {
        return Ok(a);
    }
    if let Some(a) = ATTRS.iter().find(|a| dotted(a.oid) == typ) {
        return Ok(a);
    }
    let hint = ATTRS
        .iter()
        .find(|a| a.short.eq_ignore_ascii_case(typ) || a.long.eq_ignore_ascii_case(typ))
        .map(|a| format!(" (did you mean '{}'? attribute types are case-sensitive)", a.short))
        .unwrap_or_else(|| {
            " (known: C, ST, L, O, OU, CN, emailAddress, serialNumber, DC, UID, street, title, GN, SN …; \
             a '+' inside a value must be escaped as '\\+')"
                .to_string()
        });
    Err(SubjectError::UnknownAttribute { typ: typ.to_string(), hint })
}

fn check_value(attr: &Attr, typ: &str, value: &str) -> Result<(), SubjectError> {
    if value.is_empty() {
        return Err(SubjectError::EmptyValue(typ.to_string()));
    }
    if attr.short == "C" {
        let ok = value.chars().count() == 2 && value.chars().all(|c| c.is_ascii_alphabetic());
        return if ok { Ok(()) } else { Err(SubjectError::BadCountry(value.to_string())) };
    }
    let allowed: Option<(&'static str, CharTest)> = match attr.kind {
        Kind::Printable => {
            Some(("PrintableString: letters, digits, space and ' ( ) + , - . / : = ?", is_printable))
        }
        Kind::Ia5 => Some(("IA5String: ASCII", |c: char| c.is_ascii())),
        Kind::Utf8 => None,
    };
    if let Some((kind, ok)) = allowed
        && let Some(ch) = value.chars().find(|c| !ok(*c))
    {
        return Err(SubjectError::BadCharacter { typ: typ.to_string(), ch, kind });
    }
    let len = value.chars().count();
    if len < attr.min || len > attr.max {
        return Err(SubjectError::BadLength { typ: typ.to_string(), len, min: attr.min, max: attr.max });
    }
    Ok(())
}

/// A test of whether a character may appear in a string type.
type CharTest = fn(char) -> bool;

fn is_printable(c: char) -> bool {
    c.is_ascii_alphanumeric() || " '()+,-./:=?".contains(c)
}

fn dotted(arcs: &[u64]) -> String {
    arcs.iter().map(u64::to_string).collect::<Vec<_>>().join(".")
}

/// The short name openssl prints for an attribute OID (dotted form when unknown).
pub fn short_name(oid_dotted: &str) -> String {
    ATTRS
        .iter()
        .find(|a| dotted(a.oid) == oid_dotted)
        .map(|a| a.short.to_string())
        .unwrap_or_else(|| oid_dotted.to_string())
}

/// Renders a parsed X.509 name on one line, openssl style without spaces:
/// `C=US, ST=NC, O=Example, CN=agent1`; multi-valued RDNs joined with ` + `;
/// `,`, `+` and `\` inside values escaped with a backslash.
pub fn format_name(name: &x509_parser::x509::X509Name<'_>) -> String {
    let mut parts = Vec::new();
    for rdn in name.iter() {
        let members: Vec<String> = rdn
            .iter()
            .map(|atv| {
                let typ = short_name(&atv.attr_type().to_id_string());
                let value = atv
                    .as_str()
                    .map(escape_value)
                    .unwrap_or_else(|_| format!("#{}", hex::encode(atv.attr_value().data)));
                format!("{typ}={value}")
            })
            .collect();
        parts.push(members.join(" + "));
    }
    parts.join(", ")
}

fn escape_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        if matches!(c, ',' | '+' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The last common name of a parsed X.509 name, if any (the identity acc uses).
pub fn common_name_of(name: &x509_parser::x509::X509Name<'_>) -> Option<String> {
    name.iter_common_name().filter_map(|a| a.as_str().ok()).map(str::to_string).last()
}

#[cfg(test)]
mod tests;
