//! How the link layers beyond Ethernet and Linux cooked capture are shown: the text line's link
//! column and summary, the `-v` line, and the JSON `link` object (`docs/json-lines.md`).
//!
//! Bytes that come from the wire and are shown as text (an SSID, a log prefix) are escaped:
//! no control character reaches the terminal.

use std::io::{self, Write};

use crate::decode::link::{
    nflog, ppp, ppp_proto_name, Chdlc, Fddi, Link, Nflog, Ppp, PppFraming, RadioHeader, Slarp, Wifi, WifiBody, WifiKind,
};
use crate::decode::names;

/// Write wire bytes as text: printable characters of valid UTF-8 as they are, `\"` and `\\`
/// escaped, everything else (control characters, invalid UTF-8) as `\xNN`. Stops before
/// passing `max_cols` columns (counting one per character); returns the columns written.
pub fn write_escaped(w: &mut impl Write, bytes: &[u8], max_cols: usize) -> io::Result<usize> {
    let mut cols = 0;
    let mut buf = [0u8; 4];
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            let (text, width): (&[u8], usize) = match c {
                '"' => (b"\\\"", 2),
                '\\' => (b"\\\\", 2),
                c if c.is_control() => {
                    // control characters are ASCII or two-byte UTF-8: escape each byte
                    let mut n = 0;
                    for byte in c.encode_utf8(&mut buf).as_bytes() {
                        n += 4;
                        if cols + n > max_cols {
                            return Ok(cols);
                        }
                        write!(w, "\\x{byte:02x}")?;
                    }
                    cols += n;
                    continue;
                }
                c => (c.encode_utf8(&mut buf).as_bytes(), 1),
            };
            if cols + width > max_cols {
                return Ok(cols);
            }
            w.write_all(text)?;
            cols += width;
        }
        for byte in chunk.invalid() {
            if cols + 4 > max_cols {
                return Ok(cols);
            }
            write!(w, "\\x{byte:02x}")?;
            cols += 4;
        }
    }
    Ok(cols)
}

/// The link column for the link types of this module, into `w`; returns the columns used, or
/// `None` for a link this module does not show.
pub fn write_col(w: &mut impl Write, link: &Link, width: usize) -> io::Result<Option<usize>> {
    let text = |w: &mut dyn Write, s: &str| w.write_all(s.as_bytes()).map(|_| Some(s.len()));
    match link {
        Link::Ppp(Ppp { framing: PppFraming::Bare, .. }) => text(w, "ppp"),
        Link::Ppp(Ppp { framing: PppFraming::Hdlc, .. }) => text(w, "ppp hdlc"),
        Link::Chdlc(c) => text(w, if c.address & 0x80 != 0 { "chdlc broadcast" } else { "chdlc unicast" }),
        Link::Nflog(n) => {
            write!(w, "nflog {}", n.group)?;
            let mut cols = 6 + itoa::Buffer::new().format(n.group).len();
            if !n.prefix.is_empty() && cols + 4 < width {
                w.write_all(b" \"")?;
                cols += 2 + write_escaped(w, n.prefix, width - cols - 3)?;
                w.write_all(b"\"")?;
                cols += 1;
            }
            Ok(Some(cols))
        }
        Link::Wifi(_) | Link::Fddi(_) => match (link.macs(), link) {
            (Some((src, dst)), _) => {
                w.write_all(&src.fmt_buf())?;
                w.write_all(" → ".as_bytes())?;
                w.write_all(&dst.fmt_buf())?;
                Ok(Some(37))
            }
            (None, Link::Wifi(wifi)) => match wifi.dst() {
                Some(ra) => {
                    w.write_all("→ ".as_bytes())?;
                    w.write_all(&ra.fmt_buf())?;
                    Ok(Some(19))
                }
                None => text(w, "802.11"),
            },
            _ => text(w, "fddi"),
        },
        _ => Ok(None),
    }
}

