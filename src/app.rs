//! Program entry: arguments → configuration → run, and the mapping of outcomes to exit codes.
//! A closed output pipe (`| head`) ends the run quietly with status 0, like ripgrep.

use std::io::{self, BufWriter, Write};

use clap::Parser;

use std::io::IsTerminal;

use crate::cli::{self, CaptureConfig, Config, ConnsConfig, FlowConfig, InputConfig, ReadConfig, StreamConfig};
use crate::output::conns::{select, write_json, write_table, ConnsSink};
use crate::output::flow::{FlowOptions, FlowSink};
use crate::output::style::Palette;
use crate::output::text::{TextOptions, TimeFormat};
use crate::output::{packet_sink, OutputFormat};
use crate::pipeline::{self, ReadOptions, RunError, Sink};

pub const EXIT_OK: i32 = 0;
pub const EXIT_ERROR: i32 = 1;
pub const EXIT_USAGE: i32 = 2;

pub fn main() -> i32 {
    let cli = match cli::Cli::try_parse() {
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
    match config {
        Config::Read(rc) => read(&rc),
        Config::Conns(cc) => conns(&cc),
        Config::Flow(fc) => flow(&fc),
        Config::Capture(cc) => capture(&cc),
        Config::Stream(sc) => stream(&sc),
        Config::Gen(gc) => gen(gc.as_ref()),
        Config::Demo(dc) => {
            let mut out = io::LineWriter::new(io::stdout().lock());
            match crate::demo::run(&dc, &mut out).and_then(|c| out.flush().map(|_| c)) {
                Ok(c) => c,
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
        for s in crate::gen::Scenario::all() {
            println!("{:<14} {}", s.name(), s.describe());
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

fn stream(sc: &StreamConfig) -> i32 {
    use crate::output::stream::{StreamOptions, StreamSink};
    let mut opts = read_options(&sc.input);
    if let Some(seams) = opts.seams.as_mut() {
        seams.keep_bytes = sc.keep_bytes;
        seams.keep_timeline = !sc.recv.is_empty();
    }
    let out = BufWriter::new(io::stdout().lock());
    let o = StreamOptions {
        conn: sc.conn,
        hex: sc.hex,
        recv: sc.recv.clone(),
        recv_at: sc.recv_at,
        preview: sc.preview,
        palette: Palette::for_stdout(sc.color),
    };
    let mut sink = StreamSink::new(out, o);
    let result = pipeline::run_file(&opts, &mut sink);
    finish(&sc.input, result, Ok(()))
}

/// Forwards to a sink and keeps the connection summaries for the closing table.
struct Tee<'a> {
    inner: &'a mut dyn Sink,
    conns: Vec<crate::output::conns::ConnRow>,
}

impl Sink for Tee<'_> {
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
    fn late(&mut self, c: &crate::analyze::Carried) -> io::Result<()> {
        self.inner.late(c)
    }
    fn finish(&mut self, s: &pipeline::RunSummary) -> io::Result<()> {
        self.inner.finish(s)
    }
}

fn capture(cc: &CaptureConfig) -> i32 {
    use crate::capture::live::{self, LiveSource};
    if cc.list {
        return match live::list_interfaces() {
            Ok(lines) => {
                for l in lines {
                    println!("{l}");
                }
                EXIT_OK
            }
            Err(e) => {
                eprintln!("wireseam: cannot list interfaces: {e}");
                EXIT_ERROR
            }
        };
    }
    let mut src = match LiveSource::open(&cc.live) {
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
    let user = cc.user.clone().or_else(live::default_user).unwrap_or_else(|| "root".into());
    let dropped = match live::drop_privileges(&user) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("wireseam: {e}");
            return EXIT_ERROR;
        }
    };
    eprintln!(
        "wireseam: listening on {}, link-type {} ({}), snapshot length {} bytes{}",
        cc.live.iface,
        src.linktype(),
        crate::decode::link::linktype_name(src.linktype()),
        cc.live.snaplen,
        match dropped {
            Some((uid, _)) => format!(", running as {user} (uid {uid})"),
            None => String::new(),
        }
    );
    let stopper = src.stopper();
    {
        let s = stopper.clone();
        if let Err(e) = ctrlc::set_handler(move || s.stop()) {
            eprintln!("wireseam: warning: cannot handle Ctrl-C/SIGTERM ({e}); use -c or --duration");
        }
    }
    if let Some(d) = cc.duration {
        let s = stopper.clone();
        std::thread::spawn(move || {
            std::thread::sleep(d);
            s.stop();
        });
    }
    let opts = ReadOptions { count: cc.count, ..ReadOptions::new(cc.live.iface.clone().into()) };
    // Live lines must appear as frames arrive: flush at every line (the capture buffer absorbs bursts).
    let out = io::LineWriter::new(io::stdout().lock());
    let text = TextOptions { verbose: cc.verbose, hex: cc.hex, time: TimeFormat::Relative, palette: Palette::for_stdout(cc.color) };
    let mut sink = packet_sink(cc.format, text, out);
    let result = if cc.format == OutputFormat::Json {
        pipeline::run(&mut src, &opts, sink.as_mut())
    } else {
        let mut tee = Tee { inner: sink.as_mut(), conns: Vec::new() };
        let r = pipeline::run(&mut src, &opts, &mut tee);
        if r.is_ok() && !tee.conns.is_empty() {
            let mut out = io::stdout().lock();
            let rows = select(tee.conns, &[], crate::output::conns::SortKey::Id, false);
            let _ = writeln!(out).and_then(|_| write_table(&mut out, &rows, None)).and_then(|_| out.flush());
        }
        r
    };
    let st = src.stats;
    if let Ok(sum) = &result {
        eprintln!(
            "wireseam: {} packets captured, {} received by filter{}, {} dropped by kernel, {} dropped by interface",
            sum.frames,
            st.received,
            if cc.live.iface == "lo" { " (loopback counts each frame twice)" } else { "" },
            st.dropped,
            st.if_dropped
        )
    }
    let input = InputConfig {
        file: cc.live.iface.clone().into(),
        filter: None,
        count: cc.count,
        framing: Default::default(),
        max_conns: opts.track.max_conns,
        threads: 1,
    };
    finish(&input, result, Ok(()))
}

fn read_options(i: &InputConfig) -> ReadOptions {
    let mut o = ReadOptions { filter: i.filter.clone(), count: i.count, progress: true, ..ReadOptions::new(i.file.clone()) };
    o.track.max_conns = i.max_conns;
    o.threads = i.threads;
    if let Some(s) = o.seams.as_mut() {
        s.framing = i.framing;
    }
    o
}

fn conns(cc: &ConnsConfig) -> i32 {
    let mut sink = ConnsSink::default();
    let result = pipeline::run_file(&read_options(&cc.input), &mut sink);
    let rows = select(std::mem::take(&mut sink.rows), &cc.filters, cc.sort, cc.reverse);
    let mut out = BufWriter::new(io::stdout().lock());
    let width = if io::stdout().is_terminal() { terminal_width() } else { None };
    let written = match cc.format {
        OutputFormat::Json => write_json(&mut out, &rows),
        OutputFormat::Text => write_table(&mut out, &rows, width),
    };
    let written = written.and_then(|_| out.flush());
    finish(&cc.input, result, written)
}

fn flow(fc: &FlowConfig) -> i32 {
    let out = BufWriter::new(io::stdout().lock());
    let mut sink = FlowSink::new(out, FlowOptions { conn: fc.conn, fold: fc.fold, palette: Palette::for_stdout(fc.color) });
    let result = pipeline::run_file(&read_options(&fc.input), &mut sink);
    finish(&fc.input, result, Ok(()))
}

/// Terminal width from COLUMNS, when a terminal is attached (comfy-table wraps to it).
fn terminal_width() -> Option<u16> {
    std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()).or(Some(120))
}

fn is_broken_pipe(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}

fn read(rc: &ReadConfig) -> i32 {
    let stdout = io::stdout();
    let out = BufWriter::with_capacity(256 * 1024, stdout.lock());
    let opts = read_options(&rc.input);
    let text = TextOptions { verbose: rc.verbose, hex: rc.hex, time: rc.time, palette: Palette::for_stdout(rc.color) };
    let result = pipeline::run_file(&opts, packet_sink(rc.format, text, out).as_mut());
    finish(&rc.input, result, Ok(()))
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
            for lt in &sum.unsupported_linktypes {
                eprintln!(
                    "wireseam: {}: link type {lt} ({}) is not decoded; its frames are listed without dissection",
                    input.file.display(),
                    crate::decode::link::linktype_name(*lt)
                );
            }
            if sum.evicted > 0 {
                eprintln!(
                    "wireseam: warning: {} connections were evicted from the full tracking table ({} at once); they were summarised early and later packets of the same ports count as new connections; raise --max-conns",
                    sum.evicted, sum.max_conns
                );
            }
            if sum.cap_dropped_bytes > 0 {
                eprintln!(
                    "wireseam: warning: {} bytes of out-of-order stream data were dropped by the reassembly memory caps; the messages they touch are marked incomplete",
                    sum.cap_dropped_bytes
                );
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
