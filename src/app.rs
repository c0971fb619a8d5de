//! Program entry: arguments → configuration → run, and the mapping of outcomes to exit codes.
//! A closed output pipe (`| head`) ends the run quietly with status 0, like ripgrep.

use std::io::{self, BufWriter, Write};

use clap::Parser;

use std::io::IsTerminal;

use crate::cli::{self, CaptureConfig, Config, ConnsConfig, FlowConfig, InputConfig, ReadConfig, ReportConfig, StreamConfig};
use crate::output::conns::{select, write_json, write_table, ConnsSink};
use crate::output::conns_log::ConnsFormat;
use crate::output::flow::{FlowOptions, FlowSink};
use crate::output::style::Palette;
use crate::output::{packet_sink, OutputFormat};
use crate::pipeline::{self, ReadOptions, RunError, Sink};

/// Exit status of a run that did what was asked (also after a closed output pipe, and for
/// `--help` and `--version`).
pub const EXIT_OK: i32 = 0;
/// Exit status when an input could not be read (or was damaged part-way), or the command failed
/// otherwise (writing output, opening a live capture, a generator).
pub const EXIT_ERROR: i32 = 1;
/// Exit status for bad arguments or a bad filter expression.
pub const EXIT_USAGE: i32 = 2;

/// Parses the arguments, runs the command and returns the process's exit status.
pub fn main() -> i32 {
    let cli = match cli::Cli::try_parse_from(cli::follow_args(cli::tcpdump_args(std::env::args_os()))) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
            let _ = e.print();
            return code;
        }
    };
    let config = match cli::to_config(cli) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("wireseam: {msg}");
            return EXIT_USAGE;
        }
    };
    widen_stdout_pipe();
    match config {
        Config::Read(cfg) => read(&cfg),
        Config::Conns(cfg) => conns(&cfg),
        Config::Flow(cfg) => flow(&cfg),
        Config::Capture(cfg) => capture(&cfg),
        Config::Stream(cfg) => stream(&cfg),
        Config::Report(cfg) => report(&cfg),
        Config::Stats(cfg) => stats(&cfg),
        Config::Gen(cfg) => gen(cfg.as_ref()),
        Config::Lab(cfg, page) => lab(&cfg, page.as_ref()),
        Config::Golden(cfg) => crate::golden::command::run(&cfg),
        Config::Completions(shell) => {
            let mut out = io::stdout().lock();
            clap_complete::generate(shell, &mut crate::cli::command(), "wireseam", &mut out);
            match out.flush() {
                Err(e) if !is_broken_pipe(&e) => {
                    eprintln!("wireseam: completions: {e}");
                    EXIT_ERROR
                }
                _ => EXIT_OK,
            }
        }
        Config::Demo(cfg) => {
            let mut out = io::LineWriter::new(io::stdout().lock());
            match crate::demo::run(&cfg, &mut out).and_then(|code| out.flush().map(|_| code)) {
                Ok(code) => code,
                Err(e) if is_broken_pipe(&e) => EXIT_OK,
                Err(e) => {
                    eprintln!("wireseam: demo: {e}");
                    EXIT_ERROR
                }
            }
        }
    }
}

fn gen(cfg: Option<&crate::gen::GenConfig>) -> i32 {
    let Some(cfg) = cfg else {
        let width = crate::gen::Scenario::all().iter().map(|s| s.name().len()).max().unwrap_or(0);
        for s in crate::gen::Scenario::all() {
            println!("{:<width$}  {}", s.name(), s.describe());
        }
        return EXIT_OK;
    };
    let mut out = io::LineWriter::new(io::stdout().lock());
    match crate::gen::run(cfg, &mut out) {
        Ok(report) => {
            let _ = writeln!(out, "{}", report.summary());
            let _ = out.flush();
            EXIT_OK
        }
        Err(e) => {
            let _ = out.flush();
            eprintln!("wireseam: gen {}: {e}", cfg.scenario.name());
            EXIT_ERROR
        }
    }
}

