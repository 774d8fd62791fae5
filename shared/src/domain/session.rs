use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::UserId;

/// Live sessions one user may hold. Sessions are indexed in their user's item (one read
/// authenticates, one write ends them all), so the index is bounded: the login past the bound
/// evicts the sessions that expire first (the oldest: every session lives as long).
pub const MAX_SESSIONS: usize = 10;

/// The sessions (token hash, expiry) of a full index that stay when one more is added: the live
/// ones that expire last, `MAX_SESSIONS - 1` at most.
pub fn sessions_kept_for_one_more<K>(sessions: impl IntoIterator<Item = (K, i64)>, now: i64) -> Vec<(K, i64)> {
    let mut live: Vec<(K, i64)> = sessions.into_iter().filter(|(_, expires_at)| *expires_at > now).collect();
    live.sort_by_key(|(_, expires_at)| std::cmp::Reverse(*expires_at));
    live.truncate(MAX_SESSIONS - 1);
    live
}

/// A session token `<user_id>.<secret>`: 256 random bits from a CSPRNG, base64url.
///
/// The user id travels in the clear so one round trip can read the session and the user together;
/// the store keeps only the SHA-256 of the secret, so a leaked table yields no usable session.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken {
    user_id: UserId,
    secret: [u8; 32],
}

/// The stored form of a token's secret: hex SHA-256.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TokenHash(String);

impl TokenHash {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl SessionToken {
    pub fn generate(user_id: UserId) -> Self {
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut secret);
        SessionToken { user_id, secret }
    }

    pub fn parse(s: &str) -> Option<Self> {
        let (id, secret) = s.split_once('.')?;
        let user_id = UserId::parse(id)?;
        if secret.len() != 43 {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(secret).ok()?;
        let secret = <[u8; 32]>::try_from(bytes.as_slice()).ok()?;
        Some(SessionToken { user_id, secret })
    }

    pub fn user_id(&self) -> UserId {
        self.user_id
    }

    pub fn hash(&self) -> TokenHash {
        let digest = Sha256::digest(self.secret);
        TokenHash(digest.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// The wire form, for the cookie or the bearer header only.
    pub fn expose(&self) -> String {
        format!("{}.{}", self.user_id.get(), URL_SAFE_NO_PAD.encode(self.secret))
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionToken({}.***)", self.user_id.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_index_keeps_the_live_sessions_that_expire_last() {
        let sessions: Vec<(u32, i64)> = (0..12).map(|i| (i, 100 + i64::from(i))).collect();
        let kept = sessions_kept_for_one_more(sessions, 101);
        // 100 and 101 have expired; of the ten live ones, the nine that expire last stay.
        assert_eq!(kept.iter().map(|(k, _)| *k).collect::<Vec<_>>(), [11, 10, 9, 8, 7, 6, 5, 4, 3]);
        assert_eq!(sessions_kept_for_one_more([(1, 50)], 60), []);
    }

    #[test]
    fn round_trips_and_rejects_garbage() {
        let uid = UserId::new(42).unwrap();
        let t = SessionToken::generate(uid);
        let wire = t.expose();
        let back = SessionToken::parse(&wire).unwrap();
        assert_eq!(back, t);
        assert_eq!(back.hash(), t.hash());
        assert_eq!(t.hash().as_str().len(), 64);
        assert_ne!(SessionToken::generate(uid).hash(), t.hash());
        for bad in [
            "",
            "42",
            "42.",
            ".abc",
            "x.abc",
            "0.AAAA",
            &wire[..wire.len() - 1],
            &format!("{wire}A"),
            &wire.replace('.', ":"),
        ] {
            assert!(SessionToken::parse(bad).is_none(), "{bad}");
        }
        assert!(!format!("{t:?}").contains(&wire[3..]));
    }
}
