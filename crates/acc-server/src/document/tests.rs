use acc_core::acl::Share;
use acc_core::credential_check::{DirectoryLookup, DomainAccountState, PasswordOracle};
use acc_core::name::UserName;
use acc_core::password::PasswordMode;
use acc_core::share_path::ShareName;

use super::*;

struct Vault(Vec<(u32, String, String)>);

impl PasswordOracle for Vault {
    fn is_app_id_password(&self, password: &Secret) -> bool {
        password.expose() == "AppId-Password-2026!"
    }
    fn generation_with_password(&self, password: &Secret) -> Option<(u32, String)> {
        self.0.iter().rev().find(|(_, _, p)| p == password.expose()).map(|(n, u, _)| (*n, u.clone()))
    }
    fn is_password_of_generation(&self, number: u32, password: &Secret) -> bool {
        self.0.iter().any(|(n, _, p)| *n == number && p == password.expose())
    }
}

struct Directory;

impl DirectoryLookup for Directory {
    fn domain_account_state(&self, user_name: &UserName) -> DomainAccountState {
        match user_name.account().as_str() {
            "acc_svc" => DomainAccountState::Enabled,
            "old_svc" => DomainAccountState::Disabled,
            _ => DomainAccountState::NotFound,
        }
    }
}

const STRONG: &str = "Correct-Horse-Battery-42";

fn names() -> DirectoryNames {
    DirectoryNames { netbios: "CORP".into(), dns: "corp.local".into() }
}

fn hash(s: &Secret) -> Result<String, crate::error::ServerError> {
    Ok(format!("$argon2id$fake${}", s.expose().len()))
}

fn save(
    doc: &PolicyDocument,
    vault: &Vault,
    name: Option<&str>,
    password: &str,
    grant: bool,
) -> Result<Saved, Vec<Problem>> {
    let dir = names();
    let sites = ["SITE1".to_string()];
    let ctx = AuthContext {
        app_id: "svc_acc_app",
        app_id_display: "CORP\\svc_acc_app",
        directory: &dir,
        site_servers: &sites,
        management_server: "ACCSERVER",
        organisation: "Examplecorp Industries",
        passwords: vault,
        directory_lookup: &Directory,
        pending_sites: &sites,
        hash: &hash,
        now_ms: 1_000,
    };
    let req = AuthRequest {
        mode: AuthMode::Credential,
        user_name: name.map(str::to_string),
        password: Secret::new(password),
        confirmation: Secret::new(password),
        password_policy: None,
        grant_read: grant,
        force: false,
    };
    change_auth(doc, &req, &ctx)
}

fn messages(r: Result<Saved, Vec<Problem>>) -> Vec<String> {
    r.unwrap_err().into_iter().map(|p| format!("{} {}", p.id, p.message)).collect()
}

#[test]
fn a_fresh_document_uses_the_app_id_and_agents_may_read_every_source() {
    let doc = PolicyDocument::default();
    assert_eq!(doc.auth.mode, AuthMode::Application);
    assert_eq!(doc.auth.password_policy.mode(), PasswordMode::Nist);
    let names: Vec<&str> = doc.shares.iter().map(|s| s.name().as_str()).collect();
    assert_eq!(names, ["software-library", "nscap", "patch-downloads"]);
    assert_eq!(doc.rotation_grace, 604_800);
}

#[test]
fn credential_mode_without_a_credential_is_u_empty_and_the_app_id_is_one_message() {
    let doc = PolicyDocument::default();
    let v = Vault(vec![]);
    let m = messages(save(&doc, &v, None, "", false));
    assert_eq!(m.len(), 2, "one message per field: {m:?}");
    assert!(m[0].starts_with("U-EMPTY user name: is empty;"), "{m:?}");
    assert_eq!(m[1], "P-EMPTY password: is empty; enter a password");
    let m = messages(save(&doc, &v, Some("CORP\\svc_acc_app"), "", false));
    assert_eq!(
        m,
        [
            "U-APPID user name: 'CORP\\svc_acc_app' is the App ID; do not enter it here \u{2014} tick 'Use Application Credentials' instead"
        ]
    );
}

