//! Command-line arguments (clap) and their translation into plain configuration. Nothing below
//! this module sees clap types.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::output::style::ColorMode;
use crate::output::text::TimeFormat;

const ABOUT: &str = "Packet dissector that explains TCP: handshakes, teardowns and each endpoint's \
state, windows and MSS, and where application messages stick together or split.";

const AFTER: &str = "\
Examples:
  wireseam read capture.pcap                     one annotated line per frame
  wireseam read capture.pcapng tcp port 9000     only frames matching a BPF filter
  wireseam read -v -x capture.pcap -c 10         every field and a payload hexdump
  wireseam read capture.pcap --format json | jq  JSON lines for programs

Exit status: 0 success; 1 an input could not be read (or was damaged part-way: everything
before the damage is printed first); 2 bad arguments or filter expression.";

#[derive(Parser, Debug)]
#[command(name = "wireseam", version, about = ABOUT, long_about = None, after_help = AFTER, propagate_version = true)]
pub struct Cli {
    /// When to colour text output: auto (a terminal, unless NO_COLOR is set), always or never.
    #[arg(long, value_enum, default_value_t = Color::Auto, global = true, value_name = "WHEN")]
    pub color: Color,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Dissect a pcap or pcapng file: one annotated line (or JSON object) per frame.
    #[command(after_help = READ_AFTER)]
    Read(ReadArgs),
}

const READ_AFTER: &str = "\
Link types: Ethernet (with 802.1Q/QinQ tags), Linux cooked capture v1 and v2 (tcpdump -i any),
raw IP, BSD loopback. Frames of other link types are listed undecoded.

Text columns: frame number, seconds since the first frame, source → destination MAC (or the SLL
direction and source address), protocol, then the protocol's summary. Warnings about malformed
or truncated frames follow a '!' and name the layer and byte offset.

JSON lines (--format json) follow the wireseam JSON-lines contract: one {\"type\":\"packet\"} object
per frame with eth, arp, ip, udp, icmp, tcp and warnings keys as present.";

#[derive(Args, Debug)]
pub struct ReadArgs {
    /// Capture file to read (pcap or pcapng; `-` for standard input).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// BPF filter expression, as for tcpdump (e.g. `tcp port 9000`), compiled by libpcap.
    #[arg(value_name = "FILTER", trailing_var_arg = true, allow_hyphen_values = true)]
    pub filter: Vec<String>,

    /// Stop after N frames (counted after the filter).
    #[arg(short = 'c', long, value_name = "N")]
    pub count: Option<u64>,

    /// Output format.
    #[arg(short = 'F', long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// More detail: every header field and all TCP options, one line per layer (-vv adds more).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Hexdump of each frame's transport payload.
    #[arg(short = 'x', long = "hex")]
    pub hex: bool,

    /// Time column of text output.
    #[arg(short = 't', long = "time", value_enum, default_value_t = Time::Relative, value_name = "FORMAT")]
    pub time: Time,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Aligned annotated lines for people.
    Text,
    /// JSON lines (one object per line) for programs.
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Color {
    Auto,
    Always,
    Never,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Time {
    /// Seconds since the first frame.
    Relative,
    /// UTC date and time (RFC 3339).
    Absolute,
    /// Seconds since the previous frame shown.
    Delta,
}

/// Validated configuration for `read`.
#[derive(Debug, Clone)]
pub struct ReadConfig {
    pub file: PathBuf,
    pub filter: Option<String>,
    pub count: Option<u64>,
    pub json: bool,
    pub verbose: u8,
    pub hex: bool,
    pub time: TimeFormat,
    pub color: ColorMode,
}

#[derive(Debug)]
pub enum Config {
    Read(ReadConfig),
}

/// Turn parsed arguments into configuration; errors are usage errors (exit 2).
pub fn to_config(cli: Cli) -> Result<Config, String> {
    let color = match cli.color {
        Color::Auto => ColorMode::Auto,
        Color::Always => ColorMode::Always,
        Color::Never => ColorMode::Never,
    };
    match cli.command {
        Command::Read(a) => {
            let filter = if a.filter.is_empty() { None } else { Some(a.filter.join(" ")) };
            if let Some(f) = &filter {
                crate::capture::bpf::Filter::check(f).map_err(|e| format!("{e}; see pcap-filter(7) for the syntax"))?;
            }
            if a.count == Some(0) {
                return Err("-c/--count must be at least 1".into());
            }
            Ok(Config::Read(ReadConfig {
                file: a.file,
                filter,
                count: a.count,
                json: a.format == Format::Json,
                verbose: a.verbose,
                hex: a.hex,
                time: match a.time {
                    Time::Relative => TimeFormat::Relative,
                    Time::Absolute => TimeFormat::Absolute,
                    Time::Delta => TimeFormat::Delta,
                },
                color,
            }))
        }
    }
}

/// The clap command, for the man page and completions.
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

/// Render the man pages: `wireseam.1` followed by one page per subcommand.
pub fn man_pages() -> Vec<(String, Vec<u8>)> {
    let cmd = command();
    let mut out = Vec::new();
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut buf).expect("render to memory");
    out.push(("wireseam.1".to_string(), buf));
    for sub in cmd.get_subcommands() {
        let name = format!("wireseam-{}", sub.get_name());
        let sub = sub.clone().name(name.clone()).version(cmd.get_version().unwrap_or("").to_string());
        let mut buf = Vec::new();
        clap_mangen::Man::new(sub).render(&mut buf).expect("render to memory");
        out.push((format!("{name}.1"), buf));
    }
    out
}
