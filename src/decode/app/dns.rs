//! DNS messages (RFC 1035 §4.1), parsed by `simple-dns`: small (no dependencies), maintained,
//! zero-copy over the message (names and records borrow it; the sections are `Vec`s, so a
//! message allocates, and only a payload on a DNS port that passes the header check is parsed).
//! The header's id, opcode and rcode are read here, from the fixed 12 bytes.

use std::io::{self, Write};
use std::net::{Ipv4Addr, Ipv6Addr};

use simple_dns::rdata::RData;
use simple_dns::{Name, Packet};

/// A DNS message at a glance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dns {
    /// The message id.
    pub id: u16,
    /// QR: a response (true) or a query.
    pub response: bool,
    /// OPCODE (0 standard query, 4 notify, 5 update).
    pub opcode: u8,
    /// RCODE (0 no error, 3 no such name).
    pub rcode: u8,
    /// The question section.
    pub questions: Vec<DnsQuestion>,
    /// The answer section.
    pub answers: Vec<DnsAnswer>,
    /// The authority and additional sections, in that order (not on the Info line, as tshark;
    /// its `dns.a`, `dns.aaaa` and `dns.cname` fields hold their records too).
    pub others: Vec<DnsAnswer>,
}

/// One question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsQuestion {
    /// QNAME, labels joined with `.` (the labels' bytes as sent).
    pub name: Vec<u8>,
    /// QTYPE.
    pub qtype: u16,
}

/// One answer record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsAnswer {
    /// The owner name.
    pub name: Vec<u8>,
    /// TYPE.
    pub rtype: u16,
    /// RDATA of the types shown.
    pub data: DnsData,
}

/// The RDATA of an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DnsData {
    /// An IPv4 address (A).
    A(Ipv4Addr),
    /// An IPv6 address (AAAA).
    Aaaa(Ipv6Addr),
    /// A domain name (CNAME, NS, PTR; MX's exchange).
    Name(Vec<u8>),
    /// TXT: the character strings, concatenated.
    Text(Vec<u8>),
    /// A type not shown.
    Other,
}

/// The mnemonic of a TYPE (RFC 1035 §3.2.2 and later registrations), or `None`.
pub fn type_name(ty: u16) -> Option<&'static str> {
    Some(match ty {
        1 => "A",
        2 => "NS",
        5 => "CNAME",
        6 => "SOA",
        12 => "PTR",
        13 => "HINFO",
        15 => "MX",
        16 => "TXT",
        28 => "AAAA",
        33 => "SRV",
        35 => "NAPTR",
        39 => "DNAME",
        41 => "OPT",
        43 => "DS",
        46 => "RRSIG",
        47 => "NSEC",
        48 => "DNSKEY",
        64 => "SVCB",
        65 => "HTTPS",
        252 => "AXFR",
        255 => "ANY",
        257 => "CAA",
        _ => return None,
    })
}

/// tshark's words for an opcode.
fn opcode_words(opcode: u8) -> &'static str {
    match opcode {
        0 => "Standard query",
        1 => "Inverse query",
        2 => "Server status request",
        4 => "Zone change notification",
        5 => "Dynamic update",
        _ => "Unknown operation",
    }
}

/// tshark's words for an error rcode (RFC 1035 §4.1.1, RFC 2136 §2.2).
fn rcode_words(rcode: u8) -> Option<&'static str> {
    Some(match rcode {
        0 => return None,
        1 => "Format error",
        2 => "Server failure",
        3 => "No such name",
        4 => "Not implemented",
        5 => "Refused",
        6 => "Name exists",
        7 => "RRset exists",
        8 => "RRset does not exist",
        9 => "Not authoritative",
        10 => "Name out of zone",
        _ => "Unknown error",
    })
}

fn write_type(w: &mut dyn Write, ty: u16) -> io::Result<()> {
    match type_name(ty) {
        Some(name) => w.write_all(name.as_bytes()),
        None => write!(w, "TYPE{ty}"),
    }
}