#[test]
fn the_complexity_policy_names_the_missing_classes() {
    let mut doc = PolicyDocument::default();
    doc.auth.password_policy = PasswordPolicy::for_mode(PasswordMode::Complexity);
    let m = messages(save(&doc, &Vault(vec![]), Some("ACC_user"), "weakpassword", false));
    assert_eq!(
        m,
        [
            "P-CLASSES password: missing an uppercase letter (A-Z), a digit (0-9) and a symbol (such as ! # % _); the complexity policy needs an uppercase letter, a lowercase letter, a digit and a symbol"
        ]
    );
    let m = messages(save(&doc, &Vault(vec![]), Some("ACC_user"), "AppId-Password-2026!", false));
    assert!(m[0].starts_with("P-APPID "), "{m:?}");
}

#[test]
fn a_strong_credential_provisions_a_generation_and_switches_when_the_sites_have_it() {
    let doc = PolicyDocument::default();
    let saved = save(&doc, &Vault(vec![]), Some(".\\ACC_user"), STRONG, false).unwrap();
    assert!(saved.warnings.is_empty() && saved.granted.is_empty());
    let mut next = saved.document;
    assert_eq!(next.auth.mode, AuthMode::Credential);
    let g = &next.generations[0];
    assert_eq!((g.number, g.user_name.as_str(), g.phase), (1, "ACC_user", GenerationPhase::Provisioning));
    assert_eq!(g.password_hash.as_deref(), Some("$argon2id$fake$24"));
    assert!(settle(&mut next, false, 2_000).is_empty(), "a site still has to create it");
    let steps = settle(&mut next, true, 2_000);
    assert_eq!(steps.len(), 1);
    assert_eq!((steps[0].from, steps[0].to), (GenerationPhase::Provisioning, GenerationPhase::Active));
    assert_eq!(next.generation_in(GenerationPhase::Active).unwrap().number, 1);
}

#[test]
fn a_domain_credential_is_active_at_once_with_w_domain() {
    let doc = PolicyDocument::default();
    let saved = save(&doc, &Vault(vec![]), Some("CORP\\acc_svc"), STRONG, false).unwrap();
    assert!(
        saved.warnings[0].starts_with("warning: 'CORP\\acc_svc' is a domain account"),
        "{:?}",
        saved.warnings
    );
    let mut next = saved.document;
    assert_eq!(next.generations[0].password_hash, None, "the directory verifies domain passwords");
    assert_eq!(settle(&mut next, false, 5).len(), 1);
    let m = messages(save(&doc, &Vault(vec![]), Some("CORP\\old_svc"), STRONG, false));
    assert!(m[0].starts_with("U-DOMAIN-DISABLED "), "{m:?}");
}

#[test]
fn a_upn_credential_is_a_domain_form_stored_as_typed_and_read_as_its_directory_account() {
    // Section 2 / 1.1 "domain form": `user@dns.domain` is one directory account, like
    // `DOMAIN\user`; it is stored as typed (5.4) and never created by site servers.
    let mut doc = PolicyDocument::default();
    doc.shares[1] = Share::new(ShareName::parse("nscap").unwrap());
    let saved = save(&doc, &Vault(vec![]), Some("acc_svc@corp.local"), STRONG, true).unwrap();
    assert!(
        saved.warnings[0].starts_with("warning: 'acc_svc@corp.local' is a domain account"),
        "{:?}",
        saved.warnings
    );
    let g = &saved.document.generations[0];
    assert_eq!((g.user_name.as_str(), g.password_hash.as_ref()), ("acc_svc@corp.local", None));
    assert!(!g.is_local());
    // Share access was checked and granted for the directory account CORP\acc_svc.
    assert!(saved.granted.iter().all(|c| c.contains("CORP\\acc_svc")), "{:?}", saved.granted);
    assert!(!saved.granted.is_empty());
    let caller = Caller::for_principal("CORP\\acc_svc".parse().unwrap());
    assert!(check_package_sources(&saved.document.shares, &caller).is_ok());
    // Its other spelling is the same name for reuse checks: no password change on it.
    let mut next = saved.document;
    settle(&mut next, true, 5);
    let m = messages(save(&next, &Vault(vec![]), Some("CORP\\acc_svc"), "Another-Strong-Pass-77", false));
    assert!(m[0].starts_with("U-PWCHANGE "), "{m:?}");
}

#[test]
fn the_password_checks_get_every_context_word_of_5_3() {
    // 5.3 (2): the ACC user name (full and account part), the product words, the names of
    // the management server and of every site server, and the organisation name setting
    // (`Examplecorp Industries` in this context; it used to reach the check empty).
    let doc = PolicyDocument::default();
    let context = "P-CONTEXT password: is a name tied to this system (user name, product, site or organisation name); choose a different one";
    for (name, password) in [
        ("ACC_user", "Examplecorp Industries"),
        ("ACC_user", "EXAMPLECORP industries"),
        ("ACC_user", "Agent Connectivity Credential"),
        (".\\ACC_user_longer_name", "acc_user_longer_name"),
        (".\\ACC_user_longer_name", ".\\acc_USER_longer_name"),
    ] {
        assert_eq!(
            messages(save(&doc, &Vault(vec![]), Some(name), password, false)),
            [context],
            "{password}"
        );
    }
}

