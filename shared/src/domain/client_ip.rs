use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

/// The caller's address as abuse budgets count it: an IPv4 address, or an IPv6 /64 (one
/// subscriber usually holds a whole /64, so counting single IPv6 addresses would count nothing).
///
/// Only ever read from what the caller cannot write: API Gateway's `requestContext` source IP or
/// the local server's socket peer, never `X-Forwarded-For` or any other header.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientIp(IpAddr);

impl ClientIp {
    pub fn new(addr: IpAddr) -> Self {
        let addr = match addr {
            // An IPv4 client seen through an IPv6 socket is that IPv4 client.
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => {
                    let s = v6.segments();
                    IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
                }
            },
            v4 => v4,
        };
        ClientIp(addr)
    }

    pub fn parse(s: &str) -> Option<Self> {
        s.trim().parse::<IpAddr>().ok().map(Self::new)
    }

    /// The key budgets count under: `203.0.113.24` or `2001:db8:1:2::/64`.
    pub fn bucket(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for ClientIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(v4) => write!(f, "{v4}"),
            IpAddr::V6(v6) => write!(f, "{v6}/64"),
        }
    }
}

/// Logged as is: an address is how abuse is traced, and budgets log what they refuse.
impl fmt::Debug for ClientIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientIp({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let a = ClientIp::parse("2001:db8:1:2:aaaa::1").unwrap();
        let b = ClientIp::parse("2001:db8:1:2:bbbb:cccc:dddd:eeee").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.bucket(), "2001:db8:1:2::/64");
        assert_ne!(a, ClientIp::parse("2001:db8:1:3::1").unwrap());
        assert_eq!(ClientIp::parse("::ffff:203.0.113.24").unwrap().bucket(), "203.0.113.24");
        assert_eq!(ClientIp::parse(" 198.51.100.7 ").unwrap().bucket(), "198.51.100.7");
        assert!(ClientIp::parse("203.0.113.24, 10.0.0.1").is_none());
        assert!(ClientIp::parse("").is_none());
    }
}
