//! The lesson scenarios (hello-world, remote-cmd, udp-truncate, udp-fragments) through the built
//! binary: what they say the lessons' programs print, against the lessons themselves.
//!
//! Always: `--role both` on loopback, free ports. With python3: wireseam's server or client
//! against the lesson's own program in `tests/lessons/`, the printed lines compared. As root: a
//! capture of a run read back with `wireseam stream`, and udp-fragments across a veth (MTU 1500)
//! between two network namespaces. Each of those is skipped with a message when it cannot run.

#[path = "gen_common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, NsPair};

#[path = "common/capture.rs"]
mod capture;
use capture::{Capture, TempFile};

/// Where a capture of this test process named `name` goes.
fn capture_file(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("wsgen-lessons-{}-{name}.pcap", std::process::id()))
}

const BIN: &str = env!("CARGO_BIN_EXE_wireseam");

fn wireseam(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).env("NO_COLOR", "1").output().expect("run wireseam");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "wireseam {}: {}\n{text}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    text
}

/// Narration with its wrapped lines joined again (continuations are indented 8 spaces).
fn unwrapped(log: &str) -> String {
    log.replace("\n        ", " ")
}

/// `wireseam gen ARGS --port 0` (both roles here): the narration, lines unwrapped.
fn gen(args: &[&str]) -> String {
    let mut all = vec!["gen"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--port", "0"]);
    unwrapped(&wireseam(&all))
}

/// The lines the narration says a side's program prints (`server  prints 第一次 b'he'`).
fn prints(log: &str, side: &str) -> Vec<String> {
    let tag = format!("{side}  prints ");
    log.lines().filter_map(|line| line.strip_prefix(&tag)).map(str::to_string).collect()
}

/// Python's `repr()` of bytes back to the bytes (`b'he'`, `b"it's"`, `b'\x06\n'`).
fn py_bytes(repr: &str) -> Vec<u8> {
    let repr = repr.trim();
    let body = repr.strip_prefix('b').unwrap_or_else(|| panic!("not a bytes repr: {repr}"));
    let quote = body.chars().next().unwrap();
    let inner = &body.as_bytes()[1..body.rfind(quote).unwrap()];
    let mut out = Vec::new();
    let mut i = 0;
    while i < inner.len() {
        if inner[i] == b'\\' && i + 1 < inner.len() {
            match inner[i + 1] {
                b'n' => out.push(b'\n'),
                b'r' => out.push(b'\r'),
                b't' => out.push(b'\t'),
                b'x' => {
                    out.push(u8::from_str_radix(std::str::from_utf8(&inner[i + 2..i + 4]).unwrap(), 16).unwrap());
                    i += 2;
                }
                other => out.push(other),
            }
            i += 2;
        } else {
            out.push(inner[i]);
            i += 1;
        }
    }
    out
}

/// `第一次 b'he'` → (`第一次`, b"he").
fn labelled(line: &str) -> (String, Vec<u8>) {
    let (label, repr) = line.split_once(' ').unwrap();
    (label.to_string(), py_bytes(repr))
}

// ---------------------------------------------------------------------------------------------
// both roles on loopback

/// Seed 002: the server reads late, so both writes come out of one recv(1024), then b''.
#[test]
fn hello_world_glued_for_a_late_reader() {
    let log = gen(&["hello-world"]);
    assert_eq!(prints(&log, "server"), ["第一次 b'helloworld'", "第二次 b''"], "{log}");
    assert!(log.contains("glued them"), "{log}");
    assert!(log.contains("wireseam stream FILE --recv 1024,1024 --recv-at end"), "{log}");
    assert!(log.contains("two write() calls left in 2 data segment(s)"), "TCP_NODELAY: two segments\n{log}");
}

/// Seed 002's reader that takes less than was sent: recv(2), recv(10).
#[test]
fn hello_world_recv_2_then_10() {
    let log = gen(&["hello-world", "--recv", "2,10"]);
    assert_eq!(prints(&log, "server"), ["第一次 b'he'", "第二次 b'lloworld'"], "{log}");
    assert!(log.contains("leaves the rest for the next call"), "{log}");
}

/// A reader that is already waiting gets the bytes in arrival order, however they are cut.
#[test]
fn hello_world_read_at_once() {
    let log = gen(&["hello-world", "--read-after", "0", "--recv", "1024,1024,1024"]);
    let lines = prints(&log, "server");
    assert_eq!(lines.len(), 3, "{log}");
    let labels: Vec<String> = lines.iter().map(|line| labelled(line).0).collect();
    assert_eq!(labels, ["第一次", "第二次", "第三次"]);
    let got: Vec<u8> = lines.iter().flat_map(|line| labelled(line).1).collect();
    assert_eq!(got, b"helloworld", "{log}");
    assert_eq!(labelled(lines.last().unwrap()).1, b"", "the last call sees the FIN");
}

/// The client's printed replies of one remote-cmd run, decoded.
fn replies(log: &str) -> Vec<Vec<u8>> {
    prints(log, "client").iter().filter(|line| line.starts_with('b')).map(|line| py_bytes(line)).collect()
}

/// No header, one recv(1024) per command: the long output's tail is the next command's reply.
#[test]
fn remote_cmd_without_header_shifts() {
    let size = 2000;
    let log = gen(&["remote-cmd", "--size", &size.to_string()]);
    let got = replies(&log);
    let whole = replies(&gen(&["remote-cmd", "--size", &size.to_string(), "--header", "len"]));
    assert_eq!(got.len(), 4, "{log}");
    assert_eq!(whole.len(), 4);
    let long = whole.iter().position(|reply| reply.len() == size).expect("one output of --size bytes");
    assert_eq!(got[long].len(), 1024, "one recv(1024) of a longer output takes 1,024 bytes");
    assert_eq!(got[long + 1], whole[long][1024..], "the next reply is the long output's tail");
    assert_eq!(got[..long], whole[..long], "the replies before the long one are whole");
    // a byte stream: what the client read is the start of everything the server sent
    let all_sent = whole.concat();
    let all_read = got.concat();
    assert_eq!(all_read, all_sent[..all_read.len()]);
    assert!(log.contains("the replies have shifted"), "{log}");
    assert!(log.contains("bytes of replies were never read") && log.contains("RFC 1122"), "{log}");
    let small = gen(&["remote-cmd", "--size", "500"]);
    assert!(small.contains("each of the 4 replies was its command's whole output"), "{small}");
    assert_eq!(replies(&small), replies(&gen(&["remote-cmd", "--size", "500", "--header", "len", "--endian", "big"])));
}

/// The fixes: a 4-byte length, or a JSON header whose "len" is the output's length.
#[test]
fn remote_cmd_with_headers_reads_whole_replies() {
    let count = "6";
    let len = gen(&["remote-cmd", "--header", "len", "--count", count]);
    let json = gen(&["remote-cmd", "--header", "json", "--count", count]);
    let len_replies = replies(&len);
    assert_eq!(len_replies.len(), 6, "{len}");
    assert_eq!(replies(&json), len_replies, "the same outputs whatever the header");
    assert!(!len.contains("shifted"), "{len}");
    let lines = prints(&json, "client");
    assert_eq!(lines.len(), 12, "a header dict and a reply per command:\n{json}");
    for pair in lines.chunks(2) {
        let body = py_bytes(&pair[1]);
        assert_eq!(pair[0], format!("{{'filename': 'cls.avi', 'len': {}}}", body.len()), "{json}");
    }
}

/// Seed 003: recvfrom(1024) of a 2,000-byte datagram.
#[test]
fn udp_truncate_loses_the_rest() {
    let log = gen(&["udp-truncate"]);
    assert_eq!(prints(&log, "server"), ["1024 b'xxxxxxxx'"], "{log}");
    assert_eq!(prints(&log, "client"), ["b'hi'"], "{log}");
    assert!(log.contains("recvfrom(1024) → 1,024 of 2,000 bytes; 976 lost: UDP does not keep the rest for the next call"), "{log}");
    let log = gen(&["udp-truncate", "--size", "3000", "--recv", "512"]);
    assert!(log.contains("recvfrom(512) → 512 of 3,000 bytes; 2,488 lost"), "{log}");
    let log = gen(&["udp-truncate", "--recv", "4096"]);
    assert_eq!(prints(&log, "server"), ["2000 b'xxxxxxxx'"], "{log}");
}

/// On loopback the datagram fits the MTU: no fragments, and the narration says so.
#[test]
fn udp_fragments_on_loopback_says_no_fragmentation() {
    let log = gen(&["udp-fragments"]);
    assert!(log.contains("fits in one IP packet, so no fragmentation happens"), "{log}");
    let server = prints(&log, "server");
    assert_eq!(server.len(), 1, "{log}");
    assert!(server[0].starts_with("4000 b'"), "{log}");
}

#[test]
fn list_and_help_show_the_lessons() {
    let list = wireseam(&["gen", "--list"]);
    for name in ["hello-world", "remote-cmd", "udp-truncate", "udp-fragments"] {
        assert!(list.lines().any(|line| line.starts_with(name)), "{name} in\n{list}");
    }
    let help = wireseam(&["gen", "--help"]);
    assert!(help.contains("wireseam gen remote-cmd --header len") && help.contains("--endian"), "{help}");
    let out = Command::new(BIN).args(["gen", "udp-echo", "--header", "len"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("udp-echo takes no --header; remote-cmd does"));
}

// ---------------------------------------------------------------------------------------------
// against the lessons' own programs

fn have_python() -> bool {
    let ok = Command::new("python3").args(["-c", "import socket, struct, json"]).status().is_ok_and(|status| status.success());
    if !ok {
        eprintln!("skipping: python3 is not available");
    }
    ok
}

fn is_root() -> bool {
    let root = nix::unistd::geteuid().is_root();
    if !root {
        eprintln!("skipping: not root (a live capture needs CAP_NET_RAW)");
    }
    root
}

fn lesson(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("lessons").join(name)
}

/// A child whose standard output is read line by line; killed when dropped.
struct Proc {
    child: Child,
    out: BufReader<ChildStdout>,
}

impl Proc {
    fn spawn(cmd: &mut Command) -> Proc {
        let mut child = cmd.stdout(Stdio::piped()).env("PYTHONIOENCODING", "utf-8").env("NO_COLOR", "1").spawn().expect("spawn");
        let out = BufReader::new(child.stdout.take().unwrap());
        Proc { child, out }
    }

    /// Read lines until one contains `what` (wireseam's "listening on", Python's "listening").
    fn wait_for(&mut self, what: &str) {
        let mut line = String::new();
        loop {
            line.clear();
            assert!(self.out.read_line(&mut line).unwrap() > 0, "the program ended before saying {what:?}");
            if line.contains(what) {
                return;
            }
        }
    }

    /// Wait for the end (at most 20 s) and return the rest of standard output.
    fn finish(mut self) -> String {
        let start = Instant::now();
        while self.child.try_wait().unwrap().is_none() {
            assert!(start.elapsed() < Duration::from_secs(20), "a program did not finish");
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut rest = String::new();
        self.out.read_to_string(&mut rest).unwrap();
        rest
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn gen_side(args: &[&str], role: &str, port: u16) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("gen").args(args).args(["--role", role, "--port", &port.to_string()]);
    cmd
}

fn python(program: &str, port: u16) -> Command {
    let mut cmd = Command::new("python3");
    cmd.arg(lesson(program)).env("LESSON_PORT", port.to_string());
    cmd
}

/// Runs a lesson client fed `commands`, a line every 150 ms (a person typing), then end of input.
fn python_client(program: &str, port: u16, commands: &[&str]) -> String {
    let mut client = Proc::spawn(python(program, port).stdin(Stdio::piped()));
    let mut stdin = client.child.stdin.take().unwrap();
    for command in commands {
        stdin.write_all(format!("{command}\n").as_bytes()).unwrap();
        stdin.flush().unwrap();
        std::thread::sleep(Duration::from_millis(150));
    }
    drop(stdin);
    client.finish()
}

/// What a lesson client printed after its `>>>` prompts: reply reprs and header dicts.
fn python_prints(out: &str) -> Vec<String> {
    out.split(">>>")
        .flat_map(str::lines)
        .map(str::trim)
        .filter(|line| line.starts_with('b') || line.starts_with('{'))
        .map(str::to_string)
        .collect()
}

#[test]
fn hello_world_against_the_lesson_programs() {
    if !have_python() {
        return;
    }
    // wireseam's server, the lesson's client
    let port = free_port();
    let mut server = Proc::spawn(&mut gen_side(&["hello-world"], "server", port));
    server.wait_for("listening on");
    python_client("hello_client.py", port, &[]);
    let log = server.finish();
    assert_eq!(prints(&log, "server"), prints(&gen(&["hello-world"]), "server"), "{log}");
    // the lesson's server, wireseam's client: it prints the same two bytes objects, in any cut
    let port = free_port();
    let mut lesson_server = Proc::spawn(&mut python("hello_server.py", port));
    lesson_server.wait_for("listening");
    wireseam(&["gen", "hello-world", "--role", "client", "--port", &port.to_string()]);
    let printed: Vec<(String, Vec<u8>)> = lesson_server.finish().lines().map(labelled).collect();
    assert_eq!(printed.iter().map(|(label, _)| label.as_str()).collect::<Vec<_>>(), ["第一次", "第二次"]);
    assert_eq!(printed.iter().flat_map(|(_, bytes)| bytes.clone()).collect::<Vec<u8>>(), b"helloworld");
}

#[test]
fn remote_cmd_server_against_the_lesson_clients() {
    if !have_python() {
        return;
    }
    let commands = wireseam::gen::remote_commands(4);
    for (header, program) in [("none", "cmd_client.py"), ("len", "cmd_len_client.py"), ("json", "cmd_json_client.py")] {
        let port = free_port();
        let mut server = Proc::spawn(&mut gen_side(&["remote-cmd", "--header", header], "server", port));
        server.wait_for("listening on");
        let printed = python_prints(&python_client(program, port, &commands));
        let log = server.finish();
        let ours = prints(&gen(&["remote-cmd", "--header", header]), "client");
        assert_eq!(printed, ours, "--header {header}: {program} printed what wireseam's client says it prints\n{log}");
    }
}

#[test]
fn udp_truncate_against_the_lesson_programs() {
    if !have_python() {
        return;
    }
    let both = gen(&["udp-truncate"]);
    let port = free_port();
    let mut server = Proc::spawn(&mut gen_side(&["udp-truncate"], "server", port));
    server.wait_for("bound ");
    let client_out = python_client("udp_client.py", port, &[]);
    assert_eq!(vec![client_out.trim().to_string()], prints(&both, "client"));
    assert_eq!(prints(&server.finish(), "server"), prints(&both, "server"));
    let port = free_port();
    let mut lesson_server = Proc::spawn(&mut python("udp_server.py", port));
    lesson_server.wait_for("listening");
    let log = wireseam(&["gen", "udp-truncate", "--role", "client", "--port", &port.to_string()]);
    assert_eq!(prints(&log, "client"), prints(&both, "client"));
    assert_eq!(vec![lesson_server.finish().trim().to_string()], prints(&both, "server"));
}

// ---------------------------------------------------------------------------------------------
// captures (root)

/// `wireseam gen ARGS` on a free port under a capture of that port: the file and the narration.
fn captured_run(args: &[&str], name: &str) -> (TempFile, String) {
    let port = free_port();
    let filter = format!("port {port}");
    let capture = Capture::start(None, "lo", Some(&filter), capture_file(name));
    let mut all = vec!["gen"];
    all.extend_from_slice(args);
    let port = port.to_string();
    all.extend_from_slice(&["--port", &port]);
    let log = wireseam(&all);
    (TempFile(capture.stop()), log)
}

fn stream(file: &Path, args: &[&str]) -> String {
    let mut all = vec!["stream", file.to_str().unwrap(), "--color", "never"];
    all.extend_from_slice(args);
    wireseam(&all)
}

#[test]
fn captured_headers_are_detected_little_endian() {
    if !is_root() {
        return;
    }
    for (header, framing) in [("len", "framing len:4:le"), ("json", "framing jsonhdr:le")] {
        let (file, log) = captured_run(&["remote-cmd", "--header", header], header);
        let text = stream(&file, &[]);
        let s2c = text.split("  s→c  ").nth(1).unwrap_or_else(|| panic!("no s→c in\n{text}"));
        assert!(s2c.starts_with(framing), "--header {header}: {framing} expected:\n{text}\n{log}");
    }
    let (file, _) = captured_run(&["remote-cmd", "--header", "len", "--endian", "big"], "len-be");
    assert!(stream(&file, &[]).contains("framing len:4:be"));
}

#[test]
fn captured_hello_world_replays_the_late_reader() {
    if !is_root() {
        return;
    }
    let (file, log) = captured_run(&["hello-world"], "hello");
    let text = stream(&file, &["--recv", "1024,1024", "--recv-at", "end"]);
    let calls: Vec<&str> = text.lines().map(str::trim).filter(|line| line.starts_with("recv #")).collect();
    // ('|' marks where one sent message ends inside a call's result)
    assert!(calls.first().is_some_and(|call| call.replace('|', "").contains("\"helloworld\"")), "{text}\n{log}");
    assert!(calls.get(1).is_some_and(|call| call.contains("b''")), "{text}\n{log}");
}

/// Two namespaces joined by a veth of MTU 1500: a 4,000-byte datagram leaves a as fragments, and
/// b's server still gets it from one recvfrom(). The namespaces go when the test ends, failed or not.
#[test]
fn udp_fragments_across_a_veth() {
    need_netns!();
    let ns = NsPair::new(66);
    let (addr, port, size) = (ns.addr_b().to_string(), free_port().to_string(), 4000usize);
    let capture = Capture::start(Some(&ns.b), &ns.vb, Some("ip"), capture_file("fragments"));
    let mut server = Proc::spawn(
        Command::new("ip")
            .args(["netns", "exec", &ns.b, BIN, "gen", "udp-fragments"])
            .args(["--role", "server", "--addr", &addr, "--port", &port]),
    );
    server.wait_for("bound ");
    let client = Command::new("ip")
        .args(["netns", "exec", &ns.a, BIN, "gen", "udp-fragments", "--role", "client", "--addr", &addr, "--port", &port])
        .output()
        .unwrap();
    let client_log = unwrapped(&String::from_utf8_lossy(&client.stdout));
    assert!(client.status.success(), "{client_log}{}", String::from_utf8_lossy(&client.stderr));
    let server_log = unwrapped(&server.finish());
    let file = capture.stop();
    // IPv4 over MTU 1500: 1,480 payload bytes per fragment, a multiple of 8 (RFC 791)
    let per = (1500 - 20) / 8 * 8;
    let count = (size + 8).div_ceil(per);
    assert!(client_log.contains(&format!("left as {count} IP fragments")), "{client_log}");
    assert_eq!(prints(&server_log, "server").len(), 1, "one datagram received:\n{server_log}");
    assert!(server_log.contains(&format!("one recvfrom(65536) returned the whole datagram: {}", "4,000")), "{server_log}");
    let text = wireseam(&["read", file.to_str().unwrap(), "-v", "--color", "never"]);
    let fragments: Vec<&str> = text.lines().filter(|line| line.contains("fragment offset")).collect();
    let expect: Vec<String> =
        (0..count).map(|i| format!("fragment offset {}{}", i * per, if i + 1 < count { " more" } else { " last" })).collect();
    let got: Vec<String> = fragments.iter().map(|line| line[line.find("fragment offset").unwrap()..].trim().to_string()).collect();
    // the datagram one way; the answer is small and not fragmented
    assert_eq!(got, expect, "{text}");
}