fn lab(cfg: &crate::lab::LabConfig, page: Option<&crate::cli::LabPage>) -> i32 {
    let scenario = cfg.gen.scenario;
    if !nix::unistd::geteuid().is_root() {
        if scenario.needs_peer() {
            eprintln!("wireseam: gen {scenario}: the scripted peer runs on a TUN device in a private network namespace, which needs root: run it with sudo");
            return EXIT_ERROR;
        }
        eprintln!("wireseam: gen {scenario}: --lab needs root (network namespaces); running on loopback instead");
        return gen(Some(&cfg.gen));
    }
    // --report: the lab writes its capture to a file (the one -w names, or a temporary one),
    // and the page is drawn from it as `wireseam report` would, with the same options
    let temporary = std::env::temp_dir().join(format!("wireseam-lab-{}.pcap", std::process::id()));
    let cfg = &match (page, &cfg.write) {
        (Some(_), None) => crate::lab::LabConfig { write: Some(temporary.clone()), ..cfg.clone() },
        _ => cfg.clone(),
    };
    let mut out = io::LineWriter::new(io::stdout().lock());
    match crate::lab::run(cfg, &mut out) {
        Ok(report) => {
            let _ = writeln!(out, "{}", report.summary());
            let _ = out.flush();
            let Some(page) = page else { return EXIT_OK };
            let input = InputConfig {
                merge: Vec::new(),
                file: cfg.write.clone().unwrap_or(temporary.clone()),
                filter: page.filter.clone(),
                count: None,
                framing: page.framing,
                max_conns: pipeline::DEFAULT_MAX_CONNS,
                threads: 1,
                checksums: pipeline::ChecksumMode::Off,
                tunnels: Default::default(),
            };
            let code = self::report(&ReportConfig {
                input,
                output: page.output.clone(),
                report: page.report.clone(),
                keep_bytes: page.keep_bytes,
            });
            let _ = std::fs::remove_file(&temporary);
            code
        }
        Err(e) => {
            let _ = out.flush();
            let _ = std::fs::remove_file(&temporary);
            eprintln!("wireseam: gen {scenario}: {e}");
            EXIT_ERROR
        }
    }
}

fn stream(cfg: &StreamConfig) -> i32 {
    use crate::output::stream::{StreamOptions, StreamSink};
    let mut opts = read_options(&cfg.input);
    if let Some(seams) = opts.seams.as_mut() {
        seams.keep_bytes = cfg.keep_bytes;
        seams.keep_timeline = !cfg.recv.is_empty() || cfg.follow.is_some();
        seams.keep_only = cfg.conn.map(|id| [id].into());
    }
    if let Some(options) = &cfg.parquet {
        return parquet_run(&cfg.input, |sink| pipeline::run_file(&opts, sink), options, crate::output::parquet::Tables::MessagesAndConns);
    }
    let out = BufWriter::new(io::stdout().lock());
    let shown = StreamOptions {
        follow: cfg.follow,
        keep_mib: cfg.keep_bytes >> 20,
        conn: cfg.conn,
        hex: cfg.hex,
        recv: cfg.recv.clone(),
        recv_at: cfg.recv_at,
        preview: cfg.preview,
        palette: Palette::for_stdout(cfg.color),
    };
    if let Some(seams) = opts.seams.as_mut() {
        // each message's first bytes leave with it, instead of every stream's prefix waiting
        seams.message_heads = shown.message_heads();
    }
    let mut sink = StreamSink::new(out, shown);
    let result = pipeline::run_file(&opts, &mut sink);
    let code = finish(&cfg.input, result, Ok(()));
    let what = if cfg.follow.is_some() { "TCP connection to follow" } else { "TCP connection or UDP flow" };
    found(&cfg.input, sink.found(), code, what)
}

fn stats(cfg: &crate::cli::StatsConfig) -> i32 {
    use crate::output::stats::{StatsOptions, StatsSink, PIPE_WIDTH};
    let mut opts = read_options(&cfg.input);
    // counts frames and the tracker's flags: no reassembly or framing
    opts.seams = None;
    let width = if io::stdout().is_terminal() { terminal_width().map_or(PIPE_WIDTH, usize::from) } else { PIPE_WIDTH };
    let shown = StatsOptions { interval_ns: cfg.interval_ns, top: cfg.top, format: cfg.format, width };
    let mut sink = StatsSink::new(BufWriter::new(io::stdout().lock()), shown);
    let result = pipeline::run_file(&opts, &mut sink);
    finish(&cfg.input, result, Ok(()))
}

/// The closing answer of `flow` and `stream` when they had nothing to show, the same for both:
/// a `--conn` the input lacks is an error (exit 1); an input without what the view draws is
/// said on stderr. `code`: the run's exit status so far (kept when it is already an error).
fn found(input: &InputConfig, found: crate::output::Found, code: i32, what: &str) -> i32 {
    use crate::output::Found;
    if code != EXIT_OK {
        return code;
    }
    let file = input.file.display();
    let filtered = if input.filter.is_some() { " that passes the filter" } else { "" };
    match found {
        Found::Shown => EXIT_OK,
        Found::Missing(id) => {
            eprintln!(
                "wireseam: {file}: no TCP connection #{id}{filtered} (connections are numbered from 0; `wireseam conns {file}` lists them)"
            );
            EXIT_ERROR
        }
        Found::Nothing => {
            eprintln!("wireseam: {file}: no {what}{filtered}: nothing to show");
            EXIT_OK
        }
    }
}

/// Where a report goes: a file, or standard output for `-`.
fn report_writer(path: &std::path::Path) -> io::Result<Box<dyn Write>> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(BufWriter::new(io::stdout())));
    }
    Ok(Box::new(BufWriter::new(std::fs::File::create(path)?)))
}

/// `wrote report.html: 1.2 MB, 3 of 40 connections drawn in full`.
fn report_written(path: &std::path::Path, bytes: u64) {
    if path.as_os_str() != "-" {
        eprintln!("wireseam: wrote {} ({} bytes)", path.display(), crate::numbers::thousands(bytes));
    }
}

