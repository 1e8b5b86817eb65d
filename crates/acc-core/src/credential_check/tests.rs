use std::cell::Cell;

use proptest::prelude::*;

use super::*;
use crate::password::PasswordMode;

/// A vault holding the App ID's password and one password per generation, counting calls.
struct Vault {
    app_id: &'static str,
    generations: Vec<(u32, &'static str, &'static str)>,
    calls: Cell<u32>,
}

impl PasswordOracle for Vault {
    fn is_app_id_password(&self, password: &Secret) -> bool {
        self.calls.set(self.calls.get() + 1);
        password.expose() == self.app_id
    }

    fn generation_with_password(&self, password: &Secret) -> Option<(u32, String)> {
        self.calls.set(self.calls.get() + 1);
        self.generations
            .iter()
            .filter(|(_, _, p)| *p == password.expose())
            .max_by_key(|(n, _, _)| *n)
            .map(|(n, name, _)| (*n, (*name).to_owned()))
    }

    fn is_password_of_generation(&self, number: u32, password: &Secret) -> bool {
        self.calls.set(self.calls.get() + 1);
        self.generations.iter().any(|(n, _, p)| *n == number && *p == password.expose())
    }
}

/// A directory with a few domain accounts, counting lookups.
struct Directory {
    lookups: Cell<u32>,
}

impl DirectoryLookup for Directory {
    fn domain_account_state(&self, user_name: &UserName) -> DomainAccountState {
        self.lookups.set(self.lookups.get() + 1);
        match user_name.account().folded().as_str() {
            "acc_svc" | "acc_svc2" => DomainAccountState::Enabled,
            "acc_off" => DomainAccountState::Disabled,
            _ => DomainAccountState::NotFound,
        }
    }
}

struct Fixture {
    directory: DirectoryNames,
    sites: Vec<String>,
    generations: Vec<GenerationRecord>,
    vault: Vault,
    lookup: Directory,
    policy: PasswordPolicy,
}

const GEN1_PASSWORD: &str = "first generation secret 1";
const GEN2_PASSWORD: &str = "second generation secret 2";
const GEN3_PASSWORD: &str = "third generation secret 3";
const APP_ID_PASSWORD: &str = "the app id password ok";
const STRONG: &str = "vT9#qL2!xW7$mZ4@";

fn generation(number: u32, user_name: &str, phase: GenerationPhase) -> GenerationRecord {
    GenerationRecord { number, user_name: user_name.to_owned(), phase }
}

impl Fixture {
    fn new() -> Self {
        Fixture {
            directory: DirectoryNames { netbios: "CORP".into(), dns: "corp.example".into() },
            sites: vec!["SITE-01".into(), "SITE-02".into()],
            generations: vec![
                generation(1, r"CORP\acc_old", GenerationPhase::Removed),
                generation(2, "ACC_User_v2", GenerationPhase::Retiring),
                generation(3, "ACC_User_v3", GenerationPhase::Active),
            ],
            vault: Vault {
                app_id: APP_ID_PASSWORD,
                generations: vec![
                    (1, r"CORP\acc_old", GEN1_PASSWORD),
                    (2, "ACC_User_v2", GEN2_PASSWORD),
                    (3, "ACC_User_v3", GEN3_PASSWORD),
                ],
                calls: Cell::new(0),
            },
            lookup: Directory { lookups: Cell::new(0) },
            policy: PasswordPolicy::default(),
        }
    }

    fn ctx(&self) -> CheckContext<'_> {
        CheckContext {
            app_id: "svc_appid",
            directory: &self.directory,
            site_servers: &self.sites,
            management_server: "MGMT-01",
            organisation: "Example Logistics GmbH",
            generations: &self.generations,
            policy: self.policy,
            passwords: &self.vault,
            directory_lookup: &self.lookup,
        }
    }

    fn check(&self, user_name: &str, password: &str) -> CredentialCheck {
        self.check_confirmed(user_name, password, password)
    }

    fn check_confirmed(&self, user_name: &str, password: &str, confirmation: &str) -> CredentialCheck {
        let (password, confirmation) = (Secret::from(password), Secret::from(confirmation));
        let new = NewCredential { user_name, password: &password, confirmation: &confirmation };
        check_new_credential(&new, &self.ctx())
    }
}