/// The protocol column of a frame whose link layer is all that was decoded.
pub fn proto_label(link: &Link) -> Option<&'static str> {
    Some(match link {
        Link::Ppp(p) => match ppp_proto_name(p.protocol) {
            Some(name) if name.len() <= 6 => name,
            _ => "PPP",
        },
        Link::Chdlc(Chdlc { protocol, .. }) => match ppp::chdlc_proto_name(*protocol) {
            Some(name) => name,
            None => "CHDLC",
        },
        Link::Nflog(_) => "NFLOG",
        Link::Wifi(_) => "802.11",
        Link::Fddi(_) => "FDDI",
        _ => return None,
    })
}

/// The summary of a frame whose link layer is all that was decoded (control packets,
/// management frames, protected data, ...); `false` for a link this module does not show.
pub fn write_summary(w: &mut impl Write, link: &Link, len: u32) -> io::Result<bool> {
    match link {
        Link::Ppp(p) => {
            match ppp_proto_name(p.protocol) {
                Some(name) => w.write_all(name.as_bytes())?,
                None => write!(w, "protocol 0x{:04x}", p.protocol)?,
            }
            if let Some(c) = p.control {
                match ppp::control_code_name(p.protocol, c.code) {
                    Some(name) => write!(w, " {name}")?,
                    None => write!(w, " code {}", c.code)?,
                }
                write!(w, " id {}", c.id)?;
            }
            write!(w, " len {len}")?;
        }
        Link::Chdlc(c) => match c.slarp {
            Some(Slarp::Request) => w.write_all(b"SLARP request")?,
            Some(Slarp::Reply { addr, mask }) => write!(w, "SLARP reply {addr} mask {mask}")?,
            Some(Slarp::Keepalive { mine, yours }) => write!(w, "SLARP keepalive mine {mine} yours {yours}")?,
            Some(Slarp::Other(code)) => write!(w, "SLARP code {code}")?,
            None => match ppp::chdlc_proto_name(c.protocol) {
                Some(name) => write!(w, "protocol 0x{:04x} ({name}) len {len}", c.protocol)?,
                None => write!(w, "protocol 0x{:04x} len {len}", c.protocol)?,
            },
        },
        Link::Nflog(n) => write!(w, "{} record without payload len {len}", nflog::family_name(n.family))?,
        Link::Wifi(wifi) => {
            w.write_all(wifi.name().as_bytes())?;
            write_wifi_body(w, wifi)?;
            write_radio(w, wifi, "  ")?;
        }
        Link::Fddi(f) => match f.llc {
            Some((dsap, ssap)) => write!(w, "llc dsap 0x{dsap:02x} ssap 0x{ssap:02x} len {len}")?,
            None => write!(w, "{} len {len}", f.fc_name())?,
        },
        _ => return Ok(false),
    }
    Ok(true)
}

/// What the body of an 802.11 frame holds, after its name.
fn write_wifi_body(w: &mut impl Write, wifi: &Wifi) -> io::Result<()> {
    match wifi.body {
        WifiBody::None => {}
        WifiBody::Ssid([]) => w.write_all(b" ssid (wildcard)")?,
        WifiBody::Ssid(ssid) => {
            w.write_all(b" ssid \"")?;
            write_escaped(w, ssid, 128)?;
            w.write_all(b"\"")?;
        }
        WifiBody::Auth { algorithm, seq, status } => {
            let alg = match algorithm {
                0 => "open system",
                1 => "shared key",
                2 => "fast bss transition",
                3 => "sae",
                _ => "algorithm",
            };
            write!(w, " {alg} ({algorithm}) seq {seq} status {status}")?;
        }
        WifiBody::Reason(reason) => write!(w, " reason {reason}")?,
        WifiBody::Status(status) => write!(w, " status {status}")?,
        WifiBody::Action(category) => write!(w, " category {category}")?,
        WifiBody::Protected => w.write_all(b" protected data")?,
        WifiBody::Llc { dsap, ssap } => write!(w, " llc dsap 0x{dsap:02x} ssap 0x{ssap:02x}")?,
        WifiBody::Cut => w.write_all(b" (cut)")?,
    }
    Ok(())
}

