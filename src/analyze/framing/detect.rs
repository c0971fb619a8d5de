//! `auto` framing detection from the first bytes of a direction.
//!
//! [`detect`] is a pure function of the bytes seen so far (and whether the stream
//! ended there): it answers `None` ("need more bytes") or a [`Detection`]. Once it
//! answers for a prefix, it gives the same answer for every longer prefix, so the
//! choice never depends on how the bytes were cut into segments. It always
//! answers by [`DETECT_MAX`] bytes.
//!
//! Rules, in priority order (the first that says yes wins; when the first rule
//! that does not say no needs more bytes, the answer waits):
//! 1. `http`: the stream starts with `HTTP/1.` (decided by byte 7), or with `GET `,
//!    `HEAD `, `POST `, `PUT `, `DELETE `, `CONNECT `, `OPTIONS `, `TRACE `, `PATCH `
//!    or `PRI ` and its first line (waited for up to 8 KiB) ends in ` HTTP/x.y`.
//! 2. `tls`: a record header: type 0x14-0x17, version 3.0-3.4, length 1..=18432 (byte 5).
//! 3. `jsonhdr`: u32be H (2..=61440), byte 4 is `{`, and the H-byte header parses as a
//!    JSON object with a `len`/`length`/`size`/`body_len`/`content_length` integer.
//! 4. text: all bytes printable ASCII, tab, CR, LF or >= 0x80 up to the 3rd newline
//!    (or to [`WINDOW`] bytes with at least one newline, or to the end of the stream
//!    with at least one newline): `crlf` when every newline seen follows a CR, else
//!    `lines`. No newline by [`DETECT_MAX`] bytes, or a control byte: not text.
//! 5. length prefixes `len:N:e` (N = 1, 2, 4, 8; be/le): each candidate walks its
//!    chain of length fields from offset 0 until it has [`EARLY_FIELDS`] fields or
//!    has passed [`WINDOW`] bytes (waiting for the bytes of the message that
//!    straddles the window when it ends by [`LEN_WAIT_MAX`]; a field announcing a
//!    message that ends later is counted as an open field and the chain stops). A 4/8-byte field above 16 MiB
//!    kills the candidate. The evidence of a chain is
//!    `fields × (8N − log2(largest + 1))` bits (how unlikely that many fields that
//!    small are in random bytes), plus `log2(last message size)` when the chain
//!    ends exactly at the end of the stream. The candidate with the most evidence
//!    wins if it has at least 12 bits (20 for 2-byte fields; low), 20 (medium) or
//!    40 with 3+ fields ending exactly on a message boundary (high), and at least
//!    one complete message. Any byte is a valid 1-byte
//!    length, so `len:1` is only considered when its chain of 3+ fields ends
//!    exactly at the end of the stream.
//! 6. otherwise `segment` (low).

use super::http::starts_http;
use super::jsonhdr::{header_len, json_int_keys, json_len, usual_key};
use crate::analyze::spec::{FramingSpec, HeaderOrder, JsonHdrSpec, JsonKey, LenCovers, LenSpec};
use crate::numbers::thousands;
use std::fmt;

/// Text and length chains look at least this far (unless the stream ends first).
pub const WINDOW: usize = 4096;
/// Detection always decides by this many bytes.
pub const DETECT_MAX: usize = 66 * 1024;
/// A length chain does not wait for the bytes of a message ending beyond this
/// offset: that field counts as open (its value is still evidence).
pub const LEN_WAIT_MAX: u64 = 16 * 1024;
/// A length chain with this many fields is conclusive before the window is full.
pub const EARLY_FIELDS: u32 = 16;
/// Text is conclusive at this many newlines.
pub const TEXT_LINES: u32 = 3;
/// Largest plausible value of a 4- or 8-byte length field.
pub const MAX_PLAUSIBLE_LEN: u64 = 16 << 20;

