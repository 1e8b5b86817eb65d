//! The openssl extension file that makes `openssl x509 -req … -extensions client` issue
//! what `acc pki sign --profile client` issues (a v3 certificate). Without `-extfile`,
//! openssl ignores `-extensions` and issues an X.509 v1 certificate that TLS refuses.

use crate::x509::Profile;

/// The extension file text for `profile` (sections `[client]` and `[server]`).
pub fn extension_file(profile: Profile) -> String {
    match profile {
        Profile::Client => "\
# openssl extension file for an acc agent (client) certificate, from `acc pki openssl-ext --profile client`.
# Use it as:
#   openssl x509 -req -days 365 -in acc.csr -CA labcacert.pem -CAkey ec-labcakey.pem -CAcreateserial \\
#     -extfile client.cnf -extensions client -out acc.crt
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"
        .to_string(),
        Profile::Server => "\
# openssl extension file for an acc server certificate, from `acc pki openssl-ext --profile server`.
# Edit subjectAltName to every name and address clients use to reach the server, then:
#   openssl x509 -req -days 825 -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \\
#     -extfile server.cnf -extensions server -out server.crt
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:localhost, IP:127.0.0.1
"
        .to_string(),
    }
}