fn report(cfg: &ReportConfig) -> i32 {
    use crate::output::report::ReportSink;
    let mut opts = read_options(&cfg.input);
    if let Some(seams) = opts.seams.as_mut() {
        seams.keep_bytes = cfg.keep_bytes;
        seams.keep_timeline = !cfg.report.recv.is_empty();
    }
    let out = match report_writer(&cfg.output) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("wireseam: cannot write {}: {e}", cfg.output.display());
            return EXIT_ERROR;
        }
    };
    // The connections drawn in full are the largest: a first pass over a file finds them, so
    // that the run keeps the details and bytes of those alone (the page is the same).
    let mut report = cfg.report.clone();
    // Only a regular file can be read twice (not `-`, a FIFO or `<(...)`).
    let rereadable = std::fs::metadata(&cfg.input.file).is_ok_and(|m| m.is_file());
    if report.conn.is_none() && rereadable && cfg.input.merge.is_empty() {
        let mut rank = crate::output::report::Ranking::default();
        // one thread: tracking as the second pass's (sharded `conns` runs split the table)
        let first = ReadOptions { progress: false, threads: 1, ..read_options(&cfg.input) };
        if pipeline::run_file(&first, &mut rank).is_ok() {
            let top: std::sync::Arc<[u32]> = rank.largest(report.top).into();
            if let Some(seams) = opts.seams.as_mut() {
                seams.keep_only = Some(top.clone());
            }
            report.only = Some(top);
        }
    }
    // Deferred: the page is written once the run shows that a --conn it draws exists.
    let mut sink = ReportSink::deferred(out, report);
    let mut result = pipeline::run_file(&opts, &mut sink);
    let missing = cfg.report.conn.filter(|&id| result.is_ok() && !sink.has_conn(id));
    if result.is_ok() && missing.is_none() {
        if let Err(e) = sink.write_page(Vec::new()) {
            result = Err(RunError::Io(e));
        }
    }
    drop(sink);
    if let Some(id) = missing {
        // as flow and stream: an error, and no page that only says so
        if cfg.output.as_os_str() != "-" {
            let _ = std::fs::remove_file(&cfg.output);
        }
        let code = finish(&cfg.input, result, Ok(()));
        return found(&cfg.input, crate::output::Found::Missing(id), code, "TCP connection");
    }
    match &result {
        Ok(_) => report_written(&cfg.output, std::fs::metadata(&cfg.output).map_or(0, |m| m.len())),
        // no half-written page is left behind
        Err(_) if cfg.output.as_os_str() != "-" => {
            let _ = std::fs::remove_file(&cfg.output);
        }
        Err(_) => {}
    }
    finish(&cfg.input, result, Ok(()))
}

/// Forwards every call to two sinks (the live lines and the report of `capture --report`).
struct Both<'a> {
    first: &'a mut dyn Sink,
    second: &'a mut dyn Sink,
}

impl Sink for Both<'_> {
    fn source(&mut self, info: &crate::capture::SourceInfo) {
        self.first.source(info);
        self.second.source(info);
    }
    fn packet(&mut self, p: &pipeline::PacketView<'_, '_>) -> io::Result<()> {
        self.first.packet(p)?;
        self.second.packet(p)
    }
    fn conn(&mut self, c: &pipeline::ConnRecord) -> io::Result<()> {
        self.first.conn(c)?;
        self.second.conn(c)
    }
    fn message(&mut self, m: &crate::analyze::Message) -> io::Result<()> {
        self.first.message(m)?;
        self.second.message(m)
    }
    fn late(&mut self, c: &crate::analyze::Carried) -> io::Result<()> {
        self.first.late(c)?;
        self.second.late(c)
    }
    fn finish(&mut self, s: &pipeline::RunSummary) -> io::Result<()> {
        self.first.finish(s)?;
        self.second.finish(s)
    }
}

/// Forwards to a sink and keeps the connection summaries for the closing table.
struct Tee<'a> {
    inner: &'a mut dyn Sink,
    conns: Vec<crate::output::conns::ConnRow>,
}

impl Sink for Tee<'_> {
    fn source(&mut self, info: &crate::capture::SourceInfo) {
        self.inner.source(info);
    }
    fn packet(&mut self, p: &pipeline::PacketView<'_, '_>) -> io::Result<()> {
        self.inner.packet(p)
    }
    fn conn(&mut self, c: &pipeline::ConnRecord) -> io::Result<()> {
        self.conns.push(crate::output::conns::ConnRow::new(&c.summary, &c.seams));
        self.inner.conn(c)
    }
    fn message(&mut self, m: &crate::analyze::Message) -> io::Result<()> {
        self.inner.message(m)
    }
    fn message_owned(&mut self, m: crate::analyze::Message) -> io::Result<()> {
        self.inner.message_owned(m)
    }
    fn late(&mut self, c: &crate::analyze::Carried) -> io::Result<()> {
        self.inner.late(c)
    }
    fn finish(&mut self, s: &pipeline::RunSummary) -> io::Result<()> {
        self.conns.extend(s.flows.iter().map(|flow| crate::output::conns::ConnRow::new(flow, &[None, None])));
        self.inner.finish(s)
    }
}

