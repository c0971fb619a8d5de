//! `jsonhdr`: a 4-byte big-endian header length H, an H-byte JSON object whose
//! `len` (or `length`, `size`, `body_len`, `content_length`) gives the body
//! length, then the body. The message is the 4 bytes + header + body.

use super::{FrameCx, Framer};
use crate::analyze::spec::FramingSpec;

/// Largest JSON header accepted (bytes). A larger H loses sync.
pub const MAX_HEADER: u64 = 60 * 1024;

/// Key names whose (first) value gives the body length.
pub const LEN_KEYS: [&[u8]; 5] = [b"len", b"length", b"size", b"body_len", b"content_length"];

/// Why a JSON header gave no body length.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum JsonErr {
    /// Not a JSON object.
    Syntax,
    /// A length key whose value is not a non-negative integer.
    BadLen,
}

/// Parses a JSON object and returns the value of its first length key
/// (`Ok(None)`: a valid object without one). Minimal, allocation-free.
pub fn json_len(h: &[u8]) -> Result<Option<u64>, JsonErr> {
    let mut p = Parser { b: h, i: 0 };
    p.ws();
    if !p.eat(b'{') {
        return Err(JsonErr::Syntax);
    }
    let mut found: Option<u64> = None;
    p.ws();
    if p.eat(b'}') {
        p.ws();
        return if p.i == h.len() { Ok(None) } else { Err(JsonErr::Syntax) };
    }
    loop {
        p.ws();
        let key = p.string().ok_or(JsonErr::Syntax)?;
        p.ws();
        if !p.eat(b':') {
            return Err(JsonErr::Syntax);
        }
        p.ws();
        if found.is_none() && LEN_KEYS.contains(&key) {
            let start = p.i;
            p.value(0).ok_or(JsonErr::Syntax)?;
            let v = &h[start..p.i];
            let digits = v.iter().all(u8::is_ascii_digit) && !v.is_empty() && v.len() <= 19;
            if !digits {
                return Err(JsonErr::BadLen);
            }
            found = Some(v.iter().fold(0u64, |a, &d| a * 10 + u64::from(d - b'0')));
        } else {
            p.value(0).ok_or(JsonErr::Syntax)?;
        }
        p.ws();
        if p.eat(b',') {
            continue;
        }
        if p.eat(b'}') {
            break;
        }
        return Err(JsonErr::Syntax);
    }
    p.ws();
    if p.i != h.len() {
        return Err(JsonErr::Syntax);
    }
    Ok(found)
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Parser<'a> {
    fn ws(&mut self) {
        while self.i < self.b.len() && matches!(self.b[self.i], b' ' | b'\t' | b'\r' | b'\n') {
            self.i += 1;
        }
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    /// A string; returns its raw contents (escapes left as they are).
    fn string(&mut self) -> Option<&'a [u8]> {
        if !self.eat(b'"') {
            return None;
        }
        let start = self.i;
        while self.i < self.b.len() {
            match self.b[self.i] {
                b'"' => {
                    let s = &self.b[start..self.i];
                    self.i += 1;
                    return Some(s);
                }
                b'\\' => self.i += 2,
                c if c < 0x20 => return None,
                _ => self.i += 1,
            }
        }
        None
    }
    fn value(&mut self, depth: u32) -> Option<()> {
        if depth > 64 {
            return None;
        }
        match *self.b.get(self.i)? {
            b'"' => self.string().map(|_| ()),
            b'{' | b'[' => {
                let close = if self.b[self.i] == b'{' { b'}' } else { b']' };
                let obj = close == b'}';
                self.i += 1;
                self.ws();
                if self.eat(close) {
                    return Some(());
                }
                loop {
                    self.ws();
                    if obj {
                        self.string()?;
                        self.ws();
                        if !self.eat(b':') {
                            return None;
                        }
                        self.ws();
                    }
                    self.value(depth + 1)?;
                    self.ws();
                    if self.eat(b',') {
                        continue;
                    }
                    if self.eat(close) {
                        return Some(());
                    }
                    return None;
                }
            }
            b't' => self.lit(b"true"),
            b'f' => self.lit(b"false"),
            b'n' => self.lit(b"null"),
            b'-' | b'0'..=b'9' => {
                let start = self.i;
                while self.i < self.b.len() && matches!(self.b[self.i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') {
                    self.i += 1;
                }
                (self.i > start).then_some(())
            }
            _ => None,
        }
    }
    fn lit(&mut self, w: &[u8]) -> Option<()> {
        if self.b[self.i..].starts_with(w) {
            self.i += w.len();
            Some(())
        } else {
            None
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum St {
    /// Collecting the 4-byte header length.
    HdrLen,
    /// Collecting the JSON header (its length).
    Json(u64),
    /// Counting the body.
    Body(u64),
}

/// The `jsonhdr` framer: a u32be header length H, an H-byte JSON header whose length key
/// ([`LEN_KEYS`]) gives the body length, then the body.
pub struct JsonHdrFramer {
    pos: u64,
    st: St,
    lenbuf: [u8; 4],
    have: u8,
    json: Vec<u8>,
}

impl JsonHdrFramer {
    /// A framer whose first byte is at stream offset `start`, expecting a header length there.
    pub fn new(start: u64) -> Self {
        JsonHdrFramer { pos: start, st: St::HdrLen, lenbuf: [0; 4], have: 0, json: Vec::new() }
    }
    fn body(&mut self, n: u64, cx: &mut FrameCx<'_>) {
        if n == 0 {
            cx.ends.push(self.pos);
            self.st = St::HdrLen;
        } else {
            self.st = St::Body(n);
        }
    }
}

impl Framer for JsonHdrFramer {
    fn spec(&self) -> FramingSpec {
        FramingSpec::JsonHdr
    }
    fn pos(&self) -> u64 {
        self.pos
    }
    fn feed(&mut self, mut data: &[u8], cx: &mut FrameCx<'_>) -> Option<u64> {
        while !data.is_empty() {
            match self.st {
                St::HdrLen => {
                    let take = (4 - self.have as usize).min(data.len());
                    self.lenbuf[self.have as usize..self.have as usize + take].copy_from_slice(&data[..take]);
                    self.have += take as u8;
                    self.pos += take as u64;
                    data = &data[take..];
                    if self.have == 4 {
                        self.have = 0;
                        let h = u64::from(u32::from_be_bytes(self.lenbuf));
                        if !(2..=MAX_HEADER).contains(&h) {
                            return Some(self.pos);
                        }
                        self.json.clear();
                        self.st = St::Json(h);
                    }
                }
                St::Json(h) => {
                    let want = (h as usize) - self.json.len();
                    let take = want.min(data.len());
                    self.json.extend_from_slice(&data[..take]);
                    self.pos += take as u64;
                    data = &data[take..];
                    if take == want {
                        match json_len(&self.json) {
                            Ok(n) => {
                                let n = n.unwrap_or(0);
                                self.json.clear();
                                if self.json.capacity() > 4096 {
                                    self.json.shrink_to(4096);
                                }
                                self.body(n, cx);
                            }
                            Err(_) => return Some(self.pos),
                        }
                    }
                }
                St::Body(r) => {
                    let take = r.min(data.len() as u64);
                    self.pos += take;
                    data = &data[take as usize..];
                    if take == r {
                        cx.ends.push(self.pos);
                        self.st = St::HdrLen;
                    } else {
                        self.st = St::Body(r - take);
                    }
                }
            }
        }
        None
    }
    fn skip(&mut self, len: u64, cx: &mut FrameCx<'_>) -> bool {
        if len == 0 {
            return true;
        }
        self.pos += len;
        match self.st {
            St::Body(r) if len <= r => {
                if len == r {
                    cx.ends.push(self.pos);
                    self.st = St::HdrLen;
                } else {
                    self.st = St::Body(r - len);
                }
                true
            }
            _ => false,
        }
    }
    fn finish(&mut self, _cx: &mut FrameCx<'_>) {}
    fn held(&self) -> usize {
        self.have as usize + self.json.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::framing::frame_all;

    fn msg(hdr: &str, body: &[u8]) -> Vec<u8> {
        let mut v = (hdr.len() as u32).to_be_bytes().to_vec();
        v.extend_from_slice(hdr.as_bytes());
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn parses_len_keys() {
        assert_eq!(json_len(br#"{"len": 12, "seq": 0}"#), Ok(Some(12)));
        assert_eq!(json_len(br#"{"a": {"len": 5}, "size": 3}"#), Ok(Some(3)));
        assert_eq!(json_len(br#"{"x": "len", "content_length":7}"#), Ok(Some(7)));
        assert_eq!(json_len(br#" {} "#), Ok(None));
        assert_eq!(json_len(br#"{"type": "ack"}"#), Ok(None));
        assert_eq!(json_len(br#"{"len": -1}"#), Err(JsonErr::BadLen));
        assert_eq!(json_len(br#"{"len": 1"#), Err(JsonErr::Syntax));
        assert_eq!(json_len(b"[1]"), Err(JsonErr::Syntax));
        assert_eq!(json_len(br#"{"s": "a\"b", "body_len": 2, "z": [1, {"q": null}]}"#), Ok(Some(2)));
    }

    #[test]
    fn frames_messages() {
        let mut s = msg(r#"{"len": 3, "seq": 0}"#, b"abc");
        s.extend(msg(r#"{"seq": 1}"#, b""));
        s.extend(msg(r#"{"length": 1}"#, b"z"));
        let (e, d) = frame_all(FramingSpec::JsonHdr, &[&s]);
        assert_eq!(d, None);
        assert_eq!(e, vec![27, 41, 59]);
        let (_, d) = frame_all(FramingSpec::JsonHdr, &[b"\0\0\0\x03{x}"]);
        assert_eq!(d, Some(7));
    }
}