fn ids(check: &CredentialCheck) -> Vec<&'static str> {
    check.errors.iter().map(|e| e.id).collect()
}

fn only(check: &CredentialCheck) -> &FieldError {
    assert_eq!(check.errors.len(), 1, "{:?}", check.errors);
    &check.errors[0]
}

#[test]
fn a_new_local_name_with_a_strong_password_passes() {
    let f = Fixture::new();
    let check = f.check("ACC_User_v4", STRONG);
    assert!(check.passed(), "{:?}", check.errors);
    assert!(check.warnings.is_empty());
    assert_eq!(check.next_generation, 4);
    assert_eq!(check.user_name.unwrap().stored(), "ACC_User_v4");
    assert_eq!(f.lookup.lookups.get(), 0, "local names never reach the directory");
}

#[test]
fn every_vault_and_directory_message_is_exact() {
    let f = Fixture::new();
    let cases: [(&str, &str, Field, &str, &str); 7] = [
        (
            "ACC_User_v2",
            STRONG,
            Field::UserName,
            "U-REUSED",
            "user name: 'ACC_User_v2' was already used by ACC generation 2; rotate to a name never used before (for example 'ACC_User_v4')",
        ),
        (
            r"CORP\nobody",
            STRONG,
            Field::UserName,
            "U-DOMAIN-NOT-FOUND",
            r"user name: domain account 'CORP\nobody' was not found in the directory",
        ),
        (
            "acc_off@corp.example",
            STRONG,
            Field::UserName,
            "U-DOMAIN-DISABLED",
            "user name: domain account 'acc_off@corp.example' is disabled in the directory",
        ),
        ("ACC_User_v3", GEN3_PASSWORD, Field::Password, "U-NOCHANGE", "acc: nothing changed"),
        (
            "acc_user_V3",
            STRONG,
            Field::Password,
            "U-PWCHANGE",
            "password: changing the password of the existing ACC 'ACC_User_v3' would lock out every agent that still has the old one; rotate to a new user name instead (for example 'acc_user_v4')",
        ),
        (
            "ACC_User_v4",
            APP_ID_PASSWORD,
            Field::Password,
            "P-APPID",
            "password: is the App ID's password; the ACC needs its own secret (or tick 'Use Application Credentials')",
        ),
        (
            "ACC_User_v4",
            GEN1_PASSWORD,
            Field::Password,
            "P-REUSED",
            r"password: was used by ACC generation 1 ('CORP\acc_old'); choose a password never used before",
        ),
    ];
    for (user, password, field, id, message) in cases {
        let check = f.check(user, password);
        let err = only(&check);
        assert_eq!((err.field, err.id, err.message.as_str()), (field, id, message), "{user}");
        assert!(check.warnings.is_empty());
    }
}

#[test]
fn the_active_password_under_a_new_name_is_reused() {
    let f = Fixture::new();
    let err = only(&f.check("ACC_User_v4", GEN3_PASSWORD)).clone();
    assert_eq!(
        err.message,
        "password: was used by ACC generation 3 ('ACC_User_v3'); choose a password never used before"
    );
}

