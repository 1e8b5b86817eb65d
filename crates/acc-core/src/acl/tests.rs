//! Behaviour tests of share access: the effective-right matrix, inheritance, groups and
//! identities, the exact messages of 5.6, `--grant-read` and the 5145 payload.

use super::*;
use crate::name::AccountName;
use crate::share_path::{ShareName, SharePath};
use proptest::prelude::*;

fn p(s: &str) -> Principal {
    s.parse().unwrap()
}

fn path(s: &str) -> SharePath {
    SharePath::from_plain(s).unwrap()
}

fn acc() -> Caller {
    Caller::local_account(AccountName::new("ACC_user"))
}

fn cert() -> Caller {
    Caller::certificate(CertIdentity::parse("CN=acclinux").unwrap())
}

fn empty(name: &str) -> Share {
    Share::new(ShareName::parse(name).unwrap())
}

/// A share granting `share` and `file` (at the root) to `who`.
fn share_with(name: &str, who: &str, share: Option<ShareRight>, file: Option<FileRight>) -> Share {
    let mut s = empty(name);
    if let Some(r) = share {
        s.add_share_ace(Ace::allow(p(who), r.mask()));
    }
    if let Some(r) = file {
        s.add_file_ace(SharePath::root(), Ace::allow(p(who), r.mask()));
    }
    s
}

fn readable(name: &str) -> Share {
    share_with(name, "ACC_user", Some(ShareRight::Read), Some(FileRight::Read))
}

fn level_of(share: &Share, caller: &Caller, at: &str) -> Option<String> {
    check_read(share, caller, &path(at)).err().map(|d| d.level().to_string())
}

#[derive(Clone, Copy, Debug)]
enum S {
    None,
    Allow(ShareRight),
    DenyOverFull,
}

#[derive(Clone, Copy, Debug)]
enum F {
    None,
    Allow(FileRight),
    DenyOverFull,
}

#[test]
fn effective_right_matrix_share_by_file() {
    let shares = [
        S::None,
        S::Allow(ShareRight::Read),
        S::Allow(ShareRight::Change),
        S::Allow(ShareRight::Full),
        S::DenyOverFull,
    ];
    let files = [
        F::None,
        F::Allow(FileRight::Read),
        F::Allow(FileRight::ReadAndExecute),
        F::Allow(FileRight::Write),
        F::Allow(FileRight::Modify),
        F::Allow(FileRight::FullControl),
        F::DenyOverFull,
    ];
    // Rows: share level; columns: file level (none, R, RX, W, M, FC, deny).
    // "ok" = can read; otherwise the 5.6 level that denied.
    let (sh, fi, both, ok) = ("share level", "file level", "share and file level", "ok");
    let expected = [
        [both, sh, sh, both, sh, sh, both],
        [fi, ok, ok, fi, ok, ok, fi],
        [fi, ok, ok, fi, ok, ok, fi],
        [fi, ok, ok, fi, ok, ok, fi],
        [both, sh, sh, both, sh, sh, both],
    ];
    let caller = acc();
    for (i, s) in shares.iter().enumerate() {
        for (j, f) in files.iter().enumerate() {
            let mut share = empty("nscap");
            match s {
                S::None => {}
                S::Allow(r) => share.add_share_ace(Ace::allow(p("ACC_user"), r.mask())),
                S::DenyOverFull => {
                    share.add_share_ace(Ace::allow(p("ACC_user"), ShareRight::Full.mask()));
                    share.add_share_ace(Ace::deny(p("Everyone"), ShareRight::Read.mask()));
                }
            }
            let root = SharePath::root();
            match f {
                F::None => {}
                F::Allow(r) => share.add_file_ace(root, Ace::allow(p("ACC_user"), r.mask())),
                F::DenyOverFull => {
                    share
                        .add_file_ace(root.clone(), Ace::allow(p("ACC_user"), FileRight::FullControl.mask()));
                    share.add_file_ace(root, Ace::deny(p("Users"), FileRight::Read.mask()));
                }
            }
            let got = level_of(&share, &caller, "pkg/file.bin").unwrap_or_else(|| ok.to_owned());
            assert_eq!(got, expected[i][j], "share {s:?} x file {f:?}");
            let eff = effective_access(&share, &caller, &path("pkg/file.bin"));
            assert_eq!(eff.effective().allows_read(), got == ok, "{s:?} x {f:?}");
        }
    }
}

