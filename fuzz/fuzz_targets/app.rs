//! One TCP segment's or UDP datagram's payload through the application-layer parsers (HTTP, TLS
//! hello, DNS, SSH/SMTP/FTP/POP3/IMAP lines) on their ports, then through the escapes each sink
//! uses: the text written for a terminal holds no control character, the JSON string is UTF-8
//! without raw control characters, whatever the wire held.
#![no_main]
use libfuzzer_sys::fuzz_target;
use wireseam::decode::app::{payload_info, Carrier};
use wireseam::output::escape::{write_json_bytes, write_text};

/// The ports the parsers answer on, and one they do not.
const PORTS: [u16; 12] = [80, 8080, 443, 853, 53, 5353, 22, 25, 21, 110, 143, 9000];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, payload)) = data.split_first() else { return };
    let carrier = if sel & 0x80 != 0 { Carrier::Udp } else { Carrier::Tcp };
    let port = PORTS[usize::from(sel & 0x7f) % PORTS.len()];
    // the service's port on the server side, or on the client side (a reply)
    let (sport, dport) = if sel & 0x40 != 0 { (port, 40_000) } else { (40_000, port) };
    let Some(info) = payload_info(carrier, sport, dport, payload) else { return };
    let _ = info.proto();
    let mut raw = Vec::new();
    info.write_info(&mut raw).unwrap();
    let mut text = Vec::new();
    write_text(&mut text, &raw).unwrap();
    let text = std::str::from_utf8(&text).expect("terminal text is UTF-8");
    assert!(!text.chars().any(|c| c.is_control()), "a control character reached the terminal: {text:?}");
    let mut json = Vec::new();
    write_json_bytes(&mut json, &raw).unwrap();
    let json = std::str::from_utf8(&json).expect("JSON string is UTF-8");
    assert!(!json.chars().any(|c| (c as u32) < 0x20), "a raw control character in JSON: {json:?}");
});
