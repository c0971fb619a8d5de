//! The application-layer annotation ([`crate::decode::app`]) in each sink: at the end of a text
//! line, as the `app` object of a JSON packet record, and as `-T fields` cells. Every string in
//! it comes from the wire and goes through the escaper of its sink.

use std::io::{self, Write};

use super::escape::{write_json_bytes, write_text};
use super::fields::Field;
use super::style::{self, Palette};
use crate::decode::app::{self, AppInfo, DnsData, LineKind};
use crate::decode::Frame;

/// `  HTTP GET /index.html HTTP/1.1` after a text line's summary, when the payload says something.
pub fn write_text_info(w: &mut impl Write, frame: &Frame, palette: Palette) -> io::Result<()> {
    let Some(info) = app::summarize(frame) else { return Ok(()) };
    let mut raw = Vec::with_capacity(128);
    info.write_info(&mut raw)?;
    write!(w, "  {}{}{} ", palette.start(style::PROTO), info.proto().label(), palette.reset())?;
    write_text(w, &raw)
}

/// `-v`: the application layer's own line (or lines: a DNS message's records), with the fields
/// the JSON `app` object holds; `ind` is the layer lines' indent.
pub fn write_details(w: &mut impl Write, frame: &Frame, ind: &str) -> io::Result<()> {
    let Some(info) = app::summarize(frame) else { return Ok(()) };
    write!(w, "{ind}{:<4} ", info.proto().name())?;
    match &info {
        AppInfo::HttpRequest { method, uri, minor } => {
            w.write_all(b"request method ")?;
            write_text(w, method.as_bytes())?;
            w.write_all(b" uri ")?;
            write_text(w, uri.as_bytes())?;
            write!(w, " version HTTP/1.{minor}")?;
        }
        AppInfo::HttpResponse { minor, code, reason } => {
            write!(w, "response version HTTP/1.{minor} status {code}")?;
            if !reason.is_empty() {
                w.write_all(b" reason ")?;
                write_text(w, reason)?;
            }
        }
        AppInfo::Tls(hello) => {
            w.write_all(if hello.client { b"client hello" } else { b"server hello" })?;
            match app::tls_version_name(hello.version) {
                Some(name) => write!(w, " version {name} (0x{:04x})", hello.version)?,
                None => write!(w, " version 0x{:04x}", hello.version)?,
            }
            if let Some(sni) = hello.sni {
                w.write_all(b" server name ")?;
                write_text(w, sni)?;
            }
            for (i, p) in hello.alpn.iter().enumerate() {
                w.write_all(if i == 0 { b" alpn " } else { b"," })?;
                write_text(w, p)?;
            }
        }
        AppInfo::Dns(dns) => {
            // RFC 1035 4.1.1, RFC 1996 (NOTIFY), RFC 2136 (UPDATE)
            let opcode = match dns.opcode {
                0 => " (QUERY)",
                1 => " (IQUERY)",
                2 => " (STATUS)",
                4 => " (NOTIFY)",
                5 => " (UPDATE)",
                _ => "",
            };
            let rcode = match dns.rcode {
                0 => " (NOERROR)",
                1 => " (FORMERR)",
                2 => " (SERVFAIL)",
                3 => " (NXDOMAIN)",
                4 => " (NOTIMP)",
                5 => " (REFUSED)",
                _ => "",
            };
            write!(
                w,
                "{} id 0x{:04x} opcode {}{opcode} rcode {}{rcode} questions {} answers {} other records {}",
                if dns.response { "response" } else { "query" },
                dns.id,
                dns.opcode,
                dns.rcode,
                dns.questions.len(),
                dns.answers.len(),
                dns.others.len()
            )?;
            for q in &dns.questions {
                write!(w, "\n{ind}     question ")?;
                write_text(w, &q.name)?;
                write!(w, " {}", dns_type(q.qtype))?;
            }
            for a in &dns.answers {
                write!(w, "\n{ind}     answer ")?;
                write_text(w, &a.name)?;
                write!(w, " {}", dns_type(a.rtype))?;
                match &a.data {
                    DnsData::A(ip) => write!(w, " {ip}")?,
                    DnsData::Aaaa(ip) => write!(w, " {ip}")?,
                    DnsData::Name(b) | DnsData::Text(b) => {
                        w.write_all(b" ")?;
                        write_text(w, b)?;
                    }
                    DnsData::Other => {}
                }
            }
        }
        AppInfo::Line { kind, verb, line, .. } => {
            w.write_all(match kind {
                LineKind::Banner => b"banner version ",
                LineKind::Command => b"command ",
                LineKind::Reply => b"reply ",
            })?;
            write_text(w, verb)?;
            w.write_all(b" line ")?;
            write_text(w, line)?;
        }
    }
    w.write_all(b"\n")
}

