//! `wireseam golden --lab`: a small Python echo server (`--server`) and client (COMMAND) in the
//! lab's two namespaces, at levels `conns` and `messages`: stable over runs, a changed client
//! fails with a diff naming the change, bless then pass; every run leaves no namespace and no
//! server process behind, also when the server fails and after Ctrl-C. Skipped with a message
//! unless root with iproute2 and python3.

#[path = "gen_common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_wireseam");

/// Echoes each line back with "echo " before it; writes its pid to argv[1] first.
const SERVER: &str = r#"
import os, socket, sys
open(sys.argv[1], "w").write(str(os.getpid()))
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 9000)); s.listen()
while True:
    c, _ = s.accept()
    with c, c.makefile("rb") as f:
        for line in f:
            c.sendall(b"echo " + line)
"#;

/// Sends each argument as a line to the lab's server, waits for each answer, then closes.
const CLIENT: &str = r#"
import os, socket, sys
c = socket.create_connection((os.environ["WIRESEAM_LAB_SERVER"], 9000))
f = c.makefile("rb")
for msg in sys.argv[1:]:
    c.sendall(msg.encode() + b"\n"); f.readline()
c.shutdown(socket.SHUT_WR); f.read(); f.close(); c.close()
"#;

fn unavailable() -> Option<String> {
    if let Some(why) = common::netns_unavailable() {
        return Some(why);
    }
    if Command::new("python3").arg("-c").arg("pass").status().map_or(true, |s| !s.success()) {
        return Some("python3 is not installed".into());
    }
    None
}

macro_rules! need_lab {
    () => {
        if let Some(why) = unavailable() {
            eprintln!("skipping golden --lab: {why}");
            return;
        }
    };
}

/// A directory with the two scripts.
struct Scripts {
    dir: PathBuf,
}

impl Scripts {
    fn new(name: &str) -> Scripts {
        let dir = common::tmp_file(&format!("golden-lab-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("srv.py"), SERVER).unwrap();
        std::fs::write(dir.join("cli.py"), CLIENT).unwrap();
        Scripts { dir }
    }

    fn golden(&self) -> String {
        self.dir.join("t.golden").display().to_string()
    }

    fn server(&self) -> String {
        format!("python3 {} {}", self.dir.join("srv.py").display(), self.dir.join("srv.pid").display())
    }

    fn client(&self) -> String {
        self.dir.join("cli.py").display().to_string()
    }

    /// The pid the last server wrote.
    fn server_pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.dir.join("srv.pid")).ok()?.trim().parse().ok()
    }
}