/// How sure a detection is.
#[derive(Clone, Copy, PartialEq, Eq, Debug, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Weak evidence: the `segment` fallback, or a length chain of under 20 bits (rules 5, 6).
    Low,
    /// Consistent evidence short of proof: text with fewer than 3 lines, one JSON header, or a
    /// length chain of 20 bits or more.
    Medium,
    /// Conclusive: an HTTP or TLS header, 3 text lines, 2 or more JSON headers, or a length chain
    /// of 40 bits or more with 3+ fields ending exactly on a message boundary.
    High,
    /// Not detected: given by the user.
    Given,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Given => "given",
        })
    }
}

/// The framing chosen for a direction, how sure, and why.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Detection {
    /// The framing chosen.
    pub spec: FramingSpec,
    /// How sure.
    pub level: Level,
    /// Human-readable evidence, e.g. "16 length fields chained exactly over 4,312 bytes".
    pub reason: String,
}

impl fmt::Display for Detection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}: {})", self.spec, self.level, self.reason)
    }
}

enum Verdict {
    No,
    More,
    Yes(Detection),
}

fn yes(spec: FramingSpec, level: Level, reason: String) -> Verdict {
    Verdict::Yes(Detection { spec, level, reason })
}

/// Decides the framing of a direction from its first bytes `buf`; `ended`: the
/// stream has no more bytes (closed, or a gap follows). `None`: need more bytes.
pub fn detect(buf: &[u8], ended: bool) -> Option<Detection> {
    detect_more(buf, ended, &mut TextScan::default())
}

/// How far the text rule has looked into a direction's first bytes, kept between the tries of
/// one direction: bytes already known to be text are not scanned again when the same bytes come
/// back with more after them.
#[derive(Clone, Copy, Debug, Default)]
pub struct TextScan {
    /// The first `upto` bytes were scanned: all text up to `upto`, or the byte at `upto` is not.
    upto: usize,
}

impl TextScan {
    /// Index of the first byte of `b` that is not text, or `b.len()`; `b` must begin with the
    /// bytes of every earlier call.
    fn first_non_text(&mut self, b: &[u8]) -> usize {
        let from = self.upto.min(b.len());
        self.upto = from + first_non_text(&b[from..]);
        self.upto
    }
}

/// [`detect`] for the next try on a direction's growing first bytes: `buf` holds the bytes of
/// the previous try and more, `scan` is what the previous tries learnt. Answers as [`detect`].
pub fn detect_more(buf: &[u8], ended: bool, scan: &mut TextScan) -> Option<Detection> {
    let ended = ended || buf.len() >= DETECT_MAX;
    let buf = &buf[..buf.len().min(DETECT_MAX)];
    if buf.is_empty() {
        return ended.then(|| Detection { spec: FramingSpec::Segment, level: Level::Low, reason: "no bytes".into() });
    }
    let rules: [fn(&[u8], bool) -> Verdict; 3] = [rule_http, rule_tls, rule_jsonhdr];
    for rule in rules {
        match rule(buf, ended) {
            Verdict::No => {}
            Verdict::More => return None,
            Verdict::Yes(d) => return Some(d),
        }
    }
    match rule_text(buf, ended, scan.first_non_text(buf)) {
        Verdict::No => {}
        Verdict::More => return None,
        Verdict::Yes(d) => return Some(d),
    }
    match rule_len(buf, ended) {
        Verdict::No => {}
        Verdict::More => return None,
        Verdict::Yes(d) => return Some(d),
    }
    Some(Detection {
        spec: FramingSpec::Segment,
        level: Level::Low,
        reason: "no framing recognised (not HTTP, TLS, JSON headers, text lines or length prefixes)".into(),
    })
}

/// The longest request line waited for.
const MAX_REQUEST_LINE: usize = 8192;

