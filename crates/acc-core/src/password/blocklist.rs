//! The blocklist of 5.3: the shipped common/breached list, context words and patterns.
//! Everything compares the NFC-normalised, case-folded password as a whole string.

use std::collections::HashSet;
use std::sync::LazyLock;

use unicode_normalization::UnicodeNormalization;

use super::Secret;

/// One password per line, lower case; `#` starts a comment line (see the file's header).
const COMMON_PASSWORDS: &str = include_str!("../../data/common-passwords.txt");

static COMMON: LazyLock<HashSet<String>> = LazyLock::new(|| {
    COMMON_PASSWORDS
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(fold_text)
        .collect()
});

/// Longest repeated block of 5.3 (3), in code points.
const MAX_BLOCK: usize = 4;

/// NFC, then Unicode case folding, then NFC again, into a [`Secret`] so that the folded
/// copy of a password is cleared like the password.
pub(super) fn fold(text: &str) -> Secret {
    Secret::new(fold_text(text))
}

/// Full case folding as Unicode's `toCasefold` would do it for the characters where it
/// differs from lower-casing (`ß` -> `ss`, final sigma, ligatures, Greek symbol variants,
/// long s); everything else is lower-cased.
fn fold_text(text: &str) -> String {
    let lower = text.nfc().collect::<String>().to_lowercase();
    let mut out = String::with_capacity(lower.len());
    for c in lower.chars() {
        match c {
            'ß' => out.push_str("ss"),
            'ſ' => out.push('s'),
            'ς' => out.push('σ'),
            'ϐ' => out.push('β'),
            'ϑ' => out.push('θ'),
            'ϕ' => out.push('φ'),
            'ϖ' => out.push('π'),
            'ϰ' => out.push('κ'),
            'ϱ' => out.push('ρ'),
            'ϵ' => out.push('ε'),
            'ẛ' => out.push('ṡ'),
            '\u{0345}' | '\u{1FBE}' => out.push('ι'),
            'ﬀ' => out.push_str("ff"),
            'ﬁ' => out.push_str("fi"),
            'ﬂ' => out.push_str("fl"),
            'ﬃ' => out.push_str("ffi"),
            'ﬄ' => out.push_str("ffl"),
            'ﬅ' | 'ﬆ' => out.push_str("st"),
            _ => out.push(c),
        }
    }
    out.nfc().collect()
}

/// 5.3 (1): the folded password is on the shipped list.
pub(super) fn is_common(folded: &str) -> bool {
    COMMON.contains(folded)
}

/// 5.3 (2): the folded password equals one of the (non-empty) context words.
pub(super) fn is_context_word<'a>(folded: &str, words: impl IntoIterator<Item = &'a str>) -> bool {
    words.into_iter().filter(|w| !w.trim().is_empty()).any(|w| fold_text(w) == folded)
}

/// 5.3 (3): a prefix of an endless repetition of one block of 1–4 code points, at least
/// twice the block's length; or every code point exactly one above (or below) the previous.
pub(super) fn is_pattern(folded: &str) -> bool {
    let cps: Vec<u32> = folded.chars().map(u32::from).collect();
    is_repetition(&cps) || is_sequence(&cps, 1) || is_sequence(&cps, -1)
}

fn is_repetition(cps: &[u32]) -> bool {
    (1..=MAX_BLOCK).any(|k| cps.len() >= 2 * k && (k..cps.len()).all(|i| cps[i] == cps[i - k]))
}

fn is_sequence(cps: &[u32], step: i64) -> bool {
    cps.len() >= 2 && cps.windows(2).all(|w| i64::from(w[1]) - i64::from(w[0]) == step)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(s: &str) -> bool {
        is_pattern(fold(s).expose())
    }

    #[test]
    fn the_shipped_list_is_lower_case_nfc_and_large() {
        let entries: Vec<&str> =
            COMMON_PASSWORDS.lines().filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
        assert!(entries.len() >= 3000, "{}", entries.len());
        for entry in &entries {
            assert_eq!(fold_text(entry), *entry, "not folded: {entry}");
            assert!(entry.chars().count() >= 8, "unreachable entry: {entry}");
        }
    }

    #[test]
    fn repetitions_of_blocks_up_to_four() {
        for s in
            ["aaaaaaaaaaaaaaaa", "abcabcabcabcabcabc", "12121212121212121", "abcdabcd", "aa", "AbAbAbAbAbAb"]
        {
            assert!(pattern(s), "{s}");
        }
        for s in ["abcdeabcde", "aaaaaaaaaaaaaaab", "abcabcabcabcabcabd", "a", "abcab"] {
            assert!(!pattern(s), "{s}");
        }
    }

    #[test]
    fn sequences_up_and_down() {
        for s in ["abcdefghijklmnop", "9876543210", "ABCDEFGHIJKLMNOP", "0123456789", "zyx", "αβγδε"] {
            assert!(pattern(s), "{s}");
        }
        for s in ["abcdefghijklmnoq", "acegikmoqsuwy", "0123456789a", "98765432100", "x"] {
            assert!(!pattern(s), "{s}");
        }
    }

    #[test]
    fn folding_handles_full_case_folding_specials() {
        assert_eq!(fold_text("PAẞWORD"), "password");
        assert_eq!(fold_text("paßword"), "password");
        assert_eq!(fold_text("STRASSE"), fold_text("straße"));
        assert_eq!(fold_text("ΟΔΟΣ"), fold_text("οδος"));
        assert_eq!(fold_text("ﬁre"), "fire");
        assert_eq!(fold_text("Cafe\u{301}"), "caf\u{e9}");
    }
}