fn key(w: &mut impl Write, name: &str) -> io::Result<()> {
    w.write_all(b",\"")?;
    w.write_all(name.as_bytes())?;
    w.write_all(b"\":")
}

fn str_key(w: &mut impl Write, name: &str, value: &[u8]) -> io::Result<()> {
    key(w, name)?;
    write_json_bytes(w, value)
}

fn dns_type(ty: u16) -> String {
    app::dns_type_name(ty).map_or_else(|| format!("TYPE{ty}"), str::to_owned)
}

/// `,"app":{"proto":"http","info":"GET / HTTP/1.1","http":{...}}` on a packet record
/// (`docs/json-lines.md`, the `app` table).
pub fn write_json(w: &mut impl Write, frame: &Frame) -> io::Result<()> {
    let Some(info) = app::summarize(frame) else { return Ok(()) };
    let mut raw = Vec::with_capacity(128);
    info.write_info(&mut raw)?;
    w.write_all(b",\"app\":{\"proto\":\"")?;
    w.write_all(info.proto().name().as_bytes())?;
    w.write_all(b"\"")?;
    str_key(w, "info", &raw)?;
    match &info {
        AppInfo::HttpRequest { method, uri, minor } => {
            str_key(w, "method", method.as_bytes())?;
            str_key(w, "uri", uri.as_bytes())?;
            write!(w, ",\"version\":\"HTTP/1.{minor}\"")?;
        }
        AppInfo::HttpResponse { minor, code, reason } => {
            write!(w, ",\"version\":\"HTTP/1.{minor}\",\"code\":{code}")?;
            str_key(w, "reason", reason)?;
        }
        AppInfo::Tls(hello) => {
            w.write_all(if hello.client { b",\"handshake\":\"client_hello\"" } else { b",\"handshake\":\"server_hello\"" })?;
            match app::tls_version_name(hello.version) {
                Some(name) => write!(w, ",\"version\":\"{name}\"")?,
                None => write!(w, ",\"version\":\"0x{:04x}\"", hello.version)?,
            }
            if let Some(sni) = hello.sni {
                str_key(w, "sni", sni)?;
            }
            if !hello.alpn.is_empty() {
                key(w, "alpn")?;
                w.write_all(b"[")?;
                for (i, p) in hello.alpn.iter().enumerate() {
                    if i > 0 {
                        w.write_all(b",")?;
                    }
                    write_json_bytes(w, p)?;
                }
                w.write_all(b"]")?;
            }
        }
        AppInfo::Dns(dns) => {
            write!(w, ",\"id\":{},\"response\":{},\"opcode\":{},\"rcode\":{}", dns.id, dns.response, dns.opcode, dns.rcode)?;
            w.write_all(b",\"queries\":[")?;
            for (i, q) in dns.questions.iter().enumerate() {
                w.write_all(if i > 0 { b",{\"name\":" } else { b"{\"name\":" })?;
                write_json_bytes(w, &q.name)?;
                write!(w, ",\"type\":\"{}\"}}", dns_type(q.qtype))?;
            }
            w.write_all(b"],\"answers\":[")?;
            for (i, a) in dns.answers.iter().enumerate() {
                w.write_all(if i > 0 { b",{\"name\":" } else { b"{\"name\":" })?;
                write_json_bytes(w, &a.name)?;
                write!(w, ",\"type\":\"{}\"", dns_type(a.rtype))?;
                match &a.data {
                    DnsData::A(ip) => write!(w, ",\"data\":\"{ip}\"")?,
                    DnsData::Aaaa(ip) => write!(w, ",\"data\":\"{ip}\"")?,
                    DnsData::Name(b) | DnsData::Text(b) => str_key(w, "data", b)?,
                    DnsData::Other => {}
                }
                w.write_all(b"}")?;
            }
            w.write_all(b"]")?;
        }
        AppInfo::Line { kind, verb, .. } => {
            write!(w, ",\"kind\":\"{}\"", kind.name())?;
            str_key(w, "verb", verb)?;
        }
    }
    w.write_all(b"}")
}