#[test]
fn effective_masks_are_the_intersection() {
    let share = share_with("nscap", "ACC_user", Some(ShareRight::Change), Some(FileRight::ReadAndExecute));
    let eff = effective_access(&share, &acc(), &path("x"));
    assert_eq!(eff.share, ShareRight::Change.mask());
    assert_eq!(eff.file, FileRight::ReadAndExecute.mask());
    assert_eq!(eff.effective(), FileRight::ReadAndExecute.mask());
    assert!(!eff.effective().intersects(AccessMask::WRITE_DATA));

    let mut share = share_with("nscap", "ACC_user", Some(ShareRight::Full), Some(FileRight::FullControl));
    share.add_file_ace(path("pkg"), Ace::deny(p("ACC_user"), FileRight::Write.mask()));
    let eff = effective_access(&share, &acc(), &path("pkg/f"));
    assert!(eff.effective().allows_read(), "a Deny of Write leaves Read");
    assert!(!eff.effective().intersects(AccessMask::WRITE_DATA));
    assert!(check_read(&share, &acc(), &path("pkg/f")).is_ok());
}

#[test]
fn file_acls_are_inherited_and_a_deny_covers_everything_below() {
    let mut share = readable("software-library");
    share.add_file_ace(path("pkg"), Ace::deny(p("Everyone"), FileRight::Read.mask()));
    share.add_file_ace(path("pkg/sub"), Ace::deny(p("ACC_user"), FileRight::Read.mask()));
    share.add_file_ace(path("pkg/sub"), Ace::allow(p("ACC_user"), FileRight::FullControl.mask()));
    share.add_file_ace(path("other/f.bin"), Ace::deny(p("ACC_user"), FileRight::Read.mask()));
    let caller = acc();
    let cases = [
        ("", None),
        ("pkg2", None),
        ("pk", None),
        ("other", None),
        ("other/g.bin", None),
        ("pkg", Some("file level: deny on 'pkg'")),
        ("pkg/a", Some("file level: deny on 'pkg'")),
        ("pkg/sub/deep/file.bin", Some("file level: deny on 'pkg'")),
        ("other/f.bin", Some("file level: deny on 'other/f.bin'")),
    ];
    for (at, level) in cases {
        assert_eq!(level_of(&share, &caller, at).as_deref(), level, "{at:?}");
    }

    // Allow only on a folder: that folder and below, nothing above or beside it.
    let mut share = share_with("nscap", "ACC_user", Some(ShareRight::Read), None);
    share.add_file_ace(path("pkg"), Ace::allow(p("Agents"), FileRight::Read.mask()));
    assert_eq!(level_of(&share, &caller, "pkg/x/y"), None);
    assert_eq!(level_of(&share, &caller, "pkg").as_deref(), None);
    assert_eq!(level_of(&share, &caller, "").as_deref(), Some("file level"));
    assert_eq!(level_of(&share, &caller, "other").as_deref(), Some("file level"));
}

#[test]
fn groups_and_identities_decide_who_an_ace_names() {
    let caller = acc();
    let certificate = cert();
    let domain = Caller::domain_account(
        "CORP".parse().unwrap(),
        AccountName::new("acc"),
        [p("CORP\\Package Readers")],
    );
    // (grantee at both levels, local ACC reads, certificate reads, domain ACC reads)
    let table = [
        ("Everyone", true, true, true),
        ("Authenticated Users", true, true, true),
        ("Users", true, false, false),
        ("Agents", true, true, true),
        ("ACC_user", true, false, false),
        ("acc_USER", true, false, false),
        (".\\Acc_User", true, false, false),
        ("ACC_user2", false, false, false),
        ("cert:CN=acclinux", false, true, false),
        ("cert:cn = ACCLINUX", false, true, false),
        ("cert:CN=acclinux2", false, false, false),
        ("CORP\\acc", false, false, true),
        ("corp\\package readers", false, false, true),
        ("CORP\\ACC_user", false, false, false),
    ];
    for (grantee, local_reads, cert_reads, domain_reads) in table {
        let share = share_with("nscap", grantee, Some(ShareRight::Read), Some(FileRight::Read));
        let at = path("pkg/f");
        assert_eq!(check_read(&share, &caller, &at).is_ok(), local_reads, "{grantee} / local");
        assert_eq!(check_read(&share, &certificate, &at).is_ok(), cert_reads, "{grantee} / cert");
        assert_eq!(check_read(&share, &domain, &at).is_ok(), domain_reads, "{grantee} / domain");
    }
}

