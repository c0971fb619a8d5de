//! Framing specifications: the names of the contract (`lines`, `crlf`, `len:4:be`,
//! `len:2:le`, `len:4:be+2`, `len:2:be:total`, `jsonhdr`, `jsonhdr:le`, `jsonhdr:le:total_size`,
//! `http`, `tls`, `fixed:16`, `datagram`, `segment`), their parser, and the per-direction choice
//! (`auto`, `lines`, `c2s=len:4:be,s2c=lines`).

use std::fmt;
use std::str::FromStr;

/// A length-prefix framing: a `width`-byte length field, `extra` bytes of fixed header, then
/// the body; the length counts the body ([`LenCovers::Body`], C's `struct.pack('i', len(body))`)
/// or the whole message, its own header included ([`LenCovers::Message`], as many wire
/// protocols do).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub struct LenSpec {
    /// Bytes in the length field: 1, 2, 4 or 8.
    pub width: u8,
    /// The length field is big-endian (`be`, network order); false: `le`.
    pub big_endian: bool,
    /// Fixed header bytes after the length field (the `+K` of `len:4:be+2`).
    pub extra: u32,
    /// What the length counts.
    pub covers: LenCovers,
}

/// What a length field counts.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum LenCovers {
    /// The body after the header (`len:4:be`).
    Body,
    /// The whole message, length field and fixed header included (`len:4:be:total`).
    Message,
}

/// The byte order of a `jsonhdr` header length.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum HeaderOrder {
    /// Network order, `struct.pack('>I', n)`.
    Big,
    /// `struct.pack('i', n)` on every common machine.
    Little,
    /// Whichever gives a plausible header at the first message (`--framing jsonhdr`).
    Either,
}

/// The JSON key holding the body length, when one was named (`jsonhdr:le:total_size`): at most
/// [`JsonKey::MAX`] bytes, kept inline so that a spec stays `Copy`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub struct JsonKey {
    bytes: [u8; JsonKey::MAX],
    len: u8,
}

impl JsonKey {
    /// Longest key accepted.
    pub const MAX: usize = 32;

    /// `None` when `key` is empty or longer than [`JsonKey::MAX`] bytes.
    pub fn new(key: &[u8]) -> Option<JsonKey> {
        if key.is_empty() || key.len() > JsonKey::MAX {
            return None;
        }
        let mut bytes = [0; JsonKey::MAX];
        bytes[..key.len()].copy_from_slice(key);
        Some(JsonKey { bytes, len: key.len() as u8 })
    }

    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

/// A `jsonhdr` framing: a 4-byte header length H in `order`, an H-byte JSON header whose `key`
/// (or, with `None`, the first of the usual length names it has:
/// [`LEN_KEYS`](super::framing::jsonhdr::LEN_KEYS)) gives the body length, then the body.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub struct JsonHdrSpec {
    /// The header length's byte order.
    pub order: HeaderOrder,
    /// The key giving the body length.
    pub key: Option<JsonKey>,
}

/// How one direction's byte stream is cut into messages.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum FramingSpec {
    /// `\n`-terminated lines.
    Lines,
    /// `\r\n`-terminated lines.
    Crlf,
    /// `len:N:be`, `len:N:le`, `len:N:be+K`, `len:N:be:total`.
    Len(LenSpec),
    /// `jsonhdr`, `jsonhdr:le`, `jsonhdr:be`, `jsonhdr:le:KEY`: a 4-byte header length, a JSON
    /// header giving the body length, then the body.
    JsonHdr(JsonHdrSpec),
    /// HTTP/1.x requests and responses.
    Http,
    /// TLS records (5-byte header, length at bytes 3..5).
    Tls,
    /// Fixed-size messages of N bytes (N >= 1).
    Fixed(u32),
    /// No framing: every in-order chunk as delivered is one message.
    Segment,
    /// UDP: each datagram is one message.
    Datagram,
}

/// A framing spec that could not be parsed. Display names the bad spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecError {
    /// The spec as given.
    pub spec: String,
    /// What is wrong with it, and what was expected.
    pub reason: String,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid framing spec {:?}: {}", self.spec, self.reason)
    }
}

impl std::error::Error for SpecError {}

fn err(spec: &str, reason: impl Into<String>) -> SpecError {
    SpecError { spec: spec.to_string(), reason: reason.into() }
}

const KNOWN: &str = "expected one of lines, crlf, len:N:be, len:N:le (N = 1, 2, 4, 8; optional +K and :total), \
                     jsonhdr (or jsonhdr:le, jsonhdr:be, jsonhdr:le:KEY), http, tls, fixed:N, segment, datagram";