/// The radio fields tcpdump shows: frequency, signal, legacy rate.
fn write_radio(w: &mut impl Write, wifi: &Wifi, sep: &str) -> io::Result<()> {
    let radio = &wifi.radio;
    let mut sep = sep;
    if let Some(freq) = radio.freq {
        write!(w, "{sep}{freq} MHz")?;
        sep = " ";
    }
    if let Some(signal) = radio.signal {
        write!(w, "{sep}{signal} dBm")?;
        sep = " ";
    }
    if let Some(rate) = radio.rate {
        write!(w, "{sep}{}.{} Mb/s", rate / 2, if rate % 2 == 1 { 5 } else { 0 })?;
    }
    Ok(())
}

/// `-v`: the line (or lines) of the link layer, after `ind`; `false` for a link this module does
/// not show.
pub fn write_details(w: &mut impl Write, link: &Link, ethertype: Option<u16>, ind: &str) -> io::Result<bool> {
    match link {
        Link::Ppp(p) => {
            write!(w, "{ind}ppp  protocol 0x{:04x}", p.protocol)?;
            if let Some(name) = ppp_proto_name(p.protocol) {
                write!(w, " ({name})")?;
            }
            if p.framing == PppFraming::Hdlc {
                w.write_all(b" hdlc framing")?;
            }
            if let Some(c) = p.control {
                write!(w, " code {}", c.code)?;
                if let Some(name) = ppp::control_code_name(p.protocol, c.code) {
                    write!(w, " ({name})")?;
                }
                write!(w, " id {}", c.id)?;
            }
        }
        Link::Chdlc(c) => {
            write!(w, "{ind}chdlc address 0x{:02x} protocol 0x{:04x}", c.address, c.protocol)?;
            if let Some(name) = ppp::chdlc_proto_name(c.protocol).or_else(|| names::ethertype(c.protocol)) {
                write!(w, " ({name})")?;
            }
        }
        Link::Nflog(n) => write_nflog_details(w, n, ind)?,
        Link::Wifi(wifi) => {
            if wifi.radio.header != RadioHeader::None {
                w.write_all(ind.as_bytes())?;
                w.write_all(if wifi.radio.header == RadioHeader::Ppi { b"ppi" } else { b"radiotap" })?;
                write_radio(w, wifi, " ")?;
                if wifi.fcs {
                    w.write_all(b" fcs")?;
                }
                w.write_all(b"\n")?;
            }
            write!(w, "{ind}wlan {} flags 0x{:02x}", wifi.name(), wifi.flags)?;
            const FLAGS: [&str; 8] = ["to-ds", "from-ds", "more-frag", "retry", "pwr-mgt", "more-data", "protected", "order"];
            for (i, name) in FLAGS.iter().enumerate() {
                if wifi.flags & (1 << i) != 0 {
                    write!(w, " {name}")?;
                }
            }
            if let Some(src) = wifi.src().filter(|_| wifi.naddr >= 2) {
                write!(w, " src {src}")?;
            }
            if let Some(dst) = wifi.dst() {
                write!(w, " dst {dst}")?;
            }
            if let Some(bssid) = wifi.bssid() {
                write!(w, " bssid {bssid}")?;
            }
            write_wifi_body(w, wifi)?;
            write_ethertype(w, ethertype)?;
        }
        Link::Fddi(f) => {
            write!(w, "{ind}fddi fc 0x{:02x} ({}) src {} dst {}", f.fc, f.fc_name(), f.src, f.dst)?;
            write_ethertype(w, ethertype)?;
        }
        _ => return Ok(false),
    }
    w.write_all(b"\n")?;
    Ok(true)
}

