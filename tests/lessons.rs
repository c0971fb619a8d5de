//! The lessons' own socket programs (`tests/lessons/*.py`, Python 3) run under a loopback capture,
//! and what they printed compared with what wireseam says about that capture: by default (the
//! receive-buffer sticking, the framing found) and with `stream --recv` (the simulated calls).
//! A test fails when the two disagree. Needs root (live capture) and python3; skipped otherwise.

#[path = "common/capture.rs"]
mod capture;
mod common;
use capture::Capture;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| s.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0")))
        .unwrap_or(false)
}

fn have_python() -> bool {
    Command::new("python3").arg("-c").arg("import socket, struct, json").status().is_ok_and(|s| s.success())
}

fn skip() -> bool {
    if !is_root() || !have_python() {
        eprintln!("skipped: running the lessons under capture needs root and python3");
        return true;
    }
    false
}

fn lesson(name: &str) -> PathBuf {
    common::root().join("tests").join("lessons").join(name)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits for a child, killing it after `limit`.
fn wait(mut child: Child, limit: Duration, what: &str) -> String {
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            let mut out = String::new();
            child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
            return out;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("{what} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs a server and a client program (the client fed `input`) under a capture; returns the
/// capture and the two programs' standard output.
fn run_lesson(name: &str, server: &str, client: &str, input: &str) -> (PathBuf, String, String) {
    let dir = std::env::temp_dir().join(format!("wireseam-lessons-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let capture = Capture::start(None, "lo", Some(&format!("port {port}")), dir.join(format!("{name}.pcap")));
    let mut srv = Command::new("python3")
        .arg(lesson(server))
        .env("LESSON_PORT", port.to_string())
        .env("PYTHONIOENCODING", "utf-8")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the server");
    let mut out = BufReader::new(srv.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    assert_eq!(first.trim(), "listening", "{server} did not start");
    let mut cli = Command::new("python3")
        .arg(lesson(client))
        .env("LESSON_PORT", port.to_string())
        .env("PYTHONIOENCODING", "utf-8")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the client");
    // The commands one at a time: a person types the next after reading the answer.
    let mut stdin = cli.stdin.take().unwrap();
    for line in input.lines() {
        stdin.write_all(format!("{line}\n").as_bytes()).unwrap();
        stdin.flush().unwrap();
        std::thread::sleep(Duration::from_millis(150));
    }
    drop(stdin);
    let client_out = wait(cli, Duration::from_secs(20), client);
    let start = Instant::now();
    while srv.try_wait().unwrap().is_none() {
        assert!(start.elapsed() < Duration::from_secs(20), "{server} did not finish");
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut server_out = String::new();
    out.read_to_string(&mut server_out).unwrap();
    (capture.stop(), server_out, client_out)
}

fn stream(pcap: &Path, args: &[&str]) -> String {
    let mut all = vec!["stream", pcap.to_str().unwrap(), "--color", "never", "--preview", "4096"];
    all.extend_from_slice(args);
    let o = common::wireseam(&all);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

/// Python's `repr()` of a bytes object (`b'he'`, `b"it's"`, `b'\x06\x00'`) → the bytes.
fn py_bytes(repr: &str) -> Vec<u8> {
    let repr = repr.trim();
    let body = repr.strip_prefix('b').expect("a bytes repr");
    let quote = body.chars().next().unwrap();
    let inner = &body[1..body.rfind(quote).unwrap()];
    unescape(inner)
}

/// `\n \r \t \\ \' \" \xNN` as Python and wireseam's previews write them.
fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            match b[i + 1] {
                b'n' => out.push(b'\n'),
                b'r' => out.push(b'\r'),
                b't' => out.push(b'\t'),
                b'x' => {
                    out.push(u8::from_str_radix(&s[i + 2..i + 4], 16).unwrap());
                    i += 2;
                }
                c => out.push(c),
            }
            i += 2;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// What one simulated call returned, read back from `stream --recv` text: `Some(bytes)` for
/// data (message boundaries `|` removed), `None` for `b''`.
fn simulated_calls(text: &str, dir: &str) -> Vec<Option<Vec<u8>>> {
    let section = text.split(&format!("  {dir}  ")).nth(1).unwrap_or_else(|| panic!("no {dir} in\n{text}"));
    let section = section.split("\n  s→c").next().unwrap();
    let mut calls = Vec::new();
    for line in section.lines().map(str::trim).filter(|l| l.starts_with("recv #")) {
        let (_, ret) = line.split_once(" → ").unwrap();
        if ret.starts_with("b''") {
            calls.push(None);
            continue;
        }
        let quoted = ret.strip_prefix('"').unwrap_or_else(|| panic!("not shown as bytes: {line}"));
        let end = quoted.rfind("\" (").or_else(|| quoted.rfind('"')).unwrap();
        let shown = quoted[..end].replace('|', "");
        assert!(!shown.ends_with('…'), "preview cut: {line}");
        calls.push(Some(unescape(&shown)));
    }
    calls
}

/// The server's printed results: `第一次 b'...'`, `第二次 b'...'`.
fn printed_results(server_out: &str) -> Vec<Option<Vec<u8>>> {
    server_out
        .lines()
        .filter_map(|l| l.split_once(' ').map(|(_, r)| py_bytes(r)))
        .map(|b| if b.is_empty() { None } else { Some(b) })
        .collect()
}

/// Seed 002: `send('hello'); send('world')` to a server that calls `recv(1024)` twice. The
/// server printed either the glued `b'helloworld'` then `b''` (it read after both arrived) or
/// `b'hello'` then `b'world'`; wireseam must show the same with the matching reader, and by
/// default name the glued result a late reader gets.
#[test]
fn hello_world_recv_1024_twice() {
    if skip() {
        return;
    }
    let (pcap, server_out, _) = run_lesson("hello", "hello_server.py", "hello_client.py", "");
    let printed = printed_results(&server_out);
    assert_eq!(printed.len(), 2, "{server_out}");
    let default = stream(&pcap, &[]);
    let late = simulated_calls(&stream(&pcap, &["--recv", "1024", "--recv-at", "end"]), "c→s");
    let eager = simulated_calls(&stream(&pcap, &["--recv", "1024", "--recv-at", "arrival"]), "c→s");
    assert_eq!(late, vec![Some(b"helloworld".to_vec()), None], "a reader that comes late gets both, then b''");
    if printed[0].as_deref() == Some(b"helloworld") {
        assert_eq!(printed, late[..2], "{server_out}");
        // By default: two chunks that arrived apart, glued for a late reader; or one chunk.
        assert!(
            default.contains("gets \"helloworld\" in one call") || default.contains("\"helloworld\""),
            "the default output shows the glued result:\n{default}"
        );
    } else {
        assert_eq!(printed, eager[..2], "an early reader gets what each segment brought:\n{server_out}");
    }
}

/// Seed 002, the receiver that reads less than was sent: `recv(2)` then `recv(10)` printed
/// `b'he'` then `b'lloworld'`.
#[test]
fn recv_2_then_10() {
    if skip() {
        return;
    }
    let (pcap, server_out, _) = run_lesson("recv2", "recv2_server.py", "hello_client.py", "");
    let printed = printed_results(&server_out);
    let late_text = stream(&pcap, &["--recv", "2,10", "--recv-at", "end"]);
    let late = simulated_calls(&late_text, "c→s");
    // The server closes after two calls; if "world" was still unread its kernel sent RST, and
    // when that came before the client's FIN there is no `b''` to show, only the reset.
    if late_text.contains("reader reset the connection (RST) before the sender closed") {
        assert_eq!(late, vec![Some(b"he".to_vec()), Some(b"lloworld".to_vec())], "{late_text}");
    } else {
        assert_eq!(late, vec![Some(b"he".to_vec()), Some(b"lloworld".to_vec()), None], "{late_text}");
    }
    if printed[1].as_deref() == Some(b"lloworld") {
        assert_eq!(printed, late[..2], "{server_out}");
    } else {
        let eager = simulated_calls(&stream(&pcap, &["--recv", "2,10", "--recv-at", "arrival"]), "c→s");
        assert_eq!(printed, eager[..2], "{server_out}");
    }
}

/// The client's printed replies (`repr()` of each, after the `>>>` prompts).
fn printed_replies(client_out: &str) -> Vec<Vec<u8>> {
    client_out
        .split(">>>")
        .flat_map(str::lines)
        .map(str::trim)
        .filter(|l| l.starts_with("b'") || l.starts_with("b\""))
        .map(py_bytes)
        .collect()
}

/// The remote-command lesson without a header: one `recv(1024)` per command, so the reply to
/// the second command begins with the first reply's tail. wireseam's `--recv-at after-send`
/// must return what the program printed, call by call.
#[test]
fn remote_command_without_header_shifts() {
    if skip() {
        return;
    }
    // The commands take 0.3 s to answer, so that each recv() comes before the answer it asks for
    // (a client that is descheduled for longer between send() and recv() reads later than this
    // reader does).
    let (pcap, _, client_out) = run_lesson("cmd", "cmd_server.py", "cmd_client.py", "seq 1 400\nsleep 0.3; echo hi\nsleep 0.3; echo bye\n");
    let printed = printed_replies(&client_out);
    assert_eq!(printed.len(), 3, "{client_out}");
    assert_eq!(printed[0].len(), 1024, "the first reply fills the client's recv(1024)");
    assert!(printed[1].starts_with(b"284\n"), "the second reply is the first one's tail: {:?}", String::from_utf8_lossy(&printed[1]));
    let text = stream(&pcap, &["--recv", "1024", "--recv-at", "after-send"]);
    let simulated: Vec<Vec<u8>> = simulated_calls(&text, "s→c").into_iter().flatten().collect();
    assert_eq!(simulated, printed, "wireseam's one-recv-per-command reader:\n{text}");
    assert!(text.contains("replies shift"), "{text}");
}

/// The remote-command lesson fixed with `struct.pack('i', total_size)`: a little-endian 4-byte
/// length before each output. wireseam must find that framing and one message per reply.
#[test]
fn remote_command_with_little_endian_length() {
    if skip() {
        return;
    }
    let (pcap, _, client_out) = run_lesson("cmdlen", "cmd_len_server.py", "cmd_len_client.py", "seq 1 400\necho hi\n");
    let printed = printed_replies(&client_out);
    assert_eq!(printed.len(), 2, "{client_out}");
    let o = common::wireseam(&["read", pcap.to_str().unwrap(), "--format", "json"]);
    let msgs = messages(&o.stdout, "s2c");
    assert!(msgs.iter().all(|m| m["framing"].as_str().unwrap().starts_with("len:4:le")), "{msgs:?}");
    let lens: Vec<u64> = msgs.iter().map(|m| m["len"].as_u64().unwrap()).collect();
    assert_eq!(lens, printed.iter().map(|p| 4 + p.len() as u64).collect::<Vec<_>>(), "one message per reply, its header included");
}

/// The fix with a JSON header: `struct.pack('i', len(header))` + `{"filename": …, "len": N}` +
/// the body. wireseam must find `jsonhdr:le` and one message per reply.
#[test]
fn remote_command_with_json_header() {
    if skip() {
        return;
    }
    let (pcap, _, client_out) = run_lesson("cmdjson", "cmd_json_server.py", "cmd_json_client.py", "seq 1 400\necho hi\n");
    let printed = printed_replies(&client_out);
    assert_eq!(printed.len(), 2, "{client_out}");
    let headers: Vec<&str> =
        client_out.split(">>>").map(str::trim).filter(|l| l.starts_with('{')).map(|l| l.lines().next().unwrap()).collect();
    let o = common::wireseam(&["read", pcap.to_str().unwrap(), "--format", "json"]);
    let msgs = messages(&o.stdout, "s2c");
    assert!(msgs.iter().all(|m| m["framing"].as_str().unwrap().starts_with("jsonhdr:le")), "{msgs:?}");
    // 4 bytes + the header as json.dumps wrote it + the body
    let expect: Vec<u64> = headers
        .iter()
        .zip(&printed)
        .map(|(h, body)| {
            let dumped = h.replace('\'', "\"");
            4 + dumped.len() as u64 + body.len() as u64
        })
        .collect();
    let lens: Vec<u64> = msgs.iter().map(|m| m["len"].as_u64().unwrap()).collect();
    assert_eq!(lens, expect);
}

/// The message records of one direction.
fn messages(json: &[u8], dir: &str) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(json)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r["type"] == "message" && r["dir"] == dir)
        .collect()
}

/// Seed 003: `recvfrom(1024)` of a 2,000-byte datagram returns 1,024 bytes; the rest is lost.
#[test]
fn udp_recvfrom_truncates() {
    if skip() {
        return;
    }
    let (pcap, server_out, client_out) = run_lesson("udp", "udp_server.py", "udp_client.py", "");
    let got: u64 = server_out.split_whitespace().next().unwrap().parse().unwrap();
    assert_eq!(got, 1024, "{server_out}");
    assert_eq!(client_out.trim(), "b'hi'");
    let text = stream(&pcap, &["--recv", "1024"]);
    assert!(text.contains("recvfrom #1 (1024) → 1,024 of 2,000 bytes"), "{text}");
    assert!(text.contains("976 lost: UDP does not keep the rest for the next call"), "{text}");
    assert!(text.contains("recvfrom #1 (1024) → 2 bytes \"hi\""), "{text}");
}

/// The lessons' programs, run unchanged in the two-namespace lab by `fixtures/make-real.sh`
/// (`lesson-*.pcap`, with what each program printed beside it in `lesson-*.server.txt` and
/// `lesson-*.client.txt`): the same comparisons as above, without root.
fn fixture_lesson(name: &str) -> (PathBuf, String, String) {
    let dir = common::root().join("fixtures");
    let read = |suffix: &str| std::fs::read_to_string(dir.join(format!("{name}.{suffix}.txt"))).unwrap();
    (dir.join(format!("{name}.pcap")), read("server"), read("client"))
}

#[test]
fn fixture_hello_world() {
    let (pcap, server_out, _) = fixture_lesson("lesson-hello");
    let printed = printed_results(&server_out);
    let late = simulated_calls(&stream(&pcap, &["--recv", "1024", "--recv-at", "end"]), "c→s");
    let eager = simulated_calls(&stream(&pcap, &["--recv", "1024", "--recv-at", "arrival"]), "c→s");
    let reader = if printed[0].as_deref() == Some(b"helloworld") { late } else { eager };
    assert_eq!(printed, reader, "{server_out}");
    let default = stream(&pcap, &[]);
    assert!(default.contains("gets \"helloworld\" in one call"), "{default}");
    assert!(default.contains("sticky unknown"), "no framing is recognised in 10 letters:\n{default}");
}

#[test]
fn fixture_remote_command_without_header() {
    let (pcap, _, client_out) = fixture_lesson("lesson-cmd");
    let printed = printed_replies(&client_out);
    assert_eq!(printed.len(), 3, "{client_out}");
    let text = stream(&pcap, &["--recv", "1024", "--recv-at", "after-send"]);
    let simulated: Vec<Vec<u8>> = simulated_calls(&text, "s→c").into_iter().flatten().collect();
    assert_eq!(simulated, printed, "{text}");
    assert!(text.contains("replies shift"), "{text}");
}

#[test]
fn fixture_remote_command_with_json_header() {
    let (pcap, _, client_out) = fixture_lesson("lesson-cmd-json");
    let printed = printed_replies(&client_out);
    let o = common::wireseam(&["read", pcap.to_str().unwrap(), "--format", "json"]);
    let msgs = messages(&o.stdout, "s2c");
    assert!(!msgs.is_empty() && msgs.iter().all(|m| m["framing"] == "jsonhdr:le"), "{msgs:?}");
    let bodies: Vec<u64> = printed.iter().map(|p| p.len() as u64).collect();
    let headers: Vec<u64> = client_out
        .split(">>>")
        .map(str::trim)
        .filter(|l| l.starts_with('{'))
        .map(|l| l.lines().next().unwrap().replace('\'', "\"").len() as u64)
        .collect();
    let lens: Vec<u64> = msgs.iter().map(|m| m["len"].as_u64().unwrap()).collect();
    let expect: Vec<u64> = headers.iter().zip(&bodies).map(|(h, b)| 4 + h + b).collect();
    assert_eq!(lens, expect, "{client_out}");
}

/// What a `wireseam gen` side printed for the lesson's program (`server  prints …` lines of
/// `fixtures/NAME.gen.txt`, written by `fixtures/make-real.sh`).
fn gen_prints(name: &str, side: &str) -> Vec<String> {
    let text = std::fs::read_to_string(common::root().join("fixtures").join(format!("{name}.gen.txt"))).unwrap();
    let prefix = format!("{side}  prints ");
    text.lines().filter_map(|l| l.strip_prefix(prefix.as_str())).map(str::to_string).collect()
}

/// `gen hello-world` between two namespaces: its server printed what the lesson's does, and
/// wireseam's late reader on the capture gets the same.
#[test]
fn gen_fixture_hello_world() {
    let printed: Vec<Option<Vec<u8>>> = gen_prints("gen-hello-world", "server")
        .iter()
        .map(|l| py_bytes(l.split_once(' ').unwrap().1))
        .map(|b| if b.is_empty() { None } else { Some(b) })
        .collect();
    assert_eq!(printed, vec![Some(b"helloworld".to_vec()), None]);
    let pcap = common::root().join("fixtures/gen-hello-world.pcap");
    let late = simulated_calls(&stream(&pcap, &["--recv", "1024,1024", "--recv-at", "end"]), "c→s");
    assert_eq!(late, printed);
}

/// `gen remote-cmd` (no header): the client's shifted replies are what wireseam's
/// one-recv-per-command reader returns on the capture.
#[test]
fn gen_fixture_remote_command_shifts() {
    let printed: Vec<Vec<u8>> = gen_prints("gen-remote-cmd", "client").iter().map(|l| py_bytes(l)).collect();
    assert!(printed.len() >= 3, "{printed:?}");
    let pcap = common::root().join("fixtures/gen-remote-cmd.pcap");
    let text = stream(&pcap, &["--recv", "1024", "--recv-at", "after-send"]);
    let simulated: Vec<Vec<u8>> = simulated_calls(&text, "s→c").into_iter().flatten().collect();
    assert_eq!(simulated, printed, "{text}");
    let with_len = stream(&common::root().join("fixtures/gen-remote-cmd-len.pcap"), &[]);
    assert!(with_len.contains("s→c  framing len:4:le"), "{with_len}");
}

/// Seed 003 over a real 1,500-byte MTU: the 2,000-byte datagram travelled as two IPv4 fragments,
/// and the lesson's server (and `gen udp-truncate`) printed `1024 b'xxxxxxxx'`; wireseam
/// reassembles it into one datagram and its `recvfrom(1024)` says the same.
#[test]
fn fixture_udp_recvfrom_over_fragments() {
    let (pcap, server_out, client_out) = fixture_lesson("lesson-udp");
    assert_eq!(server_out.trim(), "1024 b'xxxxxxxx'");
    assert_eq!(client_out.trim(), "b'hi'");
    assert_eq!(gen_prints("gen-udp-truncate", "server"), vec!["1024 b'xxxxxxxx'".to_string()]);
    for pcap in [pcap, common::root().join("fixtures/gen-udp-truncate.pcap")] {
        let text = stream(&pcap, &["--recv", "1024"]);
        assert!(text.contains("recvfrom #1 (1024) → 1,024 of 2,000 bytes"), "{text}");
        assert!(text.contains("976 lost: UDP does not keep the rest for the next call"), "{text}");
        assert!(text.contains("in 2 IP fragments, reassembled: still one datagram"), "{text}");
    }
}