fn rule_http(b: &[u8], ended: bool) -> Verdict {
    match starts_http(b) {
        Some(true) if b.starts_with(b"HTTP/1.") => yes(FramingSpec::Http, Level::High, "stream starts with an HTTP/1 status line".into()),
        Some(true) => {
            // "GET all-lines\n" is not HTTP: the request line must end in HTTP/x.y.
            let seen = &b[..b.len().min(MAX_REQUEST_LINE)];
            let Some(i) = memchr::memchr(b'\n', seen) else {
                return if ended || b.len() >= MAX_REQUEST_LINE { Verdict::No } else { Verdict::More };
            };
            let line = seen[..i].strip_suffix(b"\r").unwrap_or(&seen[..i]);
            let version = line.rsplit(|&c| c == b' ').next().unwrap_or(b"");
            if line.iter().filter(|&&c| c == b' ').count() >= 2 && version.starts_with(b"HTTP/") {
                yes(FramingSpec::Http, Level::High, "stream starts with an HTTP request line".into())
            } else {
                Verdict::No
            }
        }
        Some(false) => Verdict::No,
        None if ended => Verdict::No,
        None => Verdict::More,
    }
}

fn rule_tls(b: &[u8], ended: bool) -> Verdict {
    let checks: [&dyn Fn(u8) -> bool; 3] = [&|x| (0x14..=0x17).contains(&x), &|x| x == 3, &|x| x <= 4];
    for (i, c) in checks.iter().enumerate() {
        match b.get(i) {
            Some(&x) if !c(x) => return Verdict::No,
            Some(_) => {}
            None => return if ended { Verdict::No } else { Verdict::More },
        }
    }
    if b.len() < 5 {
        return if ended { Verdict::No } else { Verdict::More };
    }
    let len = u16::from_be_bytes([b[3], b[4]]);
    if len == 0 || len > 18432 {
        return Verdict::No;
    }
    let kind = match b[0] {
        0x14 => "change_cipher_spec",
        0x15 => "alert",
        0x16 => "handshake",
        _ => "application_data",
    };
    yes(FramingSpec::Tls, Level::High, format!("TLS record header ({kind}, version 3.{}, length {len})", b[2]))
}

fn rule_jsonhdr(b: &[u8], ended: bool) -> Verdict {
    let more = if ended { Verdict::No } else { Verdict::More };
    // A header length of 2..=MAX_HEADER has its two high bytes zero: bytes 0-1 (big-endian) or
    // 2-3 (little-endian).
    if b.len() < 4 {
        let big = b.iter().take(2).all(|&x| x == 0);
        let little = b.get(2).is_none_or(|&x| x == 0);
        return if big || little { more } else { Verdict::No };
    }
    let Some((h, order)) = header_len([b[0], b[1], b[2], b[3]], HeaderOrder::Either) else {
        return Verdict::No;
    };
    match b.get(4) {
        None => return more,
        Some(&c) if c != b'{' => return Verdict::No,
        _ => {}
    }
    let hend = 4 + h as usize;
    if hend > b.len() {
        return if ended || hend > DETECT_MAX { Verdict::No } else { Verdict::More };
    }
    let key = match length_key(b, h as usize, order, ended) {
        KeyChoice::Found(key) => key,
        KeyChoice::More => return Verdict::More,
        KeyChoice::None => return Verdict::No,
    };
    let key_bytes = key.as_ref().map(|k| k.as_bytes());
    // Walk the chain: every header must parse and carry a length.
    let mut pos: usize = 0;
    let mut msgs: u32 = 0;
    let mut broke = false;
    let mut last_end_exact = true;
    while pos < WINDOW && msgs < EARLY_FIELDS {
        if pos == b.len() {
            if ended {
                break;
            }
            return Verdict::More;
        }
        if pos + 4 > b.len() {
            if ended {
                last_end_exact = false;
                break;
            }
            return Verdict::More;
        }
        let Some((h, _)) = header_len([b[pos], b[pos + 1], b[pos + 2], b[pos + 3]], order) else {
            broke = true;
            break;
        };
        let hend = pos + 4 + h as usize;
        if hend > b.len() {
            if ended || hend > DETECT_MAX {
                last_end_exact = false;
                break;
            }
            return Verdict::More;
        }
        let body = match json_len(&b[pos + 4..hend], key_bytes) {
            Ok(Some(n)) => n,
            _ => {
                broke = true;
                break;
            }
        };
        msgs += 1;
        let end = hend as u64 + body;
        if end > b.len() as u64 {
            if ended || end > LEN_WAIT_MAX.max(hend as u64) {
                last_end_exact = false;
                break;
            }
            return Verdict::More;
        }
        pos = end as usize;
    }
    if msgs == 0 {
        return Verdict::No;
    }
    let spec = JsonHdrSpec { order, key };
    let named = match &key {
        Some(k) => k.as_bytes(),
        None => usual_key(&b[4..4 + h as usize]).unwrap_or(b"len"),
    };
    let layout = format!(
        "{} header length, body length under \"{}\"",
        if order == HeaderOrder::Little { "little-endian" } else { "big-endian" },
        String::from_utf8_lossy(named)
    );
    let (level, how) = if broke {
        (Level::Medium, format!("{msgs} JSON header(s) with a length ({layout}), then a header that does not parse"))
    } else if !last_end_exact {
        (
            if msgs >= 2 { Level::High } else { Level::Medium },
            format!("{msgs} JSON header(s) with a length ({layout}); the last message runs past the bytes seen"),
        )
    } else {
        (
            if msgs >= 2 { Level::High } else { Level::Medium },
            format!("{msgs} JSON-header messages ({layout}) chained exactly over {} bytes", thousands(pos as u64)),
        )
    };
    yes(FramingSpec::JsonHdr(spec), level, how)
}

