//! Sinks: text for people, JSON lines for programs. All write to any `io::Write`.

pub mod conns;
pub mod flow;
pub mod json;
pub mod style;
pub mod text;
pub mod time;

use std::fmt;
use std::net::IpAddr;

/// `198.18.0.1:9000` or `[2001:db8::1]:9000`.
pub struct Endpoint(pub IpAddr, pub u16);

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(a) => write!(f, "{a}:{}", self.1),
            IpAddr::V6(a) => write!(f, "[{a}]:{}", self.1),
        }
    }
}

/// tcpdump's flag letters: `S` SYN, `F` FIN, `R` RST, `P` PSH, `.` ACK, `U` URG, `E` ECE, `W` CWR.
pub struct FlagLetters(pub u8);

impl fmt::Display for FlagLetters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::decode::tcpflags::*;
        let mut buf = [0u8; 8];
        let mut n = 0;
        for (bit, c) in [(SYN, b'S'), (FIN, b'F'), (RST, b'R'), (PSH, b'P'), (URG, b'U'), (ECE, b'E'), (CWR, b'W'), (ACK, b'.')] {
            if self.0 & bit != 0 {
                buf[n] = c;
                n += 1;
            }
        }
        if n == 0 {
            return f.pad("[none]");
        }
        let s = std::str::from_utf8(&buf[..n]).unwrap_or("?");
        f.write_str("[")?;
        f.write_str(s)?;
        f.write_str("]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_like_tcpdump() {
        assert_eq!(FlagLetters(0x12).to_string(), "[S.]");
        assert_eq!(FlagLetters(0x11).to_string(), "[F.]");
        assert_eq!(FlagLetters(0x18).to_string(), "[P.]");
        assert_eq!(FlagLetters(0x04).to_string(), "[R]");
        assert_eq!(FlagLetters(0xc2).to_string(), "[SEW]");
        assert_eq!(FlagLetters(0).to_string(), "[none]");
    }

    #[test]
    fn endpoints() {
        assert_eq!(Endpoint("198.18.0.1".parse().unwrap(), 80).to_string(), "198.18.0.1:80");
        assert_eq!(Endpoint("2001:db8::1".parse().unwrap(), 80).to_string(), "[2001:db8::1]:80");
    }
}
