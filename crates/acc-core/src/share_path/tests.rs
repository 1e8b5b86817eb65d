//! Hostile-path table and properties of the request-path validation.

use super::*;
use proptest::prelude::*;

fn ok(components: &[&str]) -> Result<Vec<String>, PathError> {
    Ok(components.iter().map(|c| (*c).to_owned()).collect())
}

fn parse(raw: &str) -> Result<Vec<String>, PathError> {
    SharePath::from_url(raw).map(|p| p.components().to_vec())
}

#[test]
fn hostile_paths_are_refused_with_the_right_error() {
    use PathError::*;
    let long_segment = "a".repeat(MAX_SEGMENT_BYTES + 1);
    let deep = vec!["a"; MAX_DEPTH + 1].join("/");
    let long_path = vec!["b".repeat(200); 6].join("/");
    let long_raw = "%41".repeat(MAX_RAW_PATH_BYTES / 3 + 1);
    let table: Vec<(&str, Result<Vec<String>, PathError>)> = vec![
        // Traversal, raw and encoded in every case mix.
        ("../etc/passwd", Err(Traversal { index: 1 })),
        ("pkg/../../etc", Err(Traversal { index: 2 })),
        ("pkg/..", Err(Traversal { index: 2 })),
        ("%2e%2e/etc", Err(Traversal { index: 1 })),
        ("%2E%2e/etc", Err(Traversal { index: 1 })),
        ("%2E%2E/etc", Err(Traversal { index: 1 })),
        (".%2e/etc", Err(Traversal { index: 1 })),
        ("%2e./etc", Err(Traversal { index: 1 })),
        // Traversal smuggled inside one segment.
        ("pkg/..%2fetc", Err(EncodedSlash { index: 2 })),
        ("pkg/..%2Fetc", Err(EncodedSlash { index: 2 })),
        ("pkg/%2e%2e%2f%2e%2e", Err(EncodedSlash { index: 2 })),
        ("%2fetc/passwd", Err(EncodedSlash { index: 1 })),
        ("..%5c..%5cwindows", Err(Backslash { index: 1 })),
        ("pkg%5cfile", Err(Backslash { index: 1 })),
        ("pkg\\file", Err(Backslash { index: 1 })),
        ("%5c%5cserver%5cshare", Err(Backslash { index: 1 })),
        // Double encoding decodes once and stays a literal name.
        ("%252e%252e/x", ok(&["%2e%2e", "x"])),
        ("%252e%252e%252fetc", ok(&["%2e%2e%2fetc"])),
        // Overlong and otherwise invalid UTF-8.
        ("%c0%ae%c0%ae/x", Err(InvalidUtf8 { index: 1 })),
        ("pkg/%e0%80%ae", Err(InvalidUtf8 { index: 2 })),
        ("pkg/%c0%af", Err(InvalidUtf8 { index: 2 })),
        ("%ed%a0%80", Err(InvalidUtf8 { index: 1 })),
        ("%ff", Err(InvalidUtf8 { index: 1 })),
        // NUL and control characters.
        ("pkg/file%00.bin", Err(Nul { index: 2 })),
        ("pkg/file\0.bin", Err(Nul { index: 2 })),
        ("pkg/%0a", Err(ControlCharacter { index: 2 })),
        ("pkg/%7f", Err(ControlCharacter { index: 2 })),
        ("pkg/%c2%85", Err(ControlCharacter { index: 2 })),
        ("pkg/\t", Err(ControlCharacter { index: 2 })),
        // Absolute paths and drives.
        ("/etc/passwd", Err(Absolute)),
        ("//server/share", Err(Absolute)),
        ("C:/Windows", Err(DriveLetter)),
        ("c%3a/x", Err(DriveLetter)),
        ("C:", Err(DriveLetter)),
        ("pkg/file.bin:stream", Err(Colon { index: 2 })),
        ("pkg/file.bin::$DATA", Err(Colon { index: 2 })),
        // Empty and dot segments.
        ("pkg//file", Err(EmptySegment { index: 2 })),
        ("pkg/", Err(EmptySegment { index: 2 })),
        ("./pkg", Err(DotSegment { index: 1 })),
        ("pkg/%2e/file", Err(DotSegment { index: 2 })),
        // Trailing dots and spaces (Windows aliases).
        ("pkg/file.", Err(TrailingDotOrSpace { index: 2 })),
        (".../x", Err(TrailingDotOrSpace { index: 1 })),
        ("pkg/..%20", Err(TrailingDotOrSpace { index: 2 })),
        ("pkg/file%20", Err(TrailingDotOrSpace { index: 2 })),
        // Device names and look-alikes.
        ("pkg/con", Err(DeviceName { index: 2 })),
        ("NUL.txt", Err(DeviceName { index: 1 })),
        ("pkg/COM%C2%B9.log", Err(DeviceName { index: 2 })),
        ("pkg/%ef%bc%8e%ef%bc%8e", Err(Lookalike { index: 2 })),
        ("%ef%bc%8f%ef%bc%8fetc", Err(Lookalike { index: 1 })),
        ("a%e2%88%95b", Err(Lookalike { index: 1 })),
        // Malformed encoding and characters that must be encoded.
        ("%", Err(MalformedEncoding)),
        ("pkg/%2", Err(MalformedEncoding)),
        ("pkg/%zz", Err(MalformedEncoding)),
        ("pkg/%%32%65", Err(MalformedEncoding)),
        ("pkg/a b", Err(UnencodedCharacter)),
        ("pkg/\u{e9}", Err(UnencodedCharacter)),
        ("pkg?x=1", Err(UnencodedCharacter)),
        ("pkg#frag", Err(UnencodedCharacter)),
        // Limits.
        (long_segment.as_str(), Err(SegmentTooLong { index: 1 })),
        (deep.as_str(), Err(TooDeep)),
        (long_path.as_str(), Err(TooLong)),
        (long_raw.as_str(), Err(TooLong)),
        // Names that look odd but are literal and stay inside.
        ("", ok(&[])),
        ("pkg/file.bin", ok(&["pkg", "file.bin"])),
        ("pkg/..;/x", ok(&["pkg", "..;", "x"])),
        ("..a/a..b/.hidden", ok(&["..a", "a..b", ".hidden"])),
        ("pkg/%E2%82%AC%20price.txt", ok(&["pkg", "\u{20ac} price.txt"])),
        ("pkg/a%2520b", ok(&["pkg", "a%20b"])),
        ("console/com10/lpt", ok(&["console", "com10", "lpt"])),
    ];
    assert!(table.len() >= 30);
    for (raw, expected) in &table {
        assert_eq!(&parse(raw), expected, "raw path {raw:?}");
    }
}

