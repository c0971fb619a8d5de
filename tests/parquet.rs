//! `--format parquet`: the files read back with the Rust `parquet` reader say what the JSON
//! records of the same run say, for every fixture; capture sets split at test time join back
//! into the whole file's connections; the usage and write errors (docs/parquet.md).
#![cfg(feature = "parquet")]

mod common;
use common::*;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow_array::{Array, ArrayRef, BooleanArray, Int64Array, ListArray, RecordBatch, StringArray, TimestampNanosecondArray};
use arrow_array::{UInt16Array, UInt32Array, UInt64Array, UInt8Array};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;

fn tempdir(tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let d = std::env::temp_dir().join(format!("wireseam-parquet-{}-{tag}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// One cell as JSON: what the comparisons need of the column types the writer uses.
fn cell(array: &ArrayRef, i: usize) -> Value {
    if array.is_null(i) {
        return Value::Null;
    }
    let any = array.as_any();
    macro_rules! num {
        ($($t:ty),*) => {$(
            if let Some(a) = any.downcast_ref::<$t>() {
                return Value::from(a.value(i));
            }
        )*};
    }
    num!(UInt8Array, UInt16Array, UInt32Array, UInt64Array, Int64Array, TimestampNanosecondArray);
    if let Some(a) = any.downcast_ref::<StringArray>() {
        return Value::from(a.value(i));
    }
    if let Some(a) = any.downcast_ref::<BooleanArray>() {
        return Value::from(a.value(i));
    }
    if let Some(a) = any.downcast_ref::<ListArray>() {
        let items = a.value(i);
        return Value::Array((0..items.len()).map(|j| cell(&items, j)).collect());
    }
    panic!("column type {:?} not handled by the test", array.data_type());
}

/// A Parquet file's rows, each as column name -> value.
fn rows(path: &Path) -> Vec<BTreeMap<String, Value>> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let reader = ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap();
    let mut out = Vec::new();
    for batch in reader {
        let batch: RecordBatch = batch.unwrap();
        let schema = batch.schema();
        for i in 0..batch.num_rows() {
            out.push(schema.fields().iter().zip(batch.columns()).map(|(f, c)| (f.name().clone(), cell(c, i))).collect());
        }
    }
    out
}

/// JSON-lines records of one run, by type.
fn json_records(args: &[&str]) -> (Option<i32>, BTreeMap<String, Vec<Value>>) {
    let o = wireseam(args);
    let mut by_type: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for line in String::from_utf8(o.stdout).unwrap().lines() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{args:?}: {e}: {line}"));
        by_type.entry(v["type"].as_str().unwrap().to_string()).or_default().push(v);
    }
    (o.status.code(), by_type)
}

/// A JSON key as the column holds it: absent is null.
fn at(v: &Value, pointer: &str) -> Value {
    v.pointer(pointer).cloned().unwrap_or(Value::Null)
}

/// JSON seconds (6 or 9 decimals) as nanoseconds, null stays null (an f64 holds the 15 or 16
/// digits of a capture's seconds exactly enough to round to the nanosecond).
fn ns(v: &Value) -> Value {
    match v.as_f64() {
        None => Value::Null,
        Some(secs) => Value::from((secs * 1e9).round() as i64),
    }
}

/// A timestamp column in the JSON record's text (6 digits, or 9 when `like` has 9).
fn rfc3339(v: &Value, like: &Value) -> Value {
    let Some(t) = v.as_i64() else { return Value::Null };
    let nanos = like.as_str().is_some_and(|l| l.len() == "2026-01-01T00:00:00.000000000Z".len());
    let mut text = Vec::new();
    wireseam::output::time::write_rfc3339(&mut text, t, nanos).unwrap();
    Value::from(String::from_utf8(text).unwrap())
}

fn check(what: &str, failures: &mut Vec<String>, column: &str, parquet: &Value, json: &Value) {
    if parquet != json {
        failures.push(format!("{what}: {column}: parquet {parquet} vs json {json}"));
    }
}

/// Packet rows against the packet records, key by key.
fn compare_packets(what: &str, pq: &[BTreeMap<String, Value>], js: &[Value], failures: &mut Vec<String>) {
    if pq.len() != js.len() {
        failures.push(format!("{what}: {} packet rows vs {} packet records", pq.len(), js.len()));
        return;
    }
    for (row, rec) in pq.iter().zip(js) {
        let n = &rec["n"];
        let w = format!("{what} packet {n}");
        let tcp = rec.get("tcp").is_some();
        let pairs: Vec<(&str, Value)> = vec![
            ("n", n.clone()),
            ("t_ns", ns(&at(rec, "/t"))),
            ("len", at(rec, "/len")),
            ("caplen", at(rec, "/caplen")),
            ("eth_src", at(rec, "/eth/src")),
            ("eth_dst", at(rec, "/eth/dst")),
            ("vlan", at(rec, "/eth/vlan")),
            ("ip_version", at(rec, "/ip/version")),
            ("ip_src", at(rec, "/ip/src")),
            ("ip_dst", at(rec, "/ip/dst")),
            ("ip_ttl", at(rec, "/ip/ttl")),
            ("ip_proto", at(rec, "/ip/proto")),
            ("ip_id", at(rec, "/ip/id")),
            ("sport", if tcp { at(rec, "/tcp/sport") } else { at(rec, "/udp/sport") }),
            ("dport", if tcp { at(rec, "/tcp/dport") } else { at(rec, "/udp/dport") }),
            ("udp_len", at(rec, "/udp/len")),
            ("icmp_type", at(rec, "/icmp/type")),
            ("icmp_code", at(rec, "/icmp/code")),
            ("tcp_flags", at(rec, "/tcp/flags")),
            ("tcp_seq", at(rec, "/tcp/seq")),
            ("tcp_ack", at(rec, "/tcp/ack")),
            ("tcp_rseq", at(rec, "/tcp/rseq")),
            ("tcp_rack", at(rec, "/tcp/rack")),
            ("tcp_len", at(rec, "/tcp/len")),
            ("tcp_win", at(rec, "/tcp/win")),
            ("tcp_win_scaled", at(rec, "/tcp/win_scaled")),
            ("tcp_mss", at(rec, "/tcp/mss")),
            ("tcp_ws", at(rec, "/tcp/ws")),
            ("phase", at(rec, "/tcp/phase")),
            ("state_client", at(rec, "/tcp/state/client")),
            ("state_server", at(rec, "/tcp/state/server")),
            ("analysis", at(rec, "/tcp/analysis")),
            ("bytes_in_flight", at(rec, "/tcp/bytes_in_flight")),
            ("warnings", at(rec, "/warnings")),
            ("app_proto", at(rec, "/app/proto")),
            ("app_info", at(rec, "/app/info")),
        ];
        for (column, json) in pairs {
            check(&w, failures, column, &row[column], &json);
        }
        check(&w, failures, "ts", &rfc3339(&row["ts"], &rec["ts"]), &rec["ts"]);
        // the IP's family and its number column agree
        let v4 = rec.pointer("/ip/version") == Some(&Value::from(4));
        check(&w, failures, "ip_src_v4 present", &Value::from(!row["ip_src_v4"].is_null()), &Value::from(v4));
        if tcp {
            check(&w, failures, "conn", &row["conn"], &at(rec, "/tcp/conn"));
            check(&w, failures, "dir", &row["dir"], &at(rec, "/tcp/dir"));
        }
        if ["eth", "sll", "link"].iter().all(|k| rec.get(k).is_none()) {
            check(&w, failures, "eth_src (no Ethernet header)", &row["eth_src"], &Value::Null);
        }
    }
}

/// Message rows against the message records, matched by protocol, conn, dir and index.
fn compare_messages(what: &str, pq: &[BTreeMap<String, Value>], js: &[Value], failures: &mut Vec<String>) {
    let key_pq = |r: &BTreeMap<String, Value>| (r["proto"].to_string(), r["conn"].as_u64(), r["dir"].to_string(), r["index"].as_u64());
    let key_js = |r: &Value| {
        (Value::from(r["proto"].as_str().unwrap_or("tcp")).to_string(), r["conn"].as_u64(), r["dir"].to_string(), r["index"].as_u64())
    };
    let pq: BTreeMap<_, _> = pq.iter().map(|r| (key_pq(r), r)).collect();
    let js: BTreeMap<_, _> = js.iter().map(|r| (key_js(r), r)).collect();
    if pq.len() != js.len() || !pq.keys().eq(js.keys()) {
        failures.push(format!("{what}: message keys differ: {} rows vs {} records", pq.len(), js.len()));
        return;
    }
    for (key, row) in pq {
        let rec = js[&key];
        let w = format!("{what} message {key:?}");
        let nframes = match rec.get("nframes") {
            Some(n) => n.clone(),
            None => Value::from(rec["frames"].as_array().unwrap().len()),
        };
        for (column, json) in [
            ("offset", at(rec, "/offset")),
            ("len", at(rec, "/len")),
            ("framing", at(rec, "/framing")),
            ("frames", at(rec, "/frames")),
            ("nframes", nframes),
            ("sticky", at(rec, "/sticky")),
            ("split", at(rec, "/split")),
            ("complete", at(rec, "/complete")),
            ("next_gap_ns", ns(&at(rec, "/next_gap"))),
        ] {
            check(&w, failures, column, &row[column], &json);
        }
    }
}

/// Conn rows against the conn records, matched by protocol and conn.
fn compare_conns(what: &str, pq: &[BTreeMap<String, Value>], js: &[Value], failures: &mut Vec<String>) {
    let pq: BTreeMap<_, _> = pq.iter().map(|r| ((r["proto"].to_string(), r["conn"].as_u64()), r)).collect();
    let js: BTreeMap<_, _> =
        js.iter().map(|r| ((Value::from(r["proto"].as_str().unwrap_or("tcp")).to_string(), r["conn"].as_u64()), r)).collect();
    if pq.len() != js.len() || !pq.keys().eq(js.keys()) {
        failures.push(format!("{what}: conn keys differ: {} rows vs {} records", pq.len(), js.len()));
        return;
    }
    for (key, row) in pq {
        let rec = js[&key];
        let w = format!("{what} conn {key:?}");
        for (column, json) in [
            ("client", at(rec, "/client")),
            ("server", at(rec, "/server")),
            ("conn_state", at(rec, "/conn_state")),
            ("history", at(rec, "/history")),
            ("client_state", at(rec, "/client_state")),
            ("server_state", at(rec, "/server_state")),
            ("mss_client", at(rec, "/mss/client")),
            ("mss_server", at(rec, "/mss/server")),
            ("ws_client", at(rec, "/ws/client")),
            ("ws_server", at(rec, "/ws/server")),
            ("irtt_ns", ns(&at(rec, "/irtt"))),
            ("packets_c2s", at(rec, "/packets/c2s")),
            ("packets_s2c", at(rec, "/packets/s2c")),
            ("bytes_c2s", at(rec, "/bytes/c2s")),
            ("bytes_s2c", at(rec, "/bytes/s2c")),
            ("missed_bytes_c2s", at(rec, "/missed_bytes/c2s")),
            ("missed_bytes_s2c", at(rec, "/missed_bytes/s2c")),
            ("retransmissions", at(rec, "/retransmissions")),
            ("dup_acks", at(rec, "/dup_acks")),
            ("zero_windows", at(rec, "/zero_windows")),
            ("sack_perm", at(rec, "/sack_perm")),
            ("timestamps", at(rec, "/timestamps")),
            ("first_frame", at(rec, "/first_frame")),
            ("last_frame", at(rec, "/last_frame")),
            ("tunnel", at(rec, "/tunnel")),
            ("messages_c2s", at(rec, "/messages/c2s")),
            ("messages_s2c", at(rec, "/messages/s2c")),
            ("framing_c2s", at(rec, "/framing/c2s")),
            ("framing_s2c", at(rec, "/framing/s2c")),
            ("sticky_c2s", at(rec, "/sticky/c2s")),
            ("sticky_s2c", at(rec, "/sticky/s2c")),
            ("split_c2s", at(rec, "/split/c2s")),
            ("split_s2c", at(rec, "/split/s2c")),
            ("gaps_c2s", at(rec, "/gaps/c2s")),
            ("gaps_s2c", at(rec, "/gaps/s2c")),
        ] {
            check(&w, failures, column, &row[column], &json);
        }
        check(&w, failures, "icmp_errors", &row["icmp_errors"], &Value::from(rec.get("icmp_errors").and_then(Value::as_u64).unwrap_or(0)));
        check(&w, failures, "start", &rfc3339(&row["start"], &rec["start"]), &rec["start"]);
        // JSON's duration has 6 decimals, the column nanoseconds: equal to the microsecond
        let dur_ns = row["duration_ns"].as_i64().unwrap();
        let json_ns = ns(&rec["duration"]).as_i64().unwrap();
        if (dur_ns - json_ns).abs() >= 1_000 {
            failures.push(format!("{w}: duration_ns {dur_ns} vs json duration {}", rec["duration"]));
        }
        let end = row["end"].as_i64().unwrap() - row["start"].as_i64().unwrap();
        check(&w, failures, "end - start", &Value::from(end), &Value::from(dur_ns));
    }
}

#[test]
fn every_fixture_round_trips_against_the_json_records() {
    let mut failures = Vec::new();
    let fixtures = fixtures();
    assert!(fixtures.len() > 40, "the fixtures are there");
    for f in &fixtures {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let dir = tempdir("read");
        let (json_code, json) = json_records(&["read", s(f), "-F", "json"]);
        let o = wireseam(&["read", s(f), "-F", "parquet", "-o", s(&dir)]);
        assert_eq!(o.status.code(), json_code, "{name}: exit code as with -F json; {}", String::from_utf8_lossy(&o.stderr));
        assert!(o.stdout.is_empty(), "{name}: nothing on stdout");
        let none = Vec::new();
        let records = |t: &str| json.get(t).unwrap_or(&none);
        compare_packets(&name, &rows(&dir.join("packets.parquet")), records("packet"), &mut failures);
        compare_messages(&name, &rows(&dir.join("messages.parquet")), records("message"), &mut failures);
        compare_conns(&name, &rows(&dir.join("conns.parquet")), records("conn"), &mut failures);

        // stream writes the same messages and conns, and no packets
        let sdir = tempdir("stream");
        let o = wireseam(&["stream", s(f), "-F", "parquet", "-o", s(&sdir)]);
        assert_eq!(o.status.code(), json_code, "{name}: stream; {}", String::from_utf8_lossy(&o.stderr));
        assert!(!sdir.join("packets.parquet").exists(), "{name}: stream writes no packets table");
        compare_messages(&format!("{name} (stream)"), &rows(&sdir.join("messages.parquet")), records("message"), &mut failures);
        compare_conns(&format!("{name} (stream)"), &rows(&sdir.join("conns.parquet")), records("conn"), &mut failures);

        // conns on one file: the rows of `conns -F json`, untagged
        let cdir = tempdir("conns");
        let (conns_code, conns_json) = json_records(&["conns", s(f), "-F", "json"]);
        let o = wireseam(&["conns", s(f), "-F", "parquet", "-o", s(&cdir)]);
        assert_eq!(o.status.code(), conns_code, "{name}: conns; {}", String::from_utf8_lossy(&o.stderr));
        let crows = rows(&cdir.join("conns.parquet"));
        compare_conns(&format!("{name} (conns)"), &crows, conns_json.get("conn").unwrap_or(&none), &mut failures);
        for r in &crows {
            assert_eq!((&r["pieces"], &r["file_last"]), (&Value::from(1), &r["file"]), "{name}: one piece, one file");
        }
        for d in [dir, sdir, cdir] {
            let _ = std::fs::remove_dir_all(d);
        }
    }
    assert!(failures.is_empty(), "{} differences, the first 40:\n{}", failures.len(), failures[..failures.len().min(40)].join("\n"));
}

#[test]
fn one_hour_partition_keeps_every_row() {
    let f = fixture("many.pcap");
    let (_, json) = json_records(&["read", s(&f), "-F", "json"]);
    let dir = tempdir("hour");
    let o = wireseam(&["read", s(&f), "-F", "parquet", "-o", s(&dir), "--partition", "hour"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let hours: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(hours, ["hour=2026-11-22T05"], "one hour directory");
    let mut failures = Vec::new();
    let part = dir.join("hour=2026-11-22T05");
    compare_packets("many (hour)", &rows(&part.join("packets.parquet")), &json["packet"], &mut failures);
    compare_conns("many (hour)", &rows(&part.join("conns.parquet")), &json["conn"], &mut failures);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn hour_partitions_split_at_the_hour() {
    // two frames of tcp-basic rewritten an hour apart
    let src = fixture("tcp-basic.pcap");
    let dir = tempdir("hours");
    let shifted = dir.join("two-hours.pcap");
    {
        let mut cap = pcap::Capture::from_file(&src).unwrap();
        let mut out = pcap::Capture::dead(cap.get_datalink()).unwrap().savefile(&shifted).unwrap();
        let mut i = 0;
        while let Ok(p) = cap.next_packet() {
            let mut header = *p.header;
            if i >= 5 {
                header.ts.tv_sec += 3600;
            }
            out.write(&pcap::Packet::new(&header, p.data));
            i += 1;
        }
        out.flush().unwrap();
    }
    let out = dir.join("out");
    let o = wireseam(&["read", s(&shifted), "-F", "parquet", "-o", s(&out), "--partition", "hour"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let mut hours: Vec<_> = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    hours.sort();
    assert_eq!(hours, ["hour=2026-11-22T05", "hour=2026-11-22T06"]);
    let n = |h: &str| rows(&out.join(h).join("packets.parquet")).len();
    assert_eq!((n(&hours[0]), n(&hours[1])), (5, 5));
    // the connection and its messages go to the hour of their start
    assert_eq!(rows(&out.join(&hours[0]).join("conns.parquet")).len(), 1);
    assert!(!out.join(&hours[1]).join("conns.parquet").exists(), "no empty partition files");
    let _ = std::fs::remove_dir_all(dir);
}

/// `src` cut into files of at most `per_file` frames, as `tcpdump -C`/`editcap -c` would
/// (written with libpcap's savefile writer: no tool needed).
fn split_capture(src: &Path, dir: &Path, per_file: usize) -> Vec<PathBuf> {
    let mut cap = pcap::Capture::from_file(src).unwrap();
    let linktype = cap.get_datalink();
    let mut files = Vec::new();
    let mut out = None;
    let mut n = 0;
    while let Ok(p) = cap.next_packet() {
        if n % per_file == 0 {
            let path = dir.join(format!("part{:03}.pcap", files.len()));
            out = Some(pcap::Capture::dead(linktype).unwrap().savefile(&path).unwrap());
            files.push(path);
        }
        out.as_mut().unwrap().write(&p);
        n += 1;
    }
    drop(out);
    files
}

#[test]
fn rotated_files_join_into_the_whole_files_connections() {
    for (fixture_name, per_file) in [("many.pcap", 50), ("many.pcap", 7), ("lossy-stream.pcap", 40), ("keepalive.pcap", 3)] {
        let src = fixture(fixture_name);
        let dir = tempdir("split");
        let parts = split_capture(&src, &dir, per_file);
        assert!(parts.len() > 1, "{fixture_name}: split into {} files", parts.len());
        let (_, whole) = json_records(&["conns", s(&src), "-F", "json"]);
        let whole = &whole["conn"];
        let mut by_jobs = Vec::new();
        for jobs in ["1", "2"] {
            let out = dir.join(format!("jobs{jobs}"));
            // given in reverse order: the set is ordered by time, not by the command line
            let mut args = vec!["conns", "-F", "parquet", "-o", s(&out), "--jobs", jobs];
            args.extend(parts.iter().rev().map(|p| s(p)));
            let o = wireseam(&args);
            assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
            by_jobs.push(rows(&out.join("conns.parquet")));
        }
        assert_eq!(by_jobs[0], by_jobs[1], "{fixture_name}: --jobs 1 and --jobs 2 write the same rows");
        let joined = &by_jobs[0];
        let what = format!("{fixture_name} cut every {per_file} frames");
        assert_eq!(joined.len(), whole.len(), "{what}: one row per connection of the whole file");
        let mut continued = 0;
        // both in order of first packet: the whole file's conn ids, the set's (file, start)
        for (row, rec) in joined.iter().zip(whole) {
            let w = format!("{what}: conn {}", rec["conn"]);
            assert_eq!(row["client"], rec["client"], "{w}");
            assert_eq!(row["server"], rec["server"], "{w}");
            assert_eq!(rfc3339(&row["start"], &rec["start"]), rec["start"], "{w}");
            for (column, pointer) in [
                ("packets_c2s", "/packets/c2s"),
                ("packets_s2c", "/packets/s2c"),
                ("bytes_c2s", "/bytes/c2s"),
                ("bytes_s2c", "/bytes/s2c"),
                ("conn_state", "/conn_state"),
                ("irtt_ns", "/irtt"),
                ("mss_client", "/mss/client"),
                ("mss_server", "/mss/server"),
                ("ws_server", "/ws/server"),
            ] {
                let json = if column == "irtt_ns" { ns(&at(rec, pointer)) } else { at(rec, pointer) };
                if column == "irtt_ns" && row[column].is_null() && row["pieces"] != 1 {
                    // a file boundary cut the handshake before its last ACK: no iRTT is known
                    continue;
                }
                assert_eq!(row[column], json, "{w}: {column}");
            }
            let pieces = row["pieces"].as_u64().unwrap();
            if pieces > 1 {
                continued += 1;
                assert_ne!(row["file"], row["file_last"], "{w}");
                // the history letters in Zeek's order may differ where a file boundary cut;
                // the set of letters may not, but for a content gap: a later piece picked up
                // mid-stream can see a hole that a retransmission in the earlier file filled
                // (docs/parquet.md says so)
                let letters = |h: &Value| {
                    let mut v: Vec<char> = h.as_str().unwrap().chars().filter(|c| !matches!(c, 'G' | 'g')).collect();
                    v.sort();
                    v.dedup();
                    v
                };
                assert_eq!(letters(&row["history"]), letters(&rec["history"]), "{w}: history {} vs {}", row["history"], rec["history"]);
            } else {
                assert_eq!(row["history"], rec["history"], "{w}");
            }
            for side in ["client_state", "server_state"] {
                assert!(row[side] == rec[side] || (pieces > 1 && row[side] == "UNKNOWN"), "{w}: {side} {} vs {}", row[side], rec[side]);
            }
            let end = row["end"].as_i64().unwrap() - row["start"].as_i64().unwrap();
            assert!((end - ns(&rec["duration"]).as_i64().unwrap()).abs() < 1_000, "{w}: duration");
        }
        assert!(continued > 0, "{what}: some connection crossed a file boundary");
        let _ = std::fs::remove_dir_all(dir);
    }
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn assert_error(o: &std::process::Output, code: i32, needles: &[&str]) {
    let e = stderr(o);
    assert_eq!(o.status.code(), Some(code), "exit code; stderr: {e}");
    for n in needles {
        assert!(e.contains(n), "stderr should mention {n:?}: {e}");
    }
    assert!(!e.contains("panicked"), "{e}");
    assert_eq!(e.trim_end().lines().count(), 1, "one line: {e}");
}

#[test]
fn usage_errors_and_unwritable_directories() {
    let f = fixture("tcp-basic.pcap");
    assert_error(&wireseam(&["read", s(&f), "-F", "parquet"]), 2, &["-o DIR"]);
    assert_error(&wireseam(&["stream", s(&f), "-F", "parquet"]), 2, &["-o DIR"]);
    assert_error(&wireseam(&["conns", s(&f), "-F", "parquet"]), 2, &["-o DIR"]);
    assert_error(&wireseam(&["read", s(&f), "-o", "x"]), 2, &["-o x", "--format parquet"]);
    assert_error(&wireseam(&["read", s(&f), "--partition", "hour"]), 2, &["--partition"]);
    assert_error(&wireseam(&["conns", s(&f), s(&f)]), 2, &["--format parquet -o DIR", "--merge"]);
    assert_error(
        &wireseam(&["conns", s(&f), "/nonexistent/b.pcap", "-F", "parquet", "-o", "x"]),
        2,
        &["/nonexistent/b.pcap", "no such capture file"],
    );
    assert_error(&wireseam(&["conns", s(&f), "-F", "parquet", "-o", "x", "--jobs", "0"]), 2, &["--jobs 0"]);
    assert_error(&wireseam(&["stream", s(&f), "-F", "parquet", "-o", "x", "--follow"]), 2, &["--follow"]);

    let dir = tempdir("errors");
    let file = dir.join("a-file");
    std::fs::write(&file, b"x").unwrap();
    assert_error(&wireseam(&["read", s(&f), "-F", "parquet", "-o", s(&file)]), 1, &[s(&file), "not a directory"]);
    let under = file.join("sub");
    assert_error(&wireseam(&["read", s(&f), "-F", "parquet", "-o", s(&under)]), 1, &[s(&under), "cannot create"]);
    // a directory without write permission (root writes there anyway: then that case is skipped)
    let ro = dir.join("read-only");
    std::fs::create_dir(&ro).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    if std::fs::write(ro.join("probe"), b"").is_ok() {
        eprintln!("skipped the read-only directory case: this user (root) writes into a mode 0555 directory");
    } else {
        assert_error(&wireseam(&["conns", s(&f), "-F", "parquet", "-o", s(&ro)]), 1, &[s(&ro), "cannot write there"]);
    }
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn merged_files_name_each_packets_file() {
    let (a, b) = (fixture("tcp-basic.pcap"), fixture("udp.pcap"));
    let (_, json) = json_records(&["read", s(&a), "--merge", s(&b), "-F", "json"]);
    let dir = tempdir("merge");
    let o = wireseam(&["read", s(&a), "--merge", s(&b), "-F", "parquet", "-o", s(&dir)]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let packets = rows(&dir.join("packets.parquet"));
    let mut failures = Vec::new();
    compare_packets("merge", &packets, &json["packet"], &mut failures);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let files: Vec<&Value> = packets.iter().map(|r| &r["file"]).collect();
    let json_files: Vec<&Value> = json["packet"].iter().map(|r| &r["file"]).collect();
    assert_eq!(files, json_files);
    // messages and conns of a merged run belong to no one file
    assert!(rows(&dir.join("conns.parquet")).iter().all(|r| r["file"].is_null()));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn frames_without_a_timestamp_go_to_the_null_hour() {
    // pcapng Simple Packet Blocks carry no timestamp
    let f = fixture("simple-packets.pcapng");
    let dir = tempdir("nullhour");
    let o = wireseam(&["read", s(&f), "-F", "parquet", "-o", s(&dir), "--partition", "hour"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let null_hour = rows(&dir.join("hour=__HIVE_DEFAULT_PARTITION__").join("packets.parquet"));
    assert!(!null_hour.is_empty() && null_hour.iter().all(|r| r["ts"].is_null() && r["t_ns"].is_null()));
    let (_, json) = json_records(&["read", s(&f), "-F", "json"]);
    let unstamped = json["packet"].iter().filter(|p| p["ts"].is_null()).count();
    assert_eq!(null_hour.len(), unstamped);
    let _ = std::fs::remove_dir_all(dir);
}
