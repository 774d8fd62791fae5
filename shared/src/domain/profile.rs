use std::fmt;

use super::Mobile;

/// A display name: trimmed, 1–32 characters, no control characters.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct UserName(String);

impl UserName {
    pub const MAX_CHARS: usize = 32;

    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let n = s.chars().count();
        let ok = (1..=Self::MAX_CHARS).contains(&n) && !s.chars().any(char::is_control);
        ok.then(|| UserName(s.to_owned()))
    }

    /// Every account's first name is its mobile number.
    pub fn from_mobile(mobile: &Mobile) -> Self {
        UserName(mobile.as_str().to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Mobile-shaped names are reserved for the owner of that mobile (it is their default name),
    /// so they need no uniqueness guard of their own.
    pub fn is_mobile_shaped(&self) -> bool {
        Mobile::parse(&self.0).is_some()
    }
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