impl FramingSpec {
    /// Parses a contract name. `len:N` without endianness means big-endian.
    pub fn parse(s: &str) -> Result<FramingSpec, SpecError> {
        let t = s.trim();
        let lower = t.to_ascii_lowercase();
        match lower.as_str() {
            "lines" => return Ok(FramingSpec::Lines),
            "crlf" => return Ok(FramingSpec::Crlf),
            "http" => return Ok(FramingSpec::Http),
            "tls" => return Ok(FramingSpec::Tls),
            "segment" => return Ok(FramingSpec::Segment),
            "datagram" => return Ok(FramingSpec::Datagram),
            "" => return Err(err(s, format!("empty; {KNOWN}"))),
            _ => {}
        }
        if let Some(n) = lower.strip_prefix("fixed:") {
            let n: u32 = n.parse().map_err(|_| err(s, "fixed:N needs N, a message size in bytes (1 to 4294967295)"))?;
            if n == 0 {
                return Err(err(s, "fixed:N needs N >= 1"));
            }
            return Ok(FramingSpec::Fixed(n));
        }
        if lower == "jsonhdr" || lower.starts_with("jsonhdr:") {
            // The key keeps its case: JSON keys are case-sensitive.
            let mut parts = t["jsonhdr".len()..].splitn(3, ':').skip(1);
            let order = match parts.next().map(str::to_ascii_lowercase).as_deref() {
                None => HeaderOrder::Either,
                Some("be") => HeaderOrder::Big,
                Some("le") => HeaderOrder::Little,
                Some(_) => return Err(err(s, "jsonhdr:ORDER needs be or le (jsonhdr:le:KEY to name the length key)")),
            };
            let key = match parts.next() {
                None => None,
                Some(k) => Some(JsonKey::new(k.as_bytes()).ok_or_else(|| err(s, format!("the key must be 1 to {} bytes", JsonKey::MAX)))?),
            };
            return Ok(FramingSpec::JsonHdr(JsonHdrSpec { order, key }));
        }
        if let Some(rest) = lower.strip_prefix("len:") {
            let (rest, covers) = match rest.strip_suffix(":total") {
                Some(r) => (r, LenCovers::Message),
                None => (rest, LenCovers::Body),
            };
            let (main, extra) = match rest.split_once('+') {
                Some((m, k)) => {
                    let k: u32 =
                        k.parse().map_err(|_| err(s, "the +K suffix needs K, a number of fixed header bytes after the length field"))?;
                    (m, k)
                }
                None => (rest, 0),
            };
            let (width, order) = match main.split_once(':') {
                Some((width, order)) => (width, order),
                None => (main, "be"),
            };
            let width: u8 = match width {
                "1" => 1,
                "2" => 2,
                "4" => 4,
                "8" => 8,
                _ => return Err(err(s, "length width must be 1, 2, 4 or 8 bytes")),
            };
            let big_endian = match order {
                "be" => true,
                "le" => false,
                _ => return Err(err(s, "byte order must be be or le")),
            };
            return Ok(FramingSpec::Len(LenSpec { width, big_endian, extra, covers }));
        }
        Err(err(s, format!("unknown framing; {KNOWN}")))
    }
}

impl FromStr for FramingSpec {
    type Err = SpecError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FramingSpec::parse(s)
    }
}

impl FramingSpec {
    /// The name of a framing without parameters (`lines`, `http`, ...), as `Display` writes it:
    /// a per-message writer takes it without core::fmt. `None` for `len:`, `jsonhdr`, `fixed:`.
    pub fn plain_name(&self) -> Option<&'static str> {
        match self {
            FramingSpec::Lines => Some("lines"),
            FramingSpec::Crlf => Some("crlf"),
            FramingSpec::Http => Some("http"),
            FramingSpec::Tls => Some("tls"),
            FramingSpec::Segment => Some("segment"),
            FramingSpec::Datagram => Some("datagram"),
            FramingSpec::Len(_) | FramingSpec::JsonHdr(_) | FramingSpec::Fixed(_) => None,
        }
    }
}

impl fmt::Display for FramingSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            FramingSpec::Lines => f.write_str("lines"),
            FramingSpec::Crlf => f.write_str("crlf"),
            FramingSpec::Len(l) => {
                write!(f, "len:{}:{}", l.width, if l.big_endian { "be" } else { "le" })?;
                if l.extra > 0 {
                    write!(f, "+{}", l.extra)?;
                }
                if l.covers == LenCovers::Message {
                    f.write_str(":total")?;
                }
                Ok(())
            }
            FramingSpec::JsonHdr(j) => {
                f.write_str(match j.order {
                    HeaderOrder::Big => "jsonhdr:be",
                    HeaderOrder::Little => "jsonhdr:le",
                    HeaderOrder::Either => "jsonhdr",
                })?;
                match (j.key, j.order) {
                    // (the parser names a key only after an order)
                    (Some(k), _) => write!(f, ":{}", String::from_utf8_lossy(k.as_bytes())),
                    (None, _) => Ok(()),
                }
            }
            FramingSpec::Http => f.write_str("http"),
            FramingSpec::Tls => f.write_str("tls"),
            FramingSpec::Fixed(n) => write!(f, "fixed:{n}"),
            FramingSpec::Segment => f.write_str("segment"),
            FramingSpec::Datagram => f.write_str("datagram"),
        }
    }
}

/// The framing of one TCP direction: detected, or given.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash, Default)]
pub enum DirFraming {
    /// Detected from the direction's first bytes ([`detect`](super::framing::detect)).
    #[default]
    Auto,
    /// Given with `--framing`.
    Spec(FramingSpec),
}