#[test]
fn rotation_retires_the_old_name_and_never_reuses_it() {
    let v = Vault(vec![(1, "ACC_User_v1".into(), STRONG.into())]);
    let mut doc = save(&PolicyDocument::default(), &Vault(vec![]), Some("ACC_User_v1"), STRONG, false)
        .unwrap()
        .document;
    settle(&mut doc, true, 1_000);
    let m = messages(save(&doc, &v, Some("acc_user_V1"), "Another-Strong-Pass-77", false));
    assert!(
        m[0].starts_with("U-PWCHANGE password: changing the password of the existing ACC 'ACC_User_v1'"),
        "{m:?}"
    );
    assert!(m[0].ends_with("(for example 'acc_user_v2')"), "the suggestion keeps the typed base: {m:?}");
    assert_eq!(
        messages(save(&doc, &v, Some("ACC_User_v1"), STRONG, false)),
        ["U-NOCHANGE acc: nothing changed"]
    );
    let m = messages(save(&doc, &v, Some("ACC_User_v2"), STRONG, false));
    assert!(m[0].starts_with("P-REUSED password: was used by ACC generation 1 ('ACC_User_v1')"), "{m:?}");
    let mut doc = save(&doc, &v, Some("ACC_User_v2"), "Another-Strong-Pass-77", false).unwrap().document;
    let busy = messages(save(&doc, &v, Some("ACC_User_v3"), "Third-Strong-Pass-99x", false));
    assert_eq!(
        busy,
        [
            "R-BUSY rotation: generation 2 ('ACC_User_v2') is still provisioning (pending: SITE1); finish, force-switch or cancel it first"
        ]
    );
    let steps = settle(&mut doc, true, 10_000);
    assert_eq!(steps.len(), 2);
    let v1 = &doc.generations[0];
    assert_eq!((v1.phase, v1.retire_deadline), (GenerationPhase::Retiring, Some(10_000 + 604_800_000)));
    assert!(settle(&mut doc, true, 10_001).is_empty());
    let steps = settle(&mut doc, true, 10_000 + 604_800_000);
    assert_eq!((steps[0].generation, steps[0].reason), (1, "deadline"));
    let m = messages(save(&doc, &v, Some("ACC_User_v1"), "Fourth-Strong-Pass-55", false));
    assert!(
        m[0].starts_with("U-REUSED user name: 'ACC_User_v1' was already used by ACC generation 1"),
        "{m:?}"
    );
}

#[test]
fn missing_read_is_refused_with_the_sources_unless_granted_in_the_same_save() {
    let mut doc = PolicyDocument::default();
    doc.shares[1] = Share::new(ShareName::parse("nscap").unwrap());
    doc.shares[2] = Share::new(ShareName::parse("patch-downloads").unwrap());
    let m = messages(save(&doc, &Vault(vec![]), Some("ACC_user"), STRONG, false));
    assert_eq!(
        m,
        [
            " share access: 'ACC_user' cannot read 2 package sources: nscap (share and file level), patch-downloads (share and file level); grant Read or Full Control at both the share and the file level, then save again"
        ]
    );
    let saved = save(&doc, &Vault(vec![]), Some("ACC_user"), STRONG, true).unwrap();
    assert_eq!(saved.granted.len(), 4, "{:?}", saved.granted);
    assert!(
        check_package_sources(&saved.document.shares, &Caller::for_principal("ACC_user".parse().unwrap()))
            .is_ok()
    );
}

