use super::*;
use std::collections::HashSet;

fn directory() -> DirectoryNames {
    DirectoryNames { netbios: "CORP".into(), dns: "corp.example".into() }
}

fn sites() -> Vec<String> {
    vec!["SITE-01".into(), "site-02".into()]
}

fn check(typed: &str) -> Result<UserName, UserNameError> {
    let directory = directory();
    let sites = sites();
    let rules = UserNameRules { app_id: "svc_appid", directory: &directory, site_servers: &sites };
    validate_user_name(typed, &rules)
}

fn message(typed: &str) -> String {
    check(typed).expect_err(typed).to_string()
}

#[test]
fn compares_case_insensitively_but_keeps_the_typed_form() {
    let a = AccountName::new("ACC_User_v1");
    let b = AccountName::new("acc_user_V1");
    assert_eq!(a, b);
    assert_eq!(a.to_string(), "ACC_User_v1");
    let set: HashSet<_> = [a, b].into_iter().collect();
    assert_eq!(set.len(), 1);
    assert_ne!(AccountName::new("ACC_user"), AccountName::new("ACC_user2"));
}

#[test]
fn local_forms_are_stored_without_the_dot_prefix() {
    let plain = check("ACC_user").unwrap();
    assert_eq!(plain.form(), UserNameForm::Local);
    assert_eq!(plain.stored(), "ACC_user");
    assert_eq!(plain.domain(), None);
    let dotted = check(r".\ACC_user").unwrap();
    assert_eq!(dotted.form(), UserNameForm::Local);
    assert_eq!(dotted.stored(), "ACC_user");
    assert_eq!(dotted.typed(), r".\ACC_user");
    assert_eq!(dotted.account(), &AccountName::new("acc_USER"));
}

#[test]
fn domain_forms_keep_the_typed_text() {
    let down_level = check(r"CORP\acc_svc").unwrap();
    assert_eq!(down_level.form(), UserNameForm::Domain);
    assert_eq!(down_level.domain(), Some("CORP"));
    assert_eq!(down_level.account().as_str(), "acc_svc");
    assert_eq!(down_level.stored(), r"CORP\acc_svc");
    let upn = check("acc_svc@corp.example").unwrap();
    assert_eq!(upn.form(), UserNameForm::Domain);
    assert_eq!(upn.domain(), Some("corp.example"));
    assert_eq!(upn.account().as_str(), "acc_svc");
    // A backslash-qualified name whose domain is the management server or an unknown
    // domain is a domain name; the directory decides whether it exists.
    assert_eq!(check(r"OTHER\acc_svc").unwrap().form(), UserNameForm::Domain);
}

#[test]
fn split_needs_both_sides_of_a_separator() {
    assert_eq!(NameParts::split(r"\name").domain, None);
    assert_eq!(NameParts::split(r"\name").account, r"\name");
    assert_eq!(NameParts::split(r"CORP\").account, r"CORP\");
    assert_eq!(NameParts::split("name@").account, "name@");
    let at = NameParts::split("a@b@corp.example");
    assert_eq!((at.domain, at.account), (Some("corp.example"), "a@b"));
    let both = NameParts::split(r"CORP\a@b");
    assert_eq!(
        (both.domain, both.account, both.separator),
        (Some("CORP"), "a@b", Some(Separator::Backslash))
    );
}

#[test]
fn every_user_name_message_is_exact() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "",
            "U-EMPTY",
            r"user name: is empty; enter a local name such as 'ACC_user' or a domain name such as 'CORP\acc_svc'",
        ),
        (
            "   ",
            "U-EMPTY",
            r"user name: is empty; enter a local name such as 'ACC_user' or a domain name such as 'CORP\acc_svc'",
        ),
        (
            r"CORP\svc_appid",
            "U-APPID",
            "user name: 'CORP\\svc_appid' is the App ID; do not enter it here \u{2014} tick 'Use Application Credentials' instead",
        ),
        (
            r"SITE-01\ACC_user",
            "U-SITEQUALIFIED",
            r"user name: 'SITE-01\ACC_user' names one site server's local account; use the plain local form 'ACC_user' so every site server gets it",
        ),
        (
            "ACC_user_with_a_long_name",
            "U-LONG",
            "user name: 'ACC_user_with_a_long_name' is 25 characters; a local account name allows at most 20",
        ),
        (
            "ACC:user",
            "U-CHAR",
            "user name: 'ACC:user' contains ':', which account names cannot contain (\" / \\ [ ] : ; | = , + * ? < > @ and control characters)",
        ),
        ("ACC_user.", "U-DOT", "user name: 'ACC_user.' ends with a period, which account names cannot do"),
    ];
    for (typed, id, expected) in cases {
        let err = check(typed).expect_err(typed);
        assert_eq!(err.id(), *id, "{typed}");
        assert_eq!(err.to_string(), *expected, "{typed}");
    }
    let later: &[(UserNameError, &str, &str)] = &[
        (
            UserNameError::Reused {
                typed: "ACC_User_v1".into(),
                generation: 1,
                suggestion: "ACC_User_v3".into(),
            },
            "U-REUSED",
            "user name: 'ACC_User_v1' was already used by ACC generation 1; rotate to a name never used before (for example 'ACC_User_v3')",
        ),
        (
            UserNameError::DomainNotFound { typed: r"CORP\nobody".into() },
            "U-DOMAIN-NOT-FOUND",
            r"user name: domain account 'CORP\nobody' was not found in the directory",
        ),
        (
            UserNameError::DomainDisabled { typed: "off@corp.example".into() },
            "U-DOMAIN-DISABLED",
            "user name: domain account 'off@corp.example' is disabled in the directory",
        ),
    ];
    for (err, id, expected) in later {
        assert_eq!(err.id(), *id);
        assert_eq!(err.to_string(), *expected);
    }
}

