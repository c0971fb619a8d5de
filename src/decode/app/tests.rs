use super::*;

fn tcp(sport: u16, dport: u16, payload: &[u8]) -> Option<AppInfo<'_>> {
    tcp_payload(sport, dport, payload)
}

fn info(app: &AppInfo) -> String {
    let mut out = Vec::new();
    app.write_info(&mut out).unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn http_request_and_status_lines() {
    let req = tcp(40000, 80, b"GET /index.html HTTP/1.1\r\nHost: x\r\n").unwrap();
    assert_eq!(req, AppInfo::HttpRequest { method: "GET", uri: "/index.html", minor: 1 });
    assert_eq!(info(&req), "GET /index.html HTTP/1.1");
    let resp = tcp(8000, 40000, b"HTTP/1.0 404 Not Found\r\nServer: x\r\n\r\n").unwrap();
    assert_eq!(info(&resp), "HTTP/1.0 404 Not Found");
    // obs-text in the reason phrase (RFC 9112 §4) is kept: httparse alone would drop it
    let resp = tcp(80, 40000, "HTTP/1.1 200 \u{202e}ko\r\n".as_bytes()).unwrap();
    assert_eq!(info(&resp), "HTTP/1.1 200 \u{202e}ko");
    // not HTTP, the line cut before its end, another port: nothing
    assert_eq!(tcp(40000, 80, b"hello world\r\n"), None);
    assert_eq!(tcp(40000, 80, b"GET /index.ht"), None);
    assert_eq!(tcp(40000, 9000, b"GET / HTTP/1.1\r\n"), None);
    assert_eq!(tcp(40000, 80, b"GET /\x1b[2J HTTP/1.1\r\n"), None);
}

#[test]
fn ssh_banner_and_mail_lines() {
    let b = tcp(22, 50000, b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n").unwrap();
    assert_eq!(info(&b), "SSH-2.0-OpenSSH_9.2p1 Debian-2");
    assert!(matches!(b, AppInfo::Line { kind: LineKind::Banner, verb: b"2.0", .. }));
    assert_eq!(tcp(22, 50000, b"\x00\x00\x01\x2c\x0a\x14"), None);
    let c = tcp(50000, 25, b"EHLO client.example\r\n").unwrap();
    assert!(matches!(c, AppInfo::Line { proto: AppProto::Smtp, kind: LineKind::Command, verb: b"EHLO", .. }));
    let r = tcp(25, 50000, b"250-mail.example Hello\r\n250 OK\r\n").unwrap();
    assert_eq!(info(&r), "250-mail.example Hello");
    // a message body line on the SMTP port is no command
    assert_eq!(tcp(50000, 25, b"Hello Bob, here is the report\r\n"), None);
    assert!(tcp(21, 50000, b"220 ftp ready\r\n").is_some());
    assert!(tcp(50000, 110, b"RETR 1\r\n").is_some());
    assert!(tcp(110, 50000, b"+OK 2 messages\r\n").is_some());
    let i = tcp(50000, 143, b"a1 LOGIN user pass\r\n").unwrap();
    assert!(matches!(i, AppInfo::Line { verb: b"LOGIN", .. }));
    assert!(tcp(143, 50000, b"* OK IMAP4rev2 ready\r\n").is_some());
    assert!(tcp(143, 50000, b"a1 OK done\r\n").is_some());
    assert_eq!(tcp(143, 50000, b"a1 MAYBE\r\n"), None);
}

/// A DNS message: id 0x1a2b, `flags`, one question for example.com A, and `answers` A records.
fn dns_msg(flags: u16, answers: &[[u8; 4]]) -> Vec<u8> {
    let mut m = vec![0x1a, 0x2b];
    m.extend_from_slice(&flags.to_be_bytes());
    m.extend_from_slice(&[0, 1, 0, answers.len() as u8, 0, 0, 0, 0]);
    m.extend_from_slice(b"\x07example\x03com\x00\x00\x01\x00\x01");
    for a in answers {
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
        m.extend_from_slice(a);
    }
    m
}

#[test]
fn dns_query_and_response() {
    let q = dns_msg(0x0100, &[]);
    let d = dns::parse(&q).unwrap();
    assert_eq!(info(&AppInfo::Dns(d)), "Standard query 0x1a2b A example.com");
    let r = dns_msg(0x8180, &[[192, 0, 2, 1], [192, 0, 2, 2]]);
    let d = dns::parse(&r).unwrap();
    assert_eq!(info(&AppInfo::Dns(d)), "Standard query response 0x1a2b A example.com A 192.0.2.1 A 192.0.2.2");
    let nx = dns_msg(0x8183, &[]);
    assert_eq!(info(&AppInfo::Dns(dns::parse(&nx).unwrap())), "Standard query response 0x1a2b No such name A example.com");
    // over TCP: the length prefix must cover the message exactly
    let mut framed = (r.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&r);
    assert!(matches!(tcp(53, 40000, &framed), Some(AppInfo::Dns(_))));
    assert_eq!(tcp(53, 40000, &framed[..framed.len() - 1]), None);
    // garbage and a cut message
    assert_eq!(dns::parse(b"\x00\x01\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07exa"), None);
    assert_eq!(dns::parse(&[0xff; 40]), None);
}

/// A ClientHello record with SNI `name`, ALPN h2 + http/1.1 and supported_versions GREASE, 1.3, 1.2.
fn client_hello(name: &[u8]) -> Vec<u8> {
    let mut ext = Vec::new();
    let sni_len = name.len() as u16;
    ext.extend_from_slice(&[0, 0]);
    ext.extend_from_slice(&(sni_len + 5).to_be_bytes());
    ext.extend_from_slice(&(sni_len + 3).to_be_bytes());
    ext.push(0);
    ext.extend_from_slice(&sni_len.to_be_bytes());
    ext.extend_from_slice(name);
    ext.extend_from_slice(&[0, 16, 0, 14, 0, 12, 2, b'h', b'2', 8]);
    ext.extend_from_slice(b"http/1.1");
    ext.extend_from_slice(&[0, 43, 0, 7, 6, 0x2a, 0x2a, 3, 4, 3, 3]);
    let mut body = vec![3, 3];
    body.extend_from_slice(&[7; 32]);
    body.extend_from_slice(&[0, 0, 2, 0x13, 0x01, 1, 0]);
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);
    let mut hs = vec![1, 0];
    hs.extend_from_slice(&(body.len() as u16).to_be_bytes());
    hs.extend_from_slice(&body);
    let mut rec = vec![22, 3, 1];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

#[test]
fn tls_client_hello() {
    let rec = client_hello(b"example.com");
    let hello = tcp(40000, 443, &rec).unwrap();
    assert_eq!(info(&hello), "Client Hello SNI=example.com ALPN=h2,http/1.1 TLSv1.3");
    // cut record, other port, not a handshake
    assert_eq!(tcp(40000, 443, &rec[..rec.len() - 3]), None);
    assert_eq!(tcp(40000, 9000, &rec), None);
    assert_eq!(tcp(40000, 443, b"\x17\x03\x03\x00\x10"), None);
}
