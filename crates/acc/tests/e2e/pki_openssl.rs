//! `acc pki` against the system openssl, in both directions: the mTLS seed's exact
//! commands, acc's keys and CSRs signed by openssl, a verification matrix on which both
//! must agree, and subjects that must mean the same to both.

use crate::util::Dir;

const SEED_SUBJ: &str =
    "/C=US/ST=NC/L=Raleigh/O=ServiceNow/OU=ITOM Lab/CN=acclinux/emailAddress=john.smith@servicenow.com";

/// The seed's lab CA, made with openssl: `labca/labcacert.pem`, `labca/ec-labcakey.pem`.
pub(crate) fn openssl_lab_ca(d: &Dir) {
    std::fs::create_dir_all(d.join("labca")).unwrap();
    d.openssl(&["ecparam", "-out", "labca/ec-labcakey.pem", "-name", "prime256v1", "-genkey"]).ok();
    d.openssl(&[
        "req",
        "-new",
        "-x509",
        "-key",
        "labca/ec-labcakey.pem",
        "-out",
        "labca/labcacert.pem",
        "-days",
        "3650",
        "-subj",
        "/C=US/O=ServiceNow/CN=Lab CA",
    ])
    .ok();
}

/// The seed's step 3, exactly: `-extensions client` without `-extfile` (an X.509 v1).
pub(crate) const SEED_STEP3: [&str; 15] = [
    "x509",
    "-req",
    "-days",
    "365",
    "-in",
    "labacc/acc.csr",
    "-CA",
    "labca/labcacert.pem",
    "-CAkey",
    "labca/ec-labcakey.pem",
    "-CAcreateserial",
    "-extensions",
    "client",
    "-out",
    "labacc/acc.crt",
];

/// The seed's steps 1 and 2: `labacc/acc.key` and `labacc/acc.csr`, made with openssl.
pub(crate) fn openssl_agent_csr(d: &Dir) {
    std::fs::create_dir_all(d.join("labacc")).unwrap();
    d.openssl(&["ecparam", "-out", "labacc/acc.key", "-name", "prime256v1", "-genkey"]).ok();
    d.openssl(&["req", "-new", "-key", "labacc/acc.key", "-out", "labacc/acc.csr", "-subj", SEED_SUBJ]).ok();
}

/// `acc pki sign` with the usual arguments.
fn acc_sign(d: &Dir, csr: &str, ca_cert: &str, ca_key: &str, days: &str, profile: &str, out: &str) {
    d.acc(&[
        "pki",
        "sign",
        "--csr",
        csr,
        "--ca-cert",
        ca_cert,
        "--ca-key",
        ca_key,
        "--days",
        days,
        "--profile",
        profile,
        "--out",
        out,
    ])
    .ok();
}

/// `acc pki verify --purpose client` succeeds.
fn acc_verifies_client(d: &Dir, ca: &str, cert: &str) {
    d.acc(&["pki", "verify", "--ca", ca, "--cert", cert, "--purpose", "client"]).ok();
}

/// The seed's `openssl x509 -req … -extensions client`, with the extension file it lacks.
fn openssl_sign_client(d: &Dir, csr: &str, ca_cert: &str, ca_key: &str, serial: &[&str], out: &str) {
    let mut args = vec!["x509", "-req", "-days", "30", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key];
    args.extend_from_slice(serial);
    args.extend(["-extfile", "client.cnf", "-extensions", "client", "-out", out]);
    d.openssl(&args).ok();
}

#[test]
fn seed_commands_then_acc_sign_gives_a_client_certificate_openssl_accepts() {
    let d = Dir::new();
    openssl_lab_ca(&d);
    openssl_agent_csr(&d);
    assert!(d.read("labacc/acc.key").starts_with("-----BEGIN EC PARAMETERS-----"), "the seed's key layout");
    acc_sign(
        &d,
        "labacc/acc.csr",
        "labca/labcacert.pem",
        "labca/ec-labcakey.pem",
        "365",
        "client",
        "labacc/acc.crt",
    );
    let verified = d
        .openssl(&["verify", "-CAfile", "labca/labcacert.pem", "-purpose", "sslclient", "labacc/acc.crt"])
        .ok();
    assert!(verified.contains("labacc/acc.crt: OK"), "{verified}");
    let text = d.openssl(&["x509", "-in", "labacc/acc.crt", "-noout", "-text"]).ok();
    assert!(text.contains("Version: 3 (0x2)"), "{text}");
    assert!(text.contains("TLS Web Client Authentication"), "{text}");
    assert!(text.contains("CA:FALSE"), "{text}");
    assert!(text.contains("X509v3 Subject Key Identifier"), "{text}");
    assert!(text.contains("X509v3 Authority Key Identifier"), "{text}");
    // The subject is copied exactly.
    let want = d.openssl(&["req", "-in", "labacc/acc.csr", "-noout", "-subject", "-nameopt", "RFC2253"]).ok();
    let got = d.openssl(&["x509", "-in", "labacc/acc.crt", "-noout", "-subject", "-nameopt", "RFC2253"]).ok();
    assert_eq!(want, got);
    // acc agrees.
    acc_verifies_client(&d, "labca/labcacert.pem", "labacc/acc.crt");
}

