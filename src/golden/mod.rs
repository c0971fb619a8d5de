//! Golden tests of network behaviour: record what a run put on the wire (live, or from a capture
//! file), render it normalised at a chosen level so that two runs of the same program give the
//! same text, and compare that text with a golden file.
//!
//! What varies from run to run and is therefore left out or renamed: ephemeral ports (`c1`, `c2`,
//! … in order of appearance; the server's listening port is kept), ISNs (sequence numbers are
//! relative), times (dropped, or rounded with [`TimeMode::Round`]), IP ids, TCP timestamp values,
//! MACs and checksums (never shown). Addresses are kept unless [`HostMode::Map`] names them `h1`,
//! `h2`, …. What the kernel may choose differently is left out on request ([`Ignore`]).
//!
//! [`Recording`] collects the records through the [`Sink`](crate::pipeline::Sink) interface (the
//! same records `--format json` writes); [`render`] turns them into the golden text, whose
//! [`Header`] says how it was made so that a later run uses the same settings; [`compare`] gives a
//! unified diff. [`record_file`], [`record_live`] and [`record_lab`] (in a private lab network) run the pipeline; the `wireseam golden`
//! command is built on them, and so can a test in another crate be.

pub mod command;
mod lab;
mod live;
mod record;
mod render;

pub use lab::{lab_env, record_lab};
pub use live::{record_live, LiveError};
pub use record::{ConnFacts, DatagramRec, MessageRec, PacketRec, Recording};
pub use render::render;

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use crate::analyze::FramingChoice;
use crate::pipeline::{self, ReadOptions};

/// How much of the run a golden file pins down, from the most stable to the most detailed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Level {
    /// Per connection: who opened and who closed, final states, Zeek state and history, what was
    /// negotiated, reset or not.
    Conns,
    /// The connection facts, and per direction the application messages (framing, lengths,
    /// preview and digest): stable even when segmentation varies.
    #[default]
    Messages,
    /// Every TCP segment normalised: flags, relative seq/ack, lengths, options, phase, states.
    Packets,
}

impl Level {
    /// `conns`, `messages` or `packets`.
    pub fn name(self) -> &'static str {
        match self {
            Level::Conns => "conns",
            Level::Messages => "messages",
            Level::Packets => "packets",
        }
    }
}

impl FromStr for Level {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "conns" => Ok(Level::Conns),
            "messages" => Ok(Level::Messages),
            "packets" => Ok(Level::Packets),
            _ => Err(format!("unknown level {s:?}: use conns, messages or packets")),
        }
    }
}

/// What the kernel may do differently from run to run, left out of the `packets` level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Ignore {
    /// Pure ACKs (no data, SYN, FIN or RST): delayed ACKs and window updates come and go.
    Acks,
    /// Window values (autotuning changes them).
    Window,
    /// The interleaving of the two directions: each direction's segments are listed on their own,
    /// without what depends on how far the other direction had got (ack numbers, phases, states,
    /// the order of the Zeek history).
    Timing,
    /// How data was cut into segments: consecutive data segments of one direction are one line.
    Coalescing,
}

impl Ignore {
    /// Every choice, in the order the header lists them.
    pub const ALL: [Ignore; 4] = [Ignore::Acks, Ignore::Window, Ignore::Timing, Ignore::Coalescing];

    /// `acks`, `window`, `timing` or `coalescing`.
    pub fn name(self) -> &'static str {
        match self {
            Ignore::Acks => "acks",
            Ignore::Window => "window",
            Ignore::Timing => "timing",
            Ignore::Coalescing => "coalescing",
        }
    }
}

impl FromStr for Ignore {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ignore::ALL
            .into_iter()
            .find(|i| i.name() == s)
            .ok_or_else(|| format!("unknown --ignore value {s:?}: use acks, window, timing or coalescing"))
    }
}

/// Client ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PortMode {
    /// Each client (ephemeral) port becomes `c1`, `c2`, … in order of appearance; server
    /// (listening) ports are kept.
    #[default]
    Ephemeral,
    /// Every port is kept as it is (a program that binds its client port).
    Keep,
}

/// Addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum HostMode {
    /// Kept as they are.
    #[default]
    Keep,
    /// Each address becomes `h1`, `h2`, … in order of appearance.
    Map,
}

/// Times.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TimeMode {
    /// Not shown.
    #[default]
    Drop,
    /// Shown relative to the first frame, rounded down to a multiple of this many milliseconds.
    Round(u64),
}

/// Everything that decides the golden text besides the records.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct GoldenOptions {
    /// How much is pinned down.
    pub level: Level,
    /// What the kernel may vary (`packets` level).
    pub ignore: Vec<Ignore>,
    /// Client ports.
    pub ports: PortMode,
    /// Addresses.
    pub hosts: HostMode,
    /// Times.
    pub time: TimeMode,
    /// The capture filter the recording used (recorded in the header).
    pub filter: Option<String>,
    /// The framing the recording used (`auto` unless given).
    pub framing: String,
}