fn capture(cfg: &CaptureConfig) -> i32 {
    use crate::capture::live::{self, LiveSource};
    if cfg.list {
        return match live::list_interfaces() {
            Ok(lines) => {
                for line in lines {
                    println!("{line}");
                }
                EXIT_OK
            }
            Err(e) => {
                eprintln!("wireseam: cannot list interfaces: {e}");
                EXIT_ERROR
            }
        };
    }
    // Benchmark knobs (benches/README.md, "Live capture"): the first choice is the default.
    let when_full = bench_choice("WIRESEAM_LIVE_WHEN_FULL", &[("block", live::WhenFull::Block), ("drop", live::WhenFull::Drop)]);
    let ring = bench_choice("WIRESEAM_LIVE_RING", &[("immediate", live::Ring::Immediate), ("blocks", live::Ring::Blocks)]);
    let (Some(when_full), Some(ring)) = (when_full, ring) else { return EXIT_USAGE };
    let mut src = match LiveSource::open_with(&cfg.live, ring) {
        Ok(s) => s,
        Err(e @ live::LiveError::Filter { .. }) => {
            eprintln!("wireseam: {e}; see pcap-filter(7) for the syntax");
            return EXIT_USAGE;
        }
        Err(e) => {
            eprintln!("wireseam: {e}");
            return EXIT_ERROR;
        }
    };
    // Opened before privileges are dropped, like the -w file.
    let mut report = match &cfg.report {
        Some(page) => match report_writer(&page.output) {
            Ok(w) => Some(crate::output::report::ReportSink::deferred(w, page.report.clone())),
            Err(e) => {
                eprintln!("wireseam: cannot write {}: {e}", page.output.display());
                return EXIT_ERROR;
            }
        },
        None => None,
    };
    src.stop_after(cfg.count);
    src.when_full(when_full);
    if std::env::var_os("WIRESEAM_LIVE_NO_RAISE").is_none() {
        // started before privileges are dropped, so that its priority can be raised
        src.start();
    }
    let user = cfg.user.clone().or_else(live::default_user).unwrap_or_else(|| "root".into());
    let dropped = match live::drop_privileges(&user) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("wireseam: {e}");
            return EXIT_ERROR;
        }
    };
    eprintln!(
        "wireseam: listening on {}, link-type {} ({}), snapshot length {} bytes{}",
        cfg.live.iface,
        src.linktype(),
        crate::decode::link::linktype_name(src.linktype()),
        cfg.live.snaplen,
        match dropped {
            Some((uid, _)) => format!(", running as {user} (uid {uid})"),
            None => String::new(),
        }
    );
    let stopper = src.stopper();
    {
        let stop = stopper.clone();
        if let Err(e) = ctrlc::set_handler(move || stop.stop()) {
            eprintln!("wireseam: warning: cannot handle Ctrl-C/SIGTERM ({e}); use -c or --duration");
        }
    }
    if let Some(duration) = cfg.duration {
        let stop = stopper.clone();
        std::thread::spawn(move || {
            std::thread::sleep(duration);
            stop.stop();
        });
    }
    let mut opts = ReadOptions {
        count: cfg.count,
        checksums: cfg.checksums,
        decode: cfg.tunnels.decode,
        inner: cfg.tunnels.inner.clone(),
        ..ReadOptions::new(cfg.live.iface.clone().into())
    };
    if let Some(seams) = opts.seams.as_mut() {
        seams.framing = cfg.framing;
        if let Some(page) = &cfg.report {
            seams.keep_bytes = page.keep_bytes;
            seams.keep_timeline = !page.report.recv.is_empty();
        }
    }
    // Live lines must appear as frames arrive: the output is flushed whenever the capture queue
    // is empty (under load, lines then go out in large writes; when traffic is light, at once).
    // With `-w -` the pcap is standard output: no line goes there.
    let to_stdout = cfg.live.write.as_deref().is_some_and(|p| p.as_os_str() == "-");
    let mut shared = SharedOut(std::rc::Rc::new(std::cell::RefCell::new(BufWriter::with_capacity(1 << 16, io::stdout().lock()))));
    let out: Box<dyn Write> = if to_stdout { Box::new(io::sink()) } else { Box::new(shared.clone()) };
    let mut src = FlushWhenIdle { src: &mut src, out: shared.clone() };
    let text = cfg.look.options(Palette::for_stdout(cfg.color));
    let mut lines = packet_sink(&cfg.format, text, out);
    let mut both;
    let sink: &mut dyn Sink = match report.as_mut() {
        Some(report) => {
            both = Both { first: lines.as_mut(), second: report };
            &mut both
        }
        None => lines.as_mut(),
    };
    let result = if cfg.format != OutputFormat::Text || to_stdout {
        pipeline::run(&mut src, &opts, sink)
    } else {
        let mut tee = Tee { inner: sink, conns: Vec::new() };
        let run = pipeline::run(&mut src, &opts, &mut tee);
        if run.is_ok() && !tee.conns.is_empty() {
            let mut out = io::stdout().lock();
            let rows = select(tee.conns, &[], crate::output::conns::SortKey::Id, false);
            let _ = writeln!(out).and_then(|_| write_table(&mut out, &rows, None)).and_then(|_| out.flush());
        }
        run
    };
    let _ = shared.flush();
    drop(lines);
    let stats = src.src.stats;
    if let (Some(page), Some(report), Ok(_)) = (&cfg.report, report.as_mut(), &result) {
        let path = &page.output;
        let mut drops = Vec::new();
        if stats.dropped > 0 || stats.if_dropped > 0 {
            drops.push(format!(
                "libpcap reports {} packets dropped by the kernel and {} by the interface: the capture misses them",
                stats.dropped, stats.if_dropped
            ));
        }
        if stats.queue_dropped > 0 {
            drops.push(format!("{} frames were dropped in wireseam's capture queue: the capture misses them", stats.queue_dropped));
        }
        match report.write_page(drops) {
            Ok(()) => report_written(path, report.written()),
            Err(e) => eprintln!("wireseam: writing {}: {e}", path.display()),
        }
    }
    if let Ok(sum) = &result {
        eprintln!(
            "wireseam: {} packets captured, {} received by filter{}, {} dropped by kernel, {} dropped by interface, {} dropped by wireseam's queue",
            sum.frames,
            stats.received,
            if cfg.live.iface == "lo" { " (loopback counts each frame twice)" } else { "" },
            stats.dropped,
            stats.if_dropped,
            stats.queue_dropped
        )
    }
    let input = InputConfig {
        merge: Vec::new(),
        file: cfg.live.iface.clone().into(),
        filter: None,
        count: cfg.count,
        framing: Default::default(),
        max_conns: opts.track.max_conns,
        threads: 1,
        checksums: cfg.checksums,
        tunnels: cfg.tunnels.clone(),
    };
    finish(&input, result, Ok(()))
}