/// Which key of the first JSON header gives the body length.
enum KeyChoice {
    /// `None`: one of the usual names ([`LEN_KEYS`](super::jsonhdr::LEN_KEYS)); else this key.
    Found(Option<JsonKey>),
    /// Need more bytes to tell.
    More,
    /// No key fits.
    None,
}

/// The first header (`h` bytes at offset 4) has one of the usual length names, or else the first
/// of its integer-valued keys whose value ends the body exactly where the next header (4 bytes
/// in `order` then `{`) or the end of the stream begins.
fn length_key(b: &[u8], h: usize, order: HeaderOrder, ended: bool) -> KeyChoice {
    let header = &b[4..4 + h];
    match json_len(header, None) {
        Ok(Some(_)) => return KeyChoice::Found(None),
        Ok(None) => {}
        Err(_) => return KeyChoice::None,
    }
    let Ok(keys) = json_int_keys(header) else { return KeyChoice::None };
    for (key, value) in keys {
        let Some(json_key) = JsonKey::new(key) else { continue };
        let end = (4 + h) as u64 + value;
        if end > LEN_WAIT_MAX.max(4 + h as u64) {
            continue;
        }
        let end = end as usize;
        if end == b.len() && ended {
            return KeyChoice::Found(Some(json_key));
        }
        if end + 5 > b.len() {
            if ended {
                continue;
            }
            return KeyChoice::More;
        }
        if header_len([b[end], b[end + 1], b[end + 2], b[end + 3]], order).is_some() && b[end + 4] == b'{' {
            return KeyChoice::Found(Some(json_key));
        }
    }
    KeyChoice::None
}

fn is_text(b: u8) -> bool {
    matches!(b, 0x20..=0x7e | b'\t' | b'\r' | b'\n' | 0x80..=0xff)
}

/// Index of the first byte that is not text, or `b.len()`. 64 bytes at a time without a
/// branch per byte (vectorised): detection runs this over up to [`DETECT_MAX`] bytes of every
/// direction that looks like text without line ends, once per try.
fn first_non_text(b: &[u8]) -> usize {
    let mut at = 0;
    for ch in b.chunks(64) {
        if !ch.iter().fold(true, |ok, &c| ok & is_text(c)) {
            return at + ch.iter().position(|&c| !is_text(c)).unwrap_or(ch.len());
        }
        at += ch.len();
    }
    b.len()
}

/// Rule 4's yes: `nl` lines seen (all CRLF-terminated or not) in the first `seen` bytes.
fn text_yes(nl: u32, all_crlf: bool, level: Level, seen: usize) -> Verdict {
    let spec = if all_crlf { FramingSpec::Crlf } else { FramingSpec::Lines };
    let term = if all_crlf { "CRLF" } else { "LF" };
    yes(spec, level, format!("printable text, {nl} {term}-terminated line(s) in the first {} bytes", thousands(seen as u64)))
}