impl Drop for Scripts {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn leftovers(pid: u32) -> Vec<String> {
    wireseam::lab::netns::list(&format!("wslab-{pid}-"))
}

/// Whether `pid` still runs a second after it was killed (SIGKILL takes effect asynchronously).
/// A zombie counts as gone: it holds no namespace.
fn alive(pid: i32) -> bool {
    let running = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|s| !s.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'))
    };
    let start = Instant::now();
    while running() {
        if start.elapsed() > Duration::from_secs(1) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// `wireseam golden --color never ARGS`, bounded; asserts that no namespace is left.
fn golden(args: &[String], limit: Duration) -> (Option<i32>, String, String) {
    let child = Command::new(BIN)
        .args(["golden", "--color", "never"])
        .args(args)
        .env_remove("WIRESEAM_BLESS")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting wireseam");
    let pid = child.id();
    let start = Instant::now();
    let out: Output = child.wait_with_output().expect("waiting for wireseam");
    let shown = args.join(" ");
    assert!(start.elapsed() < limit, "wireseam golden {shown} took {:?}", start.elapsed());
    assert_eq!(leftovers(pid), Vec::<String>::new(), "namespaces left behind by wireseam golden {shown}");
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The arguments of one lab run: `--expect`, then `extra`, the server, and the client with `msgs`.
fn lab_args(s: &Scripts, extra: &[&str], msgs: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = vec!["--expect".into(), s.golden(), "--lab".into(), "--server".into(), s.server()];
    args.extend(extra.iter().map(|a| a.to_string()));
    args.extend(["tcp".into(), "port".into(), "9000".into(), "--".into(), "python3".into(), s.client()]);
    args.extend(msgs.iter().map(|m| m.to_string()));
    args
}

/// At `level`: stable over 5 runs, bless, pass, a client that sends one more line fails naming
/// `changed`, and the server is gone after every run.
fn stable_change_bless(level: &str, changed: &str) {
    let s = Scripts::new(level);
    let limit = Duration::from_secs(60);
    let base = ["hello", "world"];
    let (code, out, err) = golden(&lab_args(&s, &["--level", level, "--check-stable", "5"], &base), limit);
    assert_eq!(code, Some(0), "{level}: {out}{err}");
    assert!(out.contains("stable: 5 runs gave the same") && out.contains(&format!("at level {level}")), "{out}");
    let pid = s.server_pid().expect("the server wrote its pid");
    assert!(!alive(pid), "the --server process {pid} outlived the run");

    let (code, out, err) = golden(&lab_args(&s, &["--level", level, "--bless"], &base), limit);
    assert_eq!(code, Some(0), "{out}{err}");
    let written = std::fs::read_to_string(s.golden()).unwrap();
    assert!(written.contains(&format!("# level {level}")), "{written}");
    assert!(written.contains("tcp 1  198.19.0.1:c1 → 198.19.0.2:9000"), "{written}");
    assert!(written.contains("opened by the client; closed by the client first, then the server"), "{written}");
    assert!(written.contains("negotiated: mss 1460/1460"), "the lab's MTU is 1500: {written}");

    let (code, out, err) = golden(&lab_args(&s, &[], &base), limit);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(err.contains("matches"), "{err}");

    let more = ["hello", "world", "again"];
    let (code, out, err) = golden(&lab_args(&s, &[], &more), limit);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(out.contains(changed), "{level}: the diff names the change ({changed:?}):\n{out}");
    assert!(err.contains("differs"), "{err}");

    let (code, _, err) = golden(&lab_args(&s, &["--bless"], &more), limit);
    assert_eq!(code, Some(0), "{err}");
    let (code, out, err) = golden(&lab_args(&s, &[], &more), limit);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(!alive(s.server_pid().unwrap()));
}

#[test]
fn lab_conns_level() {
    need_lab!();
    stable_change_bless("conns", "+  payload: c→s 18 bytes, s→c 33 bytes");
}

#[test]
fn lab_messages_level() {
    need_lab!();
    stable_change_bless("messages", "+    msg 2        6 bytes  \"again\\n\"");
}

/// `--rate` shapes the link as for `gen --lab`; the messages stay the same.
#[test]
fn lab_rate_limit() {
    need_lab!();
    let s = Scripts::new("rate");
    let (code, out, err) = golden(&lab_args(&s, &["--rate", "2mbit", "--bless"], &["x"]), Duration::from_secs(30));
    assert_eq!(code, Some(0), "{out}{err}");
    let (code, out, err) = golden(&lab_args(&s, &["--rate", "2mbit"], &["x"]), Duration::from_secs(30));
    assert_eq!(code, Some(0), "{out}{err}");
    let (code, _, err) = golden(&lab_args(&s, &["--rate", "fast"], &["x"]), Duration::from_secs(30));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--rate fast") && err.contains("illegal value"), "{err}");
}

/// A server that ends before it listens, a command that cannot start: clear errors, nothing left.
#[test]
fn lab_failures_clean_up() {
    need_lab!();
    let s = Scripts::new("fail");
    let limit = Duration::from_secs(30);
    let args: Vec<String> = ["--expect", &s.golden(), "--lab", "--server", "echo no; exit 3", "--", "true"].map(String::from).to_vec();
    let (code, _, err) = golden(&args, limit);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("--server \"echo no; exit 3\" ended (exit status 3) before it listened"), "{err}");
    let args: Vec<String> = ["--expect", &s.golden(), "--lab", "--", "/nonexistent/client"].map(String::from).to_vec();
    let (code, _, err) = golden(&args, limit);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("cannot run /nonexistent/client"), "{err}");
    // a failing client: its status is reported, the golden file is still compared
    let args: Vec<String> = ["--expect", &s.golden(), "--lab", "--bless", "--", "sh", "-c", "exit 4"].map(String::from).to_vec();
    let (code, _, err) = golden(&args, limit);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("the command exited with status 4"), "{err}");
}

