//! `wireseam report`: golden pages, bounded size, hostile bytes kept inert, and the page in a
//! real headless browser (Debian's `chromium`; `make test` installs it and sets
//! `WIRESEAM_REQUIRE_BROWSER=1`, elsewhere the browser tests skip with a message when it is
//! missing).
//!
//! The browser is driven without the DevTools protocol: `chromium --headless --dump-dom` of the
//! page opened with `#selftest`, where the page's own script counts what it drew against the
//! records (the `expect` data block), clicks, zooms and sorts, lists the resources the page
//! loaded (`performance`), and writes the result into the DOM; chromium's log gives every
//! console message (`:CONSOLE`), CSP violations included. `--screenshot` gives the picture.
//! That is two plain processes per page: nothing to keep in sync with the browser's protocol
//! version, no crate that downloads a browser.

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `wireseam report ARGS` run from the crate root (so the page's title is the relative path).
fn run_report(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wireseam"))
        .arg("report")
        .args(args)
        .current_dir(root())
        .env("RUST_BACKTRACE", "0")
        .env("NO_COLOR", "1")
        .output()
        .expect("run wireseam")
}

fn page(args: &[&str]) -> String {
    let mut a = args.to_vec();
    a.extend(["-o", "-"]);
    let out = run_report(&a);
    assert!(out.status.code() == Some(0), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("the page is UTF-8")
}

/// (golden name, arguments; the fixture first)
const GOLDEN: &[(&str, &[&str])] = &[
    ("report-sticky.html", &["fixtures/sticky.pcap", "--recv", "1024", "--recv-at", "end"]),
    ("report-tcp-basic.html", &["fixtures/tcp-basic.pcap"]),
    ("report-refused.html", &["fixtures/refused.pcap"]),
    ("report-udp.html", &["fixtures/udp.pcap"]),
    // the lesson's server calls recvfrom(1024) and printed 1,024 bytes (fixtures/lesson-udp.server.txt)
    ("report-lesson-udp.html", &["fixtures/lesson-udp.pcap", "--recv", "1024"]),
    ("report-gen-udp-truncate.html", &["fixtures/gen-udp-truncate.pcap", "--recv", "1024"]),
];

#[test]
fn golden_reports() {
    let mut failures = Vec::new();
    for (name, args) in GOLDEN {
        // one element per line, so that a change reads as a diff
        let html = page(args).replace("><", ">\n<");
        if let Some(m) = check_golden(&root().join("tests/golden").join(name), html.as_bytes()) {
            failures.push(m);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Elements the page may contain: anything else came from the capture.
const TAGS: &[&str] = &[
    "!DOCTYPE", "html", "head", "meta", "title", "style", "body", "svg", "defs", "marker", "path", "header", "h1", "h2", "h3", "span",
    "nav", "a", "label", "select", "option", "main", "section", "p", "ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td",
    "button", "code", "details", "summary", "div", "figure", "rect", "line", "text", "g", "circle", "polyline", "aside", "pre", "script",
    "b",
];

/// The markup invariants that keep bytes from the wire inert: only the page's own elements and
/// two script elements (the JSON data block and the page's script), no event-handler
/// attributes, links only within the page, no raw U+2028/U+2029 in the script data.
fn assert_inert(html: &str) {
    assert_eq!(html.matches("<script").count(), 2, "exactly the data block and the page's script");
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let end = rest.find('>').expect("every tag closes");
        let tag = &rest[..end];
        let name: String = tag.trim_start_matches('/').chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '!').collect();
        // inside <style> and <script> the text is the page's own
        assert!(TAGS.contains(&name.as_str()), "unexpected element <{tag}>");
        for attr in tag.split_whitespace().skip(1) {
            let key = attr.split('=').next().unwrap_or("").to_ascii_lowercase();
            assert!(!key.starts_with("on"), "event handler attribute in <{tag}>");
            if key == "href" {
                assert!(attr.starts_with("href=\"#"), "a link out of the page: <{tag}>");
            }
        }
        rest = &rest[end..];
        if !tag.starts_with('/') && (name == "style" || name == "script") {
            let close = rest.find(&format!("</{name}>")).expect("closed");
            let body = &rest[..close];
            assert!(!body.contains('\u{2028}') && !body.contains('\u{2029}'));
            rest = &rest[close..];
        }
    }
}

#[test]
fn every_fixture_gives_a_bounded_inert_page() {
    for f in fixtures() {
        let rel = f.strip_prefix(root()).unwrap().to_str().unwrap().to_string();
        let out = run_report(&[&rel, "-o", "-"]);
        assert!(matches!(out.status.code(), Some(0 | 1)), "{rel}: {}", String::from_utf8_lossy(&out.stderr));
        let html = String::from_utf8(out.stdout).expect("UTF-8");
        assert!(html.len() < 1_500_000, "{rel}: {} bytes", html.len());
        assert!(html.starts_with("<!DOCTYPE html>") && html.ends_with("</html>"), "{rel}");
        assert_inert(&html);
    }
}

/// One connection: a handshake, then `n` data segments of `size` bytes each way in turn, every
/// `retrans_every`-th sent twice.
fn bulk_capture(n: u32, size: usize, retrans_every: u32) -> Vec<u8> {
    let (a, b) = ([198, 18, 0, 1], [198, 18, 0, 2]);
    let mut frames = vec![
        (0u64, tcp(a, 40000, b, 9000, 100, None, true, &[])),
        (10, tcp(b, 9000, a, 40000, 500, Some(101), true, &[])),
        (20, tcp(a, 40000, b, 9000, 101, Some(501), false, &[])),
    ];
    let payload = vec![b'x'; size];
    let mut t = 100u64;
    for i in 0..n {
        let seq = 101 + i * size as u32;
        frames.push((t, tcp(a, 40000, b, 9000, seq, Some(501), false, &payload)));
        if retrans_every > 0 && i % retrans_every == retrans_every - 1 {
            t += 5;
            frames.push((t, tcp(a, 40000, b, 9000, seq, Some(501), false, &payload)));
        }
        t += 5;
        frames.push((t, tcp(b, 9000, a, 40000, 501, Some(seq + size as u32), false, &[])));
        t += 10;
    }
    pcap(frames.into_iter())
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wireseam-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// A connection of 60,000 data segments: the page stays within a few megabytes, the ladder and
/// the graph are bounded, and every retransmission is still drawn and marked.
#[test]
fn big_connection_page_is_bounded_and_keeps_marks() {
    let path = temp("bulk.pcap");
    std::fs::write(&path, bulk_capture(60_000, 100, 1000)).unwrap();
    let html = page(&[path.to_str().unwrap()]);
    assert!(html.len() < 1_500_000, "{} bytes", html.len());
    let bars = html.matches("bar c2s m-retrans").count();
    assert_eq!(bars, 60, "every retransmission in the time-sequence graph");
    assert!(html.contains("uneventful segments were thinned out while reading"));
    assert!(html.contains("segments not drawn"));
    assert_inert(&html);
}

#[test]
fn top_n_connections_in_full_the_rest_listed() {
    let html = page(&["fixtures/many.pcap", "--top", "2"]);
    assert_eq!(html.matches("<section class=\"conn\"").count(), 2);
    let rows = html.matches("<tr class=\"st-").count();
    assert!(rows > 2, "all connections listed: {rows}");
    let one = page(&["fixtures/many.pcap", "--conn", "3"]);
    assert_eq!(one.matches("<section class=\"conn\"").count(), 1);
    assert!(one.contains("id=\"conn-3\""));
}

/// What hostile captures carry: markup, script, a javascript: URL, line separators, invalid
/// UTF-8 and control bytes.
const HOSTILE: &[&[u8]] = &[
    b"</script><script>document.documentElement.setAttribute('data-pwned','script')</script>",
    b"<svg onload=\"document.documentElement.setAttribute('data-pwned','svg')\">",
    b"<img src=x onerror=\"document.documentElement.setAttribute('data-pwned','img')\">",
    b"<a href=\"javascript:document.documentElement.setAttribute('data-pwned','href')\">x</a>",
    "\u{2028}\u{2029}</title><title>".as_bytes(),
    b"\xff\xfe\xc3\x28 invalid utf-8 \x00\x1b[31m",
    b"]]><!-- --!><![CDATA[ &amp; &#x3c;script&#x3e;",
    b"\"'><style>body{display:none}</style>",
    b"GET /<script>alert(1)</script> HTTP/1.1\r\nHost: <b>x</b>\r\n\r\n",
];

/// A TCP connection carrying `payloads` each way, and a UDP datagram of each.
fn hostile_capture(payloads: &[Vec<u8>]) -> Vec<u8> {
    let (a, b) = ([198, 18, 0, 1], [198, 18, 0, 2]);
    let mut frames = vec![
        (0u64, tcp(a, 40000, b, 80, 100, None, true, &[])),
        (10, tcp(b, 80, a, 40000, 500, Some(101), true, &[])),
        (20, tcp(a, 40000, b, 80, 101, Some(501), false, &[])),
    ];
    let (mut cs, mut ss, mut t) = (101u32, 501u32, 100u64);
    for p in payloads {
        frames.push((t, tcp(a, 40000, b, 80, cs, Some(ss), false, p)));
        cs += p.len() as u32;
        frames.push((t + 5, tcp(b, 80, a, 40000, ss, Some(cs), false, p)));
        ss += p.len() as u32;
        let mut udp = Vec::new();
        etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4(a, b, 64)
            .udp(5353, 5353)
            .write(&mut udp, p)
            .unwrap();
        frames.push((t + 7, udp));
        t += 20;
    }
    pcap(frames.into_iter())
}

#[test]
fn hostile_payloads_stay_text() {
    use proptest::prelude::*;
    let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config { cases: 24, ..Default::default() });
    let fragment =
        prop_oneof![proptest::sample::select(HOSTILE.to_vec()).prop_map(|b| b.to_vec()), proptest::collection::vec(any::<u8>(), 1..40)];
    let payloads = proptest::collection::vec(proptest::collection::vec(fragment, 1..4).prop_map(|v| v.concat()), 1..6);
    let path = temp("prop.pcap");
    runner
        .run(&payloads, |payloads| {
            std::fs::write(&path, hostile_capture(&payloads)).unwrap();
            let html = page(&[path.to_str().unwrap(), "--recv", "7", "--framing", "lines", "--preview", "400"]);
            assert_inert(&html);
            Ok(())
        })
        .unwrap();
}

/// The hostile capture under a hostile file name (it is the page's title).
fn hostile_file() -> PathBuf {
    let path = temp("x<script>document.documentElement.setAttribute('data-pwned','name')<\\script><img src=x onerror=alert(1)>.pcap");
    std::fs::write(&path, hostile_capture(&HOSTILE.iter().map(|p| p.to_vec()).collect::<Vec<_>>())).unwrap();
    path
}

#[test]
fn hostile_file_name_and_payloads_are_escaped() {
    let path = hostile_file();
    let html = page(&[path.to_str().unwrap(), "--recv", "16", "--preview", "400"]);
    assert_inert(&html);
    assert!(html.contains("&lt;svg onload=\\&quot;document"), "the payload shown, escaped");
    assert!(html.contains("x&lt;script&gt;document"), "the file name shown, escaped");
    // the UDP datagrams' previews (strip titles, recvfrom() lines, table) are escaped too
    let udp = &html[html.find("<section class=\"udp-flow\"").expect("the UDP flow is drawn")..];
    assert_eq!(udp.matches("<g class=\"seg dgram").count(), HOSTILE.len(), "each datagram drawn");
    assert!(udp.contains("&quot;&lt;svg onload=\\&quot;document"), "a datagram's preview, escaped");
    assert!(udp.contains("recvfrom #2 (16) → 16 of"), "the recvfrom() line with its preview");
    assert!(!udp.contains("<svg onload") && !udp.contains("<img"), "no markup from the wire");
}

/// Fragments held for reassembly are counted as such in the overview, not as "other IP"; the
/// frame that completes a datagram counts as the UDP it carries (frag-ipv4.pcap: 15 frames, 11
/// held, 4 completing).
#[test]
fn overview_counts_fragments_apart() {
    let html = page(&["fixtures/frag-ipv4.pcap"]);
    assert!(html.contains("UDP 4 ·"), "{}", &html[..html.len().min(4000)]);
    assert!(html.contains("IP fragments 11 · other IP 0 ·"), "{}", &html[..html.len().min(4000)]);
    let plain = page(&["fixtures/tcp-basic.pcap"]);
    assert!(!plain.contains("IP fragments"), "no fragments, no count");
}

/// A UDP flow of `n` datagrams of `size` bytes one way.
fn udp_capture(n: u32, size: usize) -> Vec<u8> {
    pcap((0..n).map(|i| {
        let mut f = Vec::new();
        etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4([198, 18, 0, 1], [198, 18, 0, 2], 64)
            .udp(40000, 9000)
            .write(&mut f, &vec![b'a' + (i % 26) as u8; size])
            .unwrap();
        (u64::from(i) * 10, f)
    }))
}

/// Each datagram one block and under it one recvfrom(), as `stream` reports them; a flow of
/// many datagrams is drawn up to the strip's budget with a note saying what was left out.
#[test]
fn udp_datagrams_and_recvfrom_as_stream_says() {
    let html = page(&["fixtures/gen-udp-truncate.pcap", "--recv", "1024"]);
    let stream = Command::new(env!("CARGO_BIN_EXE_wireseam"))
        .args(["stream", "fixtures/gen-udp-truncate.pcap", "--recv", "1024"])
        .current_dir(root())
        .output()
        .unwrap();
    let stream = String::from_utf8(stream.stdout).unwrap();
    let lines: Vec<&str> = stream.lines().map(str::trim).filter(|l| l.starts_with("recvfrom #")).collect();
    assert_eq!(lines.len(), 2, "{stream}");
    for l in lines {
        let escaped = l.replace('"', "&quot;");
        assert!(
            html.contains(&format!("<li class=\"trunc\">{escaped}</li>")) || html.contains(&format!("<li class=\"\">{escaped}</li>")),
            "{l}"
        );
    }
    let drawn = &html[..html.find("id=\"legend\"").unwrap()];
    assert_eq!(drawn.matches("class=\"rf-lost\"").count(), 1, "the 2,000-byte datagram cut at 1,024");
    assert!(html.contains("976 B discarded"));

    let path = temp("udp-many.pcap");
    std::fs::write(&path, udp_capture(1000, 30)).unwrap();
    let html = page(&[path.to_str().unwrap(), "--recv", "20"]);
    assert!(html.len() < 1_500_000, "{} bytes", html.len());
    assert_eq!(html.matches("<g class=\"seg dgram").count(), 120, "the strip's budget");
    assert!(html.contains("the strip shows the first 120 of 1000 datagrams (200 kept)"), "the note");
    assert_eq!(html.matches("<li class=\"trunc\">").count(), 200, "every kept datagram's call listed");
    assert_inert(&html);
}

// ---- in the browser ----

fn browser() -> Option<PathBuf> {
    let required = std::env::var_os("WIRESEAM_REQUIRE_BROWSER").is_some_and(|v| v != "0");
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    assert!(!required, "WIRESEAM_REQUIRE_BROWSER is set but chromium is not installed (apt-get install chromium)");
    eprintln!("skipping the browser test: chromium is not installed (`make test` installs it)");
    None
}

/// chromium with a fresh profile, headless; the output (killed after 90 s).
fn chromium(browser: &Path, profile: &Path, args: &[&str]) -> Output {
    let mut child = Command::new("timeout")
        .arg("90")
        .arg(browser)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions", "--disable-background-networking"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(["--enable-logging=stderr", "--v=0"])
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start chromium");
    let _ = child.stdin.take();
    child.wait_with_output().expect("chromium ran")
}

/// The page's self-check result and chromium's console messages.
fn selftest(browser: &Path, page: &Path) -> (serde_json::Value, Vec<String>) {
    let profile = temp(&format!("profile-{}", page.file_stem().unwrap().to_string_lossy()));
    let url = format!("file://{}#selftest", page.display());
    let out = chromium(browser, &profile, &["--dump-dom", &url]);
    let dom = String::from_utf8_lossy(&out.stdout);
    let start = dom
        .find("<pre id=\"selftest-result\">")
        .unwrap_or_else(|| panic!("no self-check result: {}", String::from_utf8_lossy(&out.stderr)));
    let rest = &dom[start + "<pre id=\"selftest-result\">".len()..];
    let json = &rest[..rest.find("</pre>").unwrap()];
    let json = json.replace("&lt;", "<").replace("&gt;", ">").replace("&nbsp;", "\u{a0}").replace("&amp;", "&");
    let console = String::from_utf8_lossy(&out.stderr).lines().filter(|l| l.contains(":CONSOLE")).map(str::to_string).collect();
    (serde_json::from_str(&json).expect("self-check JSON"), console)
}

fn screenshot(browser: &Path, page: &Path, png: &Path) {
    // a profile per picture: chromium locks its profile, and the browser tests run in parallel
    let profile = temp(&format!("profile-shot-{}", png.file_stem().unwrap().to_string_lossy()));
    let url = format!("file://{}", page.display());
    let out =
        chromium(browser, &profile, &["--hide-scrollbars", "--window-size=1280,2400", &format!("--screenshot={}", png.display()), &url]);
    assert!(png.is_file(), "no screenshot: {}", String::from_utf8_lossy(&out.stderr));
    // A blank 1280x2400 page compresses to a few kilobytes; a drawn one to far more.
    let size = std::fs::metadata(png).unwrap().len();
    assert!(size > 60_000, "screenshot looks blank: {size} bytes");
}

/// Writes the report of `args` to `out`.
fn write_report(args: &[&str], out: &Path) {
    let mut a = args.to_vec();
    a.extend(["-o", out.to_str().unwrap()]);
    let o = run_report(&a);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("wireseam: wrote"), "the size is reported");
}

fn check_common(r: &serde_json::Value, console: &[String], what: &str) {
    assert!(console.is_empty(), "{what}: console messages: {console:?}");
    assert_eq!(r["errors"], serde_json::json!([]), "{what}");
    assert_eq!(r["resources"], serde_json::json!([]), "{what}: the page loaded something");
    assert_eq!(r["scripts"], 2, "{what}");
    assert_eq!(r["handlers"], 0, "{what}");
    assert_eq!(r["javascript_links"], 0, "{what}");
    assert!(r["pwned"].is_null(), "{what}: injected script ran: {}", r["pwned"]);
}

#[test]
fn in_the_browser_every_segment_state_and_mark_is_drawn() {
    let Some(browser) = browser() else { return };
    let shots = root().join("target/report-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    for (name, args) in [
        ("sticky", &["fixtures/sticky.pcap", "--recv", "1024", "--recv-at", "end"][..]),
        ("loss", &["fixtures/loss.pcap"][..]),
        ("refused", &["fixtures/refused.pcap"][..]),
        ("zero-window", &["fixtures/zero-window.pcap"][..]),
    ] {
        let html = shots.join(format!("{name}.html"));
        write_report(args, &html);
        let (r, console) = selftest(&browser, &html);
        check_common(&r, &console, name);
        let conns = r["conns"].as_array().unwrap();
        assert!(!conns.is_empty(), "{name}");
        for c in conns {
            if c["complete"] == true {
                assert_eq!(c["arrows"], c["frames"], "{name}: ladder arrows = TCP frames of conn {}", c["conn"]);
                assert_eq!(c["retrans_arrows"], c["retransmissions"], "{name}: conn {}", c["conn"]);
            }
            assert!(c["states"].as_array().unwrap().len() >= 2, "{name}: state labels");
        }
        assert_eq!(r["selected"], true, "{name}: selecting a connection");
        assert_eq!(r["clicked"]["shown"], true, "{name}: clicking a segment shows it");
        assert!(r["clicked"]["text"].as_str().unwrap().starts_with("frame "), "{name}");
        assert!(r["clicked"]["highlighted"].as_u64().unwrap() >= 1, "{name}");
        screenshot(&browser, &html, &shots.join(format!("{name}.png")));
        match name {
            "sticky" => {
                let c = &conns[0];
                let states: Vec<&str> = c["states"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
                for s in ["SYN-SENT", "ESTABLISHED", "FIN-WAIT-1", "TIME-WAIT", "CLOSE-WAIT", "LAST-ACK", "CLOSED"] {
                    assert!(states.contains(&s), "sticky: state {s} written: {states:?}");
                }
                assert!(c["sticky"].as_u64().unwrap() > 0, "sticky messages drawn");
                assert!(c["calls"].as_u64().unwrap() > 0, "recv() calls drawn");
                assert!(
                    r["zoom"]["zoomed"] != r["zoom"]["before"] && r["zoom"]["panned"] != r["zoom"]["zoomed"],
                    "zoom and pan: {}",
                    r["zoom"]
                );
                assert_eq!(r["sorted"], "descending");
            }
            "loss" => {
                let c = &conns[0];
                assert!(c["retransmissions"].as_u64().unwrap() > 0);
                assert_eq!(c["retrans_bars"], c["retransmissions"], "loss: every retransmission marked in the graph");
            }
            _ => {}
        }
    }
}

#[test]
fn in_the_browser_no_injected_script_runs() {
    let Some(browser) = browser() else { return };
    let path = hostile_file();
    let html = temp("hostile.html");
    write_report(&[path.to_str().unwrap(), "--recv", "16", "--preview", "400"], &html);
    let (r, console) = selftest(&browser, &html);
    check_common(&r, &console, "hostile");
    assert_eq!(r["conns"][0]["arrows"], r["conns"][0]["frames"]);
    assert_eq!(r["udp"][0]["drawn"], r["udp"][0]["datagrams"], "the hostile datagrams drawn");
    let shown = r["udp_clicked"]["text"].as_str().unwrap();
    assert!(shown.contains("</script>") || shown.contains("<svg onload"), "a datagram's bytes shown as text: {shown}");
}

#[test]
fn in_the_browser_udp_datagrams_and_recvfrom() {
    let Some(browser) = browser() else { return };
    let shots = root().join("target/report-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    for (name, args, truncated) in [
        ("lesson-udp", &["fixtures/lesson-udp.pcap", "--recv", "1024"][..], 1),
        ("gen-udp-truncate", &["fixtures/gen-udp-truncate.pcap", "--recv", "1024"][..], 1),
        ("udp", &["fixtures/udp.pcap", "--recv", "8"][..], 0),
    ] {
        let html = shots.join(format!("{name}.html"));
        write_report(args, &html);
        let (r, console) = selftest(&browser, &html);
        check_common(&r, &console, name);
        let flows = r["udp"].as_array().unwrap();
        assert!(!flows.is_empty(), "{name}: a UDP flow drawn");
        for u in flows {
            assert_eq!(u["drawn"], u["datagrams"], "{name}: one block per datagram of flow {}", u["flow"]);
            assert_eq!(u["calls"], u["datagrams"], "{name}: one recvfrom() per datagram");
            assert_eq!(u["drawn_truncated"], u["truncated"], "{name}");
            assert_eq!(u["discarded"], u["truncated"], "{name}: the discarded rest drawn");
        }
        if name != "udp" {
            let t: u64 = flows.iter().map(|u| u["truncated"].as_u64().unwrap()).sum();
            assert_eq!(t, truncated, "{name}: the 2,000-byte datagram is cut");
        }
        assert_eq!(r["udp_clicked"]["shown"], true, "{name}: clicking a datagram shows it");
        assert!(r["udp_clicked"]["text"].as_str().unwrap().starts_with("datagram "), "{name}");
        screenshot(&browser, &html, &shots.join(format!("{name}.png")));
    }
}

/// The page is the same whatever `--threads` (the sink sees the same calls in the same order).
#[test]
fn threads_do_not_change_the_page() {
    for f in ["fixtures/loss.pcap", "fixtures/many.pcap", "fixtures/sticky.pcap"] {
        let one = page(&[f, "--threads", "1", "--recv", "100"]);
        let two = page(&[f, "--threads", "2", "--recv", "100"]);
        assert!(one == two, "{f}: --threads 2 changed the page");
    }
}
