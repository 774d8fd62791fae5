use std::fmt;

/// A password of 8 or more characters and at most 72 bytes (bcrypt's limit: never truncated).
#[derive(Clone)]
pub struct Password(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordError {
    TooShort,
    TooLong,
}

impl PasswordError {
    pub fn message(self) -> &'static str {
        match self {
            PasswordError::TooShort => "密码长度不能少于8个字符",
            PasswordError::TooLong => "密码过长，不能超过72个字节",
        }
    }
}

impl Password {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_BYTES: usize = 72;

    pub fn parse(s: &str) -> Result<Self, PasswordError> {
        if s.len() > Self::MAX_BYTES {
            Err(PasswordError::TooLong)
        } else if s.chars().count() < Self::MIN_CHARS {
            Err(PasswordError::TooShort)
        } else {
            Ok(Password(s.to_owned()))
        }
    }

    /// bcrypt hash; CPU-heavy, so call it off the async executor.
    ///
    /// The plain `bcrypt::hash` is right here: the type caps the password at 72 bytes, the only
    /// truncation left is of bcrypt's own NUL terminator, so no byte of the password is ever lost.
    /// (`non_truncating_hash` refuses at 72 bytes, one below API.md's limit.)
    pub fn hash(&self, cost: u32) -> Result<PasswordHash, bcrypt::BcryptError> {
        bcrypt::hash(self.0.as_bytes(), cost).map(PasswordHash)
    }

    /// Constant work for the hash's cost whether or not it matches; a malformed hash never matches.
    pub fn verify(&self, hash: &PasswordHash) -> bool {
        bcrypt::verify(self.0.as_bytes(), &hash.0).unwrap_or(false)
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// A stored bcrypt hash (`$2b$...`).
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    pub fn from_stored(s: String) -> Self {
        PasswordHash(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A well-formed hash that matches no password: verifying against it costs what verifying a
    /// real hash of `cost` costs, so an unknown mobile answers in the same time as a wrong password.
    pub fn dummy(cost: u32) -> Self {
        // Salt and digest of a real cost-4 hash; only the cost field is replaced.
        const TAIL: &str = "$18Ybn8MOxLckUPwFeF5yLOaL9we3UXHs1BcKMQRGPkiOA.mNVium.";
        PasswordHash(format!("$2b${cost:02}{TAIL}"))
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_limits() {
        assert_eq!(Password::parse("1234567").unwrap_err(), PasswordError::TooShort);
        assert!(Password::parse("12345678").is_ok());
        // Characters, not bytes, count toward the minimum.
        assert!(Password::parse("密码密码密码密码").is_ok());
        assert!(Password::parse(&"a".repeat(72)).is_ok());
        assert_eq!(Password::parse(&"a".repeat(73)).unwrap_err(), PasswordError::TooLong);
        // 25 three-byte characters = 75 bytes.
        assert_eq!(Password::parse(&"密".repeat(25)).unwrap_err(), PasswordError::TooLong);
    }

    #[test]
    fn hash_and_verify_use_every_byte() {
        let a = Password::parse(&"a".repeat(72)).unwrap();
        let b = Password::parse(&format!("{}b", "a".repeat(71))).unwrap();
        let h = a.hash(4).unwrap();
        assert!(a.verify(&h));
        assert!(!b.verify(&h), "the 72nd byte must count");
    }

    #[test]
    fn dummy_hash_is_well_formed_and_matches_nothing() {
        let d = PasswordHash::dummy(10);
        assert!(d.as_str().starts_with("$2b$10$"));
        assert_eq!(d.as_str().len(), 60);
        let p = Password::parse("whatever-password").unwrap();
        assert!(!p.verify(&PasswordHash::dummy(4)));
        // It must parse: a malformed hash would fail fast and give the timing away.
        assert_eq!(bcrypt::verify("ihome-dummy-password", PasswordHash::dummy(4).as_str()).ok(), Some(true));
        assert_eq!(format!("{p:?} {d:?}"), "Password(***) PasswordHash(***)");
    }
}