impl Dns {
    /// `Standard query 0x1a2b A example.com`, `Standard query response 0x1a2b A example.com A 192.0.2.1`
    /// (tshark's Info: the questions, then each answer's type and data).
    pub fn write_info(&self, w: &mut dyn Write) -> io::Result<()> {
        w.write_all(opcode_words(self.opcode).as_bytes())?;
        if self.response {
            w.write_all(b" response")?;
        }
        write!(w, " 0x{:04x}", self.id)?;
        if let (true, Some(words)) = (self.response, rcode_words(self.rcode)) {
            write!(w, " {words}")?;
        }
        for q in &self.questions {
            w.write_all(b" ")?;
            write_type(w, q.qtype)?;
            w.write_all(b" ")?;
            w.write_all(&q.name)?;
        }
        for a in &self.answers {
            w.write_all(b" ")?;
            write_type(w, a.rtype)?;
            match &a.data {
                DnsData::A(ip) => write!(w, " {ip}")?,
                DnsData::Aaaa(ip) => write!(w, " {ip}")?,
                DnsData::Name(name) | DnsData::Text(name) => {
                    w.write_all(b" ")?;
                    w.write_all(name)?;
                }
                DnsData::Other => {}
            }
        }
        Ok(())
    }
}

/// A name's labels joined with `.`; the root is `<Root>`, as tshark writes it.
fn name_bytes(name: &Name) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, label) in name.as_bytes().enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        out.extend_from_slice(label);
    }
    if out.is_empty() {
        out.extend_from_slice(b"<Root>");
    }
    out
}

/// One resource record as shown.
fn record(rr: &simple_dns::ResourceRecord) -> DnsAnswer {
    let data = match &rr.rdata {
        RData::A(a) => DnsData::A(Ipv4Addr::from(a.address)),
        RData::AAAA(a) => DnsData::Aaaa(Ipv6Addr::from(a.address)),
        RData::CNAME(n) => DnsData::Name(name_bytes(&n.0)),
        RData::NS(n) => DnsData::Name(name_bytes(&n.0)),
        RData::PTR(n) => DnsData::Name(name_bytes(&n.0)),
        RData::MX(mx) => DnsData::Name(name_bytes(&mx.exchange)),
        RData::TXT(txt) => {
            let mut text = Vec::new();
            for (key, value) in txt.iter_raw() {
                text.extend_from_slice(key);
                if let Some(value) = value {
                    text.push(b'=');
                    text.extend_from_slice(value);
                }
            }
            DnsData::Text(text)
        }
        _ => DnsData::Other,
    };
    DnsAnswer { name: name_bytes(&rr.name), rtype: u16::from(rr.rdata.type_code()), data }
}

/// A whole DNS message in `msg`.
pub(super) fn parse(msg: &[u8]) -> Option<Dns> {
    // Cheap first look at the 12-byte header: some question or answer, and no more of them
    // than the bytes could hold (a question takes at least 5, a record 11).
    let header: &[u8; 12] = msg.first_chunk()?;
    let count = |at: usize| usize::from(u16::from_be_bytes([header[at], header[at + 1]]));
    let (qd, an) = (count(4), count(6));
    if qd + an == 0 || qd * 5 + an * 11 > msg.len() - 12 {
        return None;
    }
    let packet = Packet::parse(msg).ok()?;
    let flags = u16::from_be_bytes([header[2], header[3]]);
    let questions = packet.questions.iter().map(|q| DnsQuestion { name: name_bytes(&q.qname), qtype: u16::from(q.qtype) }).collect();
    let answers = packet.answers.iter().map(record).collect();
    let others = packet.name_servers.iter().chain(&packet.additional_records).map(record).collect();
    Some(Dns {
        id: u16::from_be_bytes([header[0], header[1]]),
        response: flags & 0x8000 != 0,
        opcode: ((flags >> 11) & 0x0f) as u8,
        rcode: (flags & 0x0f) as u8,
        questions,
        answers,
        others,
    })
}