#[test]
fn app_id_is_recognised_in_every_form_and_only_then() {
    for typed in [
        "svc_appid",
        r".\svc_appid",
        r"CORP\svc_appid",
        r"corp.example\svc_appid",
        "svc_appid@corp.example",
        "SVC_APPID@CORP.EXAMPLE",
        r"corp\Svc_AppId",
        "svc_appid@CORP",
    ] {
        assert_eq!(check(typed).expect_err(typed).id(), "U-APPID", "{typed}");
    }
    for typed in ["svc_appid2", r"OTHER\svc_appid", "svc_appid@other.example", "svc_appi"] {
        assert!(check(typed).is_ok(), "{typed}");
    }
}

#[test]
fn app_id_takes_precedence_over_site_qualification() {
    let directory = DirectoryNames { netbios: "SITE-01".into(), dns: "corp.example".into() };
    let sites = sites();
    let rules = UserNameRules { app_id: "svc_appid", directory: &directory, site_servers: &sites };
    assert_eq!(validate_user_name(r"SITE-01\svc_appid", &rules).unwrap_err().id(), "U-APPID");
}

#[test]
fn site_qualification_is_case_insensitive_and_backslash_only() {
    assert_eq!(check(r"site-01\ACC_user").unwrap_err().id(), "U-SITEQUALIFIED");
    assert_eq!(check(r"SITE-02\ACC_user").unwrap_err().id(), "U-SITEQUALIFIED");
    assert_eq!(check("ACC_user@SITE-01").unwrap().form(), UserNameForm::Domain);
}

#[test]
fn length_counts_code_points_of_the_account_part() {
    let twenty = "É".repeat(20);
    assert!(check(&twenty).is_ok());
    let twenty_one = "É".repeat(21);
    assert_eq!(
        message(&twenty_one),
        format!("user name: '{twenty_one}' is 21 characters; a local account name allows at most 20")
    );
    // Only the account part counts.
    assert!(check(&format!(r"a-rather-long-domain-name\{twenty}")).is_ok());
    assert_eq!(check(&format!(r".\{twenty_one}")).unwrap_err().id(), "U-LONG");
}

#[test]
fn u_char_names_the_first_forbidden_character() {
    for c in FORBIDDEN_NAME_CHARS {
        if c == '\\' || c == '@' {
            continue;
        }
        let typed = format!("ab{c}cd");
        assert_eq!(
            message(&typed),
            format!(
                "user name: '{typed}' contains '{c}', which account names cannot contain (\" / \\ [ ] : ; | = , + * ? < > @ and control characters)"
            )
        );
    }
    assert!(message("a*b?c").contains("contains '*'"));
    assert!(message("a?b*c").contains("contains '?'"));
    // Separators inside the account part, or without a domain, are characters like any other.
    assert!(message(r"CORP\a\b").contains(r"'a\b' contains '\'"));
    assert!(message(r"\acc").contains(r"'\acc' contains '\'"));
    assert!(message(r"CORP\a@b").contains("'a@b' contains '@'"));
    assert!(message("acc@").contains("'acc@' contains '@'"));
}