#[test]
fn deny_beats_allow_at_the_same_level_whoever_it_names() {
    let mut share = share_with("nscap", "ACC_user", Some(ShareRight::Full), Some(FileRight::FullControl));
    share.add_share_ace(Ace::deny(p("Agents"), ShareRight::Read.mask()));
    assert_eq!(level_of(&share, &acc(), "f").as_deref(), Some("share level"));
    assert_eq!(level_of(&share, &cert(), "f").as_deref(), Some("share and file level"));
    // A Deny naming somebody else changes nothing.
    let mut share = readable("nscap");
    share.add_share_ace(Ace::deny(p("ACC_user2"), ShareRight::Full.mask()));
    share.add_file_ace(SharePath::root(), Ace::deny(p("cert:CN=other"), FileRight::Read.mask()));
    assert_eq!(level_of(&share, &acc(), "f"), None);
}

#[test]
fn the_403_message_names_principal_target_level_and_remedy() {
    let caller = acc();
    let at = path("pkg/file.bin");
    let msg = |share: &Share| check_read(share, &caller, &at).unwrap_err().to_string();

    let share = share_with("software-library", "ACC_user", None, Some(FileRight::Read));
    assert_eq!(
        msg(&share),
        "access denied: 'ACC_user' cannot read 'software-library/pkg/file.bin': share level grants no Read; grant Read or Full Control at both the share and the file level"
    );

    let share = share_with("software-library", "ACC_user", Some(ShareRight::Full), Some(FileRight::Write));
    assert_eq!(
        msg(&share),
        "access denied: 'ACC_user' cannot read 'software-library/pkg/file.bin': file level grants no Read; grant Read or Full Control at both the share and the file level"
    );

    let share = empty("software-library");
    assert_eq!(
        msg(&share),
        "access denied: 'ACC_user' cannot read 'software-library/pkg/file.bin': share and file level grant no Read; grant Read or Full Control at both the share and the file level"
    );

    let mut share = readable("software-library");
    share.add_file_ace(path("pkg"), Ace::deny(p("Everyone"), FileRight::Read.mask()));
    assert_eq!(
        msg(&share),
        "access denied: 'ACC_user' cannot read 'software-library/pkg/file.bin': file level: deny on 'pkg'; remove the Deny of Read for 'Everyone' on 'software-library/pkg' (a Deny beats every Allow), then grant Read or Full Control at both the share and the file level"
    );

    let mut share = readable("software-library");
    share.add_file_ace(SharePath::root(), Ace::deny(p("Users"), FileRight::Read.mask()));
    assert_eq!(
        msg(&share),
        "access denied: 'ACC_user' cannot read 'software-library/pkg/file.bin': file level denies Read at the share root; remove the Deny of Read for 'Users' on the share root (a Deny beats every Allow), then grant Read or Full Control at both the share and the file level"
    );

    let mut share = readable("software-library");
    share.add_share_ace(Ace::deny(p("Agents"), ShareRight::Read.mask()));
    assert_eq!(
        msg(&share),
        "access denied: 'ACC_user' cannot read 'software-library/pkg/file.bin': share level denies Read; remove the Deny of Read for 'Agents' on the share ACL (a Deny beats every Allow), then grant Read or Full Control at both the share and the file level"
    );

    let mut share = empty("software-library");
    share.add_file_ace(path("pkg"), Ace::deny(p("ACC_user"), FileRight::Read.mask()));
    assert_eq!(
        msg(&share),
        "access denied: 'ACC_user' cannot read 'software-library/pkg/file.bin': share level grants no Read and file level: deny on 'pkg'; remove the Deny of Read for 'ACC_user' on 'software-library/pkg' (a Deny beats every Allow), then grant Read or Full Control at both the share and the file level"
    );

    let root = check_read(&empty("nscap"), &cert(), &SharePath::root()).unwrap_err();
    assert_eq!(
        root.to_string(),
        "access denied: 'cert:CN=acclinux' cannot read 'nscap': share and file level grant no Read; grant Read or Full Control at both the share and the file level"
    );
    assert_eq!(root.missing, AccessMask::READ_DATA);
}

