//! The `Authorization` header's two parts: its scheme (`Basic`, `Bearer`), which HTTP
//! compares case-insensitively (RFC 9110 §11.1), and its credentials. Every role parses
//! the header here, so `bearer acc_…` and `Bearer acc_…` are one and the same.

/// The credentials of `value` when its scheme is `scheme` (compared case-insensitively),
/// trimmed; `None` for another scheme or no credentials at all.
pub fn credentials<'a>(value: &'a str, scheme: &str) -> Option<&'a str> {
    let value = value.trim_start();
    let (given, rest) = value.split_once([' ', '\t'])?;
    let rest = rest.trim();
    (given.eq_ignore_ascii_case(scheme) && !rest.is_empty()).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::credentials;

    #[test]
    fn schemes_match_whatever_their_case() {
        for v in ["Bearer acc_x", "bearer acc_x", "BEARER  acc_x ", "BeArEr\tacc_x"] {
            assert_eq!(credentials(v, "Bearer"), Some("acc_x"), "{v}");
        }
        assert_eq!(credentials("basic dXNlcjpwdw==", "Basic"), Some("dXNlcjpwdw=="));
    }

    #[test]
    fn another_scheme_or_no_credentials_is_none() {
        for v in ["Basic acc_x", "Bearer", "Bearer ", "Beareracc_x", "", "acc_x"] {
            assert_eq!(credentials(v, "Bearer"), None, "{v}");
        }
    }
}