#[test]
fn reuse_is_detected_across_spellings_and_only_for_earlier_generations() {
    let mut f = Fixture::new();
    // The removed generation 1 was CORP\acc_old; every spelling of it is refused.
    for typed in [r"CORP\acc_old", r"corp\ACC_OLD", "acc_old@corp.example", r"corp.example\acc_old"] {
        let check = f.check(typed, STRONG);
        assert_eq!(ids(&check), ["U-REUSED"], "{typed}");
        assert!(check.errors[0].message.contains("generation 1"), "{typed}");
        assert!(check.errors[0].message.to_lowercase().contains("'acc_old_v4'"), "{typed}");
    }
    // .\name is the same local account as name.
    assert_eq!(ids(&f.check(r".\acc_user_v2", STRONG)), ["U-REUSED"]);
    // A local name equal to a removed domain name's account part is a different account.
    assert!(f.check("acc_old", STRONG).passed());
    // A provisioning generation's name is not "earlier"; the rotation field reports R-BUSY.
    f.generations.push(generation(4, "ACC_User_v4", GenerationPhase::Provisioning));
    assert!(f.check("ACC_User_v4", STRONG).passed());
    assert_eq!(f.check("ACC_User_v9", STRONG).next_generation, 5);
}

#[test]
fn reuse_suggestion_is_shortened_to_20_characters() {
    let mut f = Fixture::new();
    f.generations.push(generation(11, "ACC_agent_connection", GenerationPhase::Removed));
    let check = f.check("ACC_agent_connection", STRONG);
    assert_eq!(
        only(&check).message,
        "user name: 'ACC_agent_connection' was already used by ACC generation 11; rotate to a name never used before (for example 'ACC_agent_connec_v12')"
    );
    assert_eq!("ACC_agent_connec_v12".chars().count(), 20);
}

#[test]
fn one_message_per_field_user_name_first() {
    let f = Fixture::new();
    let check = f.check("ACC:user.", "short");
    assert_eq!(ids(&check), ["U-CHAR", "P-SHORT"]);
    assert_eq!(check.errors[0].field, Field::UserName);
    assert_eq!(check.errors[1].field, Field::Password);
    assert!(check.warnings.is_empty());
    assert!(check.user_name.is_none());
    // Only the password failing.
    assert_eq!(ids(&f.check("ACC_User_v4", "")), ["P-EMPTY"]);
    // Both fine apart from confirmation.
    assert_eq!(ids(&f.check_confirmed("ACC_User_v4", STRONG, "vT9#qL2!xW7$mZ4!")), ["P-CONFIRM"]);
}

#[test]
fn app_id_name_suppresses_every_password_check() {
    let f = Fixture::new();
    for password in ["", "short", APP_ID_PASSWORD, GEN1_PASSWORD] {
        let check = f.check(r"CORP\svc_appid", password);
        assert_eq!(ids(&check), ["U-APPID"], "{password}");
    }
    assert_eq!(f.vault.calls.get(), 0, "the vault is not asked");
    assert_eq!(f.lookup.lookups.get(), 0, "the directory is not asked");
    // Other user-name failures do not suppress the password field.
    assert_eq!(ids(&f.check(r"SITE-01\ACC_User_v4", "")), ["U-SITEQUALIFIED", "P-EMPTY"]);
}

#[test]
fn the_vault_is_asked_only_after_the_policy_passed() {
    let f = Fixture::new();
    // A common password that is also stored somewhere is reported as common.
    assert_eq!(ids(&f.check("ACC_User_v4", "passwordpassword")), ["P-COMMON"]);
    assert_eq!(f.vault.calls.get(), 0);
    // The App ID check comes before the reuse check.
    let mut f = Fixture::new();
    f.vault.generations.push((2, "ACC_User_v2", APP_ID_PASSWORD));
    assert_eq!(ids(&f.check("ACC_User_v4", APP_ID_PASSWORD)), ["P-APPID"]);
}

#[test]
fn the_vault_sees_the_nfc_form() {
    let mut f = Fixture::new();
    f.vault.app_id = "caf\u{e9} au lait noir";
    let decomposed = "cafe\u{301} au lait noir";
    assert_eq!(ids(&f.check("ACC_User_v4", decomposed)), ["P-APPID"]);
    // The active generation's password typed decomposed is "nothing changed".
    f.vault.generations.push((3, "ACC_User_v3", "caf\u{e9} cr\u{e8}me noire"));
    assert_eq!(ids(&f.check("ACC_User_v3", "cafe\u{301} cre\u{300}me noire")), ["U-NOCHANGE"]);
}