/// Rule 4 after all `len` bytes were text and no earlier decision: yes at the end of the stream
/// if a newline was seen, else wait for more.
fn text_at_end(nl: u32, all_crlf: bool, ended: bool, len: usize) -> Verdict {
    match (ended, nl > 0) {
        (false, _) => Verdict::More,
        (true, true) => text_yes(nl, all_crlf, Level::Medium, len),
        (true, false) => Verdict::No,
    }
}

/// Rule 4, in the order of the bytes: a non-text byte says no; the [`TEXT_LINES`]th newline,
/// a newline at or past [`WINDOW`], or reaching [`WINDOW`] with a newline seen says yes. Jumps
/// from newline to newline (`memchr`) up to the first non-text byte.
/// `bad`: the index of the first byte of `b` that is not text, or `b.len()`.
fn rule_text(b: &[u8], ended: bool, bad: usize) -> Verdict {
    let mut nl: u32 = 0;
    let mut all_crlf = true;
    for i in memchr::memchr_iter(b'\n', &b[..bad]) {
        if i >= WINDOW && nl > 0 {
            // Byte WINDOW - 1 was passed with a line seen.
            return text_yes(nl, all_crlf, Level::Medium, WINDOW);
        }
        nl += 1;
        all_crlf &= i > 0 && b[i - 1] == b'\r';
        if nl >= TEXT_LINES {
            return text_yes(nl, all_crlf, Level::High, i + 1);
        }
        if i + 1 >= WINDOW {
            return text_yes(nl, all_crlf, Level::Medium, i + 1);
        }
    }
    if bad >= WINDOW && nl > 0 {
        return text_yes(nl, all_crlf, Level::Medium, WINDOW);
    }
    if bad < b.len() {
        return Verdict::No;
    }
    text_at_end(nl, all_crlf, ended, b.len())
}

/// A length chain's outcome.
#[derive(Clone, Copy, Debug, Default)]
struct Chain {
    fields: u32,
    largest: u64,
    /// Some field's value differs from the first one's.
    varied: bool,
    /// The first field's value.
    first: Option<u64>,
    bytes: u64,
    /// Ended exactly on a message boundary.
    exact: bool,
    /// Ended exactly at the end of the stream.
    at_end: bool,
    /// The last field's message runs past what was seen (its value counted in `largest`).
    open: bool,
    /// Value of the open field.
    last: u64,
}

/// `Err(())`: impossible. `Ok(None)`: need more bytes.
fn chain(b: &[u8], w: usize, be: bool, covers: LenCovers, ended: bool) -> Result<Option<Chain>, ()> {
    let mut c = Chain::default();
    let mut pos: usize = 0;
    loop {
        if pos >= WINDOW || c.fields >= EARLY_FIELDS {
            c.exact = true;
            c.bytes = pos as u64;
            return Ok(Some(c));
        }
        if pos + w > b.len() {
            if !ended {
                return Ok(None);
            }
            c.bytes = pos as u64;
            c.exact = pos == b.len();
            c.at_end = c.exact;
            return Ok(Some(c));
        }
        let v = super::len::read_len(&b[pos..pos + w], be);
        if w >= 4 && v > MAX_PLAUSIBLE_LEN {
            return Err(());
        }
        c.largest = c.largest.max(v);
        c.varied |= *c.first.get_or_insert(v) != v;
        let end = match covers {
            LenCovers::Body => (pos + w) as u64 + v,
            // A whole-message length shorter than its own field is impossible.
            LenCovers::Message if v < w as u64 => return Err(()),
            LenCovers::Message => pos as u64 + v,
        };
        if end > b.len() as u64 {
            if !ended && end <= LEN_WAIT_MAX {
                return Ok(None);
            }
            c.bytes = pos as u64;
            c.last = v;
            c.open = true;
            return Ok(Some(c));
        }
        c.fields += 1;
        pos = end as usize;
    }
}

