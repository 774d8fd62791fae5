use std::fmt;

use rand::Rng;

/// The client's name for one image captcha: 1–64 of `[A-Za-z0-9_-]` (the web client sends a UUID).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct ImageCodeId(String);

impl ImageCodeId {
    pub fn parse(s: &str) -> Option<Self> {
        let ok = (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        ok.then(|| ImageCodeId(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The text drawn on a captcha: 4 characters that are hard to misread.
#[derive(Clone, PartialEq, Eq)]
pub struct ImageCodeText(String);

impl ImageCodeText {
    pub const LEN: usize = 4;
    /// Upper case only (answers are compared case-insensitively); no 0/O, 1/I/L. Every one of
    /// these is in the captcha crate's default font.
    pub const ALPHABET: &'static [u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

    /// Draws a new text from a CSPRNG (rand's thread RNG: ChaCha seeded and reseeded from the OS).
    pub fn generate() -> Self {
        let mut rng = rand::rng();
        let s = (0..Self::LEN).map(|_| Self::ALPHABET[rng.random_range(0..Self::ALPHABET.len())] as char).collect();
        ImageCodeText(s)
    }

    pub fn from_stored(s: String) -> Self {
        ImageCodeText(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn chars(&self) -> Vec<char> {
        self.0.chars().collect()
    }

    /// What a person typed, compared case-insensitively and ignoring surrounding blanks.
    pub fn matches(&self, answer: &str) -> bool {
        self.0.eq_ignore_ascii_case(answer.trim())
    }
}

impl fmt::Debug for ImageCodeText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ImageCodeText(***)")
    }
}

/// A 6-digit SMS code.
#[derive(Clone, PartialEq, Eq)]
pub struct SmsCode(String);

impl SmsCode {
    pub fn generate() -> Self {
        SmsCode(format!("{:06}", rand::rng().random_range(0..1_000_000u32)))
    }

    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        (s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit())).then(|| SmsCode(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What an SMS code is for. Each purpose keeps its own code per mobile, so a registration code
/// never resets a password and a reset code never registers.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum SmsPurpose {
    Register,
    Reset,
}

impl SmsPurpose {
    /// The `purpose` query parameter of `GET /smscode/<mobile>`: absent means `register`.
    pub fn parse(s: Option<&str>) -> Option<Self> {
        match s {
            None | Some("register") => Some(SmsPurpose::Register),
            Some("reset") => Some(SmsPurpose::Reset),
            Some(_) => None,
        }
    }
}

impl fmt::Debug for SmsCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SmsCode(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_code_ids() {
        assert!(ImageCodeId::parse("0b1f5c9e-7d6a-4f7e-9c1d-3a2b1c0d9e8f").is_some());
        assert!(ImageCodeId::parse(&"a".repeat(64)).is_some());
        for bad in ["", &"a".repeat(65), "a b", "a/b", "a.b", "é", "a%20"] {
            assert!(ImageCodeId::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn image_code_text_is_unambiguous_and_case_insensitive() {
        for _ in 0..200 {
            let t = ImageCodeText::generate();
            assert_eq!(t.as_str().len(), 4);
            assert!(t.as_str().bytes().all(|b| ImageCodeText::ALPHABET.contains(&b)));
            assert!(t.matches(&t.as_str().to_lowercase()));
            assert!(t.matches(&format!(" {} ", t.as_str())));
        }
        for confusing in b"01OIL" {
            assert!(!ImageCodeText::ALPHABET.contains(confusing));
        }
    }

    #[test]
    fn sms_codes_are_six_digits() {
        for _ in 0..200 {
            let c = SmsCode::generate();
            assert!(SmsCode::parse(c.as_str()).is_some());
        }
        for bad in ["", "12345", "1234567", "12345a", "１２３４５６"] {
            assert!(SmsCode::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(format!("{:?}", SmsCode::generate()), "SmsCode(***)");
    }
}