fn defaults_without(source: &str) -> Vec<Share> {
    PackageSource::ALL
        .iter()
        .map(|s| if s.as_str() == source { empty(source) } else { readable(s.as_str()) })
        .collect()
}

#[test]
fn save_check_passes_on_the_default_shares() {
    let shares = PackageSource::default_shares();
    let names: Vec<&str> = shares.iter().map(|s| s.name().as_str()).collect();
    assert_eq!(names, ["software-library", "nscap", "patch-downloads"]);
    assert_eq!(check_package_sources(&shares, &acc()), Ok(()));
    assert_eq!(check_package_sources(&shares, &cert()), Ok(()));
}

#[test]
fn save_check_messages_are_verbatim_for_one_source() {
    let caller = acc();
    let refuse = |shares: &[Share]| check_package_sources(shares, &caller).unwrap_err().to_string();

    let mut shares = defaults_without("nscap");
    shares[1] = share_with("nscap", "ACC_user", None, Some(FileRight::Read));
    assert_eq!(
        refuse(&shares),
        "share access: 'ACC_user' cannot read 1 package source: nscap (share level); grant Read or Full Control at both the share and the file level, then save again"
    );

    shares[1] = share_with("nscap", "ACC_user", Some(ShareRight::Change), Some(FileRight::Write));
    assert_eq!(
        refuse(&shares),
        "share access: 'ACC_user' cannot read 1 package source: nscap (file level); grant Read or Full Control at both the share and the file level, then save again"
    );

    shares[1] = readable("nscap");
    shares[1].add_file_ace(path("updates/2026"), Ace::deny(p("Users"), FileRight::Read.mask()));
    assert_eq!(
        refuse(&shares),
        "share access: 'ACC_user' cannot read 1 package source: nscap (file level: deny on 'updates/2026'); grant Read or Full Control at both the share and the file level, then save again"
    );

    shares[1] = empty("nscap");
    assert_eq!(
        refuse(&shares),
        "share access: 'ACC_user' cannot read 1 package source: nscap (share and file level); grant Read or Full Control at both the share and the file level, then save again"
    );
}

#[test]
fn save_check_lists_several_sources_in_fixed_order() {
    let caller = acc();
    // Given in reverse order; reported in the order of 3.2.3.
    let mut patch = readable("patch-downloads");
    patch.add_file_ace(path("a/b"), Ace::deny(p("Everyone"), FileRight::Read.mask()));
    patch.add_file_ace(path("z"), Ace::deny(p("Agents"), FileRight::FullControl.mask()));
    let shares = vec![
        patch,
        share_with("nscap", "ACC_user", Some(ShareRight::Read), None),
        share_with("software-library", "ACC_user", None, Some(FileRight::Modify)),
    ];
    assert_eq!(
        check_package_sources(&shares, &caller).unwrap_err().to_string(),
        "share access: 'ACC_user' cannot read 3 package sources: software-library (share level), nscap (file level), patch-downloads (file level: deny on 'z'); grant Read or Full Control at both the share and the file level, then save again"
    );

    // A source missing from the list fails at both levels.
    let two = vec![empty("software-library"), readable("nscap")];
    let refusal = check_package_sources(&two, &caller).unwrap_err();
    assert_eq!(
        refusal.to_string(),
        "share access: 'ACC_user' cannot read 2 package sources: software-library (share and file level), patch-downloads (share and file level); grant Read or Full Control at both the share and the file level, then save again"
    );
    let sources: Vec<PackageSource> = refusal.failures.iter().map(|f| f.source).collect();
    assert_eq!(sources, [PackageSource::SoftwareLibrary, PackageSource::PatchDownloads]);
}