/// The value an environment variable names among `choices` (unset: the first); `None`, with
/// the error said, for a value that is not among them.
fn bench_choice<T: Copy>(name: &str, choices: &[(&str, T)]) -> Option<T> {
    let Ok(given) = std::env::var(name) else { return Some(choices[0].1) };
    if let Some(&(_, value)) = choices.iter().find(|(word, _)| *word == given) {
        return Some(value);
    }
    let words: Vec<String> = choices.iter().map(|(word, _)| format!("`{word}`")).collect();
    eprintln!("wireseam: {name}={given}: give {} ({} is the default)", words.join(" or "), words[0]);
    None
}

/// Standard output shared by the line sink (which writes) and [`FlushWhenIdle`] (which
/// flushes): one thread, so a `RefCell` (a flag test per write) instead of a lock.
struct SharedOut<W: Write>(std::rc::Rc<std::cell::RefCell<W>>);

impl<W: Write> Clone for SharedOut<W> {
    fn clone(&self) -> Self {
        SharedOut(std::rc::Rc::clone(&self.0))
    }
}

impl<W: Write> Write for SharedOut<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().write(buf)
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0.borrow_mut().write_all(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.borrow_mut().flush()
    }
}

/// A live source whose lines are flushed whenever it has no frame ready ([`Next::Again`]).
struct FlushWhenIdle<'s, W: Write> {
    src: &'s mut crate::capture::live::LiveSource,
    out: SharedOut<W>,
}

impl<W: Write> crate::capture::Source for FlushWhenIdle<'_, W> {
    fn next_packet(&mut self) -> crate::capture::Next<'_> {
        let next = self.src.next_packet();
        if matches!(next, crate::capture::Next::Again) {
            // a failed flush shows again at the sink's next write or its finish
            let _ = self.out.0.borrow_mut().flush();
        }
        next
    }
    fn linktype_hint(&self) -> u32 {
        self.src.linktype_hint()
    }
    fn end(&mut self) {
        self.src.end();
    }
}

/// How a file command reads `input`: its filter, count, limits, threads and framing, with a
/// progress bar.
fn read_options(input: &InputConfig) -> ReadOptions {
    let mut opts = ReadOptions { filter: input.filter.clone(), count: input.count, progress: true, ..ReadOptions::new(input.file.clone()) };
    opts.merge = input.merge.clone();
    opts.track.max_conns = input.max_conns;
    opts.threads = input.threads;
    opts.checksums = input.checksums;
    opts.decode = input.tunnels.decode;
    opts.inner = input.tunnels.inner.clone();
    if let Some(seams) = opts.seams.as_mut() {
        seams.framing = input.framing;
    }
    opts
}

