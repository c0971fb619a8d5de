//! `jsonhdr`: a 4-byte header length H (big- or little-endian: `struct.pack('i', H)` is
//! little-endian on every common machine), an H-byte JSON object whose length key (a given one,
//! or the first of [`LEN_KEYS`] it has) gives the body length, then the body. The message is the
//! 4 bytes + header + body.

use super::{FrameCx, Framer};
use crate::analyze::spec::{FramingSpec, HeaderOrder, JsonHdrSpec};

/// Largest JSON header accepted (bytes). A larger H loses sync.
pub const MAX_HEADER: u64 = 60 * 1024;

/// Key names whose (first) value gives the body length when no key is named.
pub const LEN_KEYS: [&[u8]; 9] =
    [b"len", b"length", b"size", b"total_size", b"filesize", b"file_size", b"data_size", b"body_len", b"content_length"];

/// The header length at the start of `b` (4 bytes) in `order` (`Either`: the one of the two
/// that is plausible, 2..=[`MAX_HEADER`]; at most one of them can be), or `None`.
pub fn header_len(b: [u8; 4], order: HeaderOrder) -> Option<(u64, HeaderOrder)> {
    let be = u64::from(u32::from_be_bytes(b));
    let le = u64::from(u32::from_le_bytes(b));
    let ok = |h: u64| (2..=MAX_HEADER).contains(&h);
    match order {
        HeaderOrder::Big => ok(be).then_some((be, HeaderOrder::Big)),
        HeaderOrder::Little => ok(le).then_some((le, HeaderOrder::Little)),
        HeaderOrder::Either if ok(be) => Some((be, HeaderOrder::Big)),
        HeaderOrder::Either if ok(le) => Some((le, HeaderOrder::Little)),
        HeaderOrder::Either => None,
    }
}

/// Why a JSON header gave no body length.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum JsonErr {
    /// Not a JSON object.
    Syntax,
    /// A length key whose value is not a non-negative integer.
    BadLen,
}

/// Parses a JSON object and returns the value of `key`, or with `None` of its first key in
/// [`LEN_KEYS`] (`Ok(None)`: a valid object without one). Minimal, allocation-free.
pub fn json_len(h: &[u8], key: Option<&[u8]>) -> Result<Option<u64>, JsonErr> {
    let mut found = None;
    let mut bad = false;
    json_members(h, &mut |k, v| {
        let wanted = match key {
            Some(want) => k == want,
            None => LEN_KEYS.contains(&k),
        };
        if found.is_none() && !bad && wanted {
            match int_value(v) {
                Some(n) => found = Some(n),
                None => bad = true,
            }
        }
    })?;
    if bad {
        return Err(JsonErr::BadLen);
    }
    Ok(found)
}

/// The first of [`LEN_KEYS`] a JSON object has at its top level (what [`json_len`] reads with no
/// key named).
pub fn usual_key(h: &[u8]) -> Option<&[u8]> {
    let mut found = None;
    json_members(h, &mut |k, _| {
        if found.is_none() && LEN_KEYS.contains(&k) {
            found = Some(k);
        }
    })
    .ok()?;
    found
}

/// The non-negative integer a JSON value's text holds, if it is one.
fn int_value(v: &[u8]) -> Option<u64> {
    let digits = !v.is_empty() && v.len() <= 19 && v.iter().all(u8::is_ascii_digit);
    digits.then(|| v.iter().fold(0u64, |a, &d| a * 10 + u64::from(d - b'0')))
}

/// The top-level keys of a JSON object whose values are non-negative integers, with the values,
/// in order (what `auto` tries when the header has none of [`LEN_KEYS`]).
pub fn json_int_keys(h: &[u8]) -> Result<Vec<(&[u8], u64)>, JsonErr> {
    let mut keys = Vec::new();
    json_members(h, &mut |k, v| {
        if let Some(n) = int_value(v) {
            keys.push((k, n));
        }
    })?;
    Ok(keys)
}

