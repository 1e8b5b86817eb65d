//! `acc pki`: the offline PKI commands. Thin wiring over `acc_pki`: read files, call the
//! library, write results atomically, print one clear line per failure naming the file.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use acc_core::time::{Clock as _, SystemClock};
use acc_pki::crl::{self, Crl};
use acc_pki::csr::{self, Csr, San};
use acc_pki::fsutil::{self, KEY_MODE, PUBLIC_MODE};
use acc_pki::key::{Curve, PrivateKey};
use acc_pki::subject::Subject;
use acc_pki::verify::{self, Purpose};
use acc_pki::x509::{self, Ca, Profile};
use acc_pki::{inspect, openssl_ext, pem, serial};
use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// How a new private key is protected, as the commands say.
const KEY_PROTECTION: &str = if cfg!(windows) {
    "DACL: read for this account, full control for SYSTEM and Administrators, nobody else"
} else {
    "mode 0400"
};

#[derive(Debug, Subcommand)]
pub enum PkiCommand {
    /// Certificate authority commands.
    #[command(subcommand)]
    Ca(CaCommand),
    /// Generate an EC private key (PKCS#8 PEM, mode 0400; on Windows a DACL to match).
    Key(KeyArgs),
    /// Create a certificate signing request.
    Csr(CsrArgs),
    /// Verify a CSR and issue a certificate from it.
    Sign(SignArgs),
    /// Summarise a certificate, CSR, private key or CRL.
    Show(ShowArgs),
    /// Verify a certificate against a CA (exit 0 valid, 1 with the reason).
    Verify(VerifyArgs),
    /// Create or extend a certificate revocation list.
    Crl(CrlArgs),
    /// Print the openssl extension file for `openssl x509 -req -extfile … -extensions client`.
    OpensslExt(OpensslExtArgs),
}

