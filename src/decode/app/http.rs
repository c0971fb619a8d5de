//! HTTP/1.x request and status lines (RFC 9112 §3, §4), parsed by `httparse`: the well-kept
//! parser hyper uses, zero-copy and allocation-free (the header array lives on the stack).

use super::AppInfo;

/// Header slots: a request with more still has its request line read (`TooManyHeaders`).
const HEADERS: usize = 16;

/// The request or status line at the start of `payload`. The headers need not be complete
/// (a segment often ends inside them), but the first line must be.
pub(super) fn parse(payload: &[u8]) -> Option<AppInfo<'_>> {
    // Cheap first look: a method token or "HTTP/1." (no parse attempt on other data).
    if payload.starts_with(b"HTTP/1.") {
        return response(payload);
    }
    let first = *payload.first()?;
    if !first.is_ascii_uppercase() {
        return None;
    }
    let mut headers = [httparse::EMPTY_HEADER; HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(payload) {
        Ok(_) | Err(httparse::Error::TooManyHeaders) => {}
        Err(_) => return None,
    }
    // httparse fills the fields in order: the version is set once the whole request line parsed
    // (on a partial parse, a line break must follow it too).
    let (method, uri, minor) = (req.method?, req.path?, req.version?);
    line_end(payload)?;
    Some(AppInfo::HttpRequest { method, uri, minor })
}

fn response(payload: &[u8]) -> Option<AppInfo<'_>> {
    let mut headers = [httparse::EMPTY_HEADER; HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    match resp.parse(payload) {
        Ok(_) | Err(httparse::Error::TooManyHeaders) => {}
        Err(_) => return None,
    }
    let (minor, code) = (resp.version?, resp.code?);
    // httparse gives "" for a reason phrase with obs-text (RFC 9112 §4 allows it); the bytes it
    // validated are shown as sent, escaped by the sink: "HTTP/1.1 200 " is 13 bytes.
    let line = &payload[..line_end(payload)?];
    let reason = line.get(13..).unwrap_or(&[]);
    Some(AppInfo::HttpResponse { minor, code, reason })
}

/// Where the first line ends (before its CR LF or LF), if it does in `payload`.
fn line_end(payload: &[u8]) -> Option<usize> {
    let lf = memchr::memchr(b'\n', payload)?;
    Some(if lf > 0 && payload[lf - 1] == b'\r' { lf - 1 } else { lf })
}