#[test]
fn control_characters_are_refused_and_shown_escaped() {
    let msg = message("acc\tuser");
    assert_eq!(
        msg,
        "user name: 'accU+0009user' contains 'U+0009', which account names cannot contain (\" / \\ [ ] : ; | = , + * ? < > @ and control characters)"
    );
    assert!(!msg.contains('\t'));
    assert_eq!(check("acc\u{85}user").unwrap_err().id(), "U-CHAR");
    assert_eq!(check("acc\u{7f}").unwrap_err().id(), "U-CHAR");
    // A site-qualified name is reported before its characters, still on one line.
    let msg = message("SITE-01\\a\nb");
    assert!(msg.starts_with("user name: 'SITE-01\\aU+000Ab' names one site server's"), "{msg}");
}

#[test]
fn checks_run_in_the_specified_order() {
    // U-LONG before U-CHAR before U-DOT.
    assert_eq!(check("a:b.cdefghijklmnopqrstuvwxyz").unwrap_err().id(), "U-LONG");
    assert_eq!(check("a:b.").unwrap_err().id(), "U-CHAR");
    // U-SITEQUALIFIED before U-LONG.
    assert_eq!(check(r"SITE-01\abcdefghijklmnopqrstuvwxyz").unwrap_err().id(), "U-SITEQUALIFIED");
}

#[test]
fn keys_compare_account_and_domain_case_insensitively() {
    let directory = directory();
    let key = |s: &str| NameParts::split(s).key(&directory);
    assert_eq!(key("ACC_user"), key(r".\acc_USER"));
    assert_ne!(key("ACC_user"), key(r"CORP\ACC_user"));
    assert_eq!(key(r"CORP\acc_svc"), key(r"corp\ACC_SVC"));
    assert_eq!(key(r"CORP\acc_svc"), key("acc_svc@corp.example"));
    assert_eq!(key(r"corp.example\acc_svc"), key(r"CORP\acc_svc"));
    assert_ne!(key(r"CORP\acc_svc"), key(r"OTHER\acc_svc"));
}

#[test]
fn suggestions_strip_the_generation_suffix_and_fit_20_characters() {
    let cases = [
        ("ACC_User_v1", 3, "ACC_User_v3"),
        ("ACC_user", 2, "ACC_user_v2"),
        ("ACC_USER_V12", 13, "ACC_USER_v13"),
        ("ACC_userv4", 5, "ACC_user_v5"),
        ("ACC_user_v", 2, "ACC_user_v_v2"),
        ("v7", 8, "_v8"),
        ("ACC_user2", 3, "ACC_user2_v3"),
        ("abcdefghijklmnopqrst", 2, "abcdefghijklmnopq_v2"),
        ("abcdefghijklmnopq_v9", 10, "abcdefghijklmnop_v10"),
        ("ÉÉÉÉÉÉÉÉÉÉÉÉÉÉÉÉÉÉÉÉ", 100, "ÉÉÉÉÉÉÉÉÉÉÉÉÉÉÉ_v100"),
    ];
    for (account, generation, expected) in cases {
        let got = suggest_user_name(account, generation);
        assert_eq!(got, expected, "{account}");
        assert!(got.chars().count() <= MAX_ACCOUNT_NAME_CHARS);
    }
}

#[test]
fn form_of_is_the_one_rule_for_presented_and_configured_names() {
    for local in ["ACC_user", ".\\ACC_user", "x@", "@x", "\\x", ".\\a@b"] {
        assert_eq!(form_of(local), UserNameForm::Local, "{local}");
    }
    for domain in ["CORP\\acc_svc", "corp.local\\acc_svc", "acc_svc@corp.local", "a@b@corp.local"] {
        assert_eq!(form_of(domain), UserNameForm::Domain, "{domain}");
    }
    // The domain of a UPN is after the `@`, never the account before it.
    let upn = NameParts::split("acc_svc@corp.local");
    assert_eq!((upn.domain, upn.account), (Some("corp.local"), "acc_svc"));
    assert_eq!(upn.local_account(), None);
    assert_eq!(NameParts::split(".\\ACC_user").local_account(), Some("ACC_user"));
    assert_eq!(NameParts::split("ACC_user").local_account(), Some("ACC_user"));
    assert_eq!(crate::lockout::local_name("acc_svc@corp.local"), "acc_svc@corp.local", "no local account");
    assert!(crate::lockout::is_domain_form("acc_svc@corp.local"));
    assert!(!crate::lockout::is_local_form("acc_svc@corp.local"));
}
