//! tcpdump's and tshark's habits on `read` and `capture`: the look of each frame's line (`-v`,
//! `-x`/`-X`, `-A`, `-q`, `-e`, `-t`...), which frames are shown (`-Y`, `--conn`, `--host`,
//! `--port`, `--duration`), and tcpdump's `-e` beside tshark's `-e FIELD`.

use clap::{Args, ValueEnum};

use crate::output::text::TimeFormat;

/// tcpdump's options for the look of each frame's line (`read`, `capture`).
#[derive(Args, Debug)]
pub struct LineArgs {
    /// More detail: every header field and all TCP options, one line per layer (-vv adds more).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Hexdump of each frame's transport payload (offset, hex and ASCII).
    #[arg(short = 'x', long = "hex")]
    pub hex: bool,

    /// The same hexdump (tcpdump's -X: hex and ASCII).
    #[arg(short = 'X')]
    pub hex_ascii: bool,

    /// Each frame's transport payload as ASCII text, other bytes as `.` (tcpdump's -A).
    #[arg(short = 'A', long = "ascii", conflicts_with_all = ["hex", "hex_ascii"])]
    pub ascii: bool,

    /// Short lines: no link column; TCP with its endpoints, connection, flags and length only
    /// (tcpdump's -q).
    #[arg(short = 'q', long = "quick", conflicts_with = "verbose")]
    pub quick: bool,

    /// The link-layer column on every frame (tcpdump's -e), also loopback's zero MACs, which are
    /// left out by default. With -T fields, -e names a field instead (tshark's).
    #[arg(long = "link-layer")]
    pub link: bool,

    /// Time column as tcpdump: -t none, -tt seconds since the epoch, -ttt since the previous
    /// frame, -tttt UTC date and time, -ttttt since the first frame (the default).
    #[arg(short = 't', action = clap::ArgAction::Count, conflicts_with = "time")]
    pub t: u8,

    /// Time column of text output.
    #[arg(long = "time", value_enum, value_name = "FORMAT")]
    pub time: Option<Time>,
}

/// Which frames `read` shows, besides the BPF filter.
#[derive(Args, Debug)]
pub struct SelectArgs {
    /// Display filter over wireseam's own fields, the names of -T fields and of the JSON packet
    /// record (tshark's -Y): `tcp.analysis == retransmission`, `tcp.state.client == "TIME-WAIT"`,
    /// `ip.src == 10.0.0.1 && tcp.len > 0`, `tcp.messages`. Operators == != < <= > >= contains,
    /// && || ! (and, or, not), parentheses; a bare field: the frame has it (and it is not 0 or
    /// false). Grammar: docs/display-filter.md.
    #[arg(short = 'Y', long = "display-filter", value_name = "EXPR")]
    pub display: Option<String>,

    /// Only the frames of connection N (the `#N` of text lines, tcp.conn; as for flow and stream).
    #[arg(long = "conn", value_name = "N")]
    pub conn: Option<u32>,

    /// Only frames from or to this IP address.
    #[arg(long, value_name = "IP")]
    pub host: Option<std::net::IpAddr>,

    /// Only TCP and UDP frames from or to this port.
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,

    /// Only the frames of the first SECONDS of the capture (its own times, from the first frame),
    /// as a `capture --duration SECONDS` would have recorded them.
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<f64>,
}

/// `--time`: the time column of text output.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Time {
    /// Seconds since the first frame.
    Relative,
    /// UTC date and time (RFC 3339).
    Absolute,
    /// Seconds since the previous frame shown.
    Delta,
    /// Seconds since the Unix epoch.
    Epoch,
    /// No time column.
    None,
}

/// The look of text lines from `-v`, `-x`/`-X`/`-A`, `-q`, `-e`, `-t...`/`--time`; usage
/// errors for counts tcpdump does not have.
pub(super) fn text_look(args: &LineArgs) -> Result<TextLook, String> {
    use crate::output::text::{LineDetail, LinkColumn, PayloadDump};
    let time = match (args.time, args.t) {
        (Some(Time::Relative), _) | (None, 0 | 5) => TimeFormat::Relative,
        (Some(Time::Absolute), _) | (None, 4) => TimeFormat::Absolute,
        (Some(Time::Delta), _) | (None, 3) => TimeFormat::Delta,
        (Some(Time::Epoch), _) | (None, 2) => TimeFormat::Epoch,
        (Some(Time::None), _) | (None, 1) => TimeFormat::Omitted,
        (None, n) => return Err(format!("-{}: give -t to -ttttt (tcpdump's time formats)", "t".repeat(usize::from(n)))),
    };
    Ok(TextLook {
        verbose: args.verbose,
        payload: if args.ascii {
            PayloadDump::Ascii
        } else if args.hex || args.hex_ascii {
            PayloadDump::Hex
        } else {
            PayloadDump::None
        },
        time,
        link: match (args.link, args.quick) {
            (true, _) => LinkColumn::Always,
            (false, true) => LinkColumn::Never,
            (false, false) => LinkColumn::Auto,
        },
        detail: if args.quick { LineDetail::Quick } else { LineDetail::Full },
    })
}

/// How text lines look: [`crate::output::text::TextOptions`] without the colours, which
/// depend on where the output goes.
#[derive(Debug, Clone, Copy)]
pub struct TextLook {
    /// How many `-v` were given.
    pub verbose: u8,
    /// The payload under each line (`-x`, `-X`, `-A`).
    pub payload: crate::output::text::PayloadDump,
    /// The time column.
    pub time: TimeFormat,
    /// The link-layer column (`-e`).
    pub link: crate::output::text::LinkColumn,
    /// Full or quick (`-q`) lines.
    pub detail: crate::output::text::LineDetail,
}