#[test]
fn nochange_and_pwchange_come_before_the_policy() {
    let f = Fixture::new();
    // Same name as the active generation: the password is not judged by the policy.
    assert_eq!(ids(&f.check("ACC_User_v3", "x")), ["U-PWCHANGE"]);
    assert_eq!(ids(&f.check(r".\ACC_User_v3", "")), ["U-PWCHANGE"]);
}

#[test]
fn domain_names_warn_and_reach_the_directory_last() {
    let f = Fixture::new();
    let check = f.check(r"CORP\acc_svc", STRONG);
    assert!(check.passed());
    assert_eq!(
        check.warnings,
        [
            r"warning: 'CORP\acc_svc' is a domain account; site servers will not create, re-enable or refresh it, and its lockouts are domain-wide"
        ]
    );
    assert_eq!(check.user_name.as_ref().unwrap().stored(), r"CORP\acc_svc");
    assert_eq!(f.lookup.lookups.get(), 1);
    // A refused save carries no warning.
    assert!(f.check(r"CORP\acc_svc2", "short").warnings.is_empty());
    // Reuse is reported before the directory is asked.
    let before = f.lookup.lookups.get();
    assert_eq!(ids(&f.check(r"CORP\acc_old", STRONG)), ["U-REUSED"]);
    assert_eq!(f.lookup.lookups.get(), before);
}

#[test]
fn app_mode_warning_is_exact() {
    assert_eq!(
        app_mode_warning(r"CORP\svc_appid"),
        "warning: agents will authenticate with the App ID 'CORP\\svc_appid'; stale agents can lock it out and stop the console \u{2014} prefer an Agent Connectivity Credential"
    );
}

#[test]
fn complexity_mode_end_to_end() {
    let mut f = Fixture::new();
    f.policy = PasswordPolicy::for_mode(PasswordMode::Complexity);
    assert!(f.check("ACC_User_v4", "Zq7!xwpa").passed());
    assert_eq!(ids(&f.check("ACC_User_v4", "zq7!xwpa")), ["P-CLASSES"]);
    assert_eq!(ids(&f.check("ACC_User_v4", "Zq7!acc_user_v4")), ["P-USERNAME"]);
    assert_eq!(ids(&f.check("ACC_User_v4", "Password1!")), ["P-COMMON"]);
}

#[test]
fn field_errors_serialise_with_the_field_label() {
    let f = Fixture::new();
    let check = f.check("", "");
    let json = serde_json::to_value(&check.errors).unwrap();
    assert_eq!(json[0]["field"], "user name");
    assert_eq!(json[0]["id"], "U-EMPTY");
    assert_eq!(json[1]["field"], "password");
    assert_eq!(json[1]["message"], "password: is empty; enter a password");
}