fn conns(cfg: &ConnsConfig) -> i32 {
    if let Some(export) = &cfg.parquet {
        return conns_parquet(cfg, export);
    }
    let mut sink = ConnsSink::default();
    let result = pipeline::run_file(&read_options(&cfg.input), &mut sink);
    if result.is_err() {
        // the input could not be read at all: its error, not an empty table
        return finish(&cfg.input, result, Ok(()));
    }
    if sink.rows.is_empty() && cfg.format == ConnsFormat::Table {
        // as flow and stream: said on stderr, not an empty table (CSV, TSV, zeek and JSON stay
        // empty files with their headers, for programs)
        let code = finish(&cfg.input, result, Ok(()));
        let what = if cfg.input.filter.is_some() { " that passes the filter" } else { "" };
        if code == EXIT_OK {
            eprintln!("wireseam: {}: no connection or flow{what}: nothing to show", cfg.input.file.display());
        }
        return code;
    }
    let rows = select(std::mem::take(&mut sink.rows), &cfg.filters, cfg.sort, cfg.reverse);
    let mut out = BufWriter::new(io::stdout().lock());
    let width = if io::stdout().is_terminal() { terminal_width() } else { None };
    let written = match cfg.format {
        ConnsFormat::Json => write_json(&mut out, &rows),
        ConnsFormat::Table => write_table(&mut out, &rows, width),
        ConnsFormat::Delimited(kind) => crate::output::conns_log::write_delimited(&mut out, &rows, kind),
        ConnsFormat::Parquet => unreachable!("conns_parquet writes it"),
    };
    let written = written.and_then(|_| out.flush());
    finish(&cfg.input, result, written)
}

/// The directory of `-o` checked (created when missing) before a run: its error and exit 1.
#[cfg(feature = "parquet")]
fn parquet_dir(dir: &std::path::Path) -> Result<(), i32> {
    crate::output::parquet::check_dir(dir).map_err(|e| {
        eprintln!("wireseam: {e}");
        EXIT_ERROR
    })
}

/// `conns --format parquet -o DIR FILE...`: every file's connections (at most `--jobs` files
/// read at once), joined across rotated files, into conns.parquet.
#[cfg(feature = "parquet")]
fn conns_parquet(cfg: &ConnsConfig, export: &crate::cli::ConnsExport) -> i32 {
    use crate::output::parquet::set::{join_files, FileRows};
    use std::sync::atomic::{AtomicUsize, Ordering};
    if let Err(code) = parquet_dir(&export.options.dir) {
        return code;
    }
    let files: Vec<std::path::PathBuf> = std::iter::once(cfg.input.file.clone()).chain(export.files.iter().cloned()).collect();
    let jobs = export.jobs.min(files.len()).max(1);
    // the cores are shared out: each file's run gets its share of --threads
    let per_file = InputConfig { threads: (cfg.input.threads / jobs).max(1), ..cfg.input.clone() };
    let next = AtomicUsize::new(0);
    // each file's run and rows, by its place in `files`
    type FileRun = (Result<pipeline::RunSummary, RunError>, Vec<crate::output::conns::ConnRow>);
    let results: Vec<std::sync::Mutex<Option<FileRun>>> = files.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(file) = files.get(i) else { break };
                let input = InputConfig { file: file.clone(), ..per_file.clone() };
                let mut opts = read_options(&input);
                // several bars at once would garble each other
                opts.progress = files.len() == 1;
                let mut sink = ConnsSink::default();
                let result = pipeline::run_file(&opts, &mut sink);
                *results[i].lock().expect("no worker panics holding it") = Some((result, sink.rows));
            });
        }
    });
    let mut code = EXIT_OK;
    let mut sets = Vec::new();
    for (file, slot) in files.iter().zip(results) {
        let (result, rows) = slot.into_inner().expect("no worker panics holding it").expect("every file was read");
        let input = InputConfig { file: file.clone(), ..cfg.input.clone() };
        let file_code = finish(&input, result, Ok(()));
        code = code.max(file_code);
        sets.push(FileRows { file: file.display().to_string(), rows });
    }
    let nfiles = sets.len();
    let mut joined = join_files(sets);
    joined.retain(|(_, row)| cfg.filters.iter().all(|filter| filter.matches(&row.summary)));
    let mut writer = crate::output::parquet::ConnWriter::new(&export.options);
    let written = joined.iter().try_for_each(|(origin, row)| writer.push(origin, row)).and_then(|_| writer.close());
    match written {
        Ok(rows) => {
            let continued = joined.iter().filter(|(origin, _)| origin.pieces > 1).count();
            eprintln!(
                "wireseam: {} connection{} from {nfiles} file{} written to {} ({continued} continued across files)",
                crate::numbers::thousands(rows),
                if rows == 1 { "" } else { "s" },
                if nfiles == 1 { "" } else { "s" },
                export.options.dir.display()
            );
            code
        }
        Err(e) => {
            eprintln!("wireseam: writing {}: {e}", export.options.dir.display());
            EXIT_ERROR
        }
    }
}

