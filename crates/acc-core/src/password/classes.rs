//! The character classes of the complexity mode (5.2), with the exact definitions:
//! uppercase = Unicode category Lu, lowercase = Ll, digit = ASCII 0–9, symbol = the 32
//! ASCII punctuation characters. Space, currency signs and other non-ASCII symbols belong
//! to no class.
//!
//! The standard library answers the derived properties `Uppercase` (= Lu + Other_Uppercase)
//! and `Lowercase` (= Ll + Other_Lowercase); the `Other_*` code points of Unicode's
//! PropList.txt are excluded here to get Lu and Ll. They are letters used as modifiers,
//! ordinals, Roman numerals and circled letters (`ª`, `ʰ`, `ⅰ`, `ⓐ`, `Ⓐ`, …).

use serde::{Deserialize, Serialize};

/// One class of 5.2, in the order in which 5.5 lists missing classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CharClass {
    /// Unicode category Lu.
    Uppercase,
    /// Unicode category Ll.
    Lowercase,
    /// ASCII 0–9.
    Digit,
    /// U+0021–U+002F, U+003A–U+0040, U+005B–U+0060, U+007B–U+007E.
    Symbol,
}

impl CharClass {
    /// All classes in message order.
    pub const ALL: [CharClass; 4] =
        [CharClass::Uppercase, CharClass::Lowercase, CharClass::Digit, CharClass::Symbol];

    /// The class of `c`, if any.
    pub fn of(c: char) -> Option<CharClass> {
        if c.is_ascii_digit() {
            Some(CharClass::Digit)
        } else if c.is_ascii_punctuation() {
            Some(CharClass::Symbol)
        } else if c.is_uppercase() && !in_ranges(c, OTHER_UPPERCASE) {
            Some(CharClass::Uppercase)
        } else if c.is_lowercase() && !in_ranges(c, OTHER_LOWERCASE) {
            Some(CharClass::Lowercase)
        } else {
            None
        }
    }

    /// The item used in the P-CLASSES `{list}`.
    pub const fn describe(self) -> &'static str {
        match self {
            CharClass::Uppercase => "an uppercase letter (A-Z)",
            CharClass::Lowercase => "a lowercase letter (a-z)",
            CharClass::Digit => "a digit (0-9)",
            CharClass::Symbol => "a symbol (such as ! # % _)",
        }
    }
}

/// The classes `text` lacks, in message order.
pub(super) fn missing(text: &str) -> Vec<CharClass> {
    let mut present = [false; 4];
    for class in text.chars().filter_map(CharClass::of) {
        present[class as usize] = true;
    }
    CharClass::ALL.into_iter().filter(|c| !present[*c as usize]).collect()
}

/// `{list}` of P-CLASSES: one item as is, two as `X and Y`, more as `X, Y and Z`.
pub(super) fn describe_missing(missing: &[CharClass]) -> String {
    let items: Vec<&str> = missing.iter().map(|c| c.describe()).collect();
    match items.split_last() {
        None => String::new(),
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

fn in_ranges(c: char, ranges: &[(u32, u32)]) -> bool {
    let cp = u32::from(c);
    ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&cp))
}

/// Other_Uppercase (PropList.txt): Roman numerals, circled and squared Latin capitals.
const OTHER_UPPERCASE: &[(u32, u32)] =
    &[(0x2160, 0x216F), (0x24B6, 0x24CF), (0x1F130, 0x1F149), (0x1F150, 0x1F169), (0x1F170, 0x1F189)];

/// Other_Lowercase (PropList.txt): ordinal indicators, modifier letters, the
/// ypogegrammeni, small Roman numerals, circled small letters, and the modifier-letter
/// blocks of Latin Extended-F and Cyrillic Extended-D.
const OTHER_LOWERCASE: &[(u32, u32)] = &[
    (0x00AA, 0x00AA),
    (0x00BA, 0x00BA),
    (0x02B0, 0x02B8),
    (0x02C0, 0x02C1),
    (0x02E0, 0x02E4),
    (0x0345, 0x0345),
    (0x037A, 0x037A),
    (0x10FC, 0x10FC),
    (0x1D2C, 0x1D6A),
    (0x1D78, 0x1D78),
    (0x1D9B, 0x1DBF),
    (0x2071, 0x2071),
    (0x207F, 0x207F),
    (0x2090, 0x209C),
    (0x2170, 0x217F),
    (0x24D0, 0x24E9),
    (0x2C7C, 0x2C7D),
    (0xA69C, 0xA69D),
    (0xA770, 0xA770),
    (0xA7F1, 0xA7F4),
    (0xA7F8, 0xA7F9),
    (0xAB5C, 0xAB5F),
    (0xAB69, 0xAB69),
    (0x10780, 0x10780),
    (0x10783, 0x10785),
    (0x10787, 0x107B0),
    (0x107B2, 0x107BA),
    (0x1E030, 0x1E06D),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_follow_the_exact_definitions() {
        for c in ['A', 'Z', 'É', 'Ω', 'Ж'] {
            assert_eq!(CharClass::of(c), Some(CharClass::Uppercase), "{c}");
        }
        for c in ['a', 'z', 'é', 'ß', 'ω', 'ж'] {
            assert_eq!(CharClass::of(c), Some(CharClass::Lowercase), "{c}");
        }
        for c in '0'..='9' {
            assert_eq!(CharClass::of(c), Some(CharClass::Digit));
        }
        let symbols = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
        assert_eq!(symbols.chars().count(), 32);
        for c in symbols.chars() {
            assert_eq!(CharClass::of(c), Some(CharClass::Symbol), "{c}");
        }
        // Not in any class: space, currency signs, non-ASCII digits and punctuation,
        // titlecase letters, letters without case, and the Other_Uppercase/Other_Lowercase
        // code points that are not Lu/Ll.
        for c in [' ', '€', '£', '١', '٣', '¿', '«', 'ǅ', '中', 'ª', 'º', 'ʰ', 'ⅰ', 'Ⅰ', 'ⓐ', 'Ⓐ', '\u{345}']
        {
            assert_eq!(CharClass::of(c), None, "{c:?}");
        }
    }

    #[test]
    fn the_exclusion_tables_only_hold_cased_code_points() {
        for &(lo, hi) in OTHER_UPPERCASE {
            for c in (lo..=hi).filter_map(char::from_u32) {
                assert!(c.is_uppercase(), "{c:?}");
            }
        }
        for &(lo, hi) in OTHER_LOWERCASE {
            for c in (lo..=hi).filter_map(char::from_u32) {
                assert!(c.is_lowercase(), "{c:?}");
            }
        }
    }
}