/// Every fixed text a message can contain, plus the public names of the fixture: a 4-code
/// point window of the password may appear in a message only if it also appears here.
fn public_text(user_name: &str) -> String {
    let templates = [
        "user name: is empty; enter a local name such as 'ACC_user' or a domain name such as 'CORP\\acc_svc'",
        "is the App ID; do not enter it here \u{2014} tick 'Use Application Credentials' instead",
        "names one site server's local account; use the plain local form '' so every site server gets it",
        "characters; a local account name allows at most 20",
        "contains '', which account names cannot contain (\" / \\ [ ] : ; | = , + * ? < > @ and control characters)",
        "ends with a period, which account names cannot do",
        "was already used by ACC generation ; rotate to a name never used before (for example '')",
        "user name: domain account '' was not found in the directory is disabled in the directory",
        "acc: nothing changed",
        "password: changing the password of the existing ACC 'ACC_User_v3' would lock out every agent that still has the old one; rotate to a new user name instead (for example '')",
        "password: is empty; enter a password",
        "password: the two entries do not match; type the same password twice",
        "password: contains a control character (such as a tab or line break); use printable characters and spaces only",
        "password: too long:  characters; the limit is 256",
        "password: too short:  characters; the nist policy needs at least 15 complexity",
        "password: missing an uppercase letter (A-Z), a lowercase letter (a-z), a digit (0-9) and a symbol (such as ! # % _); the complexity policy needs an uppercase letter, a lowercase letter, a digit and a symbol",
        "password: contains the user name ''; choose a password that does not include it",
        "password: is a commonly used or breached password; choose a different one",
        "password: is a name tied to this system (user name, product, site or organisation name); choose a different one",
        "password: is a repeated or sequential pattern; choose a different one",
        "password: is the App ID's password; the ACC needs its own secret (or tick 'Use Application Credentials')",
        "password: was used by ACC generation  ('CORP\\acc_old' 'ACC_User_v2' 'ACC_User_v3'); choose a password never used before",
        "warning: '' is a domain account; site servers will not create, re-enable or refresh it, and its lockouts are domain-wide",
    ];
    let mut text = templates.join("\n");
    text.push('\n');
    text.push_str(user_name);
    text.push('\n');
    // Suggestions built from the typed name, and numbers 0-300 as they appear.
    text.push_str(&crate::name::suggest_user_name(NameParts::split(user_name).account, 4));
    for n in 0..=300 {
        text.push_str(&format!("\n: {n} c\n{n}; r\n"));
    }
    text
}

fn windows(s: &str, size: usize) -> Vec<String> {
    let cps: Vec<char> = s.chars().collect();
    cps.windows(size).map(|w| w.iter().collect()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn messages_never_contain_the_password(
        password in prop_oneof![
            "[a-zA-Z0-9 !#%_@.-]{0,40}",
            "\\PC{0,30}",
            "[a-z]{4}[\\t\\n][a-z]{12}",
            Just("ACC_User_v4 with more".to_owned()),
            Just(GEN1_PASSWORD.to_owned()),
            Just(APP_ID_PASSWORD.to_owned()),
            Just("x".repeat(300)),
        ],
        user in prop_oneof![
            Just("ACC_User_v4"), Just("ACC_User_v3"), Just(r"CORP\acc_svc"), Just(""), Just("bad:name"),
        ],
        complexity in any::<bool>(),
        confirm_differs in any::<bool>(),
    ) {
        let mut f = Fixture::new();
        if complexity {
            f.policy = PasswordPolicy::for_mode(PasswordMode::Complexity);
        }
        let confirmation = if confirm_differs { format!("{password}?") } else { password.clone() };
        let check = f.check_confirmed(user, &password, &confirmation);
        let public = public_text(user);
        for message in check.errors.iter().map(|e| e.message.as_str()).chain(check.warnings.iter().map(String::as_str)) {
            prop_assert!(!message.contains('\n') && !message.contains('\t'), "{message}");
            if password.chars().count() >= 4 && !public.contains(&password) {
                prop_assert!(!message.contains(&password), "{message}");
            }
            for window in windows(&password, 4) {
                if message.contains(&window) {
                    prop_assert!(public.contains(&window), "window {window:?} leaked into {message}");
                }
            }
        }
    }

    #[test]
    fn strong_random_passwords_pass(
        body in "[a-km-z]{6}[A-HJ-NP-Z]{4}[2-9]{3}[!#%_@$&*]{3}",
    ) {
        let f = Fixture::new();
        let check = f.check("ACC_User_v4", &body);
        prop_assert!(check.passed(), "{:?}", check.errors);
        let mut f = Fixture::new();
        f.policy = PasswordPolicy::for_mode(PasswordMode::Complexity);
        prop_assert!(f.check("ACC_User_v4", &body).passed());
    }
}
