use super::*;

const SITES: [&str; 2] = ["SITE-01", "SITE-02"];

fn sites() -> Vec<String> {
    SITES.iter().map(|s| (*s).to_owned()).collect()
}

fn check_as(mode: PasswordMode, user: &str, password: &str) -> Result<(), PasswordError> {
    let sites = sites();
    let context = PasswordContext {
        user_name: user,
        management_server: "MGMT-01",
        site_servers: &sites,
        organisation: "Example Logistics GmbH",
    };
    let policy = PasswordPolicy::for_mode(mode);
    check_password_entry(&policy, &Secret::from(password), &Secret::from(password), &context)
}

fn nist(password: &str) -> Result<(), PasswordError> {
    check_as(PasswordMode::Nist, "ACC_user", password)
}

fn complexity(password: &str) -> Result<(), PasswordError> {
    check_as(PasswordMode::Complexity, "ACC_user", password)
}

fn id(result: Result<(), PasswordError>) -> &'static str {
    result.err().map_or("ok", |e| e.id())
}

#[test]
fn secret_debug_is_redacted() {
    let secret = Secret::from("Tr0ub4dor&3-horse");
    let debug = format!("{secret:?}");
    assert_eq!(debug, "Secret(<redacted>)");
    assert!(!debug.contains("Tr0ub4dor"));
    #[derive(Debug)]
    #[allow(dead_code)]
    struct Credential {
        user: String,
        password: Secret,
    }
    let c = Credential { user: "ACC_user".into(), password: secret };
    assert!(!format!("{c:?}").contains("Tr0ub4dor"));
    assert!(!format!("{c:#?}").contains("horse"));
}

#[test]
fn secret_matches_only_equal_text() {
    assert!(Secret::from("abc").matches(&Secret::from("abc")));
    assert!(!Secret::from("abc").matches(&Secret::from("abd")));
    assert!(!Secret::from("abc").matches(&Secret::from("abcd")));
    assert!(!Secret::from("abcd").matches(&Secret::from("abc")));
    assert!(Secret::default().matches(&Secret::from("")));
}

#[test]
fn secret_travels_as_a_plain_json_string_and_compares_by_text() {
    let secret = Secret::from("p\u{e4}ss");
    assert_eq!(serde_json::to_string(&secret).unwrap(), "\"p\u{e4}ss\"");
    let back: Secret = serde_json::from_str("\"p\u{e4}ss\"").unwrap();
    assert_eq!(back, secret);
    assert_ne!(back, Secret::from("pass"));
    assert!(serde_json::from_str::<Secret>("42").is_err());
}

#[test]
fn argon2_hashes_verify_with_the_salt_given_and_nothing_else() {
    let password = Secret::from("Correct horse battery staple");
    let salt = [7u8; 16];
    let phc = hash_password(&password, &salt).unwrap();
    assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
    assert_eq!(hash_password(&password, &salt).unwrap(), phc, "the salt is the only randomness");
    assert_ne!(hash_password(&password, &[8u8; 16]).unwrap(), phc);
    assert!(verify_password(&phc, &password));
    assert!(!verify_password(&phc, &Secret::from("correct horse battery staple")));
    assert!(!verify_password("", &password), "an empty hash matches nothing");
    assert!(!verify_password("$argon2id$garbage", &password), "nor a malformed one");
    let err = hash_password(&password, &[1u8; 3]).unwrap_err().to_string();
    assert!(err.contains("salt") && !err.contains("horse"), "{err}");
}

#[test]
fn policy_ranges_per_mode() {
    assert_eq!(PasswordPolicy::default(), PasswordPolicy::for_mode(PasswordMode::Nist));
    assert_eq!(PasswordPolicy::default().min_length(), 15);
    assert_eq!(PasswordPolicy::for_mode(PasswordMode::Complexity).min_length(), 8);
    assert!(PasswordPolicy::new(PasswordMode::Nist, 15).is_ok());
    assert!(PasswordPolicy::new(PasswordMode::Nist, 64).is_ok());
    assert!(PasswordPolicy::new(PasswordMode::Complexity, 8).is_ok());
    let err = PasswordPolicy::new(PasswordMode::Nist, 14).unwrap_err();
    assert_eq!(err.to_string(), "password.min_length: 14 is out of range; use 15 to 64 for the nist policy");
    let err = PasswordPolicy::new(PasswordMode::Complexity, 65).unwrap_err();
    assert_eq!(
        err.to_string(),
        "password.min_length: 65 is out of range; use 8 to 64 for the complexity policy"
    );
    assert!(PasswordPolicy::new(PasswordMode::Complexity, 7).is_err());
}