fn write_ethertype(w: &mut impl Write, ethertype: Option<u16>) -> io::Result<()> {
    if let Some(ethertype) = ethertype {
        write!(w, " type 0x{ethertype:04x}")?;
        if let Some(name) = names::ethertype(ethertype) {
            write!(w, " ({name})")?;
        }
    }
    Ok(())
}

fn write_nflog_details(w: &mut impl Write, n: &Nflog, ind: &str) -> io::Result<()> {
    write!(w, "{ind}nflog family {} ({}) group {}", n.family, nflog::family_name(n.family), n.group)?;
    if !n.prefix.is_empty() {
        w.write_all(b" prefix \"")?;
        write_escaped(w, n.prefix, 256)?;
        w.write_all(b"\"")?;
    }
    for (name, value) in [("indev", n.indev), ("outdev", n.outdev), ("uid", n.uid), ("gid", n.gid)] {
        if let Some(value) = value {
            write!(w, " {name} {value}")?;
        }
    }
    if let Some(mac) = n.hwaddr {
        write!(w, " hwaddr {mac}")?;
    }
    Ok(())
}

/// The JSON `link` object (after a comma) for the link types of this module; nothing for others.
pub fn write_json(w: &mut impl Write, link: &Link, ethertype: Option<u16>) -> io::Result<()> {
    let mac = |w: &mut dyn Write, key: &str, mac: crate::decode::MacAddr| -> io::Result<()> {
        write!(w, ",\"{key}\":\"")?;
        w.write_all(&mac.fmt_buf())?;
        w.write_all(b"\"")
    };
    let string = |w: &mut dyn Write, key: &str, bytes: &[u8]| -> io::Result<()> {
        write!(w, ",\"{key}\":")?;
        let mut out = Vec::new();
        super::json::write_str(&mut out, &String::from_utf8_lossy(bytes))?;
        w.write_all(&out)
    };
    match link {
        Link::Ppp(_) | Link::Chdlc(_) | Link::Nflog(_) | Link::Wifi(_) | Link::Fddi(_) => {}
        _ => return Ok(()),
    }
    write!(w, ",\"link\":{{\"type\":\"{}\"", link.type_name())?;
    match link {
        Link::Ppp(p) => {
            write!(w, ",\"protocol\":{}", p.protocol)?;
            if let Some(name) = ppp_proto_name(p.protocol) {
                write!(w, ",\"name\":\"{name}\"")?;
            }
            if let Some(c) = p.control {
                write!(w, ",\"code\":{},\"id\":{}", c.code, c.id)?;
                if let Some(name) = ppp::control_code_name(p.protocol, c.code) {
                    write!(w, ",\"code_name\":\"{name}\"")?;
                }
            }
        }
        Link::Chdlc(c) => {
            write!(w, ",\"address\":{},\"protocol\":{}", c.address, c.protocol)?;
            match c.slarp {
                Some(Slarp::Request) => w.write_all(b",\"slarp\":{\"op\":\"request\"}")?,
                Some(Slarp::Reply { addr, mask }) => write!(w, ",\"slarp\":{{\"op\":\"reply\",\"addr\":\"{addr}\",\"mask\":\"{mask}\"}}")?,
                Some(Slarp::Keepalive { mine, yours }) => {
                    write!(w, ",\"slarp\":{{\"op\":\"keepalive\",\"mine\":{mine},\"yours\":{yours}}}")?
                }
                Some(Slarp::Other(code)) => write!(w, ",\"slarp\":{{\"op\":{code}}}")?,
                None => {}
            }
        }
        Link::Nflog(n) => {
            write!(w, ",\"family\":{},\"group\":{}", n.family, n.group)?;
            string(w, "prefix", n.prefix)?;
            for (name, value) in [("indev", n.indev), ("outdev", n.outdev), ("uid", n.uid), ("gid", n.gid)] {
                if let Some(value) = value {
                    write!(w, ",\"{name}\":{value}")?;
                }
            }
            if let Some(hwaddr) = n.hwaddr {
                mac(w, "hwaddr", hwaddr)?;
            }
        }
        Link::Wifi(wifi) => {
            let kind = match wifi.kind {
                WifiKind::Management => "management",
                WifiKind::Control => "control",
                WifiKind::Data => "data",
                WifiKind::Extension => "extension",
            };
            write!(w, ",\"kind\":\"{kind}\",\"frame\":\"{}\",\"flags\":{}", wifi.name(), wifi.flags)?;
            if let Some(src) = wifi.src().filter(|_| wifi.naddr >= 2) {
                mac(w, "src", src)?;
            }
            if let Some(dst) = wifi.dst() {
                mac(w, "dst", dst)?;
            }
            if let Some(bssid) = wifi.bssid() {
                mac(w, "bssid", bssid)?;
            }
            match wifi.body {
                WifiBody::Ssid(ssid) => string(w, "ssid", ssid)?,
                WifiBody::Auth { algorithm, seq, status } => {
                    write!(w, ",\"auth\":{{\"algorithm\":{algorithm},\"seq\":{seq},\"status\":{status}}}")?
                }
                WifiBody::Reason(reason) => write!(w, ",\"reason\":{reason}")?,
                WifiBody::Status(status) => write!(w, ",\"status\":{status}")?,
                WifiBody::Action(category) => write!(w, ",\"category\":{category}")?,
                WifiBody::Protected => w.write_all(b",\"protected\":true")?,
                WifiBody::Llc { dsap, ssap } => write!(w, ",\"llc\":{{\"dsap\":{dsap},\"ssap\":{ssap}}}")?,
                WifiBody::Cut | WifiBody::None => {}
            }
            let radio = &wifi.radio;
            if radio.header != RadioHeader::None {
                let header = if radio.header == RadioHeader::Ppi { "ppi" } else { "radiotap" };
                write!(w, ",\"radio\":{{\"header\":\"{header}\"")?;
                if let Some(freq) = radio.freq {
                    write!(w, ",\"freq\":{freq}")?;
                }
                if let Some(signal) = radio.signal {
                    write!(w, ",\"signal\":{signal}")?;
                }
                if let Some(rate) = radio.rate {
                    write!(w, ",\"rate\":{}", f64::from(rate) / 2.0)?;
                }
                write!(w, ",\"fcs\":{}}}", wifi.fcs)?;
            }
        }
        Link::Fddi(Fddi { fc, src, dst, .. }) => {
            write!(w, ",\"fc\":{fc}")?;
            mac(w, "src", *src)?;
            mac(w, "dst", *dst)?;
        }
        _ => {}
    }
    if let Some(ethertype) = ethertype {
        write!(w, ",\"ethertype\":{ethertype}")?;
    }
    w.write_all(b"}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(bytes: &[u8], max: usize) -> (String, usize) {
        let mut out = Vec::new();
        let cols = write_escaped(&mut out, bytes, max).unwrap();
        (String::from_utf8(out).unwrap(), cols)
    }

    #[test]
    fn wire_text_is_escaped() {
        assert_eq!(escaped(b"caf\xc3\xa9 \x1b[2J\"x\\", 100), ("café \\x1b[2J\\\"x\\\\".to_string(), 17));
        assert_eq!(escaped(b"\xff\x00ok", 100).0, "\\xff\\x00ok");
        // C1 controls (U+0085 is 0xc2 0x85) are escaped byte by byte
        assert_eq!(escaped("a\u{85}".as_bytes(), 100).0, "a\\xc2\\x85");
        // cut to the column budget, never inside an escape
        assert_eq!(escaped(b"abc\x01def", 5), ("abc".to_string(), 3));
    }
}
