//! The application layer of one segment or datagram, at a glance (tshark's Info column):
//! the HTTP request or status line, the TLS hello's server name, ALPN and version, a DNS
//! query or response, the SSH version banner, an SMTP/FTP/POP3/IMAP command or reply line.
//!
//! Stateless, as the rest of `decode`: only the payload of the frame at hand and its ports.
//! A protocol is tried only on its well-known ports, and only when the payload's first bytes
//! look like it (checks that neither allocate); a payload that then does not parse gives no
//! annotation, never an error. Strings are the wire's bytes, unescaped: each sink escapes them
//! for where they go (`output::escape`).

mod dns;
mod http;
mod lines;
mod tls;

use std::io::{self, Write};

pub use dns::{type_name as dns_type_name, Dns, DnsAnswer, DnsData, DnsQuestion};
pub use lines::LineKind;
pub use tls::{version_name as tls_version_name, TlsHello};

use super::{Frame, Transport};

/// The application protocol an annotation is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppProto {
    /// HTTP/1.x (RFC 9112).
    Http,
    /// TLS handshake (RFC 8446, RFC 5246).
    Tls,
    /// DNS (RFC 1035; over TCP with the 2-byte length prefix of RFC 1035 §4.2.2).
    Dns,
    /// SSH protocol version exchange (RFC 4253 §4.2).
    Ssh,
    /// SMTP (RFC 5321).
    Smtp,
    /// FTP control connection (RFC 959).
    Ftp,
    /// POP3 (RFC 1939).
    Pop3,
    /// IMAP (RFC 9051).
    Imap,
}

impl AppProto {
    /// The lower-case name (JSON `app.proto`, `-T fields` `app.proto`).
    pub fn name(self) -> &'static str {
        match self {
            AppProto::Http => "http",
            AppProto::Tls => "tls",
            AppProto::Dns => "dns",
            AppProto::Ssh => "ssh",
            AppProto::Smtp => "smtp",
            AppProto::Ftp => "ftp",
            AppProto::Pop3 => "pop3",
            AppProto::Imap => "imap",
        }
    }

    /// The label on text lines (tshark's Protocol column).
    pub fn label(self) -> &'static str {
        match self {
            AppProto::Http => "HTTP",
            AppProto::Tls => "TLS",
            AppProto::Dns => "DNS",
            AppProto::Ssh => "SSH",
            AppProto::Smtp => "SMTP",
            AppProto::Ftp => "FTP",
            AppProto::Pop3 => "POP3",
            AppProto::Imap => "IMAP",
        }
    }
}

/// What one payload says at the application layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppInfo<'a> {
    /// An HTTP request line.
    HttpRequest {
        /// The method token (`GET`).
        method: &'a str,
        /// The request target (`/index.html`).
        uri: &'a str,
        /// The minor version: 1 for `HTTP/1.1`.
        minor: u8,
    },
    /// An HTTP status line.
    HttpResponse {
        /// The minor version: 1 for `HTTP/1.1`.
        minor: u8,
        /// The status code.
        code: u16,
        /// The reason phrase, as sent.
        reason: &'a [u8],
    },
    /// A TLS ClientHello or ServerHello.
    Tls(TlsHello<'a>),
    /// A whole DNS message.
    Dns(Dns),
    /// A line-oriented protocol's first line: an SSH banner, an SMTP/FTP/POP3/IMAP command or reply.
    Line {
        /// Which protocol.
        proto: AppProto,
        /// Banner, command or reply.
        kind: LineKind,
        /// The line without its line break.
        line: &'a [u8],
        /// The command word or the reply's status (`EHLO`, `250`, `+OK`, IMAP's `OK`); the
        /// protocol version for an SSH banner (`2.0`).
        verb: &'a [u8],
    },
}