#[test]
fn policy_serde_validates() {
    let p: PasswordPolicy = serde_json::from_str(r#"{"mode":"complexity","min_length":12}"#).unwrap();
    assert_eq!((p.mode(), p.min_length()), (PasswordMode::Complexity, 12));
    let p: PasswordPolicy = serde_json::from_str(r#"{"mode":"nist"}"#).unwrap();
    assert_eq!(p.min_length(), 15);
    assert!(serde_json::from_str::<PasswordPolicy>(r#"{"mode":"nist","min_length":8}"#).is_err());
    assert!(serde_json::from_str::<PasswordPolicy>(r#"{"mode":"nist","extra":1}"#).is_err());
    assert_eq!(serde_json::to_string(&p).unwrap(), r#"{"mode":"nist","min_length":15}"#);
}

#[test]
fn every_password_message_is_exact() {
    let long = "x1".repeat(128) + "y";
    let cases: Vec<(Result<(), PasswordError>, &str, String)> = vec![
        (nist(""), "P-EMPTY", "password: is empty; enter a password".into()),
        (
            check_password_entry(
                &PasswordPolicy::default(),
                &Secret::from("correct horse battery"),
                &Secret::from("correct horse batterx"),
                &PasswordContext::default(),
            ),
            "P-CONFIRM",
            "password: the two entries do not match; type the same password twice".into(),
        ),
        (
            nist("correct\thorse battery"),
            "P-CONTROL",
            "password: contains a control character (such as a tab or line break); use printable characters and spaces only".into(),
        ),
        (nist(&long), "P-LONG", "password: too long: 257 characters; the limit is 256".into()),
        (nist("Tr0ub4dor&3"), "P-SHORT", "password: too short: 11 characters; the nist policy needs at least 15".into()),
        (complexity("Ab1!x"), "P-SHORT", "password: too short: 5 characters; the complexity policy needs at least 8".into()),
        (
            complexity("Zq7!xACC_USERw"),
            "P-USERNAME",
            "password: contains the user name 'ACC_user'; choose a password that does not include it".into(),
        ),
        (complexity("P@ssw0rd123"), "P-COMMON", "password: is a commonly used or breached password; choose a different one".into()),
        (
            nist("Agent Connectivity Credential"),
            "P-CONTEXT",
            "password: is a name tied to this system (user name, product, site or organisation name); choose a different one".into(),
        ),
        (nist("aaaaaaaaaaaaaaaa"), "P-PATTERN", "password: is a repeated or sequential pattern; choose a different one".into()),
    ];
    for (result, expected_id, expected) in cases {
        let err = result.expect_err(expected_id);
        assert_eq!(err.id(), expected_id);
        assert_eq!(err.to_string(), expected);
    }
    let vault: [(PasswordError, &str, &str); 4] = [
        (PasswordError::NoChange, "U-NOCHANGE", "acc: nothing changed"),
        (
            PasswordError::PasswordChange { name: "ACC_User_v1".into(), suggestion: "ACC_User_v2".into() },
            "U-PWCHANGE",
            "password: changing the password of the existing ACC 'ACC_User_v1' would lock out every agent that still has the old one; rotate to a new user name instead (for example 'ACC_User_v2')",
        ),
        (
            PasswordError::AppId,
            "P-APPID",
            "password: is the App ID's password; the ACC needs its own secret (or tick 'Use Application Credentials')",
        ),
        (
            PasswordError::Reused { generation: 2, name: "ACC_User_v2".into() },
            "P-REUSED",
            "password: was used by ACC generation 2 ('ACC_User_v2'); choose a password never used before",
        ),
    ];
    for (err, expected_id, expected) in vault {
        assert_eq!(err.id(), expected_id);
        assert_eq!(err.to_string(), expected);
    }
}

#[test]
fn classes_list_joins_one_two_three_and_four_missing_items() {
    let cases = [
        ("abcdefg1!", "an uppercase letter (A-Z)"),
        ("ABCDEFG1!", "a lowercase letter (a-z)"),
        ("Abcdefgh!", "a digit (0-9)"),
        ("Abcdefgh1", "a symbol (such as ! # % _)"),
        ("abcdefgh!", "an uppercase letter (A-Z) and a digit (0-9)"),
        ("ABCDEFGH", "a lowercase letter (a-z), a digit (0-9) and a symbol (such as ! # % _)"),
        (
            "        ",
            "an uppercase letter (A-Z), a lowercase letter (a-z), a digit (0-9) and a symbol (such as ! # % _)",
        ),
        (
            "€€€€ ££££",
            "an uppercase letter (A-Z), a lowercase letter (a-z), a digit (0-9) and a symbol (such as ! # % _)",
        ),
        ("ÉÉÉÉééé٣!", "a digit (0-9)"),
    ];
    for (password, list) in cases {
        let err = complexity(password).expect_err(password);
        assert_eq!(err.id(), "P-CLASSES", "{password}");
        assert_eq!(
            err.to_string(),
            format!(
                "password: missing {list}; the complexity policy needs an uppercase letter, a lowercase letter, a digit and a symbol"
            ),
            "{password}"
        );
    }
    // The nist mode has no composition rule.
    assert_eq!(id(nist("lowercase only, long enough")), "ok");
}

#[test]
fn password1_passes_the_classes_but_not_the_policy() {
    // The composition rule alone accepts it (Appendix A of SP 800-63B, spec 5.1) ...
    assert!(classes::missing("Password1!").is_empty());
    // ... the blocklist still refuses it in complexity mode, and nist refuses its length.
    assert_eq!(id(complexity("Password1!")), "P-COMMON");
    assert_eq!(
        nist("Password1!").unwrap_err().to_string(),
        "password: too short: 10 characters; the nist policy needs at least 15"
    );
}

#[test]
fn checks_run_in_the_specified_order() {
    // Control characters are reported before length.
    assert_eq!(id(nist("\n")), "P-CONTROL");
    assert_eq!(id(nist(&format!("{}\u{7f}", "a".repeat(300)))), "P-CONTROL");
    // Length before classes, classes before the user name, the user name before the blocklist.
    assert_eq!(id(complexity("acc_user")), "P-CLASSES");
    assert_eq!(id(complexity("Acc_user1")), "P-USERNAME");
    assert_eq!(id(complexity("Acc_user")), "P-CLASSES");
    // Common before context before pattern.
    assert_eq!(id(check_as(PasswordMode::Nist, "abcdefghijklmnop", "abcdefghijklmnop")), "P-CONTEXT");
    assert_eq!(id(check_as(PasswordMode::Nist, "qwertyuiopasdfghjkl", "qwertyuiopasdfghjkl")), "P-COMMON");
}

#[test]
fn every_control_character_is_refused_and_nothing_is_trimmed() {
    for cp in (0x00..=0x1F).chain(0x7F..=0x9F) {
        let c = char::from_u32(cp).unwrap();
        assert_eq!(id(nist(&format!("correct horse{c}battery"))), "P-CONTROL", "U+{cp:04X}");
    }
    // No-break space and other separators are not control characters.
    assert_eq!(id(nist("correct\u{a0}horse battery")), "ok");
    // Spaces count, including leading and trailing ones: 14 and 15 code points.
    assert_eq!(
        nist("  horse stapl ").unwrap_err().to_string(),
        "password: too short: 14 characters; the nist policy needs at least 15"
    );
    assert_eq!(id(nist("  horse staple ")), "ok");
}

#[test]
fn length_limits_are_inclusive() {
    // "012345678910111213…", cut to 256 code points: neither a repetition nor a sequence.
    let digits: String = (0..200).map(|i| i.to_string()).collect();
    let max = digits[..256].to_owned();
    assert_eq!(max.chars().count(), 256);
    assert_eq!(id(nist(&max)), "ok");
    assert_eq!(
        nist(&format!("{max}z")).unwrap_err().to_string(),
        "password: too long: 257 characters; the limit is 256"
    );
    assert_eq!(id(nist("fifteen chars!!")), "ok");
    assert_eq!(id(complexity("Zq7!xwpa")), "ok");
    let policy = PasswordPolicy::new(PasswordMode::Complexity, 12).unwrap();
    let err = check_password_entry(
        &policy,
        &Secret::from("Zq7!xwpa"),
        &Secret::from("Zq7!xwpa"),
        &PasswordContext::default(),
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "password: too short: 8 characters; the complexity policy needs at least 12");
}

#[test]
fn decomposed_accents_count_as_one_code_point_and_compare_equal() {
    // "é" typed as e + U+0301: 18 code points as typed, 17 after NFC.
    let composed = "caf\u{e9} au lait noir";
    let decomposed = "cafe\u{301} au lait noir";
    assert_eq!((composed.chars().count(), decomposed.chars().count()), (17, 18));
    assert_eq!(id(nist(decomposed)), "ok");
    // 15 code points as typed, 14 after NFC: too short.
    let short = "cafe\u{301} au lait n";
    assert_eq!(short.chars().count(), 15);
    assert_eq!(
        nist(short).unwrap_err().to_string(),
        "password: too short: 14 characters; the nist policy needs at least 15"
    );
    // Composed password, decomposed confirmation: the same password.
    assert_eq!(
        check_password_entry(
            &PasswordPolicy::default(),
            &Secret::from(composed),
            &Secret::from(decomposed),
            &PasswordContext::default()
        ),
        Ok(())
    );
    assert_eq!(Secret::from(decomposed).nfc().expose(), composed);
    // The blocklist compares NFC forms: a context word typed composed matches a password
    // typed decomposed.
    let sites = sites();
    let context = PasswordContext {
        organisation: "Caf\u{e9} Logistics AG",
        site_servers: &sites,
        ..PasswordContext::default()
    };
    let typed = "CAFE\u{301} LOGISTICS AG";
    assert_eq!(
        check_password_entry(
            &PasswordPolicy::default(),
            &Secret::from(typed),
            &Secret::from(typed),
            &context
        )
        .unwrap_err()
        .id(),
        "P-CONTEXT"
    );
}

#[test]
fn blocklist_is_case_folded_and_whole_string() {
    for password in
        ["CorrectHorseBatteryStaple", "CORRECTHORSEBATTERYSTAPLE", "IloveyouForever", "qwertyuiopASDFGHJKL"]
    {
        assert_eq!(id(nist(password)), "P-COMMON", "{password}");
    }
    for password in [
        "Summer2025!",
        "Winter2025!",
        "Welcome1!",
        "Qwerty123!",
        "ChangeMe123!",
        "Admin@123",
        "LetMeIn123!",
        "ILoveYou123!",
        "P@ssw0rd",
        "Passw0rd!",
    ] {
        assert_eq!(id(complexity(password)), "P-COMMON", "{password}");
    }
    // ß folds to ss.
    assert!(is_common_password(&Secret::from("PAßWORD")));
    // Whole string only: a common password inside a longer one is fine.
    assert_eq!(id(nist("correcthorsebatterystaple and more")), "ok");
    assert_eq!(id(complexity("Summer2025!xyz")), "ok");
    // Every entry the specification requires is on the list.
    for required in [
        "password",
        "password1",
        "password1!",
        "p@ssw0rd",
        "p@ssw0rd123",
        "passw0rd!",
        "welcome1!",
        "qwerty123!",
        "changeme123!",
        "admin@123",
        "letmein123!",
        "iloveyou123!",
        "summer2025!",
        "winter2025!",
    ] {
        assert!(is_common_password(&Secret::from(required)), "{required}");
        assert!(is_common_password(&Secret::from(required.to_uppercase())), "{required}");
    }
}

#[test]
fn context_words_cover_names_products_and_organisation() {
    let cases = [
        ("ACC_service_account", "acc_SERVICE_account"),
        (r"CORP\acc_service_1234", r"corp\ACC_SERVICE_1234"),
        (r"CORP\acc_service_1234", "acc_service_1234"),
        ("ACC_user", "Agent Connectivity Credential"),
        ("ACC_user", "example logistics gmbh"),
    ];
    for (user, password) in cases {
        assert_eq!(id(check_as(PasswordMode::Nist, user, password)), "P-CONTEXT", "{user} / {password}");
    }
    let sites = vec!["BRANCH-OFFICE-SERVER-7".to_owned()];
    let context = PasswordContext {
        user_name: "ACC_user",
        management_server: "management-server-1",
        site_servers: &sites,
        organisation: "",
    };
    for password in ["branch-office-server-7", "MANAGEMENT-SERVER-1"] {
        let s = Secret::from(password);
        assert_eq!(
            check_password_entry(&PasswordPolicy::default(), &s, &s, &context).unwrap_err().id(),
            "P-CONTEXT"
        );
    }
    // Product words are compared as whole strings: "Altiris1!" is not the word "altiris".
    let plain = PasswordContext { user_name: "ACC_user", ..PasswordContext::default() };
    let policy = PasswordPolicy::for_mode(PasswordMode::Complexity);
    assert_eq!(check_password(&policy, &Secret::from("Altiris1!"), &plain), Ok(()));
    // The nist mode does not refuse the user name inside a longer password.
    assert_eq!(id(nist("my ACC_user is great")), "ok");
}

#[test]
fn user_name_rule_of_the_complexity_mode() {
    assert_eq!(id(check_as(PasswordMode::Complexity, r"CORP\acc_svc", "Xacc_SVC9!")), "P-USERNAME");
    assert_eq!(id(check_as(PasswordMode::Complexity, "acc_svc@corp.example", "9!ACC_svcQ")), "P-USERNAME");
    // Account parts shorter than 3 characters are not looked for.
    assert_eq!(id(check_as(PasswordMode::Complexity, "ab", "Xab9!qwzk")), "ok");
    assert_eq!(id(check_as(PasswordMode::Complexity, "abc", "Xabc9!qwz")), "P-USERNAME");
    assert_eq!(
        check_as(PasswordMode::Complexity, r".\Bob", "Q9!bobXyz").unwrap_err().to_string(),
        "password: contains the user name 'Bob'; choose a password that does not include it"
    );
}

#[test]
fn patterns_are_refused_and_near_misses_accepted() {
    for password in [
        "aaaaaaaaaaaaaaaa",
        "abcabcabcabcabcabc",
        "12121212121212121",
        "abcdefghijklmnop",
        "ZYXWVUTSRQPONMLK",
        "AbCdAbCdAbCdAbCd",
    ] {
        assert_eq!(id(nist(password)), "P-PATTERN", "{password}");
    }
    assert_eq!(id(complexity("Aa1!Aa1!Aa1!")), "P-PATTERN");
    // No mode lets 9876543210 reach the pattern check (nist: too short, complexity:
    // classes); the pattern rule itself refuses it.
    assert!(is_pattern_password(&Secret::from("9876543210")));
    assert!(is_pattern_password(&Secret::from("abcdefghijklmnop")));
    for password in [
        "aaaaaaaaaaaaaaab",
        "abcabcabcabcabcabd",
        "12121212121212123",
        "abcdefghijklmnoq",
        "abcdeabcdeabcdeabcde",
        "acegikmoqsuwyACEG",
    ] {
        assert_eq!(id(nist(password)), "ok", "{password}");
    }
    assert!(!is_pattern_password(&Secret::from("9876543211")));
}

#[test]
fn strong_random_passwords_are_accepted_in_both_modes() {
    for password in ["vT9#qL2!xW7$mZ4@", "u8R&kd!3Pq%wZ0sL#e", "Xk4#Pz9!Lm2@Qw7$Rt5%"] {
        assert_eq!(id(nist(password)), "ok", "{password}");
        assert_eq!(id(complexity(password)), "ok", "{password}");
    }
    assert_eq!(id(nist("correct horse battery staple")), "ok");
    assert_eq!(id(nist("Grüße aus Köln am Rhein")), "ok");
}
