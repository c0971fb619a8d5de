//! `wireseam golden`: its arguments and their translation into [`GoldenConfig`].

use std::path::PathBuf;

use clap::Args;

use crate::golden::{HostMode, Ignore, Level, PortMode, TimeArg, TimeMode};
use crate::output::style::ColorMode;

pub(super) const GOLDEN_AFTER: &str = "\
Starts a capture (on -i IFACE, default lo), runs COMMAND, stops the capture when it ends,
and compares the normalised result with the golden file. Exit status: 0 equal; 1 different
(a unified diff is printed), no golden file yet, or COMMAND failed; 2 bad arguments or the
capture cannot start. The golden file's header records the level, filter and normalisation,
and a later run uses them unless options say otherwise.

With --lab (root), COMMAND runs in a private lab network instead: two network namespaces
joined by a veth pair (MTU 1500, offloads off), the capture on the client's eth0, COMMAND in
the client's namespace (198.19.0.1) and --server CMD (a shell command, started first; COMMAND
starts once it listens) in the server's (198.19.0.2). Both get WIRESEAM_LAB_SERVER,
WIRESEAM_LAB_CLIENT, WIRESEAM_LAB_SERVER_NS and WIRESEAM_LAB_CLIENT_NS in their environment.
--rate shapes the link as for `gen --lab`. Everything is removed when the run ends, fails or is
interrupted.

Normalised: client (ephemeral) ports become c1, c2, ... in order of appearance (listening
ports kept; --ports keep keeps all), sequence numbers are relative, times are dropped
(--time round:MS keeps them rounded), IP ids, TCP timestamp values, MACs and checksums are
never shown; --hosts map names addresses h1, h2, ...

Examples:
  sudo wireseam golden --expect tests/net/echo.golden --bless tcp port 9000 -- ./echo-test
  sudo wireseam golden --expect tests/net/echo.golden tcp port 9000 -- ./echo-test
  sudo wireseam golden --expect t.golden --level packets --ignore acks,window -- wireseam gen sticky
  sudo wireseam golden --check-stable 20 --expect t.golden -- wireseam gen handshake
  sudo wireseam golden --expect t.golden --lab --server 'python3 srv.py' -- python3 cli.py
  wireseam golden --expect t.golden --from capture.pcap";

/// Arguments of `wireseam golden`.
#[derive(Args, Debug)]
pub struct GoldenArgs {
    /// The golden file to compare with (written with --bless).
    #[arg(long, value_name = "FILE")]
    pub expect: PathBuf,

    /// Write the golden file from this run instead of comparing (also WIRESEAM_BLESS=1).
    #[arg(long)]
    pub bless: bool,

    /// Interface to capture on while COMMAND runs.
    #[arg(short = 'i', long = "interface", default_value = "lo", value_name = "IFACE")]
    pub iface: String,

    /// Run COMMAND in a private lab network (root): in the client's network namespace, joined to
    /// the server's by a veth pair, capturing on the client's eth0.
    #[arg(long, conflicts_with_all = ["iface", "from"])]
    pub lab: bool,

    /// With --lab: a shell command (run with `sh -c`) started in the server's namespace before
    /// COMMAND, which starts once it listens; stopped (SIGTERM, then SIGKILL) after the capture.
    #[arg(long, value_name = "CMD", requires = "lab")]
    pub server: Option<String>,

    /// With --lab: rate limit of the lab's link in each direction (tc tbf syntax: 1mbit, 500kbit).
    #[arg(long, value_name = "RATE", requires = "lab")]
    pub rate: Option<String>,

    /// With --lab: one-way delay in milliseconds on the lab's link (needs the kernel's netem).
    #[arg(long, value_name = "MS", requires = "lab")]
    pub delay: Option<u64>,

    /// Compare a capture file instead of capturing (no COMMAND).
    #[arg(long, value_name = "PCAP", conflicts_with = "iface")]
    pub from: Option<PathBuf>,

    /// conns (per connection: opened, closed, states, Zeek state and history, what was
    /// negotiated), messages (and each direction's application messages: the default) or
    /// packets (and every segment).
    #[arg(long, value_name = "LEVEL")]
    pub level: Option<String>,

    /// With --level packets, what the kernel may vary, left out: acks (pure ACKs), window,
    /// timing (the interleaving of the two directions), coalescing (how data was cut into
    /// segments); comma-separated.
    #[arg(long, value_name = "WHAT", value_delimiter = ',')]
    pub ignore: Option<Vec<String>>,

    /// Client ports: ephemeral (renamed c1, c2, ...) or keep.
    #[arg(long, value_name = "MODE")]
    pub ports: Option<String>,

    /// Addresses: keep, or map (renamed h1, h2, ...).
    #[arg(long, value_name = "MODE")]
    pub hosts: Option<String>,

    /// Times: drop, or round:MS (relative to the first frame, rounded down to MS ms).
    #[arg(long, value_name = "MODE")]
    pub time: Option<String>,