impl AppInfo<'_> {
    /// The protocol.
    pub fn proto(&self) -> AppProto {
        match self {
            AppInfo::HttpRequest { .. } | AppInfo::HttpResponse { .. } => AppProto::Http,
            AppInfo::Tls(_) => AppProto::Tls,
            AppInfo::Dns(_) => AppProto::Dns,
            AppInfo::Line { proto, .. } => *proto,
        }
    }

    /// The one-line summary, as raw bytes (the sink escapes them): `GET / HTTP/1.1`,
    /// `Client Hello SNI=example.com ALPN=h2 TLSv1.3`, `Standard query 0x1a2b A example.com`.
    pub fn write_info(&self, w: &mut dyn Write) -> io::Result<()> {
        match self {
            AppInfo::HttpRequest { method, uri, minor } => write!(w, "{method} {uri} HTTP/1.{minor}"),
            AppInfo::HttpResponse { minor, code, reason } => {
                write!(w, "HTTP/1.{minor} {code}")?;
                if !reason.is_empty() {
                    w.write_all(b" ")?;
                    w.write_all(reason)?;
                }
                Ok(())
            }
            AppInfo::Tls(hello) => hello.write_info(w),
            AppInfo::Dns(dns) => dns.write_info(w),
            AppInfo::Line { line, .. } => w.write_all(line),
        }
    }
}

// The well-known ports of each protocol, as `matches!` (a few compares and a bit test on the
// per-frame path, where a scan of the lists cost more than the rest of the lookup).

/// HTTP/1.x ports (IANA http, http-alt, and the development servers' 8000/8008/8888).
fn http_port(port: u16) -> bool {
    matches!(port, 80 | 591 | 8000 | 8008 | 8080 | 8888)
}

/// TLS ports (IANA https, smtps, ldaps, dns-over-tls, ftps, imaps, pop3s, sip-tls, and
/// 4433/8443, `openssl s_server`'s and the common alternative).
fn tls_port(port: u16) -> bool {
    matches!(port, 443 | 465 | 636 | 853 | 989 | 990 | 993 | 995 | 4433 | 5061 | 8443)
}

/// DNS over UDP: DNS and multicast DNS (RFC 6762).
fn dns_udp_port(port: u16) -> bool {
    matches!(port, 53 | 5353)
}

/// The application layer of `frame`'s transport payload, when a protocol on its ports parses.
/// Allocates only when it returns an annotation (a TLS hello or DNS message: their parsers build
/// lists) or when a payload on the DNS/TLS ports passes the first checks and then fails.
pub fn summarize<'a>(frame: &'a Frame<'_>) -> Option<AppInfo<'a>> {
    if !frame.is_whole() {
        return None;
    }
    let payload = frame.transport_payload();
    if payload.is_empty() {
        return None;
    }
    match frame.transport {
        Transport::Tcp(tcp) => payload_info(Carrier::Tcp, tcp.sport, tcp.dport, payload),
        Transport::Udp(udp) => payload_info(Carrier::Udp, udp.sport, udp.dport, payload),
        _ => None,
    }
}

/// The transport a payload came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Carrier {
    /// One TCP segment (no reassembly: only what this segment holds).
    Tcp,
    /// One UDP datagram.
    Udp,
}

/// The application layer of one transport payload from `sport` to `dport` (what [`summarize`]
/// does once it has the frame's payload; also the entry point of the `app` fuzz target).
pub fn payload_info(carrier: Carrier, sport: u16, dport: u16, payload: &[u8]) -> Option<AppInfo<'_>> {
    if payload.is_empty() {
        return None;
    }
    match carrier {
        Carrier::Tcp => tcp_payload(sport, dport, payload),
        Carrier::Udp if dns_udp_port(sport) || dns_udp_port(dport) => dns::parse(payload).map(AppInfo::Dns),
        Carrier::Udp => None,
    }
}

/// One TCP segment's payload from `sport` to `dport`.
fn tcp_payload(sport: u16, dport: u16, payload: &[u8]) -> Option<AppInfo<'_>> {
    let either = |on: fn(u16) -> bool| on(sport) || on(dport);
    if either(http_port) {
        if let Some(info) = http::parse(payload) {
            return Some(info);
        }
    }
    if either(tls_port) {
        if let Some(hello) = tls::parse(payload) {
            return Some(AppInfo::Tls(hello));
        }
    }
    if sport == 53 || dport == 53 {
        // RFC 1035 §4.2.2: a two-byte length, then the message; only a segment that holds
        // exactly one whole message is read (no reassembly here).
        let (len, msg) = payload.split_first_chunk::<2>()?;
        if usize::from(u16::from_be_bytes(*len)) == msg.len() {
            return dns::parse(msg).map(AppInfo::Dns);
        }
        return None;
    }
    lines::parse(sport, dport, payload)
}

#[cfg(test)]
mod tests;