const LEN_CANDIDATES: [(usize, bool, LenCovers); 11] = [
    (4, true, LenCovers::Body),
    (2, true, LenCovers::Body),
    (8, true, LenCovers::Body),
    (4, false, LenCovers::Body),
    (2, false, LenCovers::Body),
    (8, false, LenCovers::Body),
    (1, true, LenCovers::Body),
    (4, true, LenCovers::Message),
    (2, true, LenCovers::Message),
    (4, false, LenCovers::Message),
    (2, false, LenCovers::Message),
];

fn rule_len(b: &[u8], ended: bool) -> Verdict {
    let mut best: Option<(f64, LenSpec, Chain)> = None;
    let mut runner_up: Option<(f64, LenSpec)> = None;
    for &(w, be, covers) in &LEN_CANDIDATES {
        let c = match chain(b, w, be, covers, ended) {
            Err(()) => continue,
            Ok(None) => return Verdict::More,
            Ok(Some(c)) => c,
        };
        let n = c.fields + u32::from(c.open);
        // A length that counts its own message and never varies is what any stream with that
        // period looks like (a repeating 0..=255 counter reads 0x0100 every 256 bytes).
        if covers == LenCovers::Message && !c.varied {
            continue;
        }
        if c.fields == 0 || (w == 1 && !(c.at_end && c.fields >= 3)) {
            // Every byte is a valid 1-byte length: only a chain that ends exactly
            // at the end of the stream says anything.
            continue;
        }
        let per = (8 * w) as f64 - ((c.largest + 1) as f64).log2();
        let mut bits = f64::from(n) * per;
        if c.at_end && c.fields > 0 {
            bits += ((c.largest + w as u64) as f64).log2();
        }
        // A 2-byte field is small by chance far more often than a 4/8-byte one.
        let floor = if w == 2 { 20.0 } else { 12.0 };
        if bits < floor {
            continue;
        }
        let spec = LenSpec { width: w as u8, big_endian: be, extra: 0, covers };
        if best.as_ref().is_none_or(|(bb, ..)| bits > *bb) {
            if let Some((bb, bs, _)) = best.take() {
                runner_up = Some((bb, bs));
            }
            best = Some((bits, spec, c));
        } else if runner_up.is_none_or(|(rb, _)| bits > rb) {
            runner_up = Some((bits, spec));
        }
    }
    let Some((bits, spec, c)) = best else {
        return Verdict::No;
    };
    let level = if bits >= 40.0 && c.fields >= 3 && c.exact {
        Level::High
    } else if bits >= 20.0 {
        Level::Medium
    } else {
        Level::Low
    };
    let second =
        runner_up.map_or_else(String::new, |(rb, rs)| format!("; runner-up {} ({rb:.0} bits against {bits:.0})", FramingSpec::Len(rs)));
    let spec = FramingSpec::Len(spec);
    let reason = if c.open {
        format!(
            "{} length field(s) chained over {} bytes, then one announcing {} bytes beyond those examined",
            c.fields,
            thousands(c.bytes),
            thousands(c.last)
        )
    } else {
        format!("{} length field(s) chained exactly over {} bytes (largest {})", c.fields, thousands(c.bytes), thousands(c.largest))
    };
    yes(spec, level, reason + &second)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    /// Rule 4 written a byte at a time, the plainest way: the reference [`rule_text`] must agree with.
    fn rule_text_byte_by_byte(b: &[u8], ended: bool) -> Verdict {
        let mut nl: u32 = 0;
        let mut all_crlf = true;
        for (i, &c) in b.iter().enumerate() {
            if !is_text(c) {
                return Verdict::No;
            }
            if c == b'\n' {
                nl += 1;
                all_crlf &= i > 0 && b[i - 1] == b'\r';
                if nl >= TEXT_LINES {
                    return text_yes(nl, all_crlf, Level::High, i + 1);
                }
                if i + 1 >= WINDOW {
                    return text_yes(nl, all_crlf, Level::Medium, i + 1);
                }
            }
            if i + 1 == WINDOW && nl > 0 {
                return text_yes(nl, all_crlf, Level::Medium, i + 1);
            }
        }
        text_at_end(nl, all_crlf, ended, b.len())
    }

    fn verdict(v: Verdict) -> String {
        match v {
            Verdict::No => "no".into(),
            Verdict::More => "more".into(),
            Verdict::Yes(d) => format!("{d:?}"),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// Text with few or many newlines, CRs, high bytes and the odd control byte, around
        /// the window: the fast rule answers as the byte-by-byte one.
        #[test]
        fn text_rule_answers_as_byte_by_byte(
            len in prop_oneof![0usize..9000, 4090usize..4100],
            nl_every in prop::sample::select(vec![0usize, 3, 40, 700, 1500, 4095, 4096, 5000]),
            nls in prop::collection::vec(prop_oneof![0usize..9000, 4090usize..4100], 0..4),
            crlf in any::<bool>(),
            bad_at in prop::option::of(prop_oneof![0usize..9000, 4090usize..4100]),
            seed in any::<u64>(),
            ended in any::<bool>(),
        ) {
            let mut x = seed | 1;
            let mut b: Vec<u8> = (0..len).map(|_| { x ^= x << 13; x ^= x >> 7; x ^= x << 17; 0x20 + (x % 0x5f) as u8 }).collect();
            let mut at: Vec<usize> = nls.into_iter().filter(|&i| i < len).collect();
            if nl_every > 0 {
                at.extend((nl_every..len).step_by(nl_every));
            }
            for i in at {
                b[i] = b'\n';
                if crlf && i > 0 && (x >> (i % 64)) & 1 == 1 { b[i - 1] = b'\r'; }
            }
            if let Some(k) = bad_at.filter(|&k| k < len) { b[k] = if seed % 3 == 0 { 0x80 } else { 0x07 }; }
            prop_assert_eq!(verdict(rule_text(&b, ended, first_non_text(&b))), verdict(rule_text_byte_by_byte(&b, ended)));
            // Tries on growing prefixes answer as a fresh detection of each prefix.
            let mut scan = TextScan::default();
            for cut in [len / 5, len / 3, len / 2, len] {
                prop_assert_eq!(detect_more(&b[..cut], ended, &mut scan), detect(&b[..cut], ended));
            }
        }
    }

    use super::*;

    fn lenmsgs(sizes: &[usize], w: usize, be: bool) -> Vec<u8> {
        let mut v = Vec::new();
        for (i, &s) in sizes.iter().enumerate() {
            let l = (s as u64).to_be_bytes();
            let mut f = l[8 - w..].to_vec();
            if !be {
                f.reverse();
            }
            v.extend(f);
            v.extend((0..s).map(|k| b'a' + ((i + k) % 26) as u8));
        }
        v
    }

    #[test]
    fn http_tls() {
        assert_eq!(detect(b"GE", false), None);
        assert_eq!(detect(b"GET / HTTP/1.1", false), None);
        assert_eq!(detect(b"GET / HTTP/1.1\r\n", false).unwrap().spec, FramingSpec::Http);
        assert_eq!(detect(b"GET all-lines\n", true).unwrap().spec, FramingSpec::Lines);
        assert_eq!(detect(b"HTTP/1.1 200 OK\r\n", false).unwrap().spec, FramingSpec::Http);
        assert_eq!(detect(b"\x16\x03\x01\x02\x00\x01", false).unwrap().spec, FramingSpec::Tls);
    }

    #[test]
    fn text() {
        assert_eq!(detect(b"a\nb\n", false), None);
        assert_eq!(detect(b"a\nb\nc\n", false).unwrap().spec, FramingSpec::Lines);
        assert_eq!(detect(b"a\r\nb\r\nc\r\n", false).unwrap().spec, FramingSpec::Crlf);
        assert_eq!(detect(b"a\r\nb\n", true).unwrap().spec, FramingSpec::Lines);
        let mut v = vec![b'#'; 5000];
        v.extend(b"msg\n");
        assert_eq!(detect(&v[..4500], false), None);
        assert_eq!(detect(&v, false).unwrap().spec, FramingSpec::Lines);
    }

    #[test]
    fn length_prefixes() {
        let s = lenmsgs(&[100, 2000, 5, 300, 1200, 900], 4, true);
        let d = detect(&s, false).unwrap();
        assert_eq!(d.spec.to_string(), "len:4:be");
        assert_eq!(d.level, Level::High);
        let s = lenmsgs(&[10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 2, false);
        assert_eq!(detect(&s, true).unwrap().spec.to_string(), "len:2:le");
        let s = lenmsgs(&[6000], 4, true);
        assert_eq!(detect(&s[..1448], false), None);
        let d = detect(&s, true).unwrap();
        assert_eq!(d.spec.to_string(), "len:4:be");
        let s = lenmsgs(&[10, 20, 30, 40, 50], 8, true);
        assert_eq!(detect(&s, true).unwrap().spec.to_string(), "len:8:be");
    }

    #[test]
    fn jsonhdr() {
        let mut s = Vec::new();
        for (i, n) in [12usize, 300, 1].iter().enumerate() {
            let h = format!("{{\"len\": {n}, \"seq\": {i}}}");
            s.extend((h.len() as u32).to_be_bytes());
            s.extend(h.as_bytes());
            s.extend(std::iter::repeat_n(b'x', *n));
        }
        assert_eq!(detect(&s[..10], false), None);
        assert_eq!(detect(&s, true).unwrap().spec.to_string(), "jsonhdr:be");
    }

    /// The lessons' layout: `struct.pack('i', len(header))` + `json.dumps({...})` + body, the
    /// length under `len`, or under a key of the program's own.
    #[test]
    fn jsonhdr_little_endian_and_any_key() {
        let lesson = |key: &str, bodies: &[usize]| {
            let mut s = Vec::new();
            for n in bodies {
                let h = format!("{{\"filename\": \"cls.avi\", \"{key}\": {n}}}");
                s.extend((h.len() as u32).to_le_bytes());
                s.extend(h.as_bytes());
                s.extend(std::iter::repeat_n(b'x', *n));
            }
            s
        };
        let d = detect(&lesson("len", &[1492, 3]), true).unwrap();
        assert_eq!(d.spec.to_string(), "jsonhdr:le");
        assert_eq!(d.level, Level::High);
        assert!(d.reason.contains("little-endian"), "{}", d.reason);
        let d = detect(&lesson("nbytes", &[10, 20]), true).unwrap();
        assert_eq!(d.spec.to_string(), "jsonhdr:le:nbytes");
        let s = lesson("len", &[1492]);
        assert_eq!(detect(&s[..3], false), None, "a little-endian length waits");
    }

    #[test]
    fn total_length_and_runner_up() {
        // 2-byte big-endian lengths that count themselves.
        let mut s = Vec::new();
        for n in [10usize, 300, 7, 44, 1000] {
            s.extend(((n + 2) as u16).to_be_bytes());
            s.extend(std::iter::repeat_n(b'a' + (n % 26) as u8, n));
        }
        let d = detect(&s, true).unwrap();
        assert_eq!(d.spec.to_string(), "len:2:be:total", "{}", d.reason);
        // A 4-byte big-endian length under 65,536 also reads as a 2-byte length of 0, then one
        // of the body: the runner-up.
        let mut s = Vec::new();
        for n in [100usize, 30, 70, 400] {
            s.extend((n as u32).to_be_bytes());
            s.extend(std::iter::repeat_n(b'z', n));
        }
        let d = detect(&s, true).unwrap();
        assert_eq!(d.spec.to_string(), "len:4:be");
        assert!(d.reason.contains("runner-up len:2:be"), "{}", d.reason);
    }

    #[test]
    fn random_bytes_are_segment() {
        let mut x: u64 = 0x9e3779b97f4a7c15;
        let v: Vec<u8> = (0..DETECT_MAX)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            })
            .collect();
        assert_eq!(detect(&v, false).unwrap().spec, FramingSpec::Segment);
    }
}