/// The `-T fields` / `-Y` value of an application-layer field (tshark's names and formats):
/// raw bytes, escaped by the fields sink. Lists are joined with `agg`.
pub fn field_text(cell: &mut Vec<u8>, field: Field, frame: &Frame, agg: u8) -> io::Result<()> {
    let Some(info) = app::summarize(frame) else { return Ok(()) };
    let list = |cell: &mut Vec<u8>, items: &mut dyn Iterator<Item = &[u8]>| {
        for (i, item) in items.enumerate() {
            if i > 0 {
                cell.push(agg);
            }
            cell.extend_from_slice(item);
        }
    };
    match (field, &info) {
        (Field::AppProto, _) => cell.extend_from_slice(info.proto().name().as_bytes()),
        (Field::AppInfo, _) => info.write_info(cell)?,
        (Field::HttpRequestMethod, AppInfo::HttpRequest { method, .. }) => cell.extend_from_slice(method.as_bytes()),
        (Field::HttpRequestUri, AppInfo::HttpRequest { uri, .. }) => cell.extend_from_slice(uri.as_bytes()),
        (Field::HttpResponseCode, AppInfo::HttpResponse { code, .. }) => write!(cell, "{code}")?,
        (Field::TlsServerName, AppInfo::Tls(hello)) => cell.extend_from_slice(hello.sni.unwrap_or(b"")),
        (Field::TlsAlpn, AppInfo::Tls(hello)) => list(cell, &mut hello.alpn.iter().copied()),
        (Field::DnsId, AppInfo::Dns(dns)) => write!(cell, "0x{:04x}", dns.id)?,
        (Field::DnsResponse, AppInfo::Dns(dns)) => cell.extend_from_slice(if dns.response { b"1" } else { b"0" }),
        (Field::DnsQryName, AppInfo::Dns(dns)) => list(cell, &mut dns.questions.iter().map(|q| q.name.as_slice())),
        (Field::DnsQryType, AppInfo::Dns(dns)) => {
            for (i, q) in dns.questions.iter().enumerate() {
                if i > 0 {
                    cell.push(agg);
                }
                write!(cell, "{}", q.qtype)?;
            }
        }
        (Field::DnsA | Field::DnsAaaa | Field::DnsCname, AppInfo::Dns(dns)) => {
            let mut first = true;
            for a in dns.answers.iter().chain(&dns.others) {
                let text = match (&a.data, field) {
                    (DnsData::A(ip), Field::DnsA) => ip.to_string().into_bytes(),
                    (DnsData::Aaaa(ip), Field::DnsAaaa) => ip.to_string().into_bytes(),
                    (DnsData::Name(name), Field::DnsCname) if a.rtype == 5 => name.clone(),
                    _ => continue,
                };
                if !std::mem::take(&mut first) {
                    cell.push(agg);
                }
                cell.extend_from_slice(&text);
            }
        }
        (Field::SshProtocol, AppInfo::Line { proto: app::AppProto::Ssh, line, .. }) => cell.extend_from_slice(line),
        _ => {}
    }
    Ok(())
}