impl fmt::Display for DirFraming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DirFraming::Auto => f.write_str("auto"),
            DirFraming::Spec(s) => s.fmt(f),
        }
    }
}

/// Framing for both directions of every TCP connection: `[c2s, s2c]`.
/// UDP datagrams are always framed as `datagram`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash, Default)]
pub struct FramingChoice {
    /// `[c2s, s2c]`.
    pub dirs: [DirFraming; 2],
}

impl FramingChoice {
    /// `auto` in both directions (the default).
    pub const AUTO: FramingChoice = FramingChoice { dirs: [DirFraming::Auto, DirFraming::Auto] };

    /// `auto`, a single spec for both directions (`lines`), or per direction
    /// (`c2s=len:4:be,s2c=lines`; a direction left out stays `auto`).
    pub fn parse(s: &str) -> Result<FramingChoice, SpecError> {
        let t = s.trim();
        let one = |v: &str| -> Result<DirFraming, SpecError> {
            let v = v.trim();
            if v.eq_ignore_ascii_case("auto") {
                return Ok(DirFraming::Auto);
            }
            match FramingSpec::parse(v) {
                Ok(FramingSpec::Datagram) => Err(err(s, "datagram framing applies to UDP only (UDP is always framed per datagram)")),
                Ok(spec) => Ok(DirFraming::Spec(spec)),
                Err(e) => Err(err(s, format!("{v:?}: {}", e.reason))),
            }
        };
        if !t.contains('=') {
            let d = one(t)?;
            return Ok(FramingChoice { dirs: [d, d] });
        }
        let mut dirs = [DirFraming::Auto; 2];
        let mut seen = [false; 2];
        for part in t.split(',') {
            let (k, v) = part.split_once('=').ok_or_else(|| err(s, format!("{part:?} is not DIR=SPEC (DIR is c2s or s2c)")))?;
            let i = match k.trim().to_ascii_lowercase().as_str() {
                "c2s" => 0,
                "s2c" => 1,
                other => return Err(err(s, format!("unknown direction {other:?}; use c2s or s2c"))),
            };
            if seen[i] {
                return Err(err(s, format!("direction {} given twice", k.trim())));
            }
            seen[i] = true;
            dirs[i] = one(v)?;
        }
        Ok(FramingChoice { dirs })
    }
}

impl FromStr for FramingChoice {
    type Err = SpecError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FramingChoice::parse(s)
    }
}

impl fmt::Display for FramingChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.dirs[0] == self.dirs[1] {
            self.dirs[0].fmt(f)
        } else {
            write!(f, "c2s={},s2c={}", self.dirs[0], self.dirs[1])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for s in [
            "lines",
            "crlf",
            "len:4:be",
            "len:2:le",
            "len:1:be",
            "len:8:le",
            "len:4:be+2",
            "len:2:be:total",
            "len:4:le+2:total",
            "jsonhdr",
            "jsonhdr:le",
            "jsonhdr:be",
            "jsonhdr:le:total_size",
            "jsonhdr:be:fileSize",
            "http",
            "tls",
            "fixed:16",
            "datagram",
            "segment",
        ] {
            assert_eq!(FramingSpec::parse(s).unwrap().to_string(), s);
        }
        assert_eq!(FramingSpec::parse("len:4").unwrap().to_string(), "len:4:be");
        assert_eq!(FramingSpec::parse(" LEN:2:LE ").unwrap().to_string(), "len:2:le");
    }

    #[test]
    fn errors_name_the_spec() {
        let e = FramingSpec::parse("len:3:be").unwrap_err();
        assert!(e.to_string().contains("\"len:3:be\""), "{e}");
        assert!(e.to_string().contains("1, 2, 4 or 8"), "{e}");
        for bad in ["len:4:xe", "fixed:0", "fixed:x", "json", "", "len:4:be+x", "jsonhdr:x", "jsonhdr:le:", "len:4:be:totals"] {
            let e = FramingSpec::parse(bad).unwrap_err();
            assert!(e.to_string().contains(&format!("{bad:?}")), "{e}");
        }
    }

    #[test]
    fn choices() {
        assert_eq!(FramingChoice::parse("auto").unwrap(), FramingChoice::AUTO);
        let c = FramingChoice::parse("c2s=len:4:be,s2c=lines").unwrap();
        assert_eq!(c.to_string(), "c2s=len:4:be,s2c=lines");
        assert_eq!(c.dirs[1], DirFraming::Spec(FramingSpec::Lines));
        let c = FramingChoice::parse("s2c=http").unwrap();
        assert_eq!(c.dirs[0], DirFraming::Auto);
        assert_eq!(FramingChoice::parse("lines").unwrap().to_string(), "lines");
        assert!(FramingChoice::parse("x2y=lines").is_err());
        assert!(FramingChoice::parse("c2s=lines,c2s=crlf").is_err());
        let e = FramingChoice::parse("c2s=len:5:be").unwrap_err();
        assert!(e.to_string().contains("c2s=len:5:be"), "{e}");
        assert!(FramingChoice::parse("datagram").is_err());
    }
}