impl GoldenOptions {
    /// True when `what` is left out.
    pub fn ignores(&self, what: Ignore) -> bool {
        self.ignore.contains(&what)
    }
}

/// The first lines of a golden file: how it was made, so a later run uses the same settings.
///
/// ```text
/// # wireseam golden 1
/// # level messages
/// # filter tcp port 9000
/// # framing auto
/// # ports ephemeral
/// # hosts keep
/// # time drop
/// # ignore -
/// ```
pub struct Header;

/// The version written in the header's first line.
pub const FORMAT_VERSION: u32 = 1;

impl Header {
    /// The header lines for `opts`.
    pub fn render(opts: &GoldenOptions) -> String {
        let mut ignore: Vec<Ignore> = opts.ignore.clone();
        ignore.sort();
        ignore.dedup();
        let ignore = if ignore.is_empty() { "-".to_string() } else { ignore.iter().map(|i| i.name()).collect::<Vec<_>>().join(",") };
        format!(
            "# wireseam golden {FORMAT_VERSION}\n# level {}\n# filter {}\n# framing {}\n# ports {}\n# hosts {}\n# time {}\n# ignore {ignore}\n",
            opts.level.name(),
            opts.filter.as_deref().unwrap_or("-"),
            if opts.framing.is_empty() { "auto" } else { &opts.framing },
            match opts.ports {
                PortMode::Ephemeral => "ephemeral",
                PortMode::Keep => "keep",
            },
            match opts.hosts {
                HostMode::Keep => "keep",
                HostMode::Map => "map",
            },
            match opts.time {
                TimeMode::Drop => "drop".to_string(),
                TimeMode::Round(ms) => format!("round:{ms}"),
            },
        )
    }

    /// The options a golden file's header records; `Err` names the line that is not understood.
    pub fn parse(text: &str) -> Result<GoldenOptions, String> {
        let mut lines = text.lines();
        match lines.next().and_then(|l| l.strip_prefix("# wireseam golden ")) {
            Some(v) if v.trim() == FORMAT_VERSION.to_string() => {}
            Some(v) => return Err(format!("golden format version {v}, this wireseam writes {FORMAT_VERSION}")),
            None => return Err("the first line is not \"# wireseam golden 1\"".into()),
        }
        let mut opts = GoldenOptions { framing: "auto".into(), ..GoldenOptions::default() };
        for line in lines {
            let Some(rest) = line.strip_prefix("# ") else { break };
            let (key, value) = rest.split_once(' ').unwrap_or((rest, ""));
            let bad = || format!("header line {line:?} is not understood");
            match key {
                "level" => opts.level = value.parse()?,
                "filter" => opts.filter = (value != "-").then(|| value.to_string()),
                "framing" => opts.framing = value.to_string(),
                "ports" => {
                    opts.ports = match value {
                        "ephemeral" => PortMode::Ephemeral,
                        "keep" => PortMode::Keep,
                        _ => return Err(bad()),
                    }
                }
                "hosts" => {
                    opts.hosts = match value {
                        "keep" => HostMode::Keep,
                        "map" => HostMode::Map,
                        _ => return Err(bad()),
                    }
                }
                "time" => opts.time = value.parse::<TimeArg>().map_err(|_| bad())?.0,
                "ignore" if value == "-" => opts.ignore.clear(),
                "ignore" => opts.ignore = value.split(',').map(str::parse).collect::<Result<_, _>>()?,
                _ => return Err(bad()),
            }
        }
        Ok(opts)
    }
}

/// `drop` or `round:MS`, as `--time` takes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeArg(pub TimeMode);

impl FromStr for TimeArg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "drop" {
            return Ok(TimeArg(TimeMode::Drop));
        }
        match s.strip_prefix("round:").map(str::parse::<u64>) {
            Some(Ok(ms)) if ms > 0 => Ok(TimeArg(TimeMode::Round(ms))),
            _ => Err(format!("--time {s:?}: use drop or round:MS (MS > 0)")),
        }
    }
}

/// The whole golden text: header, then the rendered records.
pub fn golden_text(recording: &Recording, opts: &GoldenOptions) -> String {
    let mut text = Header::render(opts);
    text.push_str(&render(recording, opts));
    text
}

/// `None` when `expected` and `actual` are the same; otherwise a unified diff (3 lines of context)
/// with the two names in its header.
pub fn compare(expected: &str, actual: &str, expected_name: &str) -> Option<String> {
    if expected == actual {
        return None;
    }
    let diff = similar::TextDiff::from_lines(expected, actual);
    Some(diff.unified_diff().context_radius(3).header(expected_name, "this run").to_string())
}

