//! The key-file rule on Windows, the equivalent of Unix's `chmod 0400`: the file's DACL
//! grants read to the account the agent runs as, and access to nobody but that account,
//! SYSTEM and Administrators (OpenSSH for Windows applies the same rule to its keys).
//!
//! Pure logic over a security descriptor in SDDL, the text form Windows itself produces
//! (`ConvertSecurityDescriptorToStringSecurityDescriptorW`), so every case is tested on
//! any platform; [`crate::sys`] reads the descriptor on Windows. A refusal names what is
//! wrong and gives the exact `icacls` command that fixes it.

use std::fmt;

/// SYSTEM (`NT AUTHORITY\SYSTEM`), the account services run as by default.
pub const SYSTEM: &str = "S-1-5-18";
/// The built-in Administrators group.
pub const ADMINISTRATORS: &str = "S-1-5-32-544";

/// `FILE_READ_DATA`, `GENERIC_READ`, `GENERIC_ALL`: rights that read a file's contents.
const READ_BITS: u32 = 0x1 | 0x8000_0000 | 0x1000_0000;

/// An SDDL string that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("security descriptor '{sddl}': {detail}")]
pub struct SddlError {
    /// The text.
    pub sddl: String,
    /// What is wrong with it.
    pub detail: String,
}

/// Who an ACE names: a SID (`S-1-5-18`), or an SDDL alias that is relative to a domain and
/// so has no fixed SID (`DU`, `LA`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Trustee(pub String);

impl Trustee {
    /// The SID, when the trustee has one fixed SID.
    fn sid(&self) -> Option<&str> {
        self.0.starts_with("S-").then_some(self.0.as_str())
    }

    /// As `icacls` takes it: `*SID`.
    fn icacls(&self) -> Option<String> {
        self.sid().map(|s| format!("*{s}"))
    }
}

impl fmt::Display for Trustee {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let well_known = WELL_KNOWN.iter().find(|(_, sid, _)| *sid == self.0).map(|(_, _, name)| *name);
        match (well_known, DOMAIN_ALIASES.iter().find(|(a, _)| *a == self.0)) {
            (Some(name), _) => write!(f, "{name} ({})", self.0),
            (None, Some((_, name))) => write!(f, "{name} ({})", self.0),
            (None, None) => f.write_str(&self.0),
        }
    }
}

/// The SDDL aliases with a fixed SID: alias, SID, the name Windows shows.
const WELL_KNOWN: [(&str, &str, &str); 37] = [
    ("WD", "S-1-1-0", "Everyone"),
    ("CO", "S-1-3-0", "CREATOR OWNER"),
    ("CG", "S-1-3-1", "CREATOR GROUP"),
    ("OW", "S-1-3-4", "OWNER RIGHTS"),
    ("NU", "S-1-5-2", "NETWORK"),
    ("IU", "S-1-5-4", "INTERACTIVE"),
    ("SU", "S-1-5-6", "SERVICE"),
    ("AN", "S-1-5-7", "ANONYMOUS LOGON"),
    ("ED", "S-1-5-9", "ENTERPRISE DOMAIN CONTROLLERS"),
    ("PS", "S-1-5-10", "SELF"),
    ("AU", "S-1-5-11", "Authenticated Users"),
    ("RC", "S-1-5-12", "RESTRICTED"),
    ("SY", "S-1-5-18", "SYSTEM"),
    ("LS", "S-1-5-19", "LOCAL SERVICE"),
    ("NS", "S-1-5-20", "NETWORK SERVICE"),
    ("WR", "S-1-5-33", "WRITE RESTRICTED"),
    ("BA", "S-1-5-32-544", "Administrators"),
    ("BU", "S-1-5-32-545", "Users"),
    ("BG", "S-1-5-32-546", "Guests"),
    ("PU", "S-1-5-32-547", "Power Users"),
    ("AO", "S-1-5-32-548", "Account Operators"),
    ("SO", "S-1-5-32-549", "Server Operators"),
    ("PO", "S-1-5-32-550", "Print Operators"),
    ("BO", "S-1-5-32-551", "Backup Operators"),
    ("RE", "S-1-5-32-552", "Replicator"),
    ("RU", "S-1-5-32-554", "Pre-Windows 2000 Compatible Access"),
    ("RD", "S-1-5-32-555", "Remote Desktop Users"),
    ("NO", "S-1-5-32-556", "Network Configuration Operators"),
    ("MU", "S-1-5-32-558", "Performance Monitor Users"),
    ("LU", "S-1-5-32-559", "Performance Log Users"),
    ("IS", "S-1-5-32-568", "IIS_IUSRS"),
    ("CY", "S-1-5-32-569", "Cryptographic Operators"),
    ("ER", "S-1-5-32-573", "Event Log Readers"),
    ("CD", "S-1-5-32-574", "Certificate Service DCOM Access"),
    ("HA", "S-1-5-32-578", "Hyper-V Administrators"),
    ("AC", "S-1-15-2-1", "ALL APPLICATION PACKAGES"),
    ("AS", "S-1-18-1", "Authentication authority asserted identity"),
];