#[test]
fn the_seeds_v1_trap_is_recognised_with_the_fix() {
    let d = Dir::new();
    openssl_lab_ca(&d);
    openssl_agent_csr(&d);
    // Step 3 exactly as the seed writes it: -extensions without -extfile.
    let r = d.openssl(&SEED_STEP3);
    r.ok();
    assert!(
        d.openssl(&["x509", "-in", "labacc/acc.crt", "-noout", "-text"]).ok().contains("Version: 1 (0x0)")
    );
    let err = d
        .acc(&[
            "pki",
            "verify",
            "--ca",
            "labca/labcacert.pem",
            "--cert",
            "labacc/acc.crt",
            "--purpose",
            "client",
        ])
        .fails_with(1);
    assert!(err.contains("X.509 v1") && err.contains("-extfile"), "{err}");
    let shown = d.acc(&["pki", "show", "labacc/acc.crt"]).ok();
    assert!(shown.contains("X.509 v1") && shown.contains("acc pki openssl-ext --profile client"), "{shown}");

    // The documented fix: the same command with the extension file acc prints.
    let ext = d.acc(&["pki", "openssl-ext", "--profile", "client"]).ok();
    d.write("client.cnf", ext);
    openssl_sign_client(
        &d,
        "labacc/acc.csr",
        "labca/labcacert.pem",
        "labca/ec-labcakey.pem",
        &["-CAcreateserial"],
        "labacc/acc.crt",
    );
    acc_verifies_client(&d, "labca/labcacert.pem", "labacc/acc.crt");
}

#[test]
fn acc_keys_and_csrs_are_accepted_and_signed_by_openssl() {
    let d = Dir::new();
    openssl_lab_ca(&d);
    d.acc(&["pki", "key", "--out", "acc.key"]).ok();
    let mode = std::fs::metadata(d.join("acc.key"))
        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777);
    assert_eq!(mode.unwrap(), 0o400);
    let ec = d.openssl(&["ec", "-in", "acc.key", "-noout", "-text"]);
    assert!(ec.ok().contains("prime256v1") || ec.stderr().contains("read EC key"));
    d.acc(&[
        "pki",
        "csr",
        "--key",
        "acc.key",
        "--subj",
        SEED_SUBJ,
        "--out",
        "acc.csr",
        "--san",
        "DNS:acclinux.example,IP:10.0.0.5",
    ])
    .ok();
    let verified = d.openssl(&["req", "-in", "acc.csr", "-noout", "-verify"]);
    verified.ok();
    assert!(
        verified.stderr().contains("verify OK")
            || verified.stdout().contains("verify OK")
            || verified.stderr().contains("self-signature ok")
    );
    d.write("client.cnf", d.acc(&["pki", "openssl-ext", "--profile", "client"]).ok());
    openssl_sign_client(
        &d,
        "acc.csr",
        "labca/labcacert.pem",
        "labca/ec-labcakey.pem",
        &["-CAcreateserial"],
        "acc.crt",
    );
    let verified =
        d.openssl(&["verify", "-CAfile", "labca/labcacert.pem", "-purpose", "sslclient", "acc.crt"]).ok();
    assert!(verified.contains("OK"));
    acc_verifies_client(&d, "labca/labcacert.pem", "acc.crt");
    // The key openssl reads is the key in the certificate.
    let from_key = d.openssl(&["pkey", "-in", "acc.key", "-pubout"]).ok();
    let from_cert = d.openssl(&["x509", "-in", "acc.crt", "-noout", "-pubkey"]).ok();
    assert_eq!(from_key, from_cert);
    // An acc CA with an acc serial file, then openssl continues the same serial file.
    d.acc(&["pki", "ca", "init", "--out-dir", "ca", "--cn", "Fleet CA"]).ok();
    d.acc(&[
        "pki",
        "sign",
        "--csr",
        "acc.csr",
        "--ca-cert",
        "ca/ca.crt",
        "--ca-key",
        "ca/ca.key",
        "--days",
        "30",
        "--profile",
        "client",
        "--out",
        "a.crt",
        "--serial-file",
        "ca/ca.srl",
    ])
    .ok();
    let first = d.read("ca/ca.srl");
    openssl_sign_client(&d, "acc.csr", "ca/ca.crt", "ca/ca.key", &["-CAserial", "ca/ca.srl"], "b.crt");
    let serial_b = d.openssl(&["x509", "-in", "b.crt", "-noout", "-serial"]).ok();
    let expected = u128::from_str_radix(first.trim(), 16).unwrap() + 1;
    assert_eq!(u128::from_str_radix(serial_b.trim().trim_start_matches("serial="), 16).unwrap(), expected);
    d.openssl(&["verify", "-CAfile", "ca/ca.crt", "-purpose", "sslclient", "a.crt", "b.crt"]).ok();
}

