use super::*;

fn rdns(s: &str) -> Vec<Vec<(&'static str, String)>> {
    Subject::parse(s).unwrap().rdns
}

#[test]
fn parses_the_seed_subject() {
    let s =
        "/C=US/ST=NC/L=Raleigh/O=ServiceNow/OU=ITOM Lab/CN=acclinux/emailAddress=john.smith@servicenow.com";
    let parsed = Subject::parse(s).unwrap();
    assert_eq!(parsed.rdns.len(), 7);
    assert_eq!(parsed.rdns[4], vec![("OU", "ITOM Lab".to_string())]);
    assert_eq!(parsed.common_name(), Some("acclinux"));
}

#[test]
fn backslash_escapes_slash_plus_and_itself() {
    assert_eq!(rdns(r"/CN=a\/b\+c\\d"), vec![vec![("CN", r"a/b+c\d".to_string())]]);
}

#[test]
fn plus_makes_a_multi_valued_rdn() {
    assert_eq!(
        rdns("/DC=org/UID=123+CN=John Doe/O=X"),
        vec![
            vec![("DC", "org".to_string())],
            vec![("UID", "123".to_string()), ("CN", "John Doe".to_string())],
            vec![("O", "X".to_string())],
        ]
    );
}

#[test]
fn long_names_and_dotted_oids_are_accepted() {
    assert_eq!(rdns("/commonName=x/2.5.4.10=y"), vec![vec![("CN", "x".into())], vec![("O", "y".into())]]);
}

#[test]
fn utf8_values_count_characters() {
    assert_eq!(rdns("/CN=Zoë Ærøskøbing"), vec![vec![("CN", "Zoë Ærøskøbing".into())]]);
    let sixty_four = "é".repeat(64);
    assert!(Subject::parse(&format!("/CN={sixty_four}")).is_ok());
    assert!(matches!(
        Subject::parse(&format!("/CN={sixty_four}é")),
        Err(SubjectError::BadLength { len: 65, max: 64, .. })
    ));
}

#[test]
fn malformed_subjects_get_clear_errors() {
    use SubjectError::*;
    assert!(matches!(Subject::parse("CN=x"), Err(NoLeadingSlash(_))));
    assert_eq!(Subject::parse("/"), Err(Empty));
    assert_eq!(Subject::parse("/CN"), Err(MissingEquals("CN".into())));
    assert_eq!(Subject::parse("/CN/O=x"), Err(MissingEquals("CN".into())));
    assert_eq!(Subject::parse("/CN=x\\"), Err(TrailingEscape));
    assert!(matches!(Subject::parse("/XX=1"), Err(UnknownAttribute { .. })));
    let err = Subject::parse("/cn=x").unwrap_err().to_string();
    assert!(err.contains("did you mean 'CN'"), "{err}");
    assert_eq!(Subject::parse("/CN="), Err(EmptyValue("CN".into())));
    assert_eq!(Subject::parse("/C=USA"), Err(BadCountry("USA".into())));
    assert_eq!(Subject::parse("/C=1A"), Err(BadCountry("1A".into())));
    assert!(matches!(Subject::parse("/emailAddress=zoë@x"), Err(BadCharacter { ch: 'ë', .. })));
    assert!(matches!(Subject::parse("/serialNumber=a_b"), Err(BadCharacter { ch: '_', .. })));
}

#[test]
fn der_uses_openssl_string_types_and_sorted_sets() {
    let der = Subject::parse("/C=US/CN=a+O=b/emailAddress=e@x").unwrap().to_der();
    let (_, name) =
        <x509_parser::x509::X509Name as x509_parser::prelude::FromDer<_>>::from_der(&der).unwrap();
    let text = format_name(&name);
    // the multi-valued set is DER-sorted: O (2.5.4.10) after CN (2.5.4.3) by encoding
    assert_eq!(text, "C=US, CN=a + O=b, emailAddress=e@x");
    assert!(der.windows(4).any(|w| w == [0x13, 2, b'U', b'S']), "C is a PrintableString");
    assert!(der.windows(2).any(|w| w == [0x16, 3]), "emailAddress is an IA5String");
    assert!(der.windows(3).any(|w| w == [0x0c, 1, b'a']), "CN is a UTF8String");
}

proptest::proptest! {
    #[test]
    fn parse_never_panics(s in "\\PC{0,80}") {
        let _ = Subject::parse(&s);
        let _ = Subject::parse(&format!("/{s}"));
    }

    #[test]
    fn escaped_values_round_trip(v in "[a-zA-Z0-9 /+\\\\=,éß]{1,40}") {
        let escaped: String = v.chars().flat_map(|c| if matches!(c, '/' | '+' | '\\') { vec!['\\', c] } else { vec![c] }).collect();
        let parsed = Subject::parse(&format!("/CN={escaped}")).unwrap();
        proptest::prop_assert_eq!(parsed.common_name(), Some(v.as_str()));
    }
}