/// SDDL aliases relative to the machine's or the domain's SID: alias, name.
const DOMAIN_ALIASES: [(&str, &str); 12] = [
    ("LA", "the local Administrator"),
    ("LG", "the local Guest"),
    ("DA", "Domain Admins"),
    ("DG", "Domain Guests"),
    ("DU", "Domain Users"),
    ("DC", "Domain Computers"),
    ("DD", "Domain Controllers"),
    ("CA", "Cert Publishers"),
    ("EA", "Enterprise Admins"),
    ("SA", "Schema Admins"),
    ("PA", "Group Policy Creator Owners"),
    ("RS", "RAS and IAS Servers"),
];

/// Rights in SDDL's two-letter form and their access-mask bits.
const RIGHTS: [(&str, u32); 25] = [
    ("GA", 0x1000_0000),
    ("GR", 0x8000_0000),
    ("GW", 0x4000_0000),
    ("GX", 0x2000_0000),
    ("RC", 0x0002_0000),
    ("SD", 0x0001_0000),
    ("WD", 0x0004_0000),
    ("WO", 0x0008_0000),
    ("RP", 0x10),
    ("WP", 0x20),
    ("CC", 0x1),
    ("DC", 0x2),
    ("LC", 0x4),
    ("SW", 0x8),
    ("LO", 0x80),
    ("DT", 0x40),
    ("CR", 0x100),
    ("FA", 0x001F_01FF),
    ("FR", 0x0012_0089),
    ("FW", 0x0012_0116),
    ("FX", 0x0012_00A0),
    ("KA", 0x000F_003F),
    ("KR", 0x0002_0019),
    ("KW", 0x0002_0006),
    ("KX", 0x0002_0019),
];

/// One access control entry of a DACL, as it applies to the file itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ace {
    /// Allow (`A`, `OA`, `XA`) or deny (`D`, `OD`, `XD`).
    pub allow: bool,
    /// `IO`: inherit-only, so it does not apply to the file.
    pub inherit_only: bool,
    /// The access mask.
    pub mask: u32,
    /// Who it is for.
    pub trustee: Trustee,
}

/// A file's DACL: `None` is a NULL DACL (`D:NO_ACCESS_CONTROL`), which lets anyone do anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dacl(pub Option<Vec<Ace>>);

fn trustee(text: &str) -> Option<Trustee> {
    if text.starts_with("S-1-")
        && text[4..].split('-').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Some(Trustee(text.to_string()));
    }
    if let Some((_, sid, _)) = WELL_KNOWN.iter().find(|(a, _, _)| *a == text) {
        return Some(Trustee((*sid).to_string()));
    }
    DOMAIN_ALIASES.iter().any(|(a, _)| *a == text).then(|| Trustee(text.to_string()))
}

fn mask(text: &str) -> Option<u32> {
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        return u32::from_str_radix(hex, 16).ok();
    }
    if let Ok(n) = text.parse::<u32>() {
        return Some(n);
    }
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let mut m = 0;
    for i in (0..text.len()).step_by(2) {
        let code = text.get(i..i + 2)?;
        m |= RIGHTS.iter().find(|(c, _)| *c == code)?.1;
    }
    Some(m)
}