impl TextLook {
    /// The text sink's options with `palette`.
    pub fn options(self, palette: crate::output::style::Palette) -> crate::output::text::TextOptions {
        crate::output::text::TextOptions {
            verbose: self.verbose,
            payload: self.payload,
            time: self.time,
            link: self.link,
            detail: self.detail,
            palette,
        }
    }

    /// The first option that changes only text lines, for the error when another format is
    /// chosen: `-x`, `-A`, `-q`, `-e`, `-t`.
    pub(super) fn text_only_option(&self, args: &LineArgs) -> Option<&'static str> {
        use crate::output::text::PayloadDump;
        match self.payload {
            PayloadDump::Hex if args.hex => return Some("-x"),
            PayloadDump::Hex => return Some("-X"),
            PayloadDump::Ascii => return Some("-A"),
            PayloadDump::None => {}
        }
        if args.quick {
            Some("-q")
        } else if args.link {
            Some("-e")
        } else if args.t > 0 || args.time.is_some() {
            Some("-t/--time")
        } else {
            None
        }
    }
}

/// `-Y`, `--conn`, `--host`, `--port`, validated.
pub(super) fn select_config(args: SelectArgs) -> Result<crate::output::select::Selection, String> {
    let display = match &args.display {
        Some(text) => Some(crate::output::display::Expr::parse(text).map_err(|e| format!("-Y: {e}"))?),
        None => None,
    };
    let within_ns = match args.duration {
        Some(secs) if secs.is_finite() && secs > 0.0 => Some((secs * 1e9) as i64),
        Some(secs) => return Err(format!("--duration {secs}: give a positive number of seconds")),
        None => None,
    };
    Ok(crate::output::select::Selection { display, conn: args.conn, host: args.host, port: args.port, within_ns })
}

/// tcpdump's `-e` (link-layer columns) beside tshark's `-e FIELD`: for `read` and `capture`,
/// `-e` names a field only with `-T fields` (where tshark users write it); otherwise it is
/// tcpdump's flag and becomes `--link-layer`, also inside a cluster of flags (`-nne`). Every
/// other argument is left to clap. Words after `--` are not touched.
pub fn tcpdump_args(args: impl IntoIterator<Item = std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let args: Vec<std::ffi::OsString> = args.into_iter().collect();
    let owned: Vec<String> = args.iter().map(|a| a.to_str().unwrap_or("").to_string()).collect();
    let words: Vec<&str> = owned.iter().map(String::as_str).collect();
    let end = words.iter().position(|w| *w == "--").unwrap_or(words.len());
    let command =
        words.iter().skip(1).take(end.saturating_sub(1)).find(|w| !w.starts_with('-') && !matches!(**w, "always" | "never" | "auto"));
    if !matches!(command.copied(), Some("read" | "capture")) {
        return args;
    }
    let fields = words[..end].windows(2).any(|w| matches!(w[0], "-T" | "-F" | "--format") && w[1] == "fields")
        || words[..end].iter().any(|w| matches!(*w, "-Tfields" | "-Ffields" | "--format=fields"));
    if fields {
        return args;
    }
    // Flags without a value that tcpdump users cluster with -e.
    const FLAGS: &str = "nqAXxvte";
    let mut out = Vec::with_capacity(args.len() + 1);
    for (i, arg) in args.into_iter().enumerate() {
        let word = words[i];
        let cluster = word.len() > 1 && word.starts_with('-') && !word.starts_with("--") && word[1..].chars().all(|c| FLAGS.contains(c));
        // `-e ip.src` without -T fields: tshark's, left for the error that asks for -T fields
        let field_follows = word == "-e" && words.get(i + 1).is_some_and(|next| crate::output::fields::Field::parse(next).is_ok());
        if i >= end || !cluster || !word.contains('e') || field_follows {
            out.push(arg);
            continue;
        }
        let rest: String = word[1..].chars().filter(|&c| c != 'e').collect();
        if !rest.is_empty() {
            out.push(format!("-{rest}").into());
        }
        out.push("--link-layer".into());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(args: &str) -> String {
        let out = tcpdump_args(args.split(' ').map(std::ffi::OsString::from));
        out.iter().map(|a| a.to_str().unwrap()).collect::<Vec<_>>().join(" ")
    }

    /// tcpdump's -e is the link-layer flag, tshark's -e a field with -T fields.
    #[test]
    fn tcpdump_e_and_tshark_e() {
        assert_eq!(rewritten("wireseam read -e f.pcap"), "wireseam read --link-layer f.pcap");
        assert_eq!(rewritten("wireseam read -nne f.pcap tcp"), "wireseam read -nn --link-layer f.pcap tcp");
        assert_eq!(rewritten("wireseam --color never capture -i lo -e"), "wireseam --color never capture -i lo --link-layer");
        assert_eq!(rewritten("wireseam read f.pcap -T fields -e ip.src"), "wireseam read f.pcap -T fields -e ip.src");
        assert_eq!(rewritten("wireseam read f.pcap --format=fields -e n"), "wireseam read f.pcap --format=fields -e n");
        assert_eq!(rewritten("wireseam read f.pcap -- -e"), "wireseam read f.pcap -- -e");
        assert_eq!(rewritten("wireseam golden --expect g -- cmd -e"), "wireseam golden --expect g -- cmd -e");
        assert_eq!(rewritten("wireseam stream f.pcap -e"), "wireseam stream f.pcap -e");
        assert_eq!(rewritten("wireseam read -e ip.src f.pcap"), "wireseam read -e ip.src f.pcap", "for the error naming -T fields");
    }
}
