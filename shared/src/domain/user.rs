use serde::Serialize;
use serde_json::{Value, json};

use super::{IdCard, Mobile, RealName};

/// A user id: positive and below 2^53, so JavaScript numbers hold it exactly.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct UserId(u64);

impl UserId {
    pub const MAX: u64 = (1 << 53) - 1;

    pub fn new(n: u64) -> Option<Self> {
        (1..=Self::MAX).contains(&n).then_some(UserId(n))
    }

    /// Random ids, so no item is a global counter (a hot key); creation retries on a collision.
    pub fn random() -> Self {
        use rand::Rng;
        UserId(rand::rng().random_range(1..=Self::MAX))
    }

    pub fn parse(s: &str) -> Option<Self> {
        if s.is_empty() || s.len() > 16 || !s.bytes().all(|b| b.is_ascii_digit()) || s.starts_with('0') {
            return None;
        }
        s.parse().ok().and_then(Self::new)
    }

    pub fn get(self) -> u64 {
        self.0
    }
}

/// A user as the profile routes see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub mobile: Mobile,
    pub name: String,
    pub avatar_url: String,
    /// Seconds since the Unix epoch.
    pub create_time: i64,
    pub real_name: Option<RealName>,
    pub id_card: Option<IdCard>,
}

impl User {
    /// `user.to_dict()` of API.md; `create_time` in the configured local time.
    pub fn to_dict(&self, utc_offset_hours: i8) -> Value {
        json!({
            "user_id": self.id,
            "name": self.name,
            "mobile": self.mobile.as_str(),
            "avatar": self.avatar_url,
            "avatar_url": self.avatar_url,
            "create_time": format_time(self.create_time, utc_offset_hours),
        })
    }
}

impl User {
    /// `user.auth_to_dict()` of API.md: the ID number only ever masked.
    pub fn auth_to_dict(&self) -> Value {
        json!({
            "user_id": self.id,
            "real_name": self.real_name.as_ref().map(RealName::as_str),
            "id_card": self.id_card.as_ref().map(IdCard::masked),
        })
    }
}

/// `YYYY-MM-DD HH:MM:SS` at the given offset.
pub fn format_time(epoch: i64, utc_offset_hours: i8) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let offset = time::UtcOffset::from_hms(utc_offset_hours, 0, 0).unwrap_or(time::UtcOffset::UTC);
    time::OffsetDateTime::from_unix_timestamp(epoch)
        .map(|t| t.to_offset(offset))
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_fit_javascript() {
        assert!(UserId::new(0).is_none());
        assert!(UserId::new(UserId::MAX).is_some());
        assert!(UserId::new(UserId::MAX + 1).is_none());
        for _ in 0..100 {
            assert!(UserId::random().get() <= UserId::MAX);
        }
        assert_eq!(UserId::parse("42"), UserId::new(42));
        for bad in ["", "0", "042", "-1", "1e3", "9007199254740992", "12345678901234567"] {
            assert!(UserId::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn to_dict_has_the_contract_fields() {
        let u = User {
            id: UserId::new(7).unwrap(),
            mobile: Mobile::parse("13800138000").unwrap(),
            name: "13800138000".into(),
            avatar_url: String::new(),
            create_time: 0,
            real_name: None,
            id_card: None,
        };
        assert_eq!(
            u.to_dict(8),
            json!({"user_id": 7, "name": "13800138000", "mobile": "13800138000", "avatar": "",
                   "avatar_url": "", "create_time": "1970-01-01 08:00:00"})
        );
        assert_eq!(u.auth_to_dict(), json!({"user_id": 7, "real_name": null, "id_card": null}));
        let verified = User {
            real_name: RealName::parse("张三"),
            id_card: Some(IdCard::from_stored("11010519491231002X".into())),
            ..u
        };
        assert_eq!(
            verified.auth_to_dict(),
            json!({"user_id": 7, "real_name": "张三", "id_card": "110105********002X"})
        );
    }
}
