use std::fmt;

/// A mainland China mobile number: `1[3-9]` and 9 more digits.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Mobile(String);

impl Mobile {
    pub fn parse(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        let ok = b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]) && b.iter().all(u8::is_ascii_digit);
        ok.then(|| Mobile(s.to_owned()))
    }

    /// The whole number: for storage keys and SMS, never for logs.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `138****5678`: what logs may show.
    pub fn masked(&self) -> String {
        format!("{}****{}", &self.0[..3], &self.0[7..])
    }
}

// No Display: a whole number must be asked for by name (`as_str`), so it cannot slip into a log line.
impl fmt::Debug for Mobile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mobile({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_mainland_mobiles_only() {
        for ok in ["13800138000", "19912345678", "15000000000"] {
            assert!(Mobile::parse(ok).is_some(), "{ok}");
        }
        for bad in [
            "",
            "1380013800",
            "138001380000",
            "12800138000",
            "23800138000",
            "1380013800a",
            "+8613800138000",
            "１３８００１３８０００",
        ] {
            assert!(Mobile::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn debug_is_masked() {
        let m = Mobile::parse("13812345678").unwrap();
        assert_eq!(format!("{m:?}"), "Mobile(138****5678)");
    }
}