#[derive(Debug, Subcommand)]
pub enum CaCommand {
    /// Create a self-signed EC CA: DIR/ca.crt and DIR/ca.key (0400).
    Init(CaInitArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CurveArg {
    /// NIST P-256 (prime256v1)
    P256,
    /// NIST P-384 (secp384r1)
    P384,
}

impl From<CurveArg> for Curve {
    fn from(c: CurveArg) -> Curve {
        match c {
            CurveArg::P256 => Curve::P256,
            CurveArg::P384 => Curve::P384,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ProfileArg {
    /// TLS client (agent): EKU clientAuth
    Client,
    /// TLS server: EKU serverAuth, SANs required
    Server,
}

impl From<ProfileArg> for Profile {
    fn from(p: ProfileArg) -> Profile {
        match p {
            ProfileArg::Client => Profile::Client,
            ProfileArg::Server => Profile::Server,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PurposeArg {
    /// TLS client authentication
    Client,
    /// TLS server authentication
    Server,
}

#[derive(Debug, Args)]
pub struct CaInitArgs {
    /// Directory for ca.crt and ca.key (created if missing).
    #[arg(long, value_name = "DIR")]
    out_dir: PathBuf,
    /// The CA's common name.
    #[arg(long, value_name = "NAME", default_value = "acc Fleet CA")]
    cn: String,
    /// Validity in days.
    #[arg(long, value_name = "N", default_value_t = 3650, value_parser = clap::value_parser!(u32).range(1..=36500))]
    days: u32,
    /// Key curve.
    #[arg(long, value_enum, default_value_t = CurveArg::P256)]
    curve: CurveArg,
    /// Replace an existing CA in DIR.
    #[arg(long)]
    force: bool,
}

#[derive(Debug, Args)]
pub struct KeyArgs {
    /// Where to write the key.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Key curve.
    #[arg(long, value_enum, default_value_t = CurveArg::P256)]
    curve: CurveArg,
    /// Replace an existing file.
    #[arg(long)]
    force: bool,
}

#[derive(Debug, Args)]
pub struct CsrArgs {
    /// The private key (PEM or DER; EC P-256/P-384 or RSA ≥ 2048).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// Subject in openssl's -subj syntax, e.g. "/C=US/O=Example/CN=acclinux".
    #[arg(long, value_name = "SUBJ")]
    subj: String,
    /// Where to write the CSR (PEM).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Subject alternative names: DNS:x,IP:y,email:z,URI:u.
    #[arg(long, value_name = "LIST")]
    san: Option<String>,
}

#[derive(Debug, Args)]
pub struct SignArgs {
    /// The CSR to sign (its signature is verified first).
    #[arg(long, value_name = "FILE")]
    csr: PathBuf,
    /// The CA certificate.
    #[arg(long, value_name = "FILE")]
    ca_cert: PathBuf,
    /// The CA private key.
    #[arg(long, value_name = "FILE")]
    ca_key: PathBuf,
    /// Validity in days.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=36500))]
    days: u32,
    /// What the certificate is for.
    #[arg(long, value_enum)]
    profile: ProfileArg,
    /// Where to write the certificate (PEM).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// openssl-format serial file (created with a random serial if missing); default: a random 128-bit serial.
    #[arg(long, value_name = "FILE")]
    serial_file: Option<PathBuf>,
    /// Start of validity (RFC 3339, e.g. 2026-01-01T00:00:00Z), like openssl's -not_before;
    /// default: now.
    #[arg(long, value_name = "TIME", value_parser = parse_rfc3339)]
    not_before: Option<OffsetDateTime>,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A certificate, CSR, private key or CRL (PEM or DER).
    file: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// CA certificate(s) to trust (PEM bundle or DER).
    #[arg(long, value_name = "FILE")]
    ca: PathBuf,
    /// The certificate to verify.
    #[arg(long, value_name = "FILE")]
    cert: PathBuf,
    /// Check the certificate is fit for this purpose.
    #[arg(long, value_enum)]
    purpose: Option<PurposeArg>,
    /// Check revocation against this CRL (it must be issued by the CA).
    #[arg(long, value_name = "FILE")]
    crl: Option<PathBuf>,
    /// Verify at this time instead of now (RFC 3339, e.g. 2027-01-01T00:00:00Z).
    #[arg(long, value_name = "RFC3339", value_parser = parse_rfc3339)]
    at: Option<OffsetDateTime>,
}

#[derive(Debug, Args)]
pub struct CrlArgs {
    /// The CA certificate.
    #[arg(long, value_name = "FILE")]
    ca_cert: PathBuf,
    /// The CA private key.
    #[arg(long, value_name = "FILE")]
    ca_key: PathBuf,
    /// Serials to revoke (hexadecimal, as `acc pki show` and `openssl x509 -serial` print them).
    #[arg(long, value_name = "SERIAL", num_args = 1.., value_parser = parse_serial)]
    revoke: Vec<Vec<u8>>,
    /// An existing CRL of this CA to extend (its entries are kept, its number + 1).
    #[arg(long, value_name = "FILE")]
    crl: Option<PathBuf>,
    /// Where to write the CRL (PEM); may be the same file as --crl.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Days until nextUpdate.
    #[arg(long, value_name = "N", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3650))]
    days: u32,
}

#[derive(Debug, Args)]
pub struct OpensslExtArgs {
    /// Which section to print.
    #[arg(long, value_enum)]
    profile: ProfileArg,
}

fn parse_rfc3339(s: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map_err(|_| format!("'{s}' is not an RFC 3339 time such as 2027-01-01T00:00:00Z"))
}

fn parse_serial(s: &str) -> Result<Vec<u8>, acc_pki::PkiError> {
    serial::parse_hex(s)
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))
}

fn read_key(path: &Path) -> Result<PrivateKey> {
    PrivateKey::from_bytes(&read(path)?).with_context(|| path.display().to_string())
}

fn load_ca(cert: &Path, key: &Path) -> Result<Ca> {
    let ca_key = read_key(key)?;
    Ca::new(&read(cert)?, ca_key).with_context(|| cert.display().to_string())
}

fn write(path: &Path, contents: &[u8], mode: u32, replace: bool) -> Result<()> {
    fsutil::write_file(path, contents, mode, replace).map_err(anyhow::Error::from)
}

/// Runs one `acc pki` command.
pub fn run(command: PkiCommand) -> Result<ExitCode> {
    match command {
        PkiCommand::Ca(CaCommand::Init(a)) => ca_init(a),
        PkiCommand::Key(a) => {
            let key = PrivateKey::generate(a.curve.into())?;
            write(&a.out, key.to_pkcs8_pem()?.as_bytes(), KEY_MODE, a.force)?;
            outln!("{}: {} private key ({KEY_PROTECTION})", a.out.display(), key.algorithm());
            Ok(ExitCode::SUCCESS)
        }
        PkiCommand::Csr(a) => {
            let key = read_key(&a.key)?;
            let subject = Subject::parse(&a.subj)?;
            let sans = San::parse_list(a.san.as_deref().unwrap_or(""))?;
            let der = csr::build(&key, &subject, &sans)?;
            write(&a.out, pem::encode("CERTIFICATE REQUEST", &der).as_bytes(), PUBLIC_MODE, true)?;
            outln!("{}: certificate request for {}", a.out.display(), a.subj);
            Ok(ExitCode::SUCCESS)
        }
        PkiCommand::Sign(a) => sign(a),
        PkiCommand::Show(a) => show(a),
        PkiCommand::Verify(a) => verify_cmd(a),
        PkiCommand::Crl(a) => crl_cmd(a),
        PkiCommand::OpensslExt(a) => {
            out!("{}", openssl_ext::extension_file(a.profile.into()));
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn ca_init(a: CaInitArgs) -> Result<ExitCode> {
    std::fs::create_dir_all(&a.out_dir)
        .with_context(|| format!("{}: cannot create directory", a.out_dir.display()))?;
    let (key_path, cert_path) = (a.out_dir.join("ca.key"), a.out_dir.join("ca.crt"));
    if !a.force {
        for p in [&key_path, &cert_path] {
            if p.exists() {
                anyhow::bail!(
                    "{}: already exists; refusing to overwrite a CA (use --force to replace it)",
                    p.display()
                );
            }
        }
    }
    let cn = a.cn.replace('\\', "\\\\").replace('/', "\\/").replace('+', "\\+");
    let subject = Subject::parse(&format!("/CN={cn}")).context("--cn")?;
    let key = PrivateKey::generate(a.curve.into())?;
    let der = x509::self_signed_ca(&key, &subject, a.days, &serial::random()?, SystemClock.now_utc())?;
    write(&key_path, key.to_pkcs8_pem()?.as_bytes(), KEY_MODE, a.force)?;
    if let Err(e) = write(&cert_path, pem::encode("CERTIFICATE", &der).as_bytes(), PUBLIC_MODE, a.force) {
        // Never leave a key without its certificate.
        let _ = std::fs::remove_file(&key_path);
        return Err(e);
    }
    outln!("{}: CA certificate CN={} ({}, {} days)", cert_path.display(), a.cn, key.algorithm(), a.days);
    outln!("{}: CA private key ({KEY_PROTECTION})", key_path.display());
    Ok(ExitCode::SUCCESS)
}

fn sign(a: SignArgs) -> Result<ExitCode> {
    let csr = Csr::from_bytes(&read(&a.csr)?).with_context(|| a.csr.display().to_string())?;
    let ca = load_ca(&a.ca_cert, &a.ca_key)?;
    let serial = match &a.serial_file {
        Some(p) => serial::next_from_file(p)?,
        None => serial::random()?,
    };
    let der = ca
        .issue(&csr, a.profile.into(), a.days, &serial, a.not_before.unwrap_or_else(|| SystemClock.now_utc()))
        .with_context(|| a.csr.display().to_string())?;
    write(&a.out, pem::encode("CERTIFICATE", &der).as_bytes(), PUBLIC_MODE, true)?;
    outln!(
        "{}: {} certificate for {} (serial {}, {} days, issuer {})",
        a.out.display(),
        Profile::from(a.profile),
        csr.subject,
        serial::to_hex(&serial),
        a.days,
        ca.subject()
    );
    Ok(ExitCode::SUCCESS)
}

fn show(a: ShowArgs) -> Result<ExitCode> {
    let mut summary = inspect::summarize(&read(&a.file)?).with_context(|| a.file.display().to_string())?;
    summary.warn_if_expired(SystemClock.now_utc());
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        out!("{summary}");
    }
    #[cfg(unix)]
    if matches!(summary, inspect::Summary::PrivateKey(_)) {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&a.file)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            errln!(
                "warning: {}: mode {mode:04o} lets group or others read the private key; chmod 0400 {}",
                a.file.display(),
                a.file.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn verify_cmd(a: VerifyArgs) -> Result<ExitCode> {
    let ca = read(&a.ca)?;
    let crl = match &a.crl {
        Some(p) => Some(Crl::from_bytes(&read(p)?).with_context(|| p.display().to_string())?),
        None => None,
    };
    let opts = verify::Options {
        purpose: a.purpose.map(|p| match p {
            PurposeArg::Client => Purpose::Client,
            PurposeArg::Server => Purpose::Server,
        }),
        crl,
        at: a.at.unwrap_or_else(|| SystemClock.now_utc()),
    };
    let verdict =
        verify::verify(&ca, &read(&a.cert)?, &opts).with_context(|| a.cert.display().to_string())?;
    match verdict {
        Ok(v) => {
            outln!(
                "{}: OK ({}, issued by {}, valid until {})",
                a.cert.display(),
                v.subject,
                v.issuer,
                v.not_after
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(failure) => {
            errln!("error: {}: {failure}", a.cert.display());
            Ok(ExitCode::from(1))
        }
    }
}

fn crl_cmd(a: CrlArgs) -> Result<ExitCode> {
    let ca = load_ca(&a.ca_cert, &a.ca_key)?;
    let previous = match &a.crl {
        Some(p) => Some(Crl::read_for(&read(p)?, &ca.cert_der).with_context(|| p.display().to_string())?),
        None => None,
    };
    let now = SystemClock.now_utc();
    let der = crl::extend(&ca, previous.as_ref(), &a.revoke, now, a.days)?;
    write(&a.out, pem::encode("X509 CRL", &der).as_bytes(), PUBLIC_MODE, true)?;
    let listed = Crl::from_bytes(&der)?.revoked.len();
    outln!(
        "{}: CRL of {} with {listed} revoked certificate{} (next update {})",
        a.out.display(),
        ca.subject(),
        if listed == 1 { "" } else { "s" },
        crate::output::datetime(now + time::Duration::days(i64::from(a.days)))
    );
    Ok(ExitCode::SUCCESS)
}