/// The top-level parts of a descriptor (`O:`, `G:`, `D:`, `S:`) with their text.
fn parts(sddl: &str) -> Vec<(char, &str)> {
    let bytes = sddl.as_bytes();
    let mut starts = Vec::new();
    let mut depth = 0i32;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'(' => depth += 1,
            b')' => depth -= 1,
            // `O:DAD:`: the `D` of the alias `DA` is not followed by a colon.
            b'O' | b'G' | b'D' | b'S' if depth == 0 && bytes.get(i + 1) == Some(&b':') => {
                starts.push((char::from(b), i));
            }
            _ => {}
        }
    }
    starts
        .iter()
        .enumerate()
        .map(|(n, &(c, s))| (c, &sddl[s + 2..starts.get(n + 1).map_or(sddl.len(), |x| x.1)]))
        .collect()
}

/// Parses the DACL of `sddl` (the owner, group and SACL parts are not needed).
pub fn parse_dacl(sddl: &str) -> Result<Dacl, SddlError> {
    let bad = |detail: String| SddlError { sddl: sddl.to_string(), detail };
    let Some((_, dacl)) = parts(sddl).into_iter().find(|(c, _)| *c == 'D') else {
        return Err(bad("no DACL part (D:)".into()));
    };
    let (flags, mut rest) = dacl.split_at(dacl.find('(').unwrap_or(dacl.len()));
    if flags.contains("NO_ACCESS_CONTROL") {
        return Ok(Dacl(None));
    }
    if !flags.replace("AI", "").replace("AR", "").replace('P', "").is_empty() {
        return Err(bad(format!("'{flags}' are not DACL flags (P, AI, AR)")));
    }
    let mut aces = Vec::new();
    while !rest.is_empty() {
        let Some(body) = rest.strip_prefix('(') else {
            return Err(bad(format!("'{rest}' is not an ACE in parentheses")));
        };
        // Conditional ACEs nest parentheses in their last field.
        let mut depth = 1;
        let end = body
            .char_indices()
            .find(|&(_, c)| {
                depth += match c {
                    '(' => 1,
                    ')' => -1,
                    _ => 0,
                };
                depth == 0
            })
            .map(|(i, _)| i)
            .ok_or_else(|| bad("an ACE is not closed".into()))?;
        let fields: Vec<&str> = body[..end].splitn(7, ';').collect();
        rest = &body[end + 1..];
        let [kind, flags, rights, _, _, who, ..] = fields[..] else {
            return Err(bad(format!("ACE '({})' has fewer than six fields", &body[..end])));
        };
        let allow = match kind {
            "A" | "OA" | "XA" | "ZA" => true,
            "D" | "OD" | "XD" => false,
            other => return Err(bad(format!("ACE type '{other}' does not belong in a DACL"))),
        };
        aces.push(Ace {
            allow,
            inherit_only: flags.contains("IO"),
            mask: mask(rights).ok_or_else(|| bad(format!("rights '{rights}' are not SDDL rights")))?,
            trustee: trustee(who)
                .ok_or_else(|| bad(format!("'{who}' is neither a SID nor an SDDL alias")))?,
        });
    }
    Ok(Dacl(Some(aces)))
}

/// The DACL `acc` gives a private key from its first byte: read for `agent_sid`, full
/// control for SYSTEM and Administrators, protected from inheritance (`P`).
pub fn key_sddl(agent_sid: &str) -> String {
    let agent = if agent_sid == SYSTEM || agent_sid == ADMINISTRATORS {
        String::new()
    } else {
        format!("(A;;FR;;;{agent_sid})")
    };
    format!("D:P{agent}(A;;FA;;;SY)(A;;FA;;;BA)")
}