/// Ctrl-C while the command runs: exit 130, the server killed, no namespace left.
#[test]
fn lab_interrupt_cleans_up() {
    need_lab!();
    let s = Scripts::new("int");
    let mut child = Command::new(BIN)
        .args(["golden", "--expect", &s.golden(), "--lab", "--server", &s.server(), "--", "sleep", "30"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let start = Instant::now();
    while s.server_pid().is_none() && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    let server = s.server_pid().expect("the server started");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGINT).unwrap();
    let status = child.wait().unwrap();
    assert!(start.elapsed() < Duration::from_secs(15), "took {:?}", start.elapsed());
    assert_eq!(status.code(), Some(130));
    assert_eq!(leftovers(pid), Vec::<String>::new());
    std::thread::sleep(Duration::from_millis(200));
    assert!(!alive(server), "the --server process {server} outlived Ctrl-C");
    assert!(!Path::new(&s.golden()).exists());
}

/// Usage errors need no root.
#[test]
fn lab_usage_errors() {
    for (args, needle) in [
        (vec!["--expect", "t.golden", "--server", "x", "--", "true"], "--lab"),
        (vec!["--expect", "t.golden", "--lab", "--from", "x.pcap"], "cannot be used with"),
        (vec!["--expect", "t.golden", "--lab", "-i", "lo", "--", "true"], "cannot be used with"),
        (vec!["--expect", "t.golden", "--rate", "1mbit", "--", "true"], "--lab"),
    ] {
        let o = Command::new(BIN).arg("golden").args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{}: {err}", args.join(" "));
        assert!(err.contains(needle), "{}: {err}", args.join(" "));
    }
}

/// The Rust API of `record_lab`'s rustdoc, run: a server bound on a server-namespace thread, a
/// client on a client-namespace thread, the recording rendered as `golden` would.
#[test]
fn rust_api_records_in_a_lab() {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use wireseam::golden::{golden_text, record_lab, GoldenOptions};
    need_lab!();
    let lab = wireseam::lab::veth(None, None).expect("lab");
    let opts = GoldenOptions { filter: Some("tcp port 9000".into()), framing: "auto".into(), ..GoldenOptions::default() };
    let listener = lab.server.spawn(|| TcpListener::bind("0.0.0.0:9000")).unwrap().join().unwrap().unwrap();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut buf = [0; 64];
        let n = conn.read(&mut buf).unwrap();
        conn.write_all(&buf[..n]).unwrap();
    });
    let client = || {
        let mut conn = TcpStream::connect((wireseam::lab::SERVER_ADDR, 9000)).unwrap();
        conn.write_all(b"hello\n").unwrap();
        conn.read_to_end(&mut Vec::new()).unwrap();
    };
    let (recording, ()) = record_lab(&lab, &opts, || lab.client.spawn(client).unwrap().join().unwrap()).expect("capture");
    server.join().unwrap();
    let text = golden_text(&recording, &opts);
    assert!(text.contains("tcp 1  198.19.0.1:c1 → 198.19.0.2:9000"), "{text}");
    assert!(text.contains("opened by the client; closed by the server first, then the client"), "{text}");
    assert_eq!(text.matches("\"hello\\n\"").count(), 2, "one message each way: {text}");
    let names = [lab.client.name().to_string(), lab.server.name().to_string()];
    drop(lab);
    let left = wireseam::lab::netns::list("wslab-");
    assert!(names.iter().all(|n| !left.contains(n)), "{left:?}");
}