#[test]
fn site_settings_are_validated_with_the_messages_of_5_5() {
    let doc = PolicyDocument::default();
    let patch = |v: Value| v.as_object().unwrap().clone();
    let err = change_site(&doc, &patch(serde_json::json!({"threshold": 1000, "reset_after": 30_000_000})))
        .unwrap_err();
    let m: Vec<&str> = err.iter().map(|p| p.message.as_str()).collect();
    assert_eq!(
        m,
        [
            "lockout.threshold: 1000 is out of range; use 0 (never lock) to 999",
            "lockout.reset_after: 30000000 s is out of range; use 60 to 5999940 s (1 to 99999 minutes)"
        ]
    );
    let err = change_site(&doc, &patch(serde_json::json!({"treshold": 5}))).unwrap_err();
    assert_eq!(err[0].message, "settings: unknown site setting 'treshold'");
    assert!(change_site(&doc, &patch(serde_json::json!({"threshold": "ten"}))).is_err());
    let saved = change_site(&doc, &patch(serde_json::json!({"mode": "classic", "threshold": 150}))).unwrap();
    assert_eq!(saved.document.site.threshold, 150);
    assert_eq!(
        saved.warnings,
        ["warning: lockout.threshold 150 is above 100, the most consecutive failures NIST SP 800-63B allows"]
    );
    assert_eq!(summary(&doc, &saved.document), "site.mode, site.threshold");
}

/// Every non-null `password_hash` anywhere in `value`, replaced by `[REDACTED]`: the
/// redaction the API answered as untyped JSON before the document was typed.
fn redact_every_hash(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if k == "password_hash" && !v.is_null() {
                    *v = Value::String("[REDACTED]".into());
                } else {
                    redact_every_hash(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_every_hash),
        _ => {}
    }
}

#[test]
fn the_typed_redaction_answers_the_same_bytes_as_the_untyped_one() {
    let a = PolicyDocument::default();
    let b = save(&a, &Vault(vec![]), Some("ACC_user"), STRONG, false).unwrap().document;
    let mut c = b.clone();
    settle(&mut c, true, 7);
    c.generations.push(Generation {
        number: 2,
        user_name: "CORP\\acc_svc".into(),
        phase: GenerationPhase::Provisioning,
        password_hash: None,
        saved_at: 8,
        retire_deadline: None,
    });
    for doc in [&a, &b, &c] {
        let mut untyped = serde_json::to_value(doc).unwrap();
        redact_every_hash(&mut untyped);
        assert_eq!(serde_json::to_string(&redacted(doc)).unwrap(), untyped.to_string());
    }
    assert!(c.generations.iter().any(|g| g.password_hash.is_none()), "a domain-form generation has no hash");
}

#[test]
fn hashes_are_redacted_and_diffs_match_generations_by_number() {
    let a = PolicyDocument::default();
    let mut b = save(&a, &Vault(vec![]), Some("ACC_user"), STRONG, false).unwrap().document;
    let shown = redacted_value(&b).to_string();
    assert!(shown.contains("[REDACTED]") && !shown.contains("argon2"), "{shown}");
    let changes = diff(&redacted_value(&a), &redacted_value(&b));
    let paths: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(paths, ["auth.mode", "generations[1]"], "a new generation is one change");
    assert_eq!(summary(&a, &b), "auth.mode, generations[1]");
    let before = redacted_value(&b);
    settle(&mut b, true, 7);
    let changes = diff(&before, &redacted_value(&b));
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].path, "generations[1].phase");
    assert_eq!((changes[0].from.as_str(), changes[0].to.as_str()), (Some("provisioning"), Some("active")));
}

#[test]
fn force_switch_cancel_and_grace() {
    let mut doc = save(&PolicyDocument::default(), &Vault(vec![]), Some("ACC_User_v1"), STRONG, false)
        .unwrap()
        .document;
    settle(&mut doc, true, 0);
    let v = Vault(vec![(1, "ACC_User_v1".into(), STRONG.into())]);
    let pending = save(&doc, &v, Some("ACC_User_v2"), "Another-Strong-Pass-77", false).unwrap().document;
    let mut cancelled = pending.clone();
    let steps = cancel(&mut cancelled);
    assert_eq!((steps[0].generation, steps[0].reason, steps[0].to), (2, "cancel", GenerationPhase::Removed));
    assert_eq!(cancelled.generation_in(GenerationPhase::Active).unwrap().number, 1, "v1 stays active");
    let mut forced = pending;
    forced.rotation_grace = 0;
    let steps = force_switch(&mut forced, 50);
    assert!(steps.iter().all(|s| s.reason == "force-switch"), "{steps:?}");
    assert_eq!(
        forced.generations[0].phase,
        GenerationPhase::Removed,
        "grace 0: the old one goes at the switch"
    );
    assert!(check_grace(7_776_000).is_ok());
    assert_eq!(
        check_grace(7_776_001).unwrap_err().message,
        "rotation.grace: 7776001 s is out of range; use 0 to 7776000 s (90 days)"
    );
}