/// Why a key file's DACL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyAclError {
    /// A NULL DACL: everyone has every right.
    #[error(
        "{path}: the key file has no DACL, so everyone may read the agent's private key; run `{fix}` (or set it on the file's Security tab, docs/agent.md)"
    )]
    NoDacl {
        /// The file.
        path: String,
        /// The icacls command.
        fix: String,
    },
    /// Someone besides the agent's account, SYSTEM and Administrators has access.
    #[error(
        "{path}: the key file's DACL gives {others} access to the agent's private key; only the agent's account ({agent}), SYSTEM and Administrators may have any; run `{fix}`{also} (or remove them on the file's Security tab, docs/agent.md)"
    )]
    Others {
        /// The file.
        path: String,
        /// The trustees, comma separated.
        others: String,
        /// The agent's SID.
        agent: String,
        /// The icacls command.
        fix: String,
        /// Trustees the command cannot name (domain aliases), to remove by hand.
        also: String,
    },
    /// The agent's own account cannot read it.
    #[error(
        "{path}: the key file's DACL does not let {agent}, the account the agent runs as, read it; run `{fix}` (or grant it Read on the file's Security tab, docs/agent.md)"
    )]
    AgentCannotRead {
        /// The file.
        path: String,
        /// The agent's SID.
        agent: String,
        /// The icacls command.
        fix: String,
    },
}

/// Quotes a path for cmd.exe and PowerShell alike.
fn quoted(path: &str) -> String {
    format!("\"{path}\"")
}

/// The `icacls` command that gives `path` the key DACL and removes `others`.
pub fn icacls_fix(path: &str, agent_sid: &str, others: &[Trustee]) -> String {
    let mut cmd = format!("icacls {} /inheritance:r /grant:r", quoted(path));
    if agent_sid != SYSTEM && agent_sid != ADMINISTRATORS {
        cmd.push_str(&format!(" *{agent_sid}:R"));
    }
    cmd.push_str(&format!(" *{SYSTEM}:F *{ADMINISTRATORS}:F"));
    let removed: Vec<String> = others.iter().filter_map(Trustee::icacls).collect();
    if !removed.is_empty() {
        cmd.push_str(" /remove ");
        cmd.push_str(&removed.join(" "));
    }
    cmd
}