#[cfg(not(feature = "parquet"))]
fn conns_parquet(_cfg: &ConnsConfig, _export: &crate::cli::ConnsExport) -> i32 {
    unreachable!("the configuration refuses --format parquet without the feature")
}

/// `read`/`stream --format parquet -o DIR`: the run's records into Parquet files.
#[cfg(feature = "parquet")]
fn parquet_run(
    input: &InputConfig,
    run: impl FnOnce(&mut dyn Sink) -> Result<pipeline::RunSummary, RunError>,
    options: &crate::output::parquet::ParquetOptions,
    tables: crate::output::parquet::Tables,
) -> i32 {
    if let Err(code) = parquet_dir(&options.dir) {
        return code;
    }
    let file = input.merge.is_empty().then(|| input.file.display().to_string());
    let mut sink = crate::output::parquet::ParquetSink::new(options, tables, file);
    let result = run(&mut sink);
    if result.is_ok() {
        let (packets, messages, conns) = sink.rows();
        let count = |n: u64, one: &str, many: &str| format!("{} {}", crate::numbers::thousands(n), if n == 1 { one } else { many });
        let mut counts = Vec::new();
        if tables == crate::output::parquet::Tables::All {
            counts.push(count(packets, "packet", "packets"));
        }
        counts.push(count(messages, "message", "messages"));
        counts.push(count(conns, "connection", "connections"));
        eprintln!("wireseam: {} written to {}", counts.join(", "), options.dir.display());
    }
    finish(input, result, Ok(()))
}

#[cfg(not(feature = "parquet"))]
fn parquet_run(
    _: &InputConfig,
    _: impl FnOnce(&mut dyn Sink) -> Result<pipeline::RunSummary, RunError>,
    _: &crate::output::parquet::ParquetOptions,
    _: crate::output::parquet::Tables,
) -> i32 {
    unreachable!("the configuration refuses --format parquet without the feature")
}

fn flow(cfg: &FlowConfig) -> i32 {
    let out = BufWriter::new(io::stdout().lock());
    let mut sink = FlowSink::new(out, FlowOptions { conn: cfg.conn, fold: cfg.fold, palette: Palette::for_stdout(cfg.color) });
    let result = pipeline::run_file(&read_options(&cfg.input), &mut sink);
    let code = finish(&cfg.input, result, Ok(()));
    found(&cfg.input, sink.found(), code, "TCP connection")
}

/// Terminal width from COLUMNS, when a terminal is attached (comfy-table wraps to it).
/// The width to fit tables to on a terminal: `COLUMNS` when set (a user's choice), else the
/// terminal's own (shells do not export `COLUMNS`), else none: the table is not wrapped.
fn terminal_width() -> Option<u16> {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .or_else(|| terminal_size::terminal_size_of(io::stdout()).map(|(terminal_size::Width(w), _)| w))
}

fn is_broken_pipe(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}

/// When standard output is a pipe, ask for a 1 MiB pipe buffer (Linux `F_SETPIPE_SZ`; the
/// default is 64 KiB): the output then goes out in fewer, larger writes, with fewer switches to
/// the reader on the other end. Anything else (a file, a terminal, a refusal) is left as it is.
fn widen_stdout_pipe() {
    let _ = nix::fcntl::fcntl(io::stdout(), nix::fcntl::FcntlArg::F_SETPIPE_SZ(1 << 20));
}

fn read(cfg: &ReadConfig) -> i32 {
    let stdout = io::stdout();
    let out = BufWriter::with_capacity(256 * 1024, stdout.lock());
    let mut opts = read_options(&cfg.input);
    if !cfg.select.is_empty() {
        // -c counts the frames shown, after the selection: the sink counts and stops the run.
        opts.count = None;
        if cfg.input.count.is_some() || cfg.select.within_ns.is_some() {
            // only a run on one thread stops early (the sink says when)
            opts.threads = 1;
        }
    }
    if let OutputFormat::Parquet(options) = &cfg.format {
        let mut missing = None;
        let code = parquet_run(
            &cfg.input,
            |sink| {
                let (result, lacks) = run_selected(&opts, cfg, sink);
                missing = lacks;
                result
            },
            options,
            crate::output::parquet::Tables::All,
        );
        return missing_conn(&cfg.input, code, missing);
    }
    let Some(path) = &cfg.write else {
        let text = cfg.look.options(Palette::for_stdout(cfg.color));
        let mut lines = packet_sink(&cfg.format, text, out);
        let (result, missing) = run_selected(&opts, cfg, lines.as_mut());
        return missing_conn(&cfg.input, finish(&cfg.input, result, Ok(())), missing);
    };
    use crate::output::savefile::{SaveFormat, SaveSink};
    // The input's own format; a pcapng as soon as files of several link types are merged.
    let format = SaveFormat::FollowInput;
    let to_stdout = path.as_os_str() == "-";
    let file: Box<dyn Write> = if to_stdout {
        Box::new(out)
    } else {
        match std::fs::File::create(path) {
            Ok(f) => Box::new(BufWriter::with_capacity(256 * 1024, f)),
            Err(e) => {
                eprintln!("wireseam: cannot write {}: {e}", path.display());
                return EXIT_ERROR;
            }
        }
    };
    let mut save = SaveSink::new(file, format);
    let (result, missing) = run_selected(&opts, cfg, &mut save);
    if result.is_ok() && !to_stdout {
        let kind = match save.format() {
            SaveFormat::Pcapng => "pcapng",
            SaveFormat::Pcap | SaveFormat::FollowInput => "pcap",
        };
        eprintln!("wireseam: {} frames written to {} ({kind})", crate::numbers::thousands(save.written), path.display());
    }
    missing_conn(&cfg.input, finish(&cfg.input, result, Ok(())), missing)
}

