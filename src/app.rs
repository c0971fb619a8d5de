//! Program entry: arguments → configuration → run, and the mapping of outcomes to exit codes.
//! A closed output pipe (`| head`) ends the run quietly with status 0, like ripgrep.

use std::io::{self, BufWriter, Write};

use clap::Parser;

use crate::cli::{self, Config, ReadConfig};
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
    }
}

fn is_broken_pipe(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}

fn read(rc: &ReadConfig) -> i32 {
    let stdout = io::stdout();
    let out = BufWriter::with_capacity(256 * 1024, stdout.lock());
    let opts = ReadOptions { path: rc.file.clone(), filter: rc.filter.clone(), count: rc.count };
    let result = if rc.json {
        let mut sink = JsonSink::new(out);
        run(&opts, &mut sink)
    } else {
        let palette = Palette::for_stdout(rc.color);
        let mut sink = TextSink::new(out, TextOptions { verbose: rc.verbose, hex: rc.hex, time: rc.time, palette });
        run(&opts, &mut sink)
    };
    match result {
        Ok(sum) => {
            for lt in &sum.unsupported_linktypes {
                eprintln!(
                    "wireseam: {}: link type {lt} ({}) is not decoded; its frames are listed without dissection",
                    rc.file.display(),
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
