use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::LazyLock;

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
use unicode_script::Script;
use unicode_security::mixed_script::AugmentedScriptSet;
use unicode_security::skeleton;

use super::Mobile;

/// Why a display name is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameError {
    /// Empty after trimming, or longer than [`UserName::MAX_CHARS`].
    Length,
    /// A control, format (bidi controls, zero-width characters…), separator, private-use,
    /// unassigned or otherwise invisible character.
    Invisible,
    /// Scripts mixed beyond UTS #39's "Highly Restrictive" level (`Аlice`: Cyrillic А, Latin lice).
    MixedScripts,
}

impl NameError {
    pub fn message(self) -> &'static str {
        match self {
            NameError::Length | NameError::Invisible => "用户名须为1-32个字符，且不能含控制字符",
            NameError::MixedScripts => "用户名不能混用多种文字（拉丁字母可与中文、日文或韩文同用）",
        }
    }
}

/// A display name: NFKC-normalised, trimmed, 1–32 characters, nothing invisible, scripts mixed
/// no further than UTS #39's "Highly Restrictive" level.
///
/// Two names are equal when they are confusable: equality (and hashing) goes by
/// [`UserName::skeleton_key`], the key of the name's uniqueness guard, so `Аӏісе` (all Cyrillic)
/// equals `Alice`. The store adapters rely on this: a rename between two look-alikes keeps the
/// one guard both share instead of claiming and releasing the same item.
#[derive(Clone, Debug)]
pub struct UserName {
    name: String,
    key: String,
}

impl UserName {
    pub const MAX_CHARS: usize = 32;

    pub fn parse(s: &str) -> Option<Self> {
        Self::try_parse(s).ok()
    }

    /// NFKC first (full-width `１３８…` is `138…`, `ﬁ` is `fi`), then trimmed; then checked.
    pub fn try_parse(s: &str) -> Result<Self, NameError> {
        let normalised: String = s.nfkc().collect();
        let s = normalised.trim();
        // Before the length: a name of zero-width spaces is refused for them, not for being long.
        if s.chars().any(is_invisible) {
            return Err(NameError::Invisible);
        }
        if !(1..=Self::MAX_CHARS).contains(&s.chars().count()) {
            return Err(NameError::Length);
        }
        if !is_highly_restrictive(s) {
            return Err(NameError::MixedScripts);
        }
        Ok(Self::new(s.to_owned()))
    }

    /// Every account's first name is its mobile number.
    pub fn from_mobile(mobile: &Mobile) -> Self {
        Self::new(mobile.as_str().to_owned())
    }

    fn new(name: String) -> Self {
        let key = Self::skeleton_key(&name);
        UserName { name, key }
    }

    /// The name as given (normalised and trimmed): what is stored and shown.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// What the name's uniqueness guard is keyed by (`store::keys::name`): two names with one key
    /// are one name.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The confusable skeleton of UTS #39 (NFD, default-ignorables dropped, each character
    /// replaced by its prototype in confusables.txt), lowercased, and skeletonised once more.
    ///
    /// Case-insensitive because `alice` next to `Alice` is an impersonation too, and the iHome
    /// pages show names in running text where case is easily missed. Lowercasing comes after the
    /// skeleton, not before, so the confusables that only exist in upper case still meet: `AIice`
    /// (capital I) has the skeleton `Alice`, whereas lowercasing first would give `aiice`. The
    /// price is that a letter whose skeleton is another letter keeps its case apart (`ALICE` has
    /// the skeleton `ALlCE`, key `allce`, not `alice`) — a name that differs in more than case.
    /// The second skeleton folds what lowercasing turned into a non-prototype (`Þ` → `þ` → `p`,
    /// as `þ` alone). Deterministic from the string alone, as a key must be.
    pub fn skeleton_key(s: &str) -> String {
        let normalised: String = s.nfkc().collect();
        let first: String = skeleton(&normalised).collect();
        let lower: String = first.chars().flat_map(char::to_lowercase).collect();
        skeleton(&lower).collect()
    }

    /// Mobile-shaped names are reserved for the owner of that mobile (it is their default name),
    /// so they need no uniqueness guard of their own. A name confusable with a mobile number
    /// (`l38OOl38OOO`: letters for digits) counts as that number: it is as reserved.
    pub fn is_mobile_shaped(&self) -> bool {
        Mobile::parse(&self.name).is_some() || self.imitated_mobile().is_some()
    }

