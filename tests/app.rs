//! The application-layer summary as a user meets it: at the end of `read` lines, as the JSON
//! `app` object, as `-T fields` columns and in `-Y` filters; left out by `-q`; unknown field
//! names are usage errors.

mod common;
use common::{fixture, wireseam};

fn stdout(args: &[&str]) -> String {
    let out = wireseam(args);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn line(text: &str, n: u64) -> &str {
    let prefix = format!("{n:>5} ");
    text.lines().find(|l| l.starts_with(&prefix)).unwrap_or_else(|| panic!("no frame {n} in\n{text}"))
}

#[test]
fn read_lines_end_with_the_info() {
    let f = fixture("app-http.pcap");
    let text = stdout(&["read", "--color", "never", f.to_str().unwrap()]);
    assert!(line(&text, 4).ends_with("  HTTP GET /index.html HTTP/1.1"), "{}", line(&text, 4));
    assert!(line(&text, 18).ends_with("  HTTP HTTP/1.0 404 File not found"));
    // a pure ACK says nothing
    assert!(!line(&text, 5).contains("HTTP"));
    let f = fixture("app-dns.pcap");
    let text = stdout(&["read", "--color", "never", f.to_str().unwrap()]);
    assert!(line(&text, 8).ends_with("  DNS Standard query response 0x1906 No such name A nx.example.test"));
    // over TCP too
    assert!(line(&text, 12).ends_with("  DNS Standard query 0x3aa6 A www.example.test"));
    let f = fixture("app-tls.pcap");
    let text = stdout(&["read", "--color", "never", f.to_str().unwrap()]);
    assert!(line(&text, 4).ends_with("  TLS Client Hello SNI=www.example.test ALPN=h2,http/1.1 TLSv1.3"));
    assert!(line(&text, 21).ends_with("  TLS Server Hello ALPN=http/1.1 TLSv1.2"));
    let f = fixture("app-lines.pcap");
    let text = stdout(&["read", "--color", "never", f.to_str().unwrap()]);
    assert!(line(&text, 4).ends_with("  SSH SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u6"));
    assert!(line(&text, 17).ends_with("  SMTP ehlo client.example.test"));
    assert!(line(&text, 82).ends_with("  IMAP LJCH2 SELECT INBOX"));
}

#[test]
fn quick_lines_leave_it_out() {
    let f = fixture("app-http.pcap");
    let text = stdout(&["read", "--color", "never", "-q", f.to_str().unwrap()]);
    assert!(!text.contains("HTTP"), "{text}");
}

#[test]
fn colour_marks_the_protocol() {
    let f = fixture("app-http.pcap");
    let text = stdout(&["read", "--color", "always", f.to_str().unwrap()]);
    assert!(line(&text, 4).ends_with("  \u{1b}[1m\u{1b}[36mHTTP\u{1b}[0m GET /index.html HTTP/1.1"), "{text}");
}

#[test]
fn json_packet_records_carry_app() {
    let f = fixture("app-dns.pcap");
    let text = stdout(&["read", "--format", "json", f.to_str().unwrap()]);
    let records: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let packet = |n: u64| records.iter().find(|r| r["type"] == "packet" && r["n"] == n).unwrap();
    let app = &packet(2)["app"];
    assert_eq!(app["proto"], "dns");
    assert_eq!(app["response"], true);
    assert_eq!(app["queries"][0]["name"], "www.example.test");
    assert_eq!(app["answers"][0]["type"], "CNAME");
    assert_eq!(app["answers"][1]["data"], "192.0.2.80");
    assert!(packet(9).get("app").is_none(), "a SYN has no app");
}

#[test]
fn fields_and_filters_reach_it() {
    let f = fixture("app-tls.pcap");
    let text = stdout(&[
        "read",
        "-Y",
        "tls.handshake.extensions_server_name",
        "-T",
        "fields",
        "-e",
        "n",
        "-e",
        "tls.handshake.extensions_alpn_str",
        f.to_str().unwrap(),
    ]);
    assert_eq!(text, "4\th2,http/1.1\n19\thttp/1.1\n");
    let f = fixture("app-http.pcap");
    let text = stdout(&["read", "-Y", "http.response.code >= 400", "-T", "fields", "-e", "n", "-e", "app.info", f.to_str().unwrap()]);
    assert_eq!(text, "18\tHTTP/1.0 404 File not found\n");
}

#[test]
fn unknown_app_field_is_a_usage_error() {
    let f = fixture("app-tls.pcap");
    let out = wireseam(&["read", "-T", "fields", "-e", "tls.sni", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("-e tls.sni: unknown field") && err.contains("tls.handshake.extensions_server_name"), "{err}");
    let out = wireseam(&["read", "-Y", "dns.qry.nam == x", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
}