/// The lines that are not the same in every one of `runs` (each a golden text), with how many
/// runs differ from the first in that line: `-` lines of the first run missing from a later run,
/// `+` lines a later run has instead. Empty when all runs are equal.
pub fn unstable_lines(runs: &[String]) -> Vec<(String, usize)> {
    let Some(first) = runs.first() else { return Vec::new() };
    let mut counts: Vec<(String, usize)> = Vec::new();
    for run in &runs[1..] {
        let diff = similar::TextDiff::from_lines(first.as_str(), run.as_str());
        // in the diff's order (a removed line before what replaced it), each once per run
        let mut seen: Vec<String> = Vec::new();
        for change in diff.iter_all_changes() {
            let sign = match change.tag() {
                similar::ChangeTag::Equal => continue,
                similar::ChangeTag::Delete => '-',
                similar::ChangeTag::Insert => '+',
            };
            let line = format!("{sign}{}", change.value().trim_end_matches('\n'));
            if !seen.contains(&line) {
                seen.push(line);
            }
        }
        for line in seen {
            match counts.iter_mut().find(|(l, _)| *l == line) {
                Some((_, n)) => *n += 1,
                None => counts.push((line, 1)),
            }
        }
    }
    counts
}

/// What [`check`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Checked {
    /// The golden file says the same.
    Matches,
    /// `WIRESEAM_BLESS=1` was set: the golden file was written from this run.
    Blessed,
}

/// For tests in other crates: compares `recording`, rendered with `opts`, with the golden file at
/// `path`, or writes it when the environment has `WIRESEAM_BLESS=1`. `Err` holds what a failing
/// test should print: the unified diff, or why the file could not be read or written.
///
/// ```no_run
/// use wireseam::golden::{check, record_live, GoldenOptions};
/// let opts = GoldenOptions { filter: Some("tcp port 47321".into()), ..GoldenOptions::default() };
/// let (recording, ()) = record_live("lo", &opts, || { /* run the client against the server */ }).expect("capture");
/// check("tests/net/echo.golden".as_ref(), &recording, &opts).unwrap_or_else(|diff| panic!("{diff}"));
/// ```
pub fn check(path: &Path, recording: &Recording, opts: &GoldenOptions) -> Result<Checked, String> {
    let actual = golden_text(recording, opts);
    if std::env::var("WIRESEAM_BLESS").is_ok_and(|v| v == "1") {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        std::fs::write(path, &actual).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        return Ok(Checked::Blessed);
    }
    let expected = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: {e}; run the test with WIRESEAM_BLESS=1 to write it from this run", path.display()))?;
    match compare(&expected, &actual, &path.display().to_string()) {
        None => Ok(Checked::Matches),
        Some(diff) => Err(format!("{} differs from this run (WIRESEAM_BLESS=1 writes it anew):\n{diff}", path.display())),
    }
}

/// Why a recording from a file failed.
#[derive(Debug)]
pub struct FileError(pub String);

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FileError {}

/// Reads a capture file through the pipeline (filter and framing as in `opts`) into a
/// [`Recording`].
pub fn record_file(path: &Path, opts: &GoldenOptions) -> Result<Recording, FileError> {
    let read = read_options(path, opts)?;
    let mut recording = Recording::default();
    pipeline::run_file(&read, &mut recording).map_err(|e| FileError(format!("{}: {e}", path.display())))?;
    Ok(recording)
}

/// The pipeline options a recording uses: seams on, the message bytes kept for digests.
fn read_options(path: &Path, opts: &GoldenOptions) -> Result<ReadOptions, FileError> {
    let mut read = ReadOptions { filter: opts.filter.clone(), ..ReadOptions::new(path.to_path_buf()) };
    if let Some(seams) = read.seams.as_mut() {
        seams.keep_bytes = record::KEEP_BYTES;
        if !opts.framing.is_empty() {
            seams.framing = FramingChoice::parse(&opts.framing).map_err(|e| FileError(format!("framing {:?}: {e}", opts.framing)))?;
        }
    }
    Ok(read)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip() {
        let opts = GoldenOptions {
            level: Level::Packets,
            ignore: vec![Ignore::Window, Ignore::Acks],
            ports: PortMode::Keep,
            hosts: HostMode::Map,
            time: TimeMode::Round(10),
            filter: Some("tcp port 9000".into()),
            framing: "lines".into(),
        };
        let text = Header::render(&opts);
        assert!(text.contains("# ignore acks,window\n"), "{text}");
        let back = Header::parse(&text).unwrap();
        assert_eq!(back, GoldenOptions { ignore: vec![Ignore::Acks, Ignore::Window], ..opts });
        assert!(Header::parse("# wireseam golden 7\n").unwrap_err().contains("version 7"));
        assert!(Header::parse("# wireseam golden 1\n# colour red\n").unwrap_err().contains("colour"));
    }

    #[test]
    fn diff_and_stability() {
        assert_eq!(compare("a\nb\n", "a\nb\n", "x"), None);
        let d = compare("a\nb\n", "a\nc\n", "x.golden").unwrap();
        assert!(d.contains("-b") && d.contains("+c") && d.contains("x.golden"), "{d}");
        let runs = vec!["a\nb\n".to_string(), "a\nb\n".to_string(), "a\nc\n".to_string(), "a\nd\n".to_string()];
        let lines = unstable_lines(&runs);
        assert_eq!(lines, vec![("-b".to_string(), 2), ("+c".to_string(), 1), ("+d".to_string(), 1)]);
        assert!(unstable_lines(&runs[..2]).is_empty());
    }
}
