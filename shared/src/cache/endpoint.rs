//! Where the cache is: `IHOME_CACHE_ENDPOINT` (an address) or `IHOME_CACHE_NAME` (an ElastiCache
//! cache to look up at cold start).

use std::fmt;

use crate::config::ConfigError;

/// The cache setting, if the tier is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheSetting {
    Endpoint(CacheEndpoint),
    /// A serverless cache or replication group, found with `aws-sdk-elasticache`.
    Name(String),
}

impl CacheSetting {
    /// The endpoint wins: it needs no look-up (and no `elasticache:Describe…` permission).
    pub fn from_vars(endpoint: Option<String>, name: Option<String>) -> Result<Option<Self>, ConfigError> {
        if let Some(e) = endpoint {
            return match CacheEndpoint::parse(&e) {
                Ok(ep) => Ok(Some(CacheSetting::Endpoint(ep))),
                // The value may hold a password: not echoed.
                Err(why) => Err(ConfigError { name: "IHOME_CACHE_ENDPOINT", value: "…".into(), why }),
            };
        }
        match name {
            Some(n) if valid_cache_name(&n) => Ok(Some(CacheSetting::Name(n))),
            Some(n) => Err(ConfigError {
                name: "IHOME_CACHE_NAME",
                value: n,
                why: "expected an ElastiCache name (letters, digits, hyphens; at most 40)",
            }),
            None => Ok(None),
        }
    }
}

fn valid_cache_name(n: &str) -> bool {
    (1..=40).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// A Redis / Valkey server: host, port, TLS and optional ACL credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct CacheEndpoint {
    pub host: String,
    pub port: u16,
    pub tls: bool,
    pub username: Option<String>,
    pub password: Option<String>,
}

impl CacheEndpoint {
    pub fn new(host: impl Into<String>, port: u16, tls: bool) -> Self {
        CacheEndpoint { host: host.into(), port, tls, username: None, password: None }
    }

    /// `host:port` (TLS on, as ElastiCache serves it), or a URL: `redis://` (plain) or
    /// `rediss://` (TLS), with an optional `user:password@` and port (default 6379).
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let s = s.trim();
        let (tls, rest, url) = if let Some(r) = s.strip_prefix("rediss://") {
            (true, r, true)
        } else if let Some(r) = s.strip_prefix("redis://") {
            (false, r, true)
        } else if s.contains("://") {
            return Err("expected host:port, redis://… or rediss://…");
        } else {
            (true, s, false)
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('/') || rest.contains('?') {
            return Err("a path or query (a database number) is not supported");
        }
        let (userinfo, hostport) = match rest.rsplit_once('@') {
            Some((u, h)) if url => (Some(u), h),
            Some(_) => return Err("credentials need the URL form: rediss://user:password@host:port"),
            None => (None, rest),
        };
        let (host, port) = split_host_port(hostport)?;
        let port = match port {
            Some(p) => p.parse::<u16>().ok().filter(|p| *p > 0).ok_or("the port must be 1–65535")?,
            None if url => 6379,
            None => return Err("expected host:port"),
        };
        if host.is_empty() || !host.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._:".contains(&b)) {
            return Err("the host must be a DNS name or an IP address");
        }
        let (username, password) = match userinfo {
            None => (None, None),
            Some(u) => match u.split_once(':') {
                Some((user, pass)) => ((!user.is_empty()).then(|| user.to_owned()), Some(pass.to_owned())),
                None => (Some(u.to_owned()), None),
            },
        };
        Ok(CacheEndpoint { host: host.to_owned(), port, tls, username, password })
    }
}

/// `host:port`, `[v6]:port`, `host` or `[v6]`.
fn split_host_port(s: &str) -> Result<(&str, Option<&str>), &'static str> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or("an IPv6 address needs its closing ]")?;
        return match after {
            "" => Ok((host, None)),
            _ => after.strip_prefix(':').map(|p| (host, Some(p))).ok_or("expected :port after ]"),
        };
    }
    Ok(match s.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (s, None),
    })
}

/// Never prints the password.
impl fmt::Debug for CacheEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Display for CacheEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "rediss" } else { "redis" };
        let creds = match (&self.username, &self.password) {
            (None, None) => "",
            _ => "***@",
        };
        if self.host.contains(':') {
            write!(f, "{scheme}://{creds}[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{creds}{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_addresses_and_urls() {
        let e = CacheEndpoint::parse("ihome-abc.serverless.use1.cache.amazonaws.com:6379").unwrap();
        assert_eq!((e.host.as_str(), e.port, e.tls), ("ihome-abc.serverless.use1.cache.amazonaws.com", 6379, true));
        let e = CacheEndpoint::parse("redis://127.0.0.1:7000").unwrap();
        assert_eq!((e.host.as_str(), e.port, e.tls), ("127.0.0.1", 7000, false));
        let e = CacheEndpoint::parse("rediss://app:s3cret@cache.internal").unwrap();
        assert_eq!(
            (e.port, e.tls, e.username.as_deref(), e.password.as_deref()),
            (6379, true, Some("app"), Some("s3cret"))
        );
        let e = CacheEndpoint::parse("redis://:s3cret@[::1]:6380/").unwrap();
        assert_eq!((e.host.as_str(), e.port, e.username, e.password.as_deref()), ("::1", 6380, None, Some("s3cret")));
    }

    #[test]
    fn refuses_what_it_cannot_use() {
        for bad in [
            "cache.internal",
            "http://x:1",
            "redis://x:0",
            "redis://x:99999",
            "redis://x:1/2",
            "a b:1",
            "u:p@x:1",
            "redis://[::1",
        ] {
            assert!(CacheEndpoint::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn never_shows_the_password() {
        let e = CacheEndpoint::parse("rediss://app:s3cret@cache.internal:6379").unwrap();
        assert_eq!(format!("{e:?}"), "rediss://***@cache.internal:6379");
        let err = CacheSetting::from_vars(Some("rediss://app:s3cret@x:1/9".into()), None).unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }

    #[test]
    fn the_endpoint_wins_over_the_name() {
        let ep = CacheSetting::from_vars(Some("h:1".into()), Some("ihome".into())).unwrap();
        assert!(matches!(ep, Some(CacheSetting::Endpoint(_))));
        assert_eq!(
            CacheSetting::from_vars(None, Some("ihome-dev".into())).unwrap(),
            Some(CacheSetting::Name("ihome-dev".into()))
        );
        assert!(CacheSetting::from_vars(None, Some("no_underscores".into())).is_err());
        assert_eq!(CacheSetting::from_vars(None, None).unwrap(), None);
    }
}