#[test]
fn save_check_file_level_follows_3_2_3() {
    let caller = acc();
    let check = |share: Share| {
        let mut shares = defaults_without("software-library");
        shares[0] = share;
        check_source(PackageSource::SoftwareLibrary, &shares, &caller).map(|f| f.level().to_string())
    };
    for right in [FileRight::Read, FileRight::ReadAndExecute, FileRight::Modify, FileRight::FullControl] {
        assert_eq!(
            check(share_with("software-library", "Users", Some(ShareRight::Read), Some(right))),
            None,
            "{right}"
        );
    }
    assert_eq!(
        check(share_with("software-library", "Users", Some(ShareRight::Read), Some(FileRight::Write)))
            .as_deref(),
        Some("file level")
    );
    // Read granted only below the root does not count at save time.
    let mut share = share_with("software-library", "Users", Some(ShareRight::Read), None);
    share.add_file_ace(path("pkg"), Ace::allow(p("Users"), FileRight::FullControl.mask()));
    assert_eq!(check(share).as_deref(), Some("file level"));
    // A Deny anywhere below the root fails, and the shallowest is named.
    let mut share = readable("software-library");
    share.add_file_ace(path("a/b/c"), Ace::deny(p("ACC_user"), FileRight::Read.mask()));
    share.add_file_ace(path("b/c"), Ace::deny(p("Authenticated Users"), FileRight::Read.mask()));
    assert_eq!(check(share).as_deref(), Some("file level: deny on 'b/c'"));
    let mut share = readable("software-library");
    share.add_file_ace(path("a"), Ace::deny(p("Agents"), FileRight::Read.mask()));
    share.add_file_ace(path("b/c"), Ace::deny(p("ACC_user"), FileRight::Read.mask()));
    assert_eq!(check(share).as_deref(), Some("file level: deny on 'a'"));
    // A Deny of Write below the root, or a Deny for somebody else, is fine.
    let mut share = readable("software-library");
    share.add_file_ace(path("a"), Ace::deny(p("ACC_user"), FileRight::Write.mask()));
    share.add_file_ace(path("b"), Ace::deny(p("ACC_user2"), FileRight::Read.mask()));
    assert_eq!(check(share), None);
    // A Deny of Read at the root is reported as the file level.
    let mut share = readable("software-library");
    share.add_file_ace(SharePath::root(), Ace::deny(p("Everyone"), FileRight::Read.mask()));
    assert_eq!(check(share).as_deref(), Some("file level"));
}

#[test]
fn refresh_message_and_event_fields_are_verbatim() {
    let caller = acc();
    let package = path("pkg-7f3a");
    let mut shares = PackageSource::default_shares();
    assert_eq!(check_package_refresh(PackageSource::Nscap, &package, &shares, &caller), Ok(()));

    shares[1] = share_with("nscap", "ACC_user", None, Some(FileRight::Read));
    let denied = check_package_refresh(PackageSource::Nscap, &package, &shares, &caller).unwrap_err();
    assert_eq!(
        denied.package_refresh_message(),
        "package refresh: access denied reading 'nscap/pkg-7f3a' as 'ACC_user' (share level); grant Read or Full Control at both the share and the file level"
    );
    let fields = denied.package_access_fields();
    assert_eq!(
        fields,
        vec![
            ("Principal", "ACC_user".to_owned()),
            ("Source", "nscap".to_owned()),
            ("Level", "share".to_owned()),
            ("Path", "pkg-7f3a".to_owned()),
            ("Message", denied.package_refresh_message()),
        ]
    );

    shares[1] = readable("nscap");
    shares[1].add_file_ace(path("other"), Ace::deny(p("Agents"), FileRight::Read.mask()));
    let denied = check_package_refresh(PackageSource::Nscap, &package, &shares, &caller).unwrap_err();
    assert_eq!(
        denied.package_refresh_message(),
        "package refresh: access denied reading 'nscap/pkg-7f3a' as 'ACC_user' (file level: deny on 'other'); grant Read or Full Control at both the share and the file level"
    );
    assert_eq!(denied.package_access_fields()[2].1, "file");

    shares[1] = empty("nscap");
    let denied = check_package_refresh(PackageSource::Nscap, &package, &shares, &caller).unwrap_err();
    assert!(denied.package_refresh_message().contains("(share and file level)"));
    assert_eq!(denied.package_access_fields()[2].1, "share and file");

    shares[1] = share_with("nscap", "ACC_user", Some(ShareRight::Read), None);
    let denied = check_package_refresh(PackageSource::Nscap, &package, &shares, &caller).unwrap_err();
    assert!(denied.package_refresh_message().contains("(file level)"));
}

