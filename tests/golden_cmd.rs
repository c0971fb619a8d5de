//! `wireseam golden`: pinning down network behaviour. From capture files (any user) and live on
//! loopback while wireseam's own generators run (root; skipped otherwise).

mod common;
use common::*;

use std::path::Path;
use std::process::Output;

fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

/// `wireseam golden ARGS`; `WIRESEAM_BLESS` is not passed on (a test blesses with `--bless`).
fn golden(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_wireseam"))
        .args(["golden", "--color", "never"])
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .env("NO_COLOR", "1")
        .env_remove("WIRESEAM_BLESS")
        .output()
        .expect("run wireseam")
}

/// A fresh directory of this test's own.
fn tempdir() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!("wsgolden-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| s.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0")))
        .unwrap_or(false)
}

/// The committed goldens of fixtures, one per level: `wireseam golden --from` must match them.
#[test]
fn fixtures_match_their_goldens() {
    let cases = [
        ("tcp-basic.pcap", "conns"),
        ("rst-abort.pcap", "messages"),
        ("sticky.pcap", "messages"),
        ("udp.pcap", "messages"),
        ("lesson-hello.pcap", "messages"),
        ("tcp-basic.pcap", "packets"),
        ("framed.pcap", "packets --ignore acks,window,coalescing"),
    ];
    let mut failures = Vec::new();
    for (fixture, level) in cases {
        let name = format!("{}.{}.golden", fixture.trim_end_matches(".pcap"), level.split_whitespace().next().unwrap());
        let expect = root().join("tests/golden/golden-cmd").join(&name);
        let f = fixture_path(fixture);
        let mut args = vec!["--expect", expect.to_str().unwrap(), "--from", f.to_str().unwrap(), "--level"];
        args.extend(level.split_whitespace());
        if blessing() {
            args.push("--bless");
        }
        let o = golden(&args);
        let (out, err) = text(&o);
        if o.status.code() != Some(0) {
            failures.push(format!("{name}: exit {:?}\n{out}{err}", o.status.code()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn fixture_path(name: &str) -> std::path::PathBuf {
    fixture(name)
}

#[test]
fn a_change_fails_with_a_diff_that_names_it() {
    let dir = tempdir();
    let expect = dir.join("t.golden");
    let e = expect.to_str().unwrap();
    let basic = fixture_path("tcp-basic.pcap");
    let rst = fixture_path("rst-abort.pcap");
    let o = golden(&["--expect", e, "--from", basic.to_str().unwrap(), "--bless"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    assert!(text(&o).1.contains("wrote"), "{:?}", text(&o));
    assert_eq!(golden(&["--expect", e, "--from", basic.to_str().unwrap()]).status.code(), Some(0));
    let o = golden(&["--expect", e, "--from", rst.to_str().unwrap()]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    assert!(out.contains("-  opened by the client; closed by the client first, then the server"), "{out}");
    assert!(out.contains("+  opened by the client; reset by the client"), "{out}");
    assert!(out.contains("+    msg 1       32 bytes"), "one message more: {out}");
    assert!(err.contains("differs") && err.contains("--bless"), "{err}");
    // The header is what the later run uses: a level given only at bless time sticks.
    let o = golden(&["--expect", e, "--from", basic.to_str().unwrap(), "--bless", "--level", "packets"]);
    assert_eq!(o.status.code(), Some(0));
    let written = std::fs::read_to_string(&expect).unwrap();
    assert!(written.contains("# level packets") && written.contains("segments:"), "{written}");
    assert_eq!(golden(&["--expect", e, "--from", basic.to_str().unwrap()]).status.code(), Some(0));
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempdir();
    let e = dir.join("t.golden");
    let e = e.to_str().unwrap();
    for (args, needle) in [
        (vec!["--expect", e], "give the command to run after --"),
        (vec!["--expect", e, "--from", "x.pcap", "--", "true"], "no COMMAND"),
        (vec!["--expect", e, "--level", "bytes", "--", "true"], "--level"),
        (vec!["--expect", e, "--ignore", "everything", "--", "true"], "--ignore"),
        (vec!["--expect", e, "--time", "round:0", "--", "true"], "--time"),
        (vec!["--expect", e, "tcp port", "--", "true"], "pcap-filter"),
    ] {
        let o = golden(&args);
        let (_, err) = text(&o);
        let shown = args.join(" ");
        assert_eq!(o.status.code(), Some(2), "{shown}: {err}");
        assert!(err.contains(needle), "{shown}: {err}");
    }
    // No golden file yet: a failing test that says how to write one.
    let basic = fixture_path("tcp-basic.pcap");
    let o = golden(&["--expect", e, "--from", basic.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains("--bless"), "{:?}", text(&o));
    // A file that is not a golden file.
    std::fs::write(e, "hello\n").unwrap();
    let o = golden(&["--expect", e, "--from", basic.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("# wireseam golden 1"), "{:?}", text(&o));
}

/// `--check-stable 20` over `gen SCENARIO` on its own port (below Linux's ephemeral range,
/// 32768-60999, so no client socket of a parallel test can hold it): nothing varies at level `messages`
/// (which holds the `conns` facts too), nor at level `packets` with every `--ignore`.
fn stable_over_20_runs(scenario: &str, port: u16) {
    if !is_root() {
        eprintln!("skipped: live golden runs need root");
        return;
    }
    let dir = tempdir();
    let e = dir.join("t.golden");
    let bin = env!("CARGO_BIN_EXE_wireseam");
    let port_s = port.to_string();
    let filter = ["tcp", "port", port_s.as_str()];
    let gen = ["--", bin, "gen", scenario, "-q", "--port", port_s.as_str()];
    let mut args = vec!["--expect", e.to_str().unwrap(), "--check-stable", "20"];
    args.extend(filter);
    args.extend(gen);
    let o = golden(&args);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{scenario}: {out}{err}");
    assert!(out.contains("stable: 20 runs"), "{out}");
    // Every segment, without what the kernel may vary (how data was cut, delayed ACKs, windows,
    // the interleaving of the two directions). A loaded machine can still make the kernel
    // retransmit (a FIN whose ACK came late): the only lines allowed to vary are those.
    let mut args = vec!["--expect", e.to_str().unwrap(), "--check-stable", "20", "--level", "packets"];
    args.extend(["--ignore", "acks,window,timing,coalescing"]);
    args.extend(filter);
    args.extend(gen);
    let o = golden(&args);
    let (out, err) = text(&o);
    match o.status.code() {
        Some(0) => assert!(out.contains("stable: 20 runs gave the same") && out.contains("at level packets"), "{out}"),
        Some(1) => {
            let varying: Vec<&str> =
                out.lines().skip_while(|l| !l.contains("the lines that vary")).skip(1).filter(|l| !l.trim().is_empty()).collect();
            assert!(!varying.is_empty(), "{scenario} packets: {out}{err}");
            assert!(varying.iter().all(|l| l.contains("retransmission")), "{scenario} packets vary beyond retransmissions: {out}");
        }
        code => panic!("{scenario} packets: exit {code:?}: {out}{err}"),
    }
    // Bless, then pass, live.
    let mut bless = vec!["--expect", e.to_str().unwrap(), "--bless"];
    bless.extend(filter);
    bless.extend(gen);
    let o = golden(&bless);
    assert_eq!(o.status.code(), Some(0), "{scenario} --bless: {:?}", text(&o));
    let mut again = vec!["--expect", e.to_str().unwrap()];
    again.extend(filter);
    again.extend(gen);
    let o = golden(&again);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let written = std::fs::read_to_string(&e).unwrap();
    assert!(written.contains(&format!("127.0.0.1:c1 → 127.0.0.1:{port}")), "{written}");
}

#[test]
fn live_handshake_is_stable() {
    stable_over_20_runs("handshake", 29_401);
}

#[test]
fn live_sticky_is_stable() {
    stable_over_20_runs("sticky", 29_402);
}

#[test]
fn live_framed_is_stable() {
    stable_over_20_runs("framed", 29_403);
}

#[test]
fn live_reset_is_stable() {
    stable_over_20_runs("reset", 29_404);
}

/// A live run that does something else than the golden file says fails, naming the change.
#[test]
fn live_change_fails() {
    if !is_root() {
        eprintln!("skipped: live golden runs need root");
        return;
    }
    let dir = tempdir();
    let e = dir.join("t.golden");
    let e = e.to_str().unwrap();
    let bin = env!("CARGO_BIN_EXE_wireseam");
    let run = |scenario: &str, bless: bool| {
        let mut args = vec!["--expect", e, "tcp", "port", "29405"];
        if bless {
            args.push("--bless");
        }
        args.extend(["--", bin, "gen", scenario, "-q", "--port", "29405"]);
        golden(&args)
    };
    assert_eq!(run("handshake", true).status.code(), Some(0));
    let o = run("server-close", false);
    let (out, _) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("+  opened by the client; closed by the server first, then the client"), "{out}");
    assert!(Path::new(e).exists());
}