/// Decides whether the key file at `path` (shown in messages) with `dacl` may be used by
/// an agent running as `agent_sid`.
pub fn check_key_dacl(path: &str, dacl: &Dacl, agent_sid: &str) -> Result<(), KeyAclError> {
    let Some(aces) = &dacl.0 else {
        return Err(KeyAclError::NoDacl { path: path.into(), fix: icacls_fix(path, agent_sid, &[]) });
    };
    let applies = aces.iter().filter(|a| !a.inherit_only && a.mask != 0);
    let allowed = |t: &Trustee| t.sid().is_some_and(|s| s == agent_sid || s == SYSTEM || s == ADMINISTRATORS);
    let mut others: Vec<Trustee> = Vec::new();
    for ace in applies.clone().filter(|a| a.allow && !allowed(&a.trustee)) {
        if !others.contains(&ace.trustee) {
            others.push(ace.trustee.clone());
        }
    }
    if !others.is_empty() {
        let unnamed: Vec<String> =
            others.iter().filter(|t| t.sid().is_none()).map(ToString::to_string).collect();
        let also = if unnamed.is_empty() {
            String::new()
        } else {
            format!(" and remove {} on the Security tab", unnamed.join(", "))
        };
        return Err(KeyAclError::Others {
            also,
            fix: icacls_fix(path, agent_sid, &others),
            path: path.into(),
            others: others.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
            agent: agent_sid.into(),
        });
    }
    // Windows reads the DACL in order: the first entry for the agent's own SID that
    // decides the read bit wins (rights through its groups are not counted).
    let mut denied = 0u32;
    let can_read = applies.filter(|a| a.trustee.sid() == Some(agent_sid)).any(|a| {
        if a.allow {
            a.mask & READ_BITS & !denied != 0
        } else {
            denied |= a.mask & READ_BITS;
            false
        }
    });
    if !can_read {
        return Err(KeyAclError::AgentCannotRead {
            path: path.into(),
            agent: agent_sid.into(),
            fix: icacls_fix(path, agent_sid, &[]),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const AGENT: &str = "S-1-5-21-1004336348-1177238915-682003330-1001";
    const PATH: &str = r"C:\ProgramData\acc\acc.key";

    fn check(sddl: &str) -> Result<(), String> {
        let dacl = parse_dacl(sddl).map_err(|e| e.to_string())?;
        check_key_dacl(PATH, &dacl, AGENT).map_err(|e| e.to_string())
    }

    #[test]
    fn the_dacl_acc_writes_passes_for_the_agent_system_and_an_administrator() {
        check(&key_sddl(AGENT)).unwrap();
        for agent in [SYSTEM, ADMINISTRATORS] {
            let sddl = key_sddl(agent);
            assert_eq!(sddl, "D:P(A;;FA;;;SY)(A;;FA;;;BA)");
            check_key_dacl(PATH, &parse_dacl(&sddl).unwrap(), agent).unwrap();
        }
        // As Windows prints it back: owner and group first, SIDs of local users in full,
        // rights in hex or letters, the inherited flag, a SACL after.
        check(&format!("O:BAG:SYD:PAI(A;;0x1200a9;;;{AGENT})(A;ID;FA;;;SY)(A;;GA;;;BA)S:AI(AU;SA;FA;;;WD)"))
            .unwrap();
    }

    #[test]
    fn anyone_else_with_any_access_is_refused_with_the_icacls_command() {
        for (who, shown) in [
            ("WD", "Everyone (S-1-1-0)"),
            ("BU", "Users (S-1-5-32-545)"),
            ("AU", "Authenticated Users (S-1-5-11)"),
            ("S-1-5-21-1-2-3-1002", "S-1-5-21-1-2-3-1002"),
        ] {
            for right in ["FR", "0x1", "RC", "FA", "GR"] {
                let e =
                    check(&format!("D:PAI(A;;FR;;;{AGENT})(A;;FA;;;SY)(A;ID;{right};;;{who})")).unwrap_err();
                assert!(
                    e.contains(&format!("the key file's DACL gives {shown} access")),
                    "{who} {right}: {e}"
                );
                let sid = trustee(who).unwrap().0;
                assert!(
                    e.contains(&format!(
                        "run `icacls \"{PATH}\" /inheritance:r /grant:r *{AGENT}:R *S-1-5-18:F *S-1-5-32-544:F /remove *{sid}`"
                    )),
                    "{e}"
                );
                assert!(!e.contains('\n'));
            }
        }
        // Every stranger is named once, in order.
        let e = check(&format!("D:(A;;FR;;;{AGENT})(A;;FR;;;WD)(A;;FA;;;BU)(A;;FW;;;WD)")).unwrap_err();
        assert!(e.contains("gives Everyone (S-1-1-0), Users (S-1-5-32-545) access"), "{e}");
        assert!(e.contains("/remove *S-1-1-0 *S-1-5-32-545`"), "{e}");
        // A domain alias has no fixed SID: the command cannot name it, the message does.
        let e = check(&format!("D:(A;;FR;;;{AGENT})(A;;FR;;;DU)")).unwrap_err();
        assert!(
            e.contains("gives Domain Users (DU) access")
                && e.contains("remove Domain Users (DU) on the Security tab"),
            "{e}"
        );
    }

    #[test]
    fn every_kind_of_entry_for_every_kind_of_trustee_is_decided_by_the_rule() {
        let trustees =
            [AGENT, "SY", "BA", SYSTEM, ADMINISTRATORS, "WD", "BU", "AU", "CO", "S-1-5-21-9-9-9-1002", "DU"];
        let mut decided = 0;
        for who in trustees {
            for kind in ["A", "D", "OA", "XA"] {
                for flags in ["", "ID", "IO", "OICIIO", "OICI"] {
                    for rights in ["FR", "FA", "FW", "GR", "RC", "0x0", "0x120089"] {
                        let sddl = format!("D:PAI(A;;FR;;;{AGENT})({kind};{flags};{rights};;;{who})");
                        let sid = trustee(who).unwrap().0;
                        let grants = kind != "D" && !flags.contains("IO") && rights != "0x0";
                        let stranger = ![AGENT, SYSTEM, ADMINISTRATORS].contains(&sid.as_str());
                        let result = check(&sddl);
                        assert_eq!(result.is_err(), grants && stranger, "{sddl}: {result:?}");
                        decided += 1;
                    }
                }
            }
        }
        assert_eq!(decided, 11 * 4 * 5 * 7);
    }

    #[test]
    fn entries_that_give_nothing_to_the_file_are_not_counted() {
        // A deny for Everyone only takes away; an inherit-only entry applies to children;
        // an empty mask grants nothing.
        check(&format!("D:P(D;;FA;;;WD)(A;;FR;;;{AGENT})(A;OICIIO;FA;;;BU)(A;;0x0;;;AU)")).unwrap();
    }

    #[test]
    fn the_agent_must_be_able_to_read_it() {
        for sddl in [
            "D:P(A;;FA;;;SY)(A;;FA;;;BA)".to_string(),
            format!("D:P(A;;FW;;;{AGENT})(A;;FA;;;SY)"),
            format!("D:P(D;;FR;;;{AGENT})(A;;FR;;;{AGENT})"),
            format!("D:P(A;IO;FR;;;{AGENT})"),
            "D:P".to_string(),
        ] {
            let e = check(&sddl).unwrap_err();
            assert!(
                e.contains(&format!("does not let {AGENT}, the account the agent runs as, read it"))
                    && e.contains(&format!("/grant:r *{AGENT}:R *S-1-5-18:F *S-1-5-32-544:F`")),
                "{sddl}: {e}"
            );
        }
        // A deny of writing only does not stop reading.
        check(&format!("D:P(D;;FW;;;{AGENT})(A;;FR;;;{AGENT})")).unwrap();
    }

    #[test]
    fn a_null_dacl_lets_everyone_in() {
        let e = check("O:BAD:NO_ACCESS_CONTROL").unwrap_err();
        assert!(e.contains("has no DACL, so everyone may read") && e.contains("icacls"), "{e}");
    }

    #[test]
    fn descriptors_that_do_not_parse_say_why() {
        for (sddl, wanted) in [
            ("O:BAG:SY", "no DACL part"),
            ("D:P(A;;FR;;;S-1-5-x)", "'S-1-5-x' is neither a SID nor an SDDL alias"),
            ("D:P(A;;FR;;;ZZ)", "'ZZ' is neither"),
            ("D:P(A;;QQ;;;SY)", "rights 'QQ'"),
            ("D:P(A;;FR;;;SY", "not closed"),
            ("D:P(A;;FR)", "fewer than six fields"),
            ("D:P(AU;;FR;;;SY)", "ACE type 'AU' does not belong in a DACL"),
            ("D:P x", "'P x' are not DACL flags"),
            ("D:P(A;;FR;;;SY)x", "'x' is not an ACE"),
        ] {
            let e = parse_dacl(sddl).unwrap_err().to_string();
            assert!(e.contains(wanted), "{sddl}: {e}");
        }
    }

    #[test]
    fn parts_are_found_after_aliases_that_start_with_a_part_letter() {
        let d = parse_dacl("O:DAG:DUD:(A;;FR;;;DA)S:(AU;SA;FA;;;WD)").unwrap();
        assert_eq!(d.0.unwrap()[0].trustee, Trustee("DA".into()));
        let d = parse_dacl("O:S-1-5-21-1-2-3-500G:SYD:AI(XA;;FR;;;SY;(Member_of {SID(BA)}))").unwrap();
        assert_eq!(d.0.unwrap()[0].mask, 0x0012_0089);
    }

    #[test]
    fn the_fix_for_system_or_administrators_does_not_name_them_twice() {
        assert_eq!(
            icacls_fix(PATH, SYSTEM, &[Trustee("S-1-1-0".into())]),
            format!("icacls \"{PATH}\" /inheritance:r /grant:r *S-1-5-18:F *S-1-5-32-544:F /remove *S-1-1-0")
        );
    }
}