#[test]
fn grant_read_makes_the_minimal_change_and_the_check_passes() {
    let caller = acc();
    let mut shares = vec![
        empty("software-library"),
        share_with("nscap", "ACC_user", Some(ShareRight::Full), None),
        share_with("patch-downloads", "Agents", Some(ShareRight::Read), Some(FileRight::Read)),
    ];
    let before_patch = shares[2].clone();
    let changes = grant_read(&mut shares, &caller).unwrap();
    let described: Vec<String> = changes.iter().map(ToString::to_string).collect();
    assert_eq!(
        described,
        [
            "allow Read to 'ACC_user' on share software-library",
            "allow Read to 'ACC_user' on the root folder of software-library",
            "allow Read to 'ACC_user' on the root folder of nscap",
        ]
    );
    assert_eq!(check_package_sources(&shares, &caller), Ok(()));
    assert_eq!(shares[2], before_patch, "a passing source is not touched");
    assert_eq!(shares[1].share_acl().len(), 1, "Full already covers Read");
    assert_eq!(shares[0].share_acl(), [Ace::allow(p("ACC_user"), ShareRight::Read.mask())]);
    assert_eq!(shares[0].file_acl(&SharePath::root()), [Ace::allow(p("ACC_user"), FileRight::Read.mask())]);
    // Idempotent.
    assert_eq!(grant_read(&mut shares, &caller), Ok(vec![]));

    // A Write-only ACE is extended, not duplicated.
    let mut shares = PackageSource::default_shares();
    shares[0] =
        share_with("software-library", "cert:CN=acclinux", Some(ShareRight::Read), Some(FileRight::Write));
    grant_read(&mut shares, &cert()).unwrap();
    assert_eq!(
        shares[0].file_acl(&SharePath::root()),
        [Ace::allow(p("cert:CN=acclinux"), FileRight::Write.mask().union(FileRight::Read.mask()))]
    );
    assert_eq!(check_package_sources(&shares, &cert()), Ok(()));
}

#[test]
fn grant_read_cannot_override_a_deny_and_changes_nothing() {
    let caller = acc();
    let mut shares = vec![empty("software-library"), readable("nscap"), readable("patch-downloads")];
    shares[1].add_file_ace(path("sub/dir"), Ace::deny(p("Everyone"), FileRight::Read.mask()));
    let before = shares.clone();
    let err = grant_read(&mut shares, &caller).unwrap_err();
    assert_eq!(
        err.to_string(),
        "--grant-read cannot give 'ACC_user' Read on nscap: 'nscap/sub/dir' (file level) denies Read to 'Everyone', and a Deny beats every Allow; remove that Deny, then save again"
    );
    assert_eq!(shares, before, "all or nothing");

    let mut shares = PackageSource::default_shares();
    shares[2].add_share_ace(Ace::deny(p("ACC_user"), ShareRight::Read.mask()));
    assert_eq!(
        grant_read(&mut shares, &caller).unwrap_err().to_string(),
        "--grant-read cannot give 'ACC_user' Read on patch-downloads: the share ACL denies Read to 'ACC_user', and a Deny beats every Allow; remove that Deny, then save again"
    );

    let mut shares = PackageSource::default_shares();
    shares[0].add_file_ace(SharePath::root(), Ace::deny(p("Users"), FileRight::Read.mask()));
    assert_eq!(
        grant_read(&mut shares, &caller).unwrap_err().to_string(),
        "--grant-read cannot give 'ACC_user' Read on software-library: the root folder denies Read to 'Users', and a Deny beats every Allow; remove that Deny, then save again"
    );

    let mut shares = PackageSource::default_shares();
    shares.remove(1);
    assert_eq!(
        grant_read(&mut shares, &caller).unwrap_err().to_string(),
        "--grant-read cannot give 'ACC_user' Read on nscap: the share does not exist"
    );
}

#[test]
fn share_access_event_fields_in_order() {
    let share = readable("software-library");
    let at = path("pkg/file.bin");
    let outcome = check_read(&share, &acc(), &at);
    assert_eq!(
        share_access_event(share.name(), &at, AccessMask::READ_DATA, &acc(), Some("10.0.0.7"), &outcome),
        vec![
            ("ShareName", "software-library".to_owned()),
            ("RelativeTargetName", "pkg/file.bin".to_owned()),
            ("AccessMask", "0x1".to_owned()),
            ("SubjectUserName", "ACC_user".to_owned()),
            ("IpAddress", "10.0.0.7".to_owned()),
            ("Keywords", "Audit Success".to_owned()),
        ]
    );
    let outcome = check_read(&share, &cert(), &SharePath::root());
    assert_eq!(
        share_access_event(share.name(), &SharePath::root(), AccessMask::READ_DATA, &cert(), None, &outcome),
        vec![
            ("ShareName", "software-library".to_owned()),
            ("RelativeTargetName", "/".to_owned()),
            ("AccessMask", "0x1".to_owned()),
            ("SubjectUserName", "cert:CN=acclinux".to_owned()),
            ("Keywords", "Audit Failure".to_owned()),
            ("DeniedBy", "share and file level".to_owned()),
        ]
    );
    assert_eq!(SHARE_ACCESS_EVENT_ID, 5145);
}

