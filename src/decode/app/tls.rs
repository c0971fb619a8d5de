//! TLS ClientHello and ServerHello (RFC 8446 §4.1.2, §4.1.3), parsed by rusticata's
//! `tls-parser` (nom-based, used by Suricata): server name (RFC 6066 §3), ALPN (RFC 7301),
//! and the version offered (the highest of `supported_versions`, RFC 8446 §4.2.1, else the
//! legacy field) or chosen.

use std::io::{self, Write};

use tls_parser::{TlsExtension, TlsMessage, TlsMessageHandshake};

/// A hello's fields worth a glance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsHello<'a> {
    /// ClientHello (true) or ServerHello.
    pub client: bool,
    /// Offered (the highest a client lists) or chosen (the server's) protocol version, as on
    /// the wire (0x0304 for TLS 1.3).
    pub version: u16,
    /// The host name of the server_name extension.
    pub sni: Option<&'a [u8]>,
    /// The ALPN protocol names, in order (the server's one choice on a ServerHello).
    pub alpn: Vec<&'a [u8]>,
}

/// tshark's name of a protocol version (`TLSv1.3`), or `None` for one it has no name for.
pub fn version_name(version: u16) -> Option<&'static str> {
    Some(match version {
        0x0300 => "SSLv3",
        0x0301 => "TLSv1",
        0x0302 => "TLSv1.1",
        0x0303 => "TLSv1.2",
        0x0304 => "TLSv1.3",
        _ => return None,
    })
}

/// RFC 8701: GREASE values (0x?a?a) are placeholders, never a real version.
fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && (v >> 8) == (v & 0xff)
}

impl TlsHello<'_> {
    /// `Client Hello SNI=example.com ALPN=h2,http/1.1 TLSv1.3` / `Server Hello TLSv1.3 ALPN=h2`.
    pub fn write_info(&self, w: &mut dyn Write) -> io::Result<()> {
        w.write_all(if self.client { b"Client Hello" } else { b"Server Hello" })?;
        if let Some(sni) = self.sni {
            w.write_all(b" SNI=")?;
            w.write_all(sni)?;
        }
        if !self.alpn.is_empty() {
            w.write_all(b" ALPN=")?;
            for (i, p) in self.alpn.iter().enumerate() {
                if i > 0 {
                    w.write_all(b",")?;
                }
                w.write_all(p)?;
            }
        }
        match version_name(self.version) {
            Some(name) => write!(w, " {name}"),
            None => write!(w, " version 0x{:04x}", self.version),
        }
    }
}

/// A hello in the first record of `payload`, when the whole record is in it.
pub(super) fn parse(payload: &[u8]) -> Option<TlsHello<'_>> {
    // Cheap first look: handshake record (22), major version 3, ClientHello (1) or ServerHello (2).
    match payload {
        [22, 3, _, _, _, 1 | 2, ..] => {}
        _ => return None,
    }
    let (_, record) = tls_parser::parse_tls_plaintext(payload).ok()?;
    for msg in &record.msg {
        match msg {
            TlsMessage::Handshake(TlsMessageHandshake::ClientHello(hello)) => {
                return Some(from_ext(true, hello.version.0, hello.ext));
            }
            TlsMessage::Handshake(TlsMessageHandshake::ServerHello(hello)) => {
                return Some(from_ext(false, hello.version.0, hello.ext));
            }
            _ => {}
        }
    }
    None
}

fn from_ext(client: bool, legacy: u16, ext: Option<&[u8]>) -> TlsHello<'_> {
    let mut hello = TlsHello { client, version: legacy, sni: None, alpn: Vec::new() };
    let Some(Ok((_, exts))) = ext.map(tls_parser::parse_tls_extensions) else { return hello };
    for ext in exts {
        match ext {
            TlsExtension::SNI(names) => {
                // name type 0 is host_name, the only one defined
                hello.sni = names.iter().find(|(ty, _)| ty.0 == 0).map(|(_, name)| *name);
            }
            TlsExtension::ALPN(protocols) => hello.alpn = protocols,
            TlsExtension::SupportedVersions(versions) => {
                if let Some(v) = versions.iter().map(|v| v.0).filter(|v| !is_grease(*v)).max() {
                    hello.version = v;
                }
            }
            _ => {}
        }
    }
    hello
}
