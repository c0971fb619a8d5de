//! `wireseam golden`: record (live while a command runs, or from a file), render, then bless,
//! compare or report what varies.

use std::io::{self, IsTerminal, Write};
use std::path::Path;
use std::process::Command;

use super::{compare, golden_text, record_file, record_live, unstable_lines, GoldenOptions, Header, Recording};
use crate::app::{EXIT_ERROR, EXIT_OK, EXIT_USAGE};
use crate::cli::{GoldenConfig, GoldenOverrides, GoldenSource};
use crate::output::style::ColorMode;

/// The options of this run: the golden file's header, then what the command line says.
fn options(header: Option<GoldenOptions>, given: &GoldenOverrides) -> GoldenOptions {
    let mut opts = header.unwrap_or_else(|| GoldenOptions { framing: "auto".into(), ..GoldenOptions::default() });
    if let Some(level) = given.level {
        opts.level = level;
    }
    if let Some(ignore) = &given.ignore {
        opts.ignore = ignore.clone();
    }
    if let Some(ports) = given.ports {
        opts.ports = ports;
    }
    if let Some(hosts) = given.hosts {
        opts.hosts = hosts;
    }
    if let Some(time) = given.time {
        opts.time = time;
    }
    if given.filter.is_some() {
        opts.filter = given.filter.clone();
    }
    if let Some(framing) = &given.framing {
        opts.framing = framing.clone();
    }
    opts
}

/// One recording: capture while the command runs (its output passes through), or read the file.
/// `Err` is (exit status, message).
fn record(source: &GoldenSource, opts: &GoldenOptions) -> Result<(Recording, Option<i32>), (i32, String)> {
    match source {
        GoldenSource::File(path) => record_file(path, opts).map(|r| (r, None)).map_err(|e| (EXIT_ERROR, e.to_string())),
        GoldenSource::Live { iface, command } => {
            let run = || Command::new(&command[0]).args(&command[1..]).status();
            match record_live(iface, opts, run) {
                Ok((recording, Ok(status))) => Ok((recording, Some(status.code().unwrap_or(EXIT_ERROR)))),
                Ok((_, Err(e))) => Err((EXIT_USAGE, format!("cannot run {}: {e}", command[0]))),
                Err(e) => Err((EXIT_USAGE, e.to_string())),
            }
        }
        GoldenSource::Lab { command, server, rate, delay } => {
            match super::lab::run(opts, command, server.as_deref(), rate.as_deref(), *delay) {
                Ok((recording, status)) => Ok((recording, Some(status.code().unwrap_or(EXIT_ERROR)))),
                Err(super::lab::LabFailure::Setup(msg)) => Err((EXIT_USAGE, msg)),
                Err(super::lab::LabFailure::Run(msg)) => Err((EXIT_ERROR, msg)),
            }
        }
    }
}

