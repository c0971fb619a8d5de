//! Escaping for the three contexts the page puts capture data in, and the page's
//! Content-Security-Policy.
//!
//! HTML text and attributes (and SVG inside HTML, which the HTML parser reads the same way) are
//! escaped by the template engine (maud escapes `& < > "` in every interpolation). Data for the
//! script is JSON inside `<script type="application/json">`: the HTML parser ends a script
//! element at `</script` whatever the JSON means, so [`json_string`] writes `<`, `>` and `&` as
//! `\u003c`-style escapes (also `<!--`, which would switch the parser's script states), and
//! U+2028/U+2029, which old JavaScript parsers take for line ends. Bytes from the wire reach the
//! page only through [`crate::output::stream::preview`]-style escaping (printable ASCII kept,
//! everything else `\xNN`), so invalid UTF-8 never reaches any of these.

use base64::Engine as _;
use sha2::{Digest, Sha256};

/// `s` as a JSON string literal that is safe inside an HTML `<script>` element.
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `'sha256-…'`: the CSP source that allows exactly this inline script or style text.
pub fn csp_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    format!("'sha256-{}'", base64::engine::general_purpose::STANDARD.encode(digest))
}

/// The page's policy: nothing may be fetched or connected to (`default-src 'none'`, no
/// `connect-src`, no images, fonts or frames), and only the page's own inline script and
/// style run, by hash.
pub fn csp(script: &str, style: &str) -> String {
    format!(
        "default-src 'none'; script-src {}; style-src {}; img-src 'none'; base-uri 'none'; form-action 'none'",
        csp_hash(script),
        csp_hash(style)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_cannot_end_the_script_element() {
        let s = json_string("</script><!-- \u{2028}\u{2029} & \"x\" \\ \u{1}");
        assert!(!s.contains('<') && !s.contains('>') && !s.contains('&'));
        assert!(!s.contains('\u{2028}') && !s.contains('\u{2029}'));
        assert_eq!(json_string("a\"b"), r#""a\"b""#);
        assert_eq!(json_string("\u{1}"), r#""\u0001""#);
    }

    /// The hash Chrome computes for `<script>alert(1)</script>` (from its console message).
    #[test]
    fn hash_matches_the_browser() {
        assert_eq!(csp_hash("alert(1)"), "'sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI='");
    }
}