#[test]
fn keys_in_every_openssl_form_are_read_and_bad_ones_refused() {
    let d = Dir::new();
    openssl_lab_ca(&d);
    d.openssl(&["genrsa", "-out", "rsa8.pem", "2048"]).ok(); // PKCS#8 "PRIVATE KEY" on OpenSSL 3
    d.openssl(&["rsa", "-in", "rsa8.pem", "-traditional", "-out", "rsa1.pem"]).ok(); // PKCS#1
    d.openssl(&["pkey", "-in", "rsa8.pem", "-outform", "DER", "-out", "rsa.der"]).ok();
    d.openssl(&["ecparam", "-name", "secp384r1", "-genkey", "-noout", "-out", "p384.pem"]).ok(); // SEC1, no params block
    d.openssl(&["pkey", "-in", "p384.pem", "-outform", "DER", "-out", "p384.der"]).ok();
    d.openssl(&["ec", "-in", "labca/ec-labcakey.pem", "-outform", "DER", "-out", "sec1.der"]).ok();
    for key in
        ["rsa8.pem", "rsa1.pem", "rsa.der", "p384.pem", "p384.der", "sec1.der", "labca/ec-labcakey.pem"]
    {
        let csr = format!("{key}.csr");
        d.acc(&["pki", "csr", "--key", key, "--subj", "/CN=agent1", "--out", &csr]).ok();
        d.openssl(&["req", "-in", &csr, "-noout", "-verify"]).ok();
        acc_sign(
            &d,
            &csr,
            "labca/labcacert.pem",
            "labca/ec-labcakey.pem",
            "1",
            "client",
            &format!("{key}.crt"),
        );
        d.openssl(&[
            "verify",
            "-CAfile",
            "labca/labcacert.pem",
            "-purpose",
            "sslclient",
            &format!("{key}.crt"),
        ])
        .ok();
    }
    // DER everywhere: an openssl CSR and CA certificate in DER, signed by acc, verified by openssl.
    d.openssl(&[
        "req",
        "-new",
        "-key",
        "p384.pem",
        "-subj",
        "/CN=der-agent",
        "-outform",
        "DER",
        "-out",
        "der.csr",
    ])
    .ok();
    d.openssl(&["x509", "-in", "labca/labcacert.pem", "-outform", "DER", "-out", "labca.der"]).ok();
    acc_sign(&d, "der.csr", "labca.der", "sec1.der", "1", "client", "der.crt");
    d.openssl(&["verify", "-CAfile", "labca/labcacert.pem", "-purpose", "sslclient", "der.crt"]).ok();
    acc_verifies_client(&d, "labca.der", "der.crt");
    // An RSA CA made by openssl signs with acc.
    d.openssl(&[
        "req",
        "-new",
        "-x509",
        "-key",
        "rsa8.pem",
        "-out",
        "rsaca.crt",
        "-days",
        "30",
        "-subj",
        "/CN=RSA CA",
    ])
    .ok();
    acc_sign(&d, "p384.pem.csr", "rsaca.crt", "rsa1.pem", "1", "client", "by-rsa.crt");
    d.openssl(&["verify", "-CAfile", "rsaca.crt", "-purpose", "sslclient", "by-rsa.crt"]).ok();

    d.openssl(&["genrsa", "-out", "weak.pem", "1024"]).ok();
    d.openssl(&["ecparam", "-name", "secp256k1", "-genkey", "-out", "k1.pem"]).ok();
    d.openssl(&["pkey", "-in", "rsa8.pem", "-aes256", "-passout", "pass:secret", "-out", "enc.pem"]).ok();
    d.openssl(&[
        "ec",
        "-in",
        "labca/ec-labcakey.pem",
        "-aes128",
        "-passout",
        "pass:secret",
        "-out",
        "enc-legacy.pem",
    ])
    .ok();
    d.write("garbage.pem", "not a key\n");
    let cases = [
        ("weak.pem", "RSA key is 1024 bits; acc requires at least 2048"),
        ("k1.pem", "secp256k1"),
        ("enc.pem", "encrypted"),
        ("enc-legacy.pem", "encrypted"),
        ("garbage.pem", "no private key found"),
        ("labca/labcacert.pem", "found 'CERTIFICATE'"),
        ("missing.pem", "missing.pem: cannot read"),
    ];
    for (key, reason) in cases {
        let err = d.acc(&["pki", "csr", "--key", key, "--subj", "/CN=x", "--out", "x.csr"]).fails_with(1);
        assert!(err.starts_with("error: ") && err.contains(key) && err.contains(reason), "{key}: {err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(!err.contains("panicked") && !err.contains("BEGIN"), "{err}");
        assert!(!d.join("x.csr").exists(), "no output file on failure");
    }
}

/// Writes an `openssl ca` configuration for the CA in `dir` (ca.crt, ca.key).
fn openssl_ca_config(d: &Dir, dir: &str) {
    std::fs::create_dir_all(d.join(&format!("{dir}/newcerts"))).unwrap();
    d.write(&format!("{dir}/index.txt"), "");
    d.write(&format!("{dir}/crlnumber"), "1000\n");
    d.write(&format!("{dir}/serial"), "2000\n");
    let ext = d.acc(&["pki", "openssl-ext", "--profile", "client"]).ok();
    let server = d.acc(&["pki", "openssl-ext", "--profile", "server"]).ok();
    d.write(
        &format!("{dir}/ca.cnf"),
        format!(
            "[ca]\ndefault_ca = CA_default\n[CA_default]\ndir = {root}/{dir}\ndatabase = $dir/index.txt\n\
             new_certs_dir = $dir/newcerts\ncertificate = $dir/ca.crt\nprivate_key = $dir/ca.key\nserial = $dir/serial\n\
             crlnumber = $dir/crlnumber\ndefault_md = sha256\ndefault_crl_days = 30\ndefault_days = 30\n\
             policy = policy_any\nunique_subject = no\n[policy_any]\ncommonName = supplied\n{ext}\n{server}\n",
            root = d.path().display()
        ),
    );
}

/// Both tools on one certificate: acc's exit code and reason, openssl's verdict.
fn both_verify(d: &Dir, ca: &str, cert: &str, purpose: &str, crl: Option<&str>) -> (i32, String, bool) {
    let mut acc = vec!["pki", "verify", "--ca", ca, "--cert", cert, "--purpose", purpose];
    let ossl_purpose = if purpose == "client" { "sslclient" } else { "sslserver" };
    let mut ossl = vec!["verify", "-CAfile", ca, "-purpose", ossl_purpose];
    if let Some(crl) = crl {
        acc.extend(["--crl", crl]);
        ossl.extend(["-crl_check", "-CRLfile", crl]);
    }
    ossl.push(cert);
    let a = d.acc(&acc);
    let o = d.openssl(&ossl);
    (a.code(), format!("{}{}", a.stdout(), a.stderr()), o.code() == 0)
}

#[test]
fn acc_and_openssl_agree_on_the_verification_matrix() {
    let d = Dir::new();
    d.acc(&["pki", "ca", "init", "--out-dir", "ca", "--cn", "Matrix CA"]).ok();
    d.acc(&["pki", "ca", "init", "--out-dir", "other", "--cn", "Other CA"]).ok();
    openssl_ca_config(&d, "ca");
    let sign = |name: &str, profile: &str, ca: &str| {
        d.acc(&["pki", "key", "--out", &format!("{name}.key")]).ok();
        let san = if profile == "server" { "DNS:localhost,IP:127.0.0.1" } else { "" };
        let mut args = vec![
            "pki",
            "csr",
            "--key",
            &*format!("{name}.key"),
            "--subj",
            &*format!("/CN={name}"),
            "--out",
            &*format!("{name}.csr"),
        ]
        .into_iter()
        .map(str::to_string)
        .collect::<Vec<_>>();
        if !san.is_empty() {
            args.extend(["--san".to_string(), san.to_string()]);
        }
        d.acc(&args.iter().map(String::as_str).collect::<Vec<_>>()).ok();
        acc_sign(
            &d,
            &format!("{name}.csr"),
            &format!("{ca}/ca.crt"),
            &format!("{ca}/ca.key"),
            "30",
            profile,
            &format!("{name}.crt"),
        );
    };
    sign("valid", "client", "ca");
    sign("server", "server", "ca");
    sign("foreign", "client", "other");
    sign("revoked", "client", "ca");
    // Expired and not-yet-valid certificates, made by openssl ca with explicit dates.
    for (name, start, end) in
        [("expired", "20200101000000Z", "20210101000000Z"), ("future", "20990101000000Z", "20991231000000Z")]
    {
        d.acc(&["pki", "key", "--out", &format!("{name}.key")]).ok();
        d.acc(&[
            "pki",
            "csr",
            "--key",
            &format!("{name}.key"),
            "--subj",
            &format!("/CN={name}"),
            "--out",
            &format!("{name}.csr"),
        ])
        .ok();
        d.openssl(&[
            "ca",
            "-batch",
            "-config",
            "ca/ca.cnf",
            "-in",
            &format!("{name}.csr"),
            "-out",
            &format!("{name}.crt"),
            "-startdate",
            start,
            "-enddate",
            end,
            "-extfile",
            "ca/ca.cnf",
            "-extensions",
            "client",
            "-notext",
        ])
        .ok();
    }
    // A tampered signature: flip one bit of the last signature byte.
    let der = acc_pki::x509::first_certificate(d.read("valid.crt").as_bytes()).unwrap();
    let mut bad = der.clone();
    let n = bad.len();
    bad[n - 1] ^= 0x01;
    d.write("tampered.crt", acc_pki::pem::encode("CERTIFICATE", &bad));

    let serial = d.openssl(&["x509", "-in", "revoked.crt", "-noout", "-serial"]).ok();
    let serial = serial.trim().trim_start_matches("serial=").to_string();
    d.acc(&[
        "pki",
        "crl",
        "--ca-cert",
        "ca/ca.crt",
        "--ca-key",
        "ca/ca.key",
        "--revoke",
        &serial,
        "--out",
        "acc.crl",
    ])
    .ok();

    let cases: [(&str, &str, Option<&str>, Option<&str>); 8] = [
        ("valid.crt", "client", None, None),
        ("valid.crt", "client", Some("acc.crl"), None),
        ("expired.crt", "client", None, Some("expired")),
        ("future.crt", "client", None, Some("not yet valid")),
        ("foreign.crt", "client", None, Some("unknown issuer")),
        ("tampered.crt", "client", None, Some("bad signature")),
        ("server.crt", "client", None, Some("wrong purpose")),
        ("revoked.crt", "client", Some("acc.crl"), Some("revoked")),
    ];
    for (cert, purpose, crl, reason) in cases {
        let (code, text, openssl_ok) = both_verify(&d, "ca/ca.crt", cert, purpose, crl);
        match reason {
            None => {
                assert_eq!(code, 0, "{cert}: {text}");
                assert!(openssl_ok, "openssl disagrees on {cert}");
            }
            Some(reason) => {
                assert_eq!(code, 1, "{cert}: {text}");
                assert!(text.contains(reason), "{cert}: expected '{reason}' in {text}");
                assert!(!openssl_ok, "openssl accepts {cert}, acc does not");
            }
        }
    }
    // The server certificate is fine as a server certificate, for both.
    let (code, text, openssl_ok) = both_verify(&d, "ca/ca.crt", "server.crt", "server", None);
    assert!(code == 0 && openssl_ok, "{text}");

    // A CRL made by `openssl ca -gencrl` revokes for acc too, and acc extends it.
    d.openssl(&["ca", "-config", "ca/ca.cnf", "-revoke", "revoked.crt"]).ok();
    d.openssl(&["ca", "-config", "ca/ca.cnf", "-gencrl", "-out", "openssl.crl"]).ok();
    let (code, text, openssl_ok) = both_verify(&d, "ca/ca.crt", "revoked.crt", "client", Some("openssl.crl"));
    assert!(code == 1 && text.contains("revoked") && !openssl_ok, "{text}");
    let (code, text, openssl_ok) = both_verify(&d, "ca/ca.crt", "valid.crt", "client", Some("openssl.crl"));
    assert!(code == 0 && openssl_ok, "{text}");
    let valid_serial = d.openssl(&["x509", "-in", "valid.crt", "-noout", "-serial"]).ok();
    let valid_serial = valid_serial.trim().trim_start_matches("serial=").to_string();
    d.acc(&[
        "pki",
        "crl",
        "--ca-cert",
        "ca/ca.crt",
        "--ca-key",
        "ca/ca.key",
        "--crl",
        "openssl.crl",
        "--revoke",
        &valid_serial,
        "--out",
        "extended.crl",
    ])
    .ok();
    let text = d.openssl(&["crl", "-in", "extended.crl", "-noout", "-text"]).ok();
    assert!(text.contains(&serial) && text.contains(&valid_serial), "{text}");
    assert!(text.contains("X509v3 CRL Number: \n                4097"), "openssl's 0x1000 + 1: {text}");
    let (code, _, openssl_ok) = both_verify(&d, "ca/ca.crt", "valid.crt", "client", Some("extended.crl"));
    assert!(code == 1 && !openssl_ok);

    // --at agrees with openssl's -attime.
    let later = time::OffsetDateTime::now_utc() + time::Duration::days(40);
    let at = later.format(&time::format_description::well_known::Rfc3339).unwrap();
    let err =
        d.acc(&["pki", "verify", "--ca", "ca/ca.crt", "--cert", "valid.crt", "--at", &at]).fails_with(1);
    assert!(err.contains("expired"), "{err}");
    let o = d.openssl(&[
        "verify",
        "-CAfile",
        "ca/ca.crt",
        "-attime",
        &later.unix_timestamp().to_string(),
        "valid.crt",
    ]);
    assert_ne!(o.code(), 0);
    // A CRL of another CA is refused, not silently ignored.
    d.acc(&["pki", "crl", "--ca-cert", "other/ca.crt", "--ca-key", "other/ca.key", "--out", "other.crl"])
        .ok();
    let (code, text, _) = both_verify(&d, "ca/ca.crt", "valid.crt", "client", Some("other.crl"));
    assert!(code == 1 && text.contains("CRL"), "{text}");
}

#[test]
fn subjects_mean_the_same_to_acc_and_openssl() {
    let d = Dir::new();
    d.acc(&["pki", "key", "--out", "k.pem"]).ok();
    let subjects = [
        SEED_SUBJ,
        "/CN=plain",
        r"/O=Slash\/And\+Plus/CN=a\\b",
        "/DC=org/DC=example/UID=jdoe+CN=John Doe",
        "/OU=one/OU=two/CN=repeated",
        "/C=DE/L=München/O=Zoë & Søn/CN=日本語",
        "/serialNumber=AB-12/title=Ops/CN=x",
    ];
    for (i, subj) in subjects.iter().enumerate() {
        let (ours, theirs) = (format!("acc{i}.csr"), format!("ossl{i}.csr"));
        d.acc(&["pki", "csr", "--key", "k.pem", "--subj", subj, "--out", &ours]).ok();
        d.openssl(&["req", "-new", "-utf8", "-key", "k.pem", "-subj", subj, "-out", &theirs]).ok();
        let text = |f: &str| {
            d.openssl(&["req", "-in", f, "-noout", "-subject", "-nameopt", "RFC2253,-esc_msb,show_type"]).ok()
        };
        assert_eq!(text(&ours), text(&theirs), "{subj}");
        let der = |f: &str| acc_pki::csr::Csr::from_bytes(d.read(f).as_bytes()).unwrap().subject_der;
        assert_eq!(der(&ours), der(&theirs), "DER of {subj}");
    }
    // Malformed subjects: acc refuses each with a one-line error naming the problem.
    // openssl refuses the first two and only warns about (and drops) the other two.
    let malformed = [
        ("/C=US/CN", "missing '='", true),
        ("/C=USA/CN=x", "two-letter", true),
        ("/C=US/XY=z/CN=x", "unknown attribute type 'XY'", false),
        ("/C=US/O=/CN=x", "attribute 'O' has an empty value", false),
    ];
    for (subj, reason, openssl_refuses) in malformed {
        let err = d.acc(&["pki", "csr", "--key", "k.pem", "--subj", subj, "--out", "bad.csr"]).fails_with(1);
        assert!(err.contains(reason) && err.lines().count() == 1, "{subj}: {err}");
        assert!(!d.join("bad.csr").exists());
        let o = d.openssl(&["req", "-new", "-key", "k.pem", "-subj", subj, "-out", "ossl-bad.csr"]);
        if openssl_refuses {
            assert_ne!(o.code(), 0, "openssl accepted {subj}");
        } else {
            assert!(o.stderr().to_lowercase().contains("skip"), "openssl warns about {subj}: {}", o.stderr());
        }
    }
}

#[test]
fn usage_errors_exit_2_and_failures_exit_1() {
    let d = Dir::new();
    d.acc(&["pki", "sign", "--csr", "x"]).fails_with(2);
    d.acc(&["pki", "verify", "--ca", "a", "--cert", "b", "--at", "yesterday"]).fails_with(2);
    d.acc(&["pki", "crl", "--ca-cert", "a", "--ca-key", "b", "--revoke", "zz", "--out", "c"]).fails_with(2);
    let err = d.acc(&["pki", "show", "nothing-here.pem"]).fails_with(1);
    assert!(err.starts_with("error: nothing-here.pem: cannot read"), "{err}");
    d.acc(&["pki", "ca", "init", "--out-dir", "ca"]).ok();
    let err = d.acc(&["pki", "ca", "init", "--out-dir", "ca"]).fails_with(1);
    assert!(err.contains("refusing to overwrite a CA"), "{err}");
    let err = d
        .acc(&[
            "pki",
            "sign",
            "--csr",
            "ca/ca.crt",
            "--ca-cert",
            "ca/ca.crt",
            "--ca-key",
            "ca/ca.key",
            "--days",
            "1",
            "--profile",
            "client",
            "--out",
            "x.crt",
        ])
        .fails_with(1);
    assert!(err.contains("no certificate request found"), "{err}");
    let help = d.acc(&["--help"]).ok();
    assert!(help.contains("pki"));
}

#[test]
fn a_self_signed_client_certificate_is_refused_in_words_with_a_real_status() {
    use crate::site::{agent_certificate, curl, events, site_with_account};
    let d = Dir::new();
    site_with_account(&d);
    agent_certificate(&d);
    d.acc(&["site", "trust", "add", "lab/ca.crt", "--data-dir", "site"]).ok();
    let site = crate::util::SiteProc::start_role("site", &d.join("site"), Some(&d.join("site.log")));
    // What `openssl req -x509` makes: a self-signed certificate with CA:TRUE.
    d.openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "self.key",
        "-out",
        "self.crt",
        "-subj",
        "/CN=selfie",
        "-days",
        "30",
    ])
    .ok();
    let (code, body) = curl(&d, &site, &["--cert", "self.crt", "--key", "self.key"], "/v1/health", "");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{code} {body}: {e}"));
    assert_eq!((code, v["reason"].as_str()), (403, Some("ca_used_as_end_entity")), "{body}");
    let message = v["message"].as_str().unwrap();
    assert!(message.contains("self-signed (a CA certificate used as an end-entity)"), "{message}");
    assert!(!body.contains("CaUsedAsEndEntity"), "in words: {body}");
    let refused = crate::util::wait_for(10, "the 4625 of the self-signed certificate", || {
        events(&d, "4625").into_iter().find(|e| e["AuthenticationPackageName"] == "acc-mtls")
    });
    let reason = refused["FailureReason"].as_str().unwrap();
    assert!(reason.contains("self-signed") && !reason.contains("CaUsedAsEndEntity"), "{refused}");
    assert_eq!((&refused["Status"], &refused["SubStatus"]), (&"0xC000006D".into(), &"0xC000038A".into()));
    let log = crate::util::wait_for(10, "the refusal in the site's log", || {
        std::fs::read_to_string(d.join("site.log")).ok().filter(|l| l.contains("Client certificate refused"))
    });
    assert!(log.contains("self-signed") && !log.contains("CaUsedAsEndEntity"), "{log}");
}