/// Runs `wireseam golden`; returns the exit status.
pub fn run(cfg: &GoldenConfig) -> i32 {
    let existing = std::fs::read_to_string(&cfg.expect).ok();
    let bless = cfg.bless || std::env::var("WIRESEAM_BLESS").is_ok_and(|v| v == "1");
    let header = match (&existing, bless || cfg.check_stable.is_some()) {
        (Some(text), false) => match Header::parse(text) {
            Ok(opts) => Some(opts),
            Err(e) => {
                eprintln!("wireseam: {}: {e}; write it anew with --bless", cfg.expect.display());
                return EXIT_USAGE;
            }
        },
        // blessing keeps the old file's settings unless the command line changes them
        (Some(text), true) => Header::parse(text).ok(),
        (None, _) => None,
    };
    let opts = options(header, &cfg.overrides);
    if let Some(runs) = cfg.check_stable {
        return check_stable(cfg, &opts, runs);
    }
    let (recording, status) = match record(&cfg.source, &opts) {
        Ok(r) => r,
        Err((code, msg)) => {
            eprintln!("wireseam: {msg}");
            return code;
        }
    };
    let actual = golden_text(&recording, &opts);
    let frames = match cfg.source {
        GoldenSource::File(_) => format!("{} frames read", recording.frames),
        _ => format!("{} frames captured", recording.frames),
    };
    let failed = status.filter(|&code| code != 0);
    if let Some(code) = failed {
        eprintln!("wireseam: the command exited with status {code}");
    }
    if bless {
        return match write_golden(&cfg.expect, &actual) {
            Ok(()) => {
                eprintln!("wireseam: wrote {} ({} lines, {frames})", cfg.expect.display(), actual.lines().count());
                if failed.is_some() {
                    EXIT_ERROR
                } else {
                    EXIT_OK
                }
            }
            Err(e) => {
                eprintln!("wireseam: cannot write {}: {e}", cfg.expect.display());
                EXIT_ERROR
            }
        };
    }
    let Some(expected) = existing else {
        eprintln!("wireseam: no golden file {} yet: run again with --bless to write it from this run", cfg.expect.display());
        return EXIT_ERROR;
    };
    match compare(&expected, &actual, &cfg.expect.display().to_string()) {
        None => {
            eprintln!("wireseam: {} matches ({frames})", cfg.expect.display());
            if failed.is_some() {
                EXIT_ERROR
            } else {
                EXIT_OK
            }
        }
        Some(diff) => {
            let mut out = io::stdout().lock();
            let color = match cfg.color {
                ColorMode::Always => true,
                ColorMode::Never => false,
                ColorMode::Auto => io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
            };
            let _ = write_diff(&mut out, &diff, color);
            eprintln!("wireseam: {} differs from this run (bless with --bless if the change is intended)", cfg.expect.display());
            EXIT_ERROR
        }
    }
}

fn write_golden(path: &Path, text: &str) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, text)
}

/// The diff, `-` lines red and `+` lines green when `color`.
fn write_diff(out: &mut dyn Write, diff: &str, color: bool) -> io::Result<()> {
    for line in diff.lines() {
        let style = match line.as_bytes().first() {
            _ if !color => "",
            Some(b'-') if !line.starts_with("---") => "\x1b[31m",
            Some(b'+') if !line.starts_with("+++") => "\x1b[32m",
            Some(b'@') => "\x1b[36m",
            _ => "",
        };
        if style.is_empty() {
            writeln!(out, "{line}")?;
        } else {
            writeln!(out, "{style}{line}\x1b[0m")?;
        }
    }
    out.flush()
}

/// `--check-stable N`: the lines that are not the same in all N runs.
fn check_stable(cfg: &GoldenConfig, opts: &GoldenOptions, runs: usize) -> i32 {
    let mut texts = Vec::with_capacity(runs);
    for i in 0..runs {
        match record(&cfg.source, opts) {
            Ok((recording, status)) => {
                if let Some(code) = status.filter(|&code| code != 0) {
                    eprintln!("wireseam: run {}: the command exited with status {code}", i + 1);
                }
                texts.push(golden_text(&recording, opts));
            }
            Err((code, msg)) => {
                eprintln!("wireseam: run {}: {msg}", i + 1);
                return code;
            }
        }
    }
    let unstable = unstable_lines(&texts);
    let mut out = io::stdout().lock();
    if unstable.is_empty() {
        let _ = writeln!(out, "stable: {runs} runs gave the same {} lines at level {}", texts[0].lines().count(), opts.level.name());
        return EXIT_OK;
    }
    let differing = texts[1..].iter().filter(|t| **t != texts[0]).count();
    let _ = writeln!(
        out,
        "{differing} of {} later runs differ from the first at level {}; the lines that vary (runs):",
        runs - 1,
        opts.level.name()
    );
    for (line, n) in &unstable {
        let _ = writeln!(out, "  {n:>3}  {line}");
    }
    EXIT_ERROR
}