/// Walks a JSON object's top-level members, `(raw key, raw value text)` each.
fn json_members<'h>(h: &'h [u8], member: &mut dyn FnMut(&'h [u8], &'h [u8])) -> Result<(), JsonErr> {
    let mut p = Parser { b: h, i: 0 };
    p.ws();
    if !p.eat(b'{') {
        return Err(JsonErr::Syntax);
    }
    p.ws();
    if p.eat(b'}') {
        p.ws();
        return if p.i == h.len() { Ok(()) } else { Err(JsonErr::Syntax) };
    }
    loop {
        p.ws();
        let key = p.string().ok_or(JsonErr::Syntax)?;
        p.ws();
        if !p.eat(b':') {
            return Err(JsonErr::Syntax);
        }
        p.ws();
        let start = p.i;
        p.value(0).ok_or(JsonErr::Syntax)?;
        member(key, &h[start..p.i]);
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
    Ok(())
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
enum JsonHdrState {
    /// Collecting the 4-byte header length.
    HdrLen,
    /// Collecting the JSON header (its length).
    Json(u64),
    /// Counting the body.
    Body(u64),
}

/// The `jsonhdr` framer: a 4-byte header length H, an H-byte JSON header whose length key
/// gives the body length, then the body. With [`HeaderOrder::Either`] the first header decides
/// the byte order.
pub struct JsonHdrFramer {
    spec: JsonHdrSpec,
    pos: u64,
    st: JsonHdrState,
    lenbuf: [u8; 4],
    have: u8,
    json: Vec<u8>,
}

impl JsonHdrFramer {
    /// A framer whose first byte is at stream offset `start`, expecting a header length there.
    pub fn new(spec: JsonHdrSpec, start: u64) -> Self {
        JsonHdrFramer { spec, pos: start, st: JsonHdrState::HdrLen, lenbuf: [0; 4], have: 0, json: Vec::new() }
    }
    fn body(&mut self, n: u64, cx: &mut FrameCx<'_>) {
        if n == 0 {
            cx.ends.push(self.pos);
            self.st = JsonHdrState::HdrLen;
        } else {
            self.st = JsonHdrState::Body(n);
        }
    }
}

impl Framer for JsonHdrFramer {
    fn spec(&self) -> FramingSpec {
        FramingSpec::JsonHdr(self.spec)
    }
    fn pos(&self) -> u64 {
        self.pos
    }
    fn feed(&mut self, mut data: &[u8], cx: &mut FrameCx<'_>) -> Option<u64> {
        while !data.is_empty() {
            match self.st {
                JsonHdrState::HdrLen => {
                    let take = (4 - self.have as usize).min(data.len());
                    self.lenbuf[self.have as usize..self.have as usize + take].copy_from_slice(&data[..take]);
                    self.have += take as u8;
                    self.pos += take as u64;
                    data = &data[take..];
                    if self.have == 4 {
                        self.have = 0;
                        let Some((h, order)) = header_len(self.lenbuf, self.spec.order) else {
                            return Some(self.pos);
                        };
                        self.spec.order = order;
                        self.json.clear();
                        self.st = JsonHdrState::Json(h);
                    }
                }
                JsonHdrState::Json(h) => {
                    let want = (h as usize) - self.json.len();
                    let take = want.min(data.len());
                    self.json.extend_from_slice(&data[..take]);
                    self.pos += take as u64;
                    data = &data[take..];
                    if take == want {
                        match json_len(&self.json, self.spec.key.as_ref().map(|k| k.as_bytes())) {
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
                JsonHdrState::Body(r) => {
                    let take = r.min(data.len() as u64);
                    self.pos += take;
                    data = &data[take as usize..];
                    if take == r {
                        cx.ends.push(self.pos);
                        self.st = JsonHdrState::HdrLen;
                    } else {
                        self.st = JsonHdrState::Body(r - take);
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
            JsonHdrState::Body(r) if len <= r => {
                if len == r {
                    cx.ends.push(self.pos);
                    self.st = JsonHdrState::HdrLen;
                } else {
                    self.st = JsonHdrState::Body(r - len);
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
    use crate::analyze::spec::JsonKey;

    fn msg(hdr: &str, body: &[u8], order: HeaderOrder) -> Vec<u8> {
        let h = hdr.len() as u32;
        let mut v = if order == HeaderOrder::Little { h.to_le_bytes().to_vec() } else { h.to_be_bytes().to_vec() };
        v.extend_from_slice(hdr.as_bytes());
        v.extend_from_slice(body);
        v
    }

    fn spec(order: HeaderOrder, key: Option<&str>) -> FramingSpec {
        FramingSpec::JsonHdr(JsonHdrSpec { order, key: key.map(|k| JsonKey::new(k.as_bytes()).unwrap()) })
    }

    #[test]
    fn parses_len_keys() {
        assert_eq!(json_len(br#"{"len": 12, "seq": 0}"#, None), Ok(Some(12)));
        assert_eq!(json_len(br#"{"a": {"len": 5}, "size": 3}"#, None), Ok(Some(3)));
        assert_eq!(json_len(br#"{"x": "len", "content_length":7}"#, None), Ok(Some(7)));
        assert_eq!(json_len(br#" {} "#, None), Ok(None));
        assert_eq!(json_len(br#"{"type": "ack"}"#, None), Ok(None));
        assert_eq!(json_len(br#"{"len": -1}"#, None), Err(JsonErr::BadLen));
        assert_eq!(json_len(br#"{"len": 1"#, None), Err(JsonErr::Syntax));
        assert_eq!(json_len(b"[1]", None), Err(JsonErr::Syntax));
        assert_eq!(json_len(br#"{"s": "a\"b", "body_len": 2, "z": [1, {"q": null}]}"#, None), Ok(Some(2)));
        assert_eq!(json_len(br#"{"filename": "cls.avi", "filesize": 1492}"#, None), Ok(Some(1492)));
        assert_eq!(json_len(br#"{"n": 1, "bytes": 9}"#, Some(b"bytes")), Ok(Some(9)));
        assert_eq!(json_len(br#"{"len": 1, "bytes": 9}"#, Some(b"nope")), Ok(None));
        assert_eq!(json_int_keys(br#"{"a": "x", "n": 1, "o": {"p": 2}, "m": 30}"#).unwrap(), vec![(&b"n"[..], 1), (&b"m"[..], 30)]);
    }

    #[test]
    fn frames_messages() {
        let big = HeaderOrder::Big;
        let mut s = msg(r#"{"len": 3, "seq": 0}"#, b"abc", big);
        s.extend(msg(r#"{"seq": 1}"#, b"", big));
        s.extend(msg(r#"{"length": 1}"#, b"z", big));
        let (e, d) = frame_all(spec(big, None), &[&s]);
        assert_eq!(d, None);
        assert_eq!(e, vec![27, 41, 59]);
        let (_, d) = frame_all(spec(big, None), &[b"\0\0\0\x03{x}"]);
        assert_eq!(d, Some(7));
    }

    /// The lessons' `struct.pack('i', len(header)) + header + body`, with the length under
    /// `len` or a key of their own.
    #[test]
    fn frames_little_endian_headers_and_named_keys() {
        let le = HeaderOrder::Little;
        let mut s = msg(r#"{"filename": "cls.avi", "len": 5}"#, b"hello", le);
        s.extend(msg(r#"{"filename": "cls.avi", "len": 3}"#, b"hi\n", le));
        for order in [le, HeaderOrder::Either] {
            let (e, d) = frame_all(spec(order, None), &[&s]);
            assert_eq!(d, None, "{order:?}");
            assert_eq!(e, vec![42, 82]);
        }
        let (_, d) = frame_all(spec(HeaderOrder::Big, None), &[&s]);
        assert_eq!(d, Some(4), "a little-endian length read big-endian is no header");
        let keyed = msg(r#"{"n": 2, "bytes": 4}"#, b"abcd", le);
        assert_eq!(frame_all(spec(le, Some("bytes")), &[&keyed]).0, vec![4 + 20 + 4]);
    }
}