    /// The mobile number whose skeleton key this name has, if any.
    fn imitated_mobile(&self) -> Option<Mobile> {
        // Each digit's key, to read a key back as digits: the key of a string of digits is the
        // digits' keys one after another.
        static DIGIT_KEYS: LazyLock<Vec<(String, char)>> =
            LazyLock::new(|| ('0'..='9').map(|d| (UserName::skeleton_key(&d.to_string()), d)).collect());
        let mut digits = String::new();
        let mut rest = self.key.as_str();
        while !rest.is_empty() {
            let (k, d) = DIGIT_KEYS.iter().find(|(k, _)| !k.is_empty() && rest.starts_with(k.as_str()))?;
            digits.push(*d);
            rest = &rest[k.len()..];
        }
        Mobile::parse(&digits).filter(|m| Self::skeleton_key(m.as_str()) == self.key)
    }
}

impl PartialEq for UserName {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for UserName {}

impl Hash for UserName {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key.hash(state);
    }
}

/// Characters that show nothing, or change how the rest shows, and so hide one name in another.
/// General_Category Cc (control), Cf (format: zero-width space and joiners, the bidi controls
/// U+202A..U+202E and U+2066..U+2069, U+2060..U+2064, the BOM…), Zl and Zp (line and paragraph
/// separators), Co (private use: no agreed glyph), Cs, Cn (unassigned, noncharacters); every
/// Default_Ignorable_Code_Point (also soft hyphen, variation selectors, Hangul fillers, tags);
/// and U+2800 BRAILLE PATTERN BLANK, a symbol that fonts draw empty.
fn is_invisible(c: char) -> bool {
    use GeneralCategory as Gc;
    matches!(
        c.general_category(),
        Gc::Control
            | Gc::Format
            | Gc::LineSeparator
            | Gc::ParagraphSeparator
            | Gc::PrivateUse
            | Gc::Surrogate
            | Gc::Unassigned
    ) || DEFAULT_IGNORABLE_VISIBLE_CATEGORIES.iter().any(|r| r.contains(&c))
        || c == '\u{2800}'
}

/// The Default_Ignorable_Code_Point ranges (Unicode's DerivedCoreProperties.txt) whose General
/// Category is neither Cf nor Cn, which `is_invisible` catches already: the combining grapheme
/// joiner, Hangul fillers, Khmer inherent vowels, Mongolian and other variation selectors.
const DEFAULT_IGNORABLE_VISIBLE_CATEGORIES: [std::ops::RangeInclusive<char>; 9] = [
    '\u{034F}'..='\u{034F}',
    '\u{115F}'..='\u{1160}',
    '\u{17B4}'..='\u{17B5}',
    '\u{180B}'..='\u{180D}',
    '\u{180F}'..='\u{180F}',
    '\u{3164}'..='\u{3164}',
    '\u{FE00}'..='\u{FE0F}',
    '\u{FFA0}'..='\u{FFA0}',
    '\u{E0100}'..='\u{E01EF}',
];

/// UTS #39 §5.2 "Highly Restrictive": the resolved script set (augmented with Hanb, Jpan and
/// Kore) of all characters is not empty — one script, Common and Inherited characters (digits,
/// spaces, punctuation, combining marks) going with any — or, leaving out the Latin characters,
/// it covers Han with Bopomofo, Japanese or Korean (so Latin with Han, Hiragana and Katakana;
/// Latin with Han and Bopomofo; Latin with Han and Hangul). The same test as `unicode_security`'s
/// `detect_restriction_level`, without its demand that every character be allowed in programming
/// identifiers (spaces and `·` are fine in a display name).
fn is_highly_restrictive(s: &str) -> bool {
    let mut all = AugmentedScriptSet::default();
    let mut without_latin = AugmentedScriptSet::default();
    for c in s.chars() {
        let set = AugmentedScriptSet::for_char(c);
        all.intersect_with(set);
        if !set.base.contains_script(Script::Latin) {
            without_latin.intersect_with(set);
        }
    }
    !all.is_empty() || without_latin.hanb || without_latin.jpan || without_latin.kore
}

/// A real name: 2–30 characters of letters, `·` between parts (Chinese minority names), or single
/// spaces between parts (Latin names).
#[derive(Clone, PartialEq, Eq)]
pub struct RealName(String);

impl RealName {
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let n = s.chars().count();
        let separators = ['·', ' '];
        let ok = (2..=30).contains(&n)
            && s.chars().all(|c| c.is_alphabetic() || separators.contains(&c))
            && !s.starts_with(separators)
            && !s.ends_with(separators)
            && !s.contains("··")
            && !s.contains("  ");
        ok.then(|| RealName(s.to_owned()))
    }

    pub fn from_stored(s: String) -> Self {
        RealName(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RealName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RealName(***)")
    }
}

/// A mainland resident ID number (GB 11643-1999): 6-digit region, birth date, sequence, and an
/// ISO 7064 MOD 11-2 check character. Stored with an upper-case `X`.
#[derive(Clone, PartialEq, Eq)]
pub struct IdCard(String);

