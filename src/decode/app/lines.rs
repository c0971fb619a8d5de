//! Line-oriented protocols: the SSH version banner (RFC 4253 §4.2) and the first command or
//! reply line of SMTP (RFC 5321 §4.1, §4.2), FTP (RFC 959 §4.1, §4.2), POP3 (RFC 1939 §3)
//! and IMAP (RFC 9051 §2.2). Commands are recognised by their verbs, replies by their status,
//! so a message body or a file listing on the same port gives no annotation.

use super::{AppInfo, AppProto};

/// What a line is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineKind {
    /// An SSH protocol version banner.
    Banner,
    /// A client's command.
    Command,
    /// A server's reply.
    Reply,
}

impl LineKind {
    /// `banner`, `command` or `reply`.
    pub fn name(self) -> &'static str {
        match self {
            LineKind::Banner => "banner",
            LineKind::Command => "command",
            LineKind::Reply => "reply",
        }
    }
}

/// RFC 4253 §4.2: the banner line is at most 255 bytes with its CR LF.
const MAX_LINE: usize = 255;

const SMTP_VERBS: &[&[u8]] =
    &[b"HELO", b"EHLO", b"MAIL", b"RCPT", b"DATA", b"RSET", b"VRFY", b"EXPN", b"HELP", b"NOOP", b"QUIT", b"STARTTLS", b"AUTH", b"BDAT"];
const FTP_VERBS: &[&[u8]] = &[
    b"USER", b"PASS", b"ACCT", b"CWD", b"CDUP", b"SMNT", b"QUIT", b"REIN", b"PORT", b"PASV", b"EPRT", b"EPSV", b"TYPE", b"STRU", b"MODE",
    b"RETR", b"STOR", b"STOU", b"APPE", b"ALLO", b"REST", b"RNFR", b"RNTO", b"ABOR", b"DELE", b"RMD", b"MKD", b"PWD", b"LIST", b"NLST",
    b"SITE", b"SYST", b"STAT", b"HELP", b"NOOP", b"FEAT", b"OPTS", b"AUTH", b"PBSZ", b"PROT", b"MDTM", b"SIZE", b"MLSD", b"MLST",
];
const POP3_VERBS: &[&[u8]] =
    &[b"USER", b"PASS", b"APOP", b"STAT", b"LIST", b"RETR", b"DELE", b"NOOP", b"RSET", b"QUIT", b"TOP", b"UIDL", b"CAPA", b"STLS", b"AUTH"];
const IMAP_VERBS: &[&[u8]] = &[
    b"CAPABILITY",
    b"NOOP",
    b"LOGOUT",
    b"STARTTLS",
    b"AUTHENTICATE",
    b"LOGIN",
    b"SELECT",
    b"EXAMINE",
    b"CREATE",
    b"DELETE",
    b"RENAME",
    b"SUBSCRIBE",
    b"UNSUBSCRIBE",
    b"LIST",
    b"LSUB",
    b"STATUS",
    b"APPEND",
    b"CHECK",
    b"CLOSE",
    b"EXPUNGE",
    b"SEARCH",
    b"FETCH",
    b"STORE",
    b"COPY",
    b"MOVE",
    b"UID",
    b"IDLE",
    b"ENABLE",
    b"NAMESPACE",
    b"ID",
    b"UNSELECT",
];

/// The first line of `payload` without its line break; it must end in the payload (LF) and
/// be at most [`MAX_LINE`] bytes.
fn first_line(payload: &[u8]) -> Option<&[u8]> {
    let lf = memchr::memchr(b'\n', &payload[..payload.len().min(MAX_LINE)])?;
    let line = &payload[..lf];
    Some(line.strip_suffix(b"\r").unwrap_or(line))
}

/// The first space-separated word of `line`.
fn word(line: &[u8]) -> &[u8] {
    let end = memchr::memchr(b' ', line).unwrap_or(line.len());
    &line[..end]
}

fn is_verb(word: &[u8], verbs: &[&[u8]]) -> bool {
    verbs.iter().any(|v| v.eq_ignore_ascii_case(word))
}

/// SMTP and FTP replies: three digits, the first 1-5, then a space, `-` or the line's end.
fn three_digit_reply(line: &[u8]) -> Option<&[u8]> {
    match line {
        [b'1'..=b'5', b'0'..=b'9', b'0'..=b'9'] | [b'1'..=b'5', b'0'..=b'9', b'0'..=b'9', b' ' | b'-', ..] => Some(&line[..3]),
        _ => None,
    }
}

/// The banner, command or reply a TCP segment from `sport` to `dport` starts with.
pub(super) fn parse(sport: u16, dport: u16, payload: &[u8]) -> Option<AppInfo<'_>> {
    let (proto, service) = match (sport, dport) {
        (22, _) | (_, 22) | (2222, _) | (_, 2222) => {
            // RFC 4253 §4.2: "SSH-protoversion-softwareversion SP comments CR LF", from either side.
            let line = first_line(payload)?;
            let rest = line.strip_prefix(b"SSH-")?;
            let version = &rest[..memchr::memchr(b'-', rest)?];
            return Some(AppInfo::Line { proto: AppProto::Ssh, kind: LineKind::Banner, line, verb: version });
        }
        (25 | 587, _) | (_, 25 | 587) => (AppProto::Smtp, if sport == 25 || sport == 587 { sport } else { dport }),
        (21, _) | (_, 21) => (AppProto::Ftp, 21),
        (110, _) | (_, 110) => (AppProto::Pop3, 110),
        (143, _) | (_, 143) => (AppProto::Imap, 143),
        _ => return None,
    };
    let line = first_line(payload)?;
    let (kind, verb) = if dport == service {
        let verb = match proto {
            // RFC 9051 §2.2.1: a tag, then the command
            AppProto::Imap => word(line.get(word(line).len() + 1..)?),
            _ => word(line),
        };
        let verbs = match proto {
            AppProto::Smtp => SMTP_VERBS,
            AppProto::Ftp => FTP_VERBS,
            AppProto::Pop3 => POP3_VERBS,
            _ => IMAP_VERBS,
        };
        is_verb(verb, verbs).then_some((LineKind::Command, verb))?
    } else {
        let status = match proto {
            AppProto::Smtp | AppProto::Ftp => three_digit_reply(line),
            // RFC 1939 §3: "+OK" or "-ERR"
            AppProto::Pop3 => [&b"+OK"[..], b"-ERR"].into_iter().find(|s| word(line) == *s),
            // RFC 9051 §7.1: "* OK ..." untagged or "tag OK ..." tagged; "+ " continuation
            _ => {
                let tag = word(line);
                if tag == b"+" {
                    Some(tag)
                } else if tag == b"*" {
                    line.get(2..).map(word).filter(|w| !w.is_empty())
                } else {
                    let status = word(line.get(tag.len() + 1..)?);
                    [&b"OK"[..], b"NO", b"BAD", b"PREAUTH", b"BYE"].into_iter().find(|s| s.eq_ignore_ascii_case(status)).map(|_| status)
                }
            }
        };
        (LineKind::Reply, status?)
    };
    Some(AppInfo::Line { proto, kind, line, verb })
}