#[test]
fn statuses_are_400_414_or_403_never_5xx() {
    assert_eq!(parse("../x").unwrap_err().status(), 400);
    assert_eq!(parse("%00").unwrap_err().status(), 400);
    assert_eq!(parse(&"a/".repeat(40)).unwrap_err().status(), 414);
    assert_eq!(parse(&"a".repeat(300)).unwrap_err().status(), 414);
    assert_eq!(PathError::LeavesShare.status(), 403);
    assert_eq!(ShareName::parse("A").unwrap_err().status(), 400);
}

#[test]
fn messages_are_one_line_and_do_not_echo_control_characters() {
    let err = ShareRequest::from_share_and_path("bad\nname/x").unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid share name 'bad\\nname': use 1 to 64 lower-case letters, digits and '-'"
    );
    assert_eq!(
        parse("pkg/..").unwrap_err().to_string(),
        "path component 2 is '..': paths may not leave their folder"
    );
    assert_eq!(
        parse("pkg%5cx").unwrap_err().to_string(),
        "path component 1 contains a backslash; use '/' between components"
    );
}

#[test]
fn share_names_are_lower_case_letters_digits_and_dashes() {
    for good in ["software-library", "nscap", "patch-downloads", "a", "0-9", &"x".repeat(64)] {
        assert_eq!(ShareName::parse(good).unwrap().as_str(), good);
    }
    for bad in ["", "Nscap", "ns_cap", "ns cap", "ns.cap", "..", "n\u{e9}", &"x".repeat(65)] {
        assert!(ShareName::parse(bad).is_err(), "{bad:?}");
    }
    let json = serde_json::to_string(&ShareName::parse("nscap").unwrap()).unwrap();
    assert_eq!(json, "\"nscap\"");
    assert!(serde_json::from_str::<ShareName>("\"NSCAP\"").is_err());
}

#[test]
fn requests_split_into_share_and_path() {
    let r = ShareRequest::from_uri_path("/v1/shares/software-library/pkg/file.bin").unwrap();
    assert_eq!(r.share.as_str(), "software-library");
    assert_eq!(r.path.to_string(), "pkg/file.bin");
    for root in ["/v1/shares/nscap", "/v1/shares/nscap/"] {
        let r = ShareRequest::from_uri_path(root).unwrap();
        assert!(r.path.is_root(), "{root}");
    }
    assert_eq!(ShareRequest::from_uri_path("/v1/shares/%6escap/x").unwrap().share.as_str(), "nscap");
    assert_eq!(ShareRequest::from_uri_path("/v1/other/nscap"), Err(PathError::NotSharePath));
    for bad in [
        "/v1/shares/",
        "/v1/shares//x",
        "/v1/shares/../etc",
        "/v1/shares/%2e%2e/etc",
        "/v1/shares/Nscap/x",
        "/v1/shares/ns%2fcap/x",
        "/v1/shares/%zz/x",
        "/v1/shares/%ff/x",
    ] {
        let err = ShareRequest::from_uri_path(bad).unwrap_err();
        assert!(matches!(err, PathError::ShareName(_)), "{bad}: {err:?}");
    }
    assert_eq!(ShareRequest::from_uri_path("/v1/shares/nscap//etc"), Err(PathError::Absolute));
}

