//! Bytes that come from outside (the wire, a file name) written where they go: for a terminal
//! no control sequence gets through, for JSON the string stays valid whatever the bytes.

use std::io::{self, Write};

/// Unicode characters that reorder or hide text on a terminal (bidirectional controls,
/// Unicode TR 9, and the zero-width marks): escaped like control bytes.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Write `bytes` for a terminal: printable UTF-8 as it is; C0 and C1 control characters, DEL,
/// bidirectional controls and bytes that are not UTF-8 as `\xNN` (`\u{NNNN}` for characters);
/// `\` as `\\`.
pub fn write_text(w: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '\\' {
                w.write_all(b"\\\\")?;
            } else if (c as u32) < 0x20 || (0x7f..0xa0).contains(&(c as u32)) {
                write!(w, "\\x{:02x}", c as u32)?;
            } else if is_bidi_control(c) {
                write!(w, "\\u{{{:04x}}}", c as u32)?;
            } else {
                let mut buf = [0; 4];
                w.write_all(c.encode_utf8(&mut buf).as_bytes())?;
            }
        }
        for byte in chunk.invalid() {
            write!(w, "\\x{byte:02x}")?;
        }
    }
    Ok(())
}

/// Write `bytes` as a JSON string literal: valid UTF-8 as it is (JSON escapes; DEL, C1 and
/// bidirectional controls as `\uNNNN`, the same string to a JSON reader), each byte that is not UTF-8 as
/// U+FFFD, so the output is always valid JSON.
pub fn write_json_bytes(w: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    w.write_all(b"\"")?;
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => w.write_all(b"\\\"")?,
                '\\' => w.write_all(b"\\\\")?,
                '\n' => w.write_all(b"\\n")?,
                '\r' => w.write_all(b"\\r")?,
                '\t' => w.write_all(b"\\t")?,
                c if (c as u32) < 0x20 || (0x7f..0xa0).contains(&(c as u32)) || is_bidi_control(c) => write!(w, "\\u{:04x}", c as u32)?,
                c => {
                    let mut buf = [0; 4];
                    w.write_all(c.encode_utf8(&mut buf).as_bytes())?;
                }
            }
        }
        for _ in chunk.invalid() {
            w.write_all("\u{fffd}".as_bytes())?;
        }
    }
    w.write_all(b"\"")
}

/// Write `bytes` as one cell of a separated line (`-T fields`), as Zeek's ASCII writer escapes:
/// C0 controls (the tab separator, line breaks), DEL, `\\`, C1 controls, bidirectional controls
/// and bytes that are not UTF-8 become `\xNN` (each byte of a character), other UTF-8 stays as it
/// is; `quote`, when the cell is quoted, is doubled (CSV, RFC 4180 §2).
pub fn write_cell(w: &mut impl Write, bytes: &[u8], quote: Option<u8>) -> io::Result<()> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let hex = |w: &mut dyn Write, b: u8| w.write_all(&[b'\\', b'x', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
    // the common case: printable ASCII with nothing to escape or double
    if bytes.iter().all(|&b| (0x20..0x7f).contains(&b) && b != b'\\' && Some(b) != quote) {
        return w.write_all(bytes);
    }
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            let mut buf = [0; 4];
            let encoded = c.encode_utf8(&mut buf).as_bytes();
            let code = c as u32;
            if code < 0x20 || (0x7f..0xa0).contains(&code) || c == '\\' || is_bidi_control(c) {
                for &b in encoded.iter() {
                    hex(w, b)?;
                }
            } else if quote.is_some_and(|q| u32::from(q) == code) {
                w.write_all(&[encoded[0], encoded[0]])?;
            } else {
                w.write_all(encoded)?;
            }
        }
        for &b in chunk.invalid() {
            hex(w, b)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &[u8] = b"a\x1b[2J\x00\tb\nc\xff\xfe\\ \xe2\x80\xae rev \xc2\x9b d\x7f";

    #[test]
    fn terminal_gets_no_control_sequence() {
        let mut out = Vec::new();
        write_text(&mut out, HOSTILE).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text, "a\\x1b[2J\\x00\\x09b\\x0ac\\xff\\xfe\\\\ \\u{202e} rev \\x9b d\\x7f");
        assert!(!text.chars().any(|c| c.is_control() || is_bidi_control(c)));
    }

    #[test]
    fn cells_escape_separators_and_controls() {
        let mut out = Vec::new();
        write_cell(&mut out, HOSTILE, None).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text, "a\\x1b[2J\\x00\\x09b\\x0ac\\xff\\xfe\\x5c \\xe2\\x80\\xae rev \\xc2\\x9b d\\x7f");
        let mut out = Vec::new();
        write_cell(&mut out, "say \"é\"".as_bytes(), Some(b'"')).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "say \"\"é\"\"");
    }

    #[test]
    fn json_stays_valid() {
        let mut out = Vec::new();
        write_json_bytes(&mut out, HOSTILE).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let decoded = value.as_str().unwrap();
        assert!(decoded.starts_with("a\u{1b}[2J\u{0}\tb\nc\u{fffd}\u{fffd}\\ \u{202e} rev"), "{decoded:?}");
        assert!(!String::from_utf8(out).unwrap().contains('\u{202e}'), "bidi control escaped in the JSON text");
    }
}