impl IdCard {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &'static [u8; 11] = b"10X98765432";
    /// Province-level codes of GB/T 2260 (plus 83 for Taiwan residents' mainland numbers).
    const PROVINCES: [u8; 35] = [
        11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54, 61, 62,
        63, 64, 65, 71, 81, 82, 83,
    ];

    /// Parses and checks the number; `today` (`YYYYMMDD`) bounds the birth date.
    pub fn parse(s: &str, today: u32) -> Option<Self> {
        let s = s.trim().to_ascii_uppercase();
        let b = s.as_bytes();
        if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) {
            return None;
        }
        let digit = |i: usize| u32::from(b[i] - b'0');
        let province = (digit(0) * 10 + digit(1)) as u8;
        if !Self::PROVINCES.contains(&province) {
            return None;
        }
        let birth: u32 = s[6..14].parse().ok()?;
        if !real_date(birth) || birth > today || birth < 19_000_101 {
            return None;
        }
        let sum: u32 = (0..17).map(|i| digit(i) * Self::WEIGHTS[i]).sum();
        (b[17] == Self::CHECK[(sum % 11) as usize]).then_some(IdCard(s))
    }

    pub fn from_stored(s: String) -> Self {
        IdCard(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// First 6 and last 4 characters kept, the rest `*`.
    pub fn masked(&self) -> String {
        let n = self.0.len();
        if n <= 10 {
            return "*".repeat(n);
        }
        format!("{}{}{}", &self.0[..6], "*".repeat(n - 10), &self.0[n - 4..])
    }
}

impl fmt::Debug for IdCard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdCard({})", self.masked())
    }
}