#[test]
fn package_sources_map_to_share_names() {
    for source in PackageSource::ALL {
        assert_eq!(source.share_name().as_str(), source.as_str());
        assert_eq!(PackageSource::from_share_name(&source.share_name()), Some(source));
    }
    assert_eq!(PackageSource::from_share_name(&ShareName::parse("other").unwrap()), None);
}

fn principal_pool() -> impl Strategy<Value = Principal> {
    prop::sample::select(vec![
        "ACC_user",
        "ACC_user2",
        "Everyone",
        "Users",
        "Agents",
        "Authenticated Users",
        "cert:CN=acclinux",
    ])
    .prop_map(p)
}

fn ace() -> impl Strategy<Value = Ace> {
    let mask = prop::sample::select(vec![
        ShareRight::Read.mask(),
        ShareRight::Full.mask(),
        FileRight::Read.mask(),
        FileRight::Write.mask(),
        FileRight::Modify.mask(),
        AccessMask::READ_DATA,
    ]);
    (any::<bool>(), principal_pool(), mask)
        .prop_map(|(allow, who, mask)| if allow { Ace::allow(who, mask) } else { Ace::deny(who, mask) })
}

fn share_strategy() -> impl Strategy<Value = Share> {
    let object = prop::sample::select(vec!["", "a", "a/b", "a/b/c", "d"]);
    (prop::collection::vec(ace(), 0..4), prop::collection::vec((object, ace()), 0..6)).prop_map(
        |(share_aces, file_aces)| {
            let mut s = empty("nscap");
            for a in share_aces {
                s.add_share_ace(a);
            }
            for (at, a) in file_aces {
                s.add_file_ace(path(at), a);
            }
            s
        },
    )
}

proptest! {
    #[test]
    fn check_read_agrees_with_the_effective_mask(share in share_strategy(), cert_caller in any::<bool>(), at in prop::sample::select(vec!["", "a", "a/b/c/d", "d/e", "x"])) {
        let caller = if cert_caller { cert() } else { acc() };
        let at = path(at);
        let eff = effective_access(&share, &caller, &at);
        let result = check_read(&share, &caller, &at);
        prop_assert_eq!(result.is_ok(), eff.effective().allows_read());
        if let Err(denied) = result {
            // The level named is one that really fails.
            let level = denied.level();
            match &level {
                DenialLevel::Share => prop_assert!(!eff.share.allows_read() && eff.file.allows_read()),
                DenialLevel::File | DenialLevel::FileDeny(_) => prop_assert!(eff.share.allows_read() && !eff.file.allows_read()),
                DenialLevel::ShareAndFile => prop_assert!(!eff.share.allows_read() && !eff.file.allows_read()),
            }
            if let DenialLevel::FileDeny(on) = &level {
                prop_assert!(at.starts_with(on));
            }
        }
    }

    #[test]
    fn grant_read_then_check_passes_unless_a_deny_is_reported(a in share_strategy(), b in share_strategy(), c in share_strategy()) {
        let rename = |s: Share, name: &str| {
            let json = serde_json::to_string(&s).unwrap().replace("\"nscap\"", &format!("\"{name}\""));
            serde_json::from_str::<Share>(&json).unwrap()
        };
        let mut shares = vec![rename(a, "software-library"), b, rename(c, "patch-downloads")];
        let before = shares.clone();
        match grant_read(&mut shares, &acc()) {
            Ok(_) => prop_assert_eq!(check_package_sources(&shares, &acc()), Ok(())),
            Err(e) if matches!(*e, GrantReadError::Denied { .. }) => prop_assert_eq!(shares, before),
            Err(e) => prop_assert!(false, "unexpected {e}"),
        }
    }
}
