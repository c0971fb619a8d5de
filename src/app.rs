//! Program entry: arguments → configuration → run, and the mapping of outcomes to exit codes.
//! A closed output pipe (`| head`) ends the run quietly with status 0, like ripgrep.

use std::io::{self, BufWriter, Write};

use clap::Parser;

use std::io::IsTerminal;

use crate::cli::{self, Config, ConnsConfig, FlowConfig, InputConfig, ReadConfig};
use crate::output::conns::{select, write_json, write_table, ConnsSink};
use crate::output::flow::{FlowOptions, FlowSink};
use crate::output::json::JsonSink;
use crate::output::style::Palette;
use crate::output::text::{TextOptions, TextSink};
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
    }
}

fn read_options(i: &InputConfig) -> ReadOptions {
    ReadOptions { filter: i.filter.clone(), count: i.count, ..ReadOptions::new(i.file.clone()) }
}

fn conns(cc: &ConnsConfig) -> i32 {
    let mut sink = ConnsSink::default();
    let result = pipeline::run_file(&read_options(&cc.input), &mut sink);
    let rows = select(std::mem::take(&mut sink.rows), &cc.filters, cc.sort, cc.reverse);
    let mut out = BufWriter::new(io::stdout().lock());
    let width = if io::stdout().is_terminal() { terminal_width() } else { None };
    let written = if cc.json { write_json(&mut out, &rows) } else { write_table(&mut out, &rows, width) };
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
    let result = if rc.json {
        let mut sink = JsonSink::new(out);
        run(&opts, &mut sink)
    } else {
        let palette = Palette::for_stdout(rc.color);
        let mut sink = TextSink::new(out, TextOptions { verbose: rc.verbose, hex: rc.hex, time: rc.time, palette });
        run(&opts, &mut sink)
    };
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

fn run(opts: &ReadOptions, sink: &mut dyn Sink) -> Result<pipeline::RunSummary, RunError> {
    let r = pipeline::run_file(opts, sink);
    // Flush errors after a successful run (e.g. the pipe closed at the very end).
    if let Err(RunError::Io(e)) = &r {
        if is_broken_pipe(e) {
            return r;
        }
    }
    let _ = io::stdout().flush();
    r
}