/// A run of `read` into `sink`, through the selection (`-Y`, `--conn`, ...) when there is one;
/// also the `--conn` connection the input turned out to lack (answered as `flow` answers it),
/// unless `--duration` or damage stopped the run before its end.
fn run_selected(opts: &ReadOptions, cfg: &ReadConfig, sink: &mut dyn Sink) -> (Result<pipeline::RunSummary, RunError>, Option<u32>) {
    if cfg.select.is_empty() {
        return (pipeline::run_file(opts, sink), None);
    }
    let mut selected = crate::output::select::SelectSink::new(sink, cfg.select.clone(), cfg.input.count);
    let result = pipeline::run_file(opts, &mut selected);
    // -c stops the run only once frames of the connection were shown; --duration may stop it
    // before the connection starts
    let whole = result.as_ref().is_ok_and(|sum| sum.damage.is_none()) && cfg.select.within_ns.is_none();
    let missing = selected.missing_conn().filter(|_| whole);
    (result, missing)
}

/// `read --conn N` of a connection the input lacks: an error, as for `flow` and `stream`.
fn missing_conn(input: &InputConfig, code: i32, missing: Option<u32>) -> i32 {
    match missing {
        Some(id) if code == EXIT_OK => found(input, crate::output::Found::Missing(id), code, "TCP connection"),
        _ => code,
    }
}

/// Closing messages and the exit status of a file run.
fn finish(input: &InputConfig, result: Result<pipeline::RunSummary, RunError>, written: io::Result<()>) -> i32 {
    if let Err(e) = written {
        if is_broken_pipe(&e) {
            return EXIT_OK;
        }
        eprintln!("wireseam: writing output: {e}");
        return EXIT_ERROR;
    }
    match result {
        Ok(sum) => {
            for linktype in &sum.unsupported_linktypes {
                eprintln!(
                    "wireseam: {}: link type {linktype} ({}) is not decoded; its frames are listed without dissection",
                    input.file.display(),
                    crate::decode::link::linktype_name(*linktype)
                );
            }
            if sum.evicted > 0 {
                eprintln!(
                    "wireseam: warning: {} connections were evicted from the full tracking table ({} at once); they were summarised early and later packets of the same ports count as new connections; raise --max-conns",
                    sum.evicted, sum.max_conns
                );
            }
            let d = &sum.defrag;
            if d.evicted > 0 {
                eprintln!(
                    "wireseam: warning: {} fragmented datagrams were evicted before they were whole: the IP reassembly limits ({} datagrams, {} bytes held) were reached",
                    d.evicted,
                    crate::track::defrag::DefragConfig::default().max_datagrams,
                    crate::track::defrag::DefragConfig::default().max_bytes
                );
            }
            if d.timed_out + d.incomplete + d.dropped > 0 {
                eprintln!(
                    "wireseam: {} fragmented datagrams were not reassembled ({} timed out, {} incomplete at the end, {} discarded)",
                    d.timed_out + d.incomplete + d.dropped,
                    d.timed_out,
                    d.incomplete,
                    d.dropped
                );
            }
            if sum.cap_dropped_bytes > 0 {
                eprintln!(
                    "wireseam: warning: {} bytes of out-of-order stream data were dropped by the reassembly memory caps; the messages they touch are marked incomplete",
                    sum.cap_dropped_bytes
                );
            }
            if sum.bad_checksums > 0 {
                let dropped = if sum.bad_checksums_dropped > 0 {
                    format!("; {} left out of tracking (--drop-bad-checksums)", sum.bad_checksums_dropped)
                } else {
                    String::new()
                };
                eprintln!("wireseam: {} frames with a bad checksum{dropped}", crate::numbers::thousands(sum.bad_checksums));
            }
            if let Some(e) = &sum.damage {
                eprintln!("wireseam: warning: {e} ({} frames read)", sum.frames);
                return EXIT_ERROR;
            }
            EXIT_OK
        }
        Err(RunError::Io(e)) if is_broken_pipe(&e) => EXIT_OK,
        Err(RunError::Filter(e)) => {
            eprintln!("wireseam: {e}; see pcap-filter(7) for the syntax");
            EXIT_USAGE
        }
        Err(e) => {
            eprintln!("wireseam: {e}");
            EXIT_ERROR
        }
    }
}
