//! The application-layer fields checked against tshark, frame by frame: on the `app-*.pcap`
//! fixtures every field must be the same; on the tcpdump corpus's DNS, HTTP and SSH captures,
//! every value wireseam gives must be tshark's (tshark knows more protocols and ports, so it
//! may give values where wireseam gives none). tshark runs with TCP desegmentation off, since
//! wireseam's summary is of one segment. Skipped with a message when tshark is not installed.

mod common;

use std::path::Path;
use std::process::Command;

/// Fields both tools write, with the same names and formats.
const FIELDS: &[&str] = &[
    "http.request.method",
    "http.request.uri",
    "http.response.code",
    "tls.handshake.extensions_server_name",
    "tls.handshake.extensions_alpn_str",
    "dns.id",
    "dns.flags.response",
    "dns.qry.name",
    "dns.qry.type",
    "dns.a",
    "dns.aaaa",
    "dns.cname",
    "ssh.protocol",
];

fn have_tshark() -> bool {
    Command::new("tshark").arg("-v").output().is_ok_and(|o| o.status.success())
}

/// One line per frame: the frame number, then the fields.
fn rows(out: &[u8]) -> Vec<Vec<String>> {
    String::from_utf8_lossy(out).lines().map(|l| l.split('\t').map(str::to_owned).collect()).collect()
}

fn tshark(file: &Path) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.args(["-o", "tcp.desegment_tcp_streams:FALSE", "-n", "-r"]).arg(file).args(["-T", "fields", "-e", "frame.number"]);
    for f in FIELDS {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("run tshark");
    rows(&out.stdout)
}

fn wireseam(file: &Path) -> Vec<Vec<String>> {
    let mut args = vec!["read", "-T", "fields", "-e", "n"];
    for f in FIELDS {
        args.extend(["-e", f]);
    }
    let path = file.to_str().unwrap();
    args.push(path);
    let out = common::wireseam(&args);
    assert!(out.status.success(), "{path}: {}", String::from_utf8_lossy(&out.stderr));
    rows(&out.stdout)
}

#[test]
fn fixtures_match_tshark_field_for_field() {
    if !have_tshark() {
        eprintln!("tshark not installed: skipped");
        return;
    }
    let mut values = 0;
    for name in ["app-http.pcap", "app-tls.pcap", "app-dns.pcap", "app-lines.pcap"] {
        let file = common::fixture(name);
        let (theirs, ours) = (tshark(&file), wireseam(&file));
        assert_eq!(theirs.len(), ours.len(), "{name}: frame count");
        for (t, o) in theirs.iter().zip(&ours) {
            assert_eq!(t, o, "{name}: frame {} ({FIELDS:?})", o[0]);
            values += o[1..].iter().filter(|v| !v.is_empty()).count();
        }
    }
    // the fixtures have something in every field
    assert!(values > 50, "only {values} values compared");
    eprintln!("{values} values equal to tshark's");
}

#[test]
fn corpus_values_are_tsharks() {
    if !have_tshark() {
        eprintln!("tshark not installed: skipped");
        return;
    }
    let Ok(dir) = std::fs::read_dir(common::root().join("../shared/corpora/tcpdump-tests")) else {
        eprintln!("tcpdump corpus not found: skipped");
        return;
    };
    let mut files: Vec<_> = dir
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_lowercase();
            ["dns", "http", "ssh", "tls", "ssl", "smtp"].iter().any(|k| name.contains(k))
        })
        .collect();
    files.sort();
    let (mut compared, mut frames_with_values) = (0, 0);
    for file in &files {
        let (theirs, ours) = (tshark(file), wireseam(file));
        if theirs.len() != ours.len() {
            // a capture tshark reads differently (cut short, ...) is for the corpus test
            continue;
        }
        for (t, o) in theirs.iter().zip(&ours) {
            let mut any = false;
            for (i, value) in o.iter().enumerate().skip(1) {
                if value.is_empty() {
                    continue;
                }
                any = true;
                compared += 1;
                assert_eq!(t.get(i), Some(value), "{}: frame {} field {}", file.display(), o[0], FIELDS[i - 1]);
            }
            frames_with_values += usize::from(any);
        }
    }
    eprintln!("{} corpus files, {frames_with_values} frames, {compared} values equal to tshark's", files.len());
    assert!(compared > 0 || files.is_empty());
}