    /// Message framing, as for `stream` (default auto).
    #[arg(long, value_name = "SPEC")]
    pub framing: Option<String>,

    /// Run COMMAND N times and report the lines of the result that vary (to choose a level and
    /// --ignore); the golden file is not read or written.
    #[arg(long, value_name = "N")]
    pub check_stable: Option<usize>,

    /// BPF filter expression for the capture (before `--`).
    #[arg(value_name = "FILTER")]
    pub filter: Vec<String>,

    /// The command to run while capturing (after `--`), with its arguments.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// Where the traffic of a golden run comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GoldenSource {
    /// Capture on an interface while a command runs.
    Live {
        /// The interface.
        iface: String,
        /// The program and its arguments.
        command: Vec<String>,
    },
    /// A command run in a private lab network while the client's side of its link is captured.
    Lab {
        /// The program and its arguments, run in the client's namespace.
        command: Vec<String>,
        /// `--server`: a shell command run in the server's namespace first.
        server: Option<String>,
        /// `--rate`: the link's rate limit (tc tbf syntax).
        rate: Option<String>,
        /// `--delay`: the link's one-way delay.
        delay: Option<std::time::Duration>,
    },
    /// A capture file.
    File(PathBuf),
}

/// Options given on the command line; `None` takes the golden file's header (or the default).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GoldenOverrides {
    /// `--level`.
    pub level: Option<Level>,
    /// `--ignore`.
    pub ignore: Option<Vec<Ignore>>,
    /// `--ports`.
    pub ports: Option<PortMode>,
    /// `--hosts`.
    pub hosts: Option<HostMode>,
    /// `--time`.
    pub time: Option<TimeMode>,
    /// The filter words.
    pub filter: Option<String>,
    /// `--framing`.
    pub framing: Option<String>,
}

/// A validated `wireseam golden`.
#[derive(Clone, Debug)]
pub struct GoldenConfig {
    /// The golden file.
    pub expect: PathBuf,
    /// Write instead of compare.
    pub bless: bool,
    /// Live or from a file.
    pub source: GoldenSource,
    /// Options given.
    pub overrides: GoldenOverrides,
    /// `--check-stable N`.
    pub check_stable: Option<usize>,
    /// Colour of the diff.
    pub color: ColorMode,
}

/// Checks `args`; errors are usage errors (exit 2).
pub(super) fn golden_config(args: GoldenArgs, color: ColorMode) -> Result<GoldenConfig, String> {
    let source = match (args.from, args.command.is_empty()) {
        (Some(_), false) => return Err("--from FILE compares a capture file: give no COMMAND after --".into()),
        (Some(file), true) => GoldenSource::File(file),
        (None, true) => {
            return Err("give the command to run after --, e.g. `wireseam golden --expect t.golden -- ./my-test`, or --from FILE".into())
        }
        (None, false) if args.lab => GoldenSource::Lab {
            command: args.command,
            server: args.server,
            rate: args.rate,
            delay: args.delay.map(std::time::Duration::from_millis),
        },
        (None, false) => GoldenSource::Live { iface: args.iface, command: args.command },
    };
    if args.check_stable == Some(0) || (args.check_stable.is_some() && matches!(source, GoldenSource::File(_))) {
        return Err("--check-stable N runs a COMMAND N ≥ 1 times (not with --from)".into());
    }
    let filter = if args.filter.is_empty() { None } else { Some(args.filter.join(" ")) };
    if let Some(expr) = &filter {
        crate::capture::bpf::Filter::check(expr).map_err(|e| format!("{e}; see pcap-filter(7) for the syntax"))?;
    }
    if let Some(framing) = &args.framing {
        crate::analyze::FramingChoice::parse(framing).map_err(|e| format!("--framing: {e}"))?;
    }
    let mode = |flag: &str, value: Option<String>, names: [&str; 2]| -> Result<Option<bool>, String> {
        match value.as_deref() {
            None => Ok(None),
            Some(v) if v == names[0] => Ok(Some(false)),
            Some(v) if v == names[1] => Ok(Some(true)),
            Some(v) => Err(format!("{flag} {v:?}: use {} or {}", names[0], names[1])),
        }
    };
    let overrides = GoldenOverrides {
        level: args.level.as_deref().map(str::parse).transpose().map_err(|e| format!("--level: {e}"))?,
        ignore: args.ignore.map(|v| v.iter().map(|s| s.parse()).collect::<Result<Vec<Ignore>, _>>()).transpose()?,
        ports: mode("--ports", args.ports, ["ephemeral", "keep"])?.map(|keep| if keep { PortMode::Keep } else { PortMode::Ephemeral }),
        hosts: mode("--hosts", args.hosts, ["keep", "map"])?.map(|map| if map { HostMode::Map } else { HostMode::Keep }),
        time: args.time.as_deref().map(|t| t.parse::<TimeArg>().map(|t| t.0)).transpose()?,
        filter,
        framing: args.framing,
    };
    Ok(GoldenConfig { expect: args.expect, bless: args.bless, source, overrides, check_stable: args.check_stable, color })
}