fn real_date(yyyymmdd: u32) -> bool {
    let (y, m, d) = (yyyymmdd / 10_000, (yyyymmdd / 100) % 100, yyyymmdd % 100);
    let Ok(month) = time::Month::try_from(m as u8) else {
        return false;
    };
    time::Date::from_calendar_date(y as i32, month, d as u8).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TODAY: u32 = 20_261_126;

    /// Appends the right check character to 17 digits.
    pub fn with_check(first17: &str) -> String {
        let sum: u32 = first17.bytes().zip(IdCard::WEIGHTS).map(|(b, w)| u32::from(b - b'0') * w).sum();
        format!("{first17}{}", IdCard::CHECK[(sum % 11) as usize] as char)
    }

    #[test]
    fn names() {
        assert_eq!(UserName::parse("  小明  ").unwrap().as_str(), "小明");
        assert!(UserName::parse(&"名".repeat(32)).is_some());
        assert!(UserName::parse(&"名".repeat(33)).is_none());
        for bad in ["", "   ", "a\u{0}b", "a\nb", "tab\there", "\u{7f}"] {
            assert!(UserName::parse(bad).is_none(), "{bad:?}");
        }
        assert!(UserName::parse("13800138000").unwrap().is_mobile_shaped());
        assert!(!UserName::parse("1380013800").unwrap().is_mobile_shaped());
    }

    /// Hostile testing: look-alike names.
    #[test]
    fn invisible_and_format_characters_are_refused() {
        for bad in [
            "Alice\u{200B}",     // zero-width space
            "\u{200B}\u{200B}",  // nothing visible at all
            "\u{202E}ecilA",     // right-to-left override
            "a\u{202A}b",        // left-to-right embedding
            "A\u{200D}lice",     // zero-width joiner
            "A\u{2060}lice",     // word joiner
            "A\u{2064}lice",     // invisible plus
            "\u{FEFF}Alice",     // byte order mark
            "Ali\u{2028}ce",     // line separator
            "Ali\u{2029}ce",     // paragraph separator
            "Ali\u{00AD}ce",     // soft hyphen
            "Alice\u{FE0F}",     // variation selector
            "A\u{034F}lice",     // combining grapheme joiner
            "\u{3164}",          // Hangul filler
            "Alice\u{E0041}",    // tag letter
            "Alice\u{E000}",     // private use
            "Alice\u{0378}",     // unassigned
            "\u{200B} \u{200B}", // only a space once the invisible ones are gone
            "\u{2800}",          // Braille blank
        ] {
            assert_eq!(UserName::try_parse(bad), Err(NameError::Invisible), "{bad:?}");
        }
        assert_eq!(UserName::try_parse(" \u{3000} "), Err(NameError::Length));
        assert_eq!(UserName::try_parse("Аlice"), Err(NameError::MixedScripts));
    }

    #[test]
    fn names_are_nfkc() {
        let wide = UserName::parse("１３８００１３８０００").unwrap();
        assert_eq!(wide.as_str(), "13800138000");
        assert!(wide.is_mobile_shaped());
        assert_eq!(UserName::parse("Ａｌｉｃｅ").unwrap().as_str(), "Alice");
        assert_eq!(UserName::parse("\u{FB01}ne").unwrap().as_str(), "fine");
        // NFKC turns the ideographic space into a plain one, which is then trimmed.
        assert_eq!(UserName::parse("\u{3000}小明\u{3000}").unwrap().as_str(), "小明");
        // The length counts the normalised characters.
        assert!(UserName::parse(&"\u{FB03}".repeat(11)).is_none()); // 33 after "ffi"
    }

    #[test]
    fn scripts_mix_only_as_uts_39_highly_restrictive_allows() {
        for ok in [
            "Alice",
            "Αλίκη",           // Greek only
            "Алиса",           // Cyrillic only
            "小明Alice",       // Han with Latin
            "田中さんとAlice", // Han, Hiragana and Latin
            "김철수 Kim 金",   // Hangul, Han and Latin
            "ㄅㄆ老師 Tom",    // Bopomofo, Han and Latin
            "小明 2024",       // digits and spaces are Common
        ] {
            assert!(UserName::parse(ok).is_some(), "{ok:?}");
        }
        for bad in [
            "Аlice",       // Cyrillic А, Latin lice
            "Alicе",       // Latin, Cyrillic е
            "Αlice",       // Greek Α, Latin lice
            "김さん",      // Hangul with Hiragana
            "Алиса Smith", // Cyrillic with Latin
            "小明Алиса",   // Han with Cyrillic
        ] {
            assert!(UserName::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn look_alikes_share_one_guard_key() {
        use crate::store::keys;
        let key = |s: &str| keys::name(&UserName::parse(s).unwrap());
        assert_eq!(UserName::skeleton_key("Alice"), UserName::skeleton_key("Аlice"));
        for same in ["Аӏісе", "AIice", "alice", "Ａｌｉｃｅ"] {
            assert_eq!(key(same), key("Alice"), "{same:?}");
        }
        assert_ne!(key("Alice"), key("Alicia"));
        assert_ne!(key("小明"), key("小红"));
        // The stored name is what was typed (normalised), not the skeleton.
        assert_eq!(UserName::parse("Аӏісе").unwrap().as_str(), "Аӏісе");
    }

    #[test]
    fn look_alikes_of_a_mobile_are_mobile_shaped() {
        assert!(UserName::parse("l38OOl38OOO").unwrap().is_mobile_shaped());
        assert!(!UserName::parse("l38OOl38OO").unwrap().is_mobile_shaped());
        assert!(!UserName::parse("Alice").unwrap().is_mobile_shaped());
    }

    #[test]
    fn real_names() {
        for ok in ["张三", "阿依古丽·买买提", "John Smith", "李"] {
            assert_eq!(RealName::parse(ok).is_some(), ok != "李", "{ok}");
        }
        for bad in ["", "张", "·张三", "张三·", "张··三", "张3", "a  b", &"张".repeat(31), "张\u{0}三"] {
            assert!(RealName::parse(bad).is_none(), "{bad:?}");
        }
        assert!(RealName::parse(&"张".repeat(30)).is_some());
    }

    #[test]
    fn id_cards_by_gb_11643() {
        // The standard's own example number.
        assert!(IdCard::parse("11010519491231002X", TODAY).is_some());
        assert_eq!(IdCard::parse("11010519491231002x", TODAY).unwrap().as_str(), "11010519491231002X");
        let good = with_check("44030519900307123");
        assert!(IdCard::parse(&good, TODAY).is_some());
        // Any single changed digit breaks the checksum.
        let mut wrong = good.clone().into_bytes();
        wrong[10] = if wrong[10] == b'9' { b'8' } else { wrong[10] + 1 };
        assert!(IdCard::parse(std::str::from_utf8(&wrong).unwrap(), TODAY).is_none());
        for bad in [
            with_check("44030519900230123"), // 30 February
            with_check("44030518991231123"), // before 1900
            with_check("44030520301231123"), // born in the future
            with_check("99030519900307123"), // no such province
            "4403051990030712".into(),
            "4403051990030712345".into(),
            "44030519900307123A".into(),
            "".into(),
        ] {
            assert!(IdCard::parse(&bad, TODAY).is_none(), "{bad}");
        }
    }

    #[test]
    fn masking_keeps_six_and_four() {
        let id = IdCard::parse("11010519491231002X", TODAY).unwrap();
        assert_eq!(id.masked(), "110105********002X");
        assert_eq!(format!("{id:?}"), "IdCard(110105********002X)");
        assert_eq!(format!("{:?}", RealName::parse("张三").unwrap()), "RealName(***)");
    }
}