#[test]
fn plain_paths_follow_the_same_rules() {
    assert_eq!(SharePath::from_plain("pkg/sub").unwrap().to_string(), "pkg/sub");
    assert!(SharePath::from_plain("").unwrap().is_root());
    assert_eq!(SharePath::from_plain("/pkg"), Err(PathError::Absolute));
    assert_eq!(SharePath::from_plain("pkg/../x"), Err(PathError::Traversal { index: 2 }));
    // Not decoded: a plain `%2e%2e` is a literal name.
    assert_eq!(SharePath::from_plain("%2e%2e").unwrap().components(), ["%2e%2e"]);
    let path = SharePath::from_plain("a/b/c").unwrap();
    let chain: Vec<String> = path.ancestors_and_self().map(|p| p.to_string()).collect();
    assert_eq!(chain, ["", "a", "a/b", "a/b/c"]);
    assert!(path.starts_with(&SharePath::from_plain("a/b").unwrap()));
    assert!(!path.starts_with(&SharePath::from_plain("a/bc").unwrap()));
    let json = serde_json::to_string(&path).unwrap();
    assert_eq!(serde_json::from_str::<SharePath>(&json).unwrap(), path);
    assert!(serde_json::from_str::<SharePath>("\"a/../b\"").is_err());
}

#[test]
fn containment_is_lexical_by_component() {
    let root = Path::new("/srv/acc/shares/nscap");
    assert!(is_within(root, root));
    assert!(is_within(root, Path::new("/srv/acc/shares/nscap/pkg/f.bin")));
    assert!(!is_within(root, Path::new("/srv/acc/shares/nscap2/f.bin")));
    assert!(!is_within(root, Path::new("/srv/acc/shares")));
    assert!(!is_within(root, Path::new("/etc/passwd")));
    assert!(!is_within(root, Path::new("/srv/acc/shares/nscap/../x")));
    assert!(!is_within(Path::new(""), Path::new("/x")));
    assert!(!is_within(root, Path::new("srv/acc/shares/nscap/x")));

    let rel = relative_to_root(root, Path::new("/srv/acc/shares/nscap/pkg/f.bin")).unwrap();
    assert_eq!(rel.to_string(), "pkg/f.bin");
    assert!(relative_to_root(root, root).unwrap().is_root());
    assert_eq!(relative_to_root(root, Path::new("/etc/shadow")), Err(PathError::LeavesShare));
}

fn hostile_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just(".".to_owned()),
        Just("..".to_owned()),
        Just("/".to_owned()),
        Just("\\".to_owned()),
        Just("%".to_owned()),
        Just("%2e".to_owned()),
        Just("%2E".to_owned()),
        Just("%2f".to_owned()),
        Just("%5c".to_owned()),
        Just("%00".to_owned()),
        Just("%25".to_owned()),
        Just("%c0%ae".to_owned()),
        Just("C:".to_owned()),
        "[a-z0-9 ]{1,3}",
        any::<char>().prop_map(String::from),
    ];
    proptest::collection::vec(piece, 0..24).prop_map(|v| v.concat())
}

proptest! {
    #[test]
    fn accepted_paths_never_traverse_and_stay_within_the_root(raw in hostile_text()) {
        if let Ok(path) = SharePath::from_url(&raw) {
            for c in path.components() {
                prop_assert!(c != ".." && c != "." && !c.is_empty(), "{raw:?} -> {c:?}");
                prop_assert!(!c.contains(['\0', '\\', '/']), "{raw:?} -> {c:?}");
            }
            let root = Path::new("/srv/acc/shares/nscap");
            let joined = path.join_to(root);
            prop_assert!(is_within(root, &joined), "{raw:?} -> {joined:?}");
            prop_assert_eq!(joined.components().count(), root.components().count() + path.depth());
            prop_assert_eq!(SharePath::from_plain(&path.to_string()), Ok(path));
        }
    }

    #[test]
    fn decoding_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..64), raw_mask in any::<u64>()) {
        // Each byte is either percent-encoded or, when it is ASCII, sent raw.
        let mut raw = String::new();
        for (i, b) in bytes.iter().enumerate() {
            if b.is_ascii() && raw_mask >> (i % 64) & 1 == 1 {
                raw.push(char::from(*b));
            } else {
                raw.push_str(&format!("%{b:02x}"));
            }
        }
        match SharePath::from_url(&raw) {
            Ok(path) => prop_assert!(path.components().iter().all(|c| c != "..")),
            Err(e) => prop_assert!(matches!(e.status(), 400 | 414), "{e:?}"),
        }
        let _ = ShareRequest::from_share_and_path(&raw);
    }

    #[test]
    fn arbitrary_text_never_panics(raw in any::<String>()) {
        let _ = SharePath::from_url(&raw);
        let _ = SharePath::from_plain(&raw);
        let _ = ShareRequest::from_uri_path(&raw);
    }
}
