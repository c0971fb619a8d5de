//! Command-line arguments (clap) and their translation into plain configuration. Nothing below
//! this module sees clap types.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod export;
mod golden;
mod lines;
mod man;
pub mod page;
pub use golden::{GoldenArgs, GoldenConfig, GoldenOverrides, GoldenSource};
use lines::{select_config, text_look};
pub use lines::{tcpdump_args, LineArgs, SelectArgs, TextLook, Time};
pub use man::man_pages;

use crate::output::style::ColorMode;

const ABOUT: &str = "Packet dissector that explains TCP: handshakes, teardowns and each endpoint's \
state, windows and MSS, and where application messages stick together or split.";

const AFTER: &str = "\
Examples:
  wireseam read capture.pcap                     one annotated line per frame
  wireseam read capture.pcapng tcp port 9000     only frames matching a BPF filter
  wireseam read -v -x capture.pcap -c 10         every field and a payload hexdump
  wireseam read capture.pcap --format json | jq  JSON lines for programs
  wireseam flow capture.pcap --conn 0            ladder diagram: handshake, data, close, states
  wireseam conns capture.pcap --sort bytes       one row per connection
  wireseam stream capture.pcap --recv 1024       messages, sticky/split seams, what recv() returns
  wireseam stream capture.pcap --follow          both directions' bytes interleaved, as tshark's follow
  wireseam stats capture.pcap                    protocol hierarchy, top talkers, I/O graph, expert summary
  wireseam report capture.pcap -o report.html    all of it drawn in one HTML page
  sudo wireseam capture -i lo tcp port 9000      live, same annotations
  wireseam gen sticky                            make the traffic of a lesson
  wireseam demo                                  the guided tour
  sudo wireseam golden --expect t.golden -- CMD  pin down what CMD does on the wire

Exit status: 0 success; 1 an input could not be read (or was damaged part-way: everything
before the damage is printed first); 2 bad arguments or filter expression.";

/// The command line: a global `--color` and one command.
#[derive(Parser, Debug)]
#[command(name = "wireseam", version, about = ABOUT, long_about = None, after_help = AFTER, propagate_version = true)]
pub struct Cli {
    /// When to colour text output: auto (a terminal, unless NO_COLOR is set), always or never.
    #[arg(long, value_enum, default_value_t = Color::Auto, global = true, value_name = "WHEN")]
    pub color: Color,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands; each variant's doc comment is its `--help` summary.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Dissect a pcap or pcapng file: one annotated line (or JSON object) per frame.
    #[command(after_help = READ_AFTER)]
    Read(ReadArgs),
    /// One row per TCP connection: Zeek state and history, final RFC 9293 states, MSS, window
    /// scale, initial RTT, packets and bytes each way, retransmissions, dup ACKs, zero windows.
    #[command(after_help = CONNS_AFTER)]
    Conns(ConnsArgs),
    /// Ladder (sequence) diagram of each TCP connection: client and server columns, an arrow per
    /// segment, each side's state changes beside its column.
    #[command(after_help = FLOW_AFTER)]
    Flow(FlowArgs),
    /// Capture live on an interface (libpcap) with the same annotations as `read`; `-w` saves a pcap.
    #[command(after_help = CAPTURE_AFTER)]
    Capture(CaptureArgs),
    /// Application messages of each TCP connection (and UDP flow): where they stick together in
    /// one segment or split over several, and what recv(N) would return.
    #[command(after_help = STREAM_AFTER)]
    Stream(StreamArgs),
    /// One self-contained HTML page (opens from disk, fetches nothing): the connections, and for
    /// the largest the ladder, time-sequence graphs, RTT, throughput and message seams with the
    /// recv() calls.
    #[command(after_help = REPORT_AFTER)]
    Report(ReportArgs),
    /// Make traffic on real sockets that shows one lesson (handshake, sticky, split, ...); capture
    /// it with `wireseam capture -i lo` in another terminal, or run it in a private lab (--lab).
    #[command(after_help = GEN_AFTER)]
    Gen(GenArgs),
    /// A guided tour: capture in a lab or on loopback while generators run, then show per scenario the
    /// annotated packets, the ladder diagram and the message seams.
    #[command(after_help = DEMO_AFTER)]
    Demo(DemoArgs),
    /// Golden test of network behaviour: capture while a command runs, normalise what it did on
    /// the wire (ports, ISNs, times), and compare with a golden file; --bless writes it.
    #[command(after_help = golden::GOLDEN_AFTER)]
    Golden(GoldenArgs),
    /// Statistics of a whole capture: protocol hierarchy, top hosts and conversations, an I/O
    /// graph of frames and bytes per interval, and an expert summary of TCP analysis flags and
    /// decode warnings.
    #[command(after_help = STATS_AFTER)]
    Stats(StatsArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) on standard output.
    #[command(after_help = COMPLETIONS_AFTER)]
    Completions(CompletionsArgs),
}

const COMPLETIONS_AFTER: &str = "\
`make install` puts the bash, zsh and fish scripts where those shells look for them.

Examples:
  wireseam completions bash > ~/.local/share/bash-completion/completions/wireseam
  wireseam completions zsh > ~/.zfunc/_wireseam
  wireseam completions fish > ~/.config/fish/completions/wireseam.fish";

/// Arguments of `wireseam completions`.
#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

const DEMO_AFTER: &str = "\
Live when it may capture: as root in a private lab network (two network namespaces joined by a
veth, MTU 1500), with only the capture capabilities on loopback; otherwise, and with --offline, on
the captures bundled in the binary.

Examples:
  sudo wireseam demo
  wireseam demo --offline | less -R";

const GEN_AFTER: &str = "\
Scenarios (wireseam gen --list describes each): handshake half-close server-close reset refused
keepalive zero-window sticky nodelay split framed jsonhdr hello-world remote-cmd echo many
long-short threads fork select epoll bulk udp-echo udp-truncate udp-fragments udp-broadcast arp
backlog reuseaddr; with wireseam's scripted TCP peer (root): rto fast-retransmit syn-retry
simultaneous-open simultaneous-close out-of-order zero-window-probe half-open.
Server and client run in one process on --addr (default 127.0.0.1) unless --role says otherwise, so
two machines or network namespaces can be driven. With --lab (root) they run in two network
namespaces joined by a veth (MTU 1500, offloads off) and the annotated capture follows; the
scripted-peer scenarios always do. Every scenario stops by itself within seconds.

Examples:
  wireseam gen sticky                         Nagle glues small writes into one segment
  wireseam gen split --mss 536 --size 6000    one message over several segments
  wireseam gen remote-cmd --header len        the lesson's fix: a struct.pack('i') length per reply
  wireseam gen long-short --count 5           5 requests on one connection, then on 5 connections
  wireseam gen epoll --count 4                one thread serves 4 clients at once
  wireseam gen handshake --role server --addr 198.18.0.2 --port 9000
  sudo wireseam gen arp --iface veth0
  sudo wireseam gen split --lab               MTU-sized segments and the ARP before them
  sudo wireseam gen rto                       retransmissions with the RTO doubling
  sudo wireseam gen fast-retransmit -w fr.pcap";

/// Arguments of `wireseam gen`.
#[derive(Args, Debug)]
pub struct GenArgs {
    /// Scenario to run (see --list).
    #[arg(value_name = "SCENARIO", required_unless_present = "list")]
    pub scenario: Option<String>,

    /// List the scenarios with what each shows.
    #[arg(long)]
    pub list: bool,

    /// Server address: listen on it, or connect to it.
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR")]
    pub addr: std::net::IpAddr,

    /// Server port (0: a free one, when this process runs the server).
    #[arg(long, default_value_t = 9000, value_name = "PORT")]
    pub port: u16,

    /// both (server and client in this process), server, or client.
    #[arg(long, default_value = "both", value_name = "ROLE")]
    pub role: String,

    /// Seed for random sizes.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// Messages, clients, probes or attempts, where the scenario has such a number.
    #[arg(long, value_name = "N")]
    pub count: Option<usize>,

    /// Message size or transfer size in bytes, where it applies.
    #[arg(long, value_name = "BYTES")]
    pub size: Option<usize>,

    /// TCP_MAXSEG for the client (split).
    #[arg(long, value_name = "BYTES")]
    pub mss: Option<u32>,

    /// Interface for arp and udp-broadcast; udp-truncate and udp-fragments bind their client to it.
    #[arg(long, value_name = "IFACE")]
    pub iface: Option<String>,

    /// Byte order of 4-byte length prefixes: little or big (framed, jsonhdr, split: big by
    /// default; remote-cmd: little, as Python's struct.pack('i') on x86).
    #[arg(long, value_name = "ORDER")]
    pub endian: Option<String>,

    /// Sizes of the server's recv() calls, in order (hello-world: default 1024,1024), or of its
    /// one recvfrom() (udp-truncate: default 1024). With --report also the reader the page
    /// simulates, as `report --recv` (for the other scenarios only that).
    #[arg(long, value_name = "N[,M...]", value_delimiter = ',')]
    pub recv: Vec<usize>,

    /// Milliseconds between accept() and the server's first recv() (hello-world; default 200, so
    /// both writes have arrived; 0 reads at once).
    #[arg(long, value_name = "MS")]
    pub read_after: Option<u64>,

    /// What the remote-cmd server sends before each output: none, len (4-byte length) or json
    /// (4-byte header length + JSON header + output).
    #[arg(long, value_name = "HEADER")]
    pub header: Option<String>,

    /// Run in a private lab network (root): two network namespaces joined by a veth pair (MTU
    /// 1500, offloads off), server in one, client in the other; prints the annotated capture.
    /// The scripted-peer scenarios (rto, fast-retransmit, ...) always run in a lab.
    #[arg(long, conflicts_with_all = ["addr", "role", "iface"])]
    pub lab: bool,

    /// Rate limit of the lab's link (tc tbf syntax: 1mbit, 500kbit).
    #[arg(long, value_name = "RATE", requires = "lab")]
    pub rate: Option<String>,

    /// One-way delay in milliseconds on the lab's link (needs the kernel's netem).
    #[arg(long, value_name = "MS", requires = "lab")]
    pub delay: Option<u64>,

    /// With --lab or a scripted-peer scenario: write the capture to FILE instead of printing it.
    #[arg(short = 'w', value_name = "FILE")]
    pub write: Option<std::path::PathBuf>,

    /// With --lab or a scripted-peer scenario: draw the capture as one HTML page (as `wireseam
    /// report`) in FILE.
    #[arg(long, value_name = "FILE")]
    pub report: Option<std::path::PathBuf>,

    /// With --report: how application messages are delimited, as for `report` (default auto).
    #[arg(long, value_name = "SPEC", requires = "report", help_heading = "With --report")]
    pub framing: Option<String>,

    /// With --report: what the page draws, as for `report`.
    #[command(flatten, next_help_heading = "With --report")]
    pub page: page::PageArgs,

    /// With --report: only the frames this BPF filter matches are drawn (as for `report`).
    #[arg(value_name = "FILTER", trailing_var_arg = true, allow_hyphen_values = true)]
    pub filter: Vec<String>,

    /// No narration.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Arguments of `wireseam demo`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Do not capture; show the tour on the captures bundled in the binary.
    #[arg(long)]
    pub offline: bool,
}

const STREAM_AFTER: &str = "\
TCP is a byte stream: the segments on the wire do not follow the application's send() calls.
wireseam reassembles each direction (retransmissions: the first copy wins; gaps are marked),
finds message boundaries with the framing (--framing, guessed per direction by default), and
marks every message that shares a frame with another ('sticky') or spans several ('split').
UDP datagrams are shown for contrast: one datagram, one message.

Examples:
  wireseam stream capture.pcap --conn 0
  wireseam stream capture.pcap --framing c2s=len:4:be,s2c=lines
  wireseam stream capture.pcap --recv 2              recv(2) on every arrival
  wireseam stream capture.pcap --recv 1024 --slow 50 a reader that wakes every 50 ms
  wireseam stream capture.pcap --recv 1024 --recv-at end
                                                     a reader that comes after everything arrived";

const REPORT_AFTER: &str = "\
The page has an overview (a sortable table of the connections, a timeline of when each was open,
counts by protocol, warnings) and, for the --top largest connections (or --conn N), the ladder
(as `flow`), a time-sequence graph per direction (each segment a bar, the ACK and receive-window
lines, SACK blocks, retransmissions, duplicate ACKs and zero windows marked; zoom and pan), RTT
samples and throughput, and each direction's message seams (segments above, messages below,
sticky and split coloured) with the recv() calls of --recv. Everything is inline: it opens from
disk without network access and reads with JavaScript off; its Content-Security-Policy allows
no fetch and only its own script. Big captures: graphs keep --budget points (every marked
segment is drawn), the table lists --rows connections; the size is printed.

Examples:
  wireseam report capture.pcap -o report.html
  wireseam report capture.pcap -o conn3.html --conn 3 --recv 1024 --recv-at end
  wireseam report big.pcap -o big.html --top 5 tcp port 443";

/// Arguments of `wireseam report`.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// The capture file and how to read it.
    #[command(flatten)]
    pub input: InputArgs,

    /// The HTML file to write (`-`: standard output).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,

    /// Simulate an application calling recv(N) (as for `stream`) and draw its calls under the
    /// seams; a list (2,10) gives the size of each call in turn, the last repeating.
    #[arg(long, value_name = "N[,N...]", value_delimiter = ',')]
    pub recv: Vec<usize>,

    /// What the page draws.
    #[command(flatten)]
    pub page: page::PageArgs,
}

const CAPTURE_AFTER: &str = "\
Stops on Ctrl-C, SIGTERM, -c or --duration; whatever libpcap still holds is drained and shown,
then the connections seen and libpcap's received/dropped counts. Needs root or the binary with
`setcap cap_net_raw,cap_net_admin=eip`; when started as root it drops to an unprivileged user
(--user, default nobody) once the handle and the -w file are open, like tcpdump -Z.

Examples:
  sudo wireseam capture -i lo tcp port 9000
  sudo wireseam capture -i eth0 -w out.pcap --duration 10
  sudo wireseam capture -i eth0 -w - | tshark -r -      the pcap into another tool
  sudo wireseam capture -i eth0 -w ring.pcap -C 100      ring.pcap, ring.pcap1, ... of 100 MB
  sudo wireseam capture -i eth0 -w 'cap-%H%M.pcap' -G 60 a file per minute
  sudo wireseam capture -i lo --format json -c 100 | jq .";

/// Arguments of `wireseam capture`.
#[derive(Args, Debug)]
pub struct CaptureArgs {
    /// Interface to capture on (default: libpcap's first suitable interface).
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    pub iface: Option<String>,

    /// List the interfaces that can be captured on, then exit.
    #[arg(short = 'D', long = "list-interfaces")]
    pub list: bool,

    /// BPF filter expression (kernel-side), as for tcpdump. Options may follow it; a word that
    /// starts with `-` goes after `--`.
    #[arg(value_name = "FILTER")]
    pub filter: Vec<String>,

    /// Stop after N frames.
    #[arg(short = 'c', long, value_name = "N")]
    pub count: Option<u64>,

    /// Stop after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<f64>,

    /// Also write the frames to a pcap file (nanosecond timestamps), each batch of records
    /// written before any of its frames is shown. `-w -`: the pcap on standard output, and no lines there (`| tshark -r -`).
    #[arg(short = 'w', long = "write", value_name = "FILE")]
    pub write: Option<PathBuf>,

    /// With -w: once the file is larger than MB million bytes, go on in the next one: FILE,
    /// FILE1, FILE2, ... (tcpdump's -C).
    #[arg(short = 'C', value_name = "MB", requires = "write")]
    pub file_size: Option<u64>,

    /// With -w: a new file every SECONDS seconds, named by FILE as an strftime(3) pattern of
    /// the local time (`-w cap-%H%M%S.pcap`; without a % each file replaces the last), as
    /// tcpdump's -G.
    #[arg(short = 'G', value_name = "SECONDS", requires = "write")]
    pub rotate_seconds: Option<u64>,

    /// Output format (`-T` is the same option, as in tshark: `-T fields -e ip.src`).
    #[arg(short = 'F', long, short_alias = 'T', value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// The fields of `-T fields` (as for read).
    #[command(flatten)]
    pub fields: FieldArgs,

    /// Bytes to capture per frame.
    #[arg(short = 's', long, default_value_t = 262144, value_name = "BYTES")]
    pub snaplen: i32,

    /// Do not put the interface into promiscuous mode.
    #[arg(short = 'p', long = "no-promiscuous-mode")]
    pub no_promisc: bool,

    /// Kernel capture buffer in MiB (large buffers avoid drops in bursts); wireseam's own queue
    /// behind it holds twice as much, touched only as far as a burst fills it.
    #[arg(short = 'B', long = "buffer-size", default_value_t = 128, value_name = "MIB")]
    pub buffer_mib: i32,

    /// User to become after opening the capture (when started as root); `root` keeps root.
    #[arg(short = 'Z', long = "user", value_name = "NAME")]
    pub user: Option<String>,

    /// Verify IPv4, TCP, UDP, ICMP and ICMPv6 checksums and flag bad ones on their frame; on the
    /// capturing host's own frames they are often "not computed" (the NIC completes them).
    #[arg(long)]
    pub check_checksums: bool,

    /// How tunnels are decoded (as for read).
    #[command(flatten)]
    pub tunnels: TunnelArgs,

    /// How each frame's line looks (as for read).
    #[command(flatten)]
    pub lines: LineArgs,

    /// Also write the HTML report of what was captured (as `wireseam report`) when the capture stops.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// How application messages are delimited, as for `read` (auto: guessed per direction); the
    /// lines' message notes and the --report page use it.
    #[arg(long, default_value = "auto", value_name = "SPEC")]
    pub framing: String,

    /// With --report: simulate an application calling recv(N) (as for `stream`) and draw its
    /// calls under the seams; a list (2,10) gives the size of each call in turn.
    #[arg(long, value_name = "N[,N...]", value_delimiter = ',', requires = "report", help_heading = "With --report")]
    pub recv: Vec<usize>,

    /// With --report: what the page draws, as for `report`.
    #[command(flatten, next_help_heading = "With --report")]
    pub page: page::PageArgs,
}

const CONNS_AFTER: &str = "\
Columns: state is Zeek's conn_state (SF normal close, S0 no answer, REJ refused, RSTO/RSTR reset
by the client/server, S1 open at the end, ...) followed by Zeek's history letters (S syn, h
syn-ack, A ack, D/d data, F/f fin, R/r reset, T/t retransmission, W/w zero window; upper case =
client). Final states are each endpoint's RFC 9293 state after the last segment. Bytes are TCP
payload bytes, retransmissions included.

Examples:
  wireseam conns capture.pcap --sort bytes
  wireseam conns capture.pcap --filter state=SF --filter 'retrans>0'
  wireseam conns capture.pcap --format json";

const FLOW_AFTER: &str = "\
Arrows carry tcpdump-style flags, relative seq (start:end for data), ack, length, the window in
bytes (scaled; '?' when the scale is unknown) and MSS/window-scale options. A state is written
beside its column when it changes. Runs of more than --fold uneventful segments (no SYN, FIN,
RST, analysis flag or state change) are folded into one line with their counts.

Examples:
  wireseam flow capture.pcap --conn 0
  wireseam flow capture.pcap --fold 0          every segment, nothing folded
  wireseam flow capture.pcap tcp port 9000";

const READ_AFTER: &str = "\
Link types: Ethernet (with 802.1Q/QinQ tags), Linux cooked capture v1 and v2 (tcpdump -i any),
raw IP, BSD loopback. Frames of other link types are listed undecoded.

Text columns: frame number, seconds since the first frame, source → destination MAC (or the SLL
direction and source address), protocol, then the protocol's summary. Warnings about malformed
or truncated frames follow a '!' and name the layer and byte offset.

JSON lines (--format json) follow the wireseam JSON-lines contract: one {\"type\":\"packet\"} object
per frame with eth, arp, ip, udp, icmp, tcp and warnings keys as present.

Examples:
  wireseam read capture.pcap
  wireseam read capture.pcapng tcp port 9000 -c 20
  wireseam read -vv -x capture.pcap
  wireseam read capture.pcap --format json | jq 'select(.tcp.analysis | length > 0)'
  wireseam read -r capture.pcap -nn -q -tttt tcp port 443     tcpdump's flags
  wireseam read capture.pcap -Y 'tcp.analysis == retransmission'
  wireseam read capture.pcap --conn 3 -A                       one connection, payload as text
  wireseam read capture.pcap -Y 'tcp.len > 0' -w data.pcap     the frames shown, as a capture
  wireseam read capture.pcap port 80 -w - | tshark -r -

Options may come after the file and the filter; a filter word starting with `-` goes after `--`.
-x/-X, -A, -q, -e and -t apply to text lines: with --format json or -T fields they are refused.";

/// The input every file command takes.
#[derive(Args, Debug)]
pub struct InputArgs {
    /// Capture file to read (pcap or pcapng; `-` for standard input).
    #[arg(value_name = "FILE", required_unless_present = "read_file")]
    pub file: Option<PathBuf>,

    /// BPF filter expression, as for tcpdump (e.g. `tcp port 9000`), compiled by libpcap.
    /// Options may follow it (`tcp port 9000 -c 5`); a word that starts with `-` goes after `--`.
    #[arg(value_name = "FILTER")]
    pub filter: Vec<String>,

    /// The capture file, as tcpdump's and tshark's -r (instead of FILE; the words after the
    /// options are then all filter).
    #[arg(short = 'r', value_name = "FILE")]
    pub read_file: Option<PathBuf>,

    /// Accepted for tcpdump's -n/-nn: wireseam never resolves addresses or ports to names.
    #[arg(short = 'n', action = clap::ArgAction::Count)]
    pub numeric: u8,

    /// Stop after N frames (counted after the filter).
    #[arg(short = 'c', long, value_name = "N")]
    pub count: Option<u64>,

    /// Another capture file read with FILE as one capture (rotated `tcpdump -G`/`-C` files):
    /// frames merged by time as mergecap does, connections continuing across files, frame
    /// numbers running on. Repeat for each file (e.g. `read a.pcap --merge
    /// b.pcap --merge c.pcap tcp port 80`). Compressed or merged input is read on one thread.
    #[arg(long = "merge", value_name = "FILE")]
    pub merge: Vec<PathBuf>,

    /// How application messages are delimited: auto (guess per direction), lines, crlf,
    /// len:N:be / len:N:le (N = 1, 2, 4, 8; +K for K fixed header bytes after the length;
    /// :total when the length counts the header too), jsonhdr[:le|:be][:KEY] (a 4-byte header
    /// length, a JSON header whose KEY gives the body length, the body), http, tls, fixed:N,
    /// segment; per direction as c2s=SPEC,s2c=SPEC.
    #[arg(long, default_value = "auto", value_name = "SPEC")]
    pub framing: String,

    /// TCP connections tracked at once; past it the least recently active one is summarised and
    /// forgotten (bounds memory under floods: about 5 KB per open connection).
    #[arg(long, default_value_t = crate::pipeline::DEFAULT_MAX_CONNS, value_name = "N")]
    pub max_conns: usize,

    /// Threads for file input; the output is the same for any N. `conns`: each thread takes a
    /// share of the connections end to end (default: the available cores, at most 4). `read`,
    /// `flow`, `stream`: a reader thread decodes and tracks, N workers reassemble, output merged
    /// back in frame order (default: the available cores, at most 2; `stream`, `report`: 1). Each thread holds 1/N of the
    /// reassembly memory cap (with `conns`, 2/N of --max-conns). See README, Performance.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,

    /// Verify IPv4, TCP, UDP, ICMP and ICMPv6 checksums and flag bad ones on their frame (a
    /// sending host's own capture shows checksums its NIC completes later as "not computed").
    #[arg(long)]
    pub check_checksums: bool,

    /// As --check-checksums, and leave frames with a bad checksum out of tracking and message
    /// seams, as the receiving stack (and Zeek) would.
    #[arg(long)]
    pub drop_bad_checksums: bool,

    /// How tunnels are decoded (`--tunnel-port`, `--no-decap`, `--inner`).
    #[command(flatten)]
    pub tunnels: TunnelArgs,
}

/// How tunnels are decoded and selected, for file and live input.
#[derive(Args, Debug, Default)]
pub struct TunnelArgs {
    /// Take UDP port PORT as tunnel KIND's (vxlan, geneve, gtpu, teredo), besides its registered
    /// port (4789, 6081, 2152, 3544), as Zeek's `Tunnel::vxlan_ports`; `KIND=off` decodes that
    /// tunnel on no port. Repeatable: `--tunnel-port vxlan=8472 --tunnel-port teredo=off`.
    #[arg(long = "tunnel-port", value_name = "KIND=PORT")]
    pub tunnel_port: Vec<String>,

    /// Do not decode tunnels: GRE, VXLAN, MPLS, IP-in-IP ... are shown and tracked as their
    /// outer layers (the flow is the outer one, if any).
    #[arg(long = "no-decap")]
    pub no_decap: bool,

    /// A pcap-filter(7) expression matched against the innermost IP header (the one inside
    /// every tunnel; for frames without a tunnel, their IP header): `--inner 'tcp port 80'`.
    /// The trailing FILTER applies to the outer headers, as in tcpdump; frames without IP never
    /// pass --inner. Link-layer words (`ether`, `vlan`, `mpls`) cannot be used in it.
    #[arg(long = "inner", value_name = "FILTER")]
    pub inner: Option<String>,
}

impl TunnelArgs {
    /// The decoder's tunnel options and the inner filter, checked.
    pub fn config(&self) -> Result<TunnelConfig, String> {
        use crate::decode::tunnel::{DecodeOptions, UdpTunnel};
        let mut decode = DecodeOptions::DEFAULT;
        decode.decap = !self.no_decap;
        let kinds = || UdpTunnel::ALL.iter().map(|t| t.name()).collect::<Vec<_>>().join(", ");
        for spec in &self.tunnel_port {
            let Some((kind, port)) = spec.split_once('=') else {
                return Err(format!("--tunnel-port {spec}: give KIND=PORT or KIND=off (KIND: {})", kinds()));
            };
            let Some(tunnel) = UdpTunnel::from_name(&kind.to_ascii_lowercase()) else {
                return Err(format!("--tunnel-port {spec}: unknown tunnel `{kind}` (one of {})", kinds()));
            };
            if port.eq_ignore_ascii_case("off") {
                decode.udp.remove(tunnel);
                continue;
            }
            let port: u16 = match port.parse() {
                Ok(0) | Err(_) => return Err(format!("--tunnel-port {spec}: `{port}` is no UDP port (1 to 65535, or off)")),
                Ok(port) => port,
            };
            decode.udp.add(port, tunnel).map_err(|most| format!("--tunnel-port {spec}: at most {most} tunnel ports"))?;
        }
        if self.no_decap && (!self.tunnel_port.is_empty()) {
            return Err("--no-decap decodes no tunnel: --tunnel-port does not apply".into());
        }
        if self.no_decap && self.inner.is_some() {
            return Err("--no-decap decodes no tunnel: --inner does not apply (use the trailing FILTER)".into());
        }
        if let Some(expr) = &self.inner {
            crate::capture::bpf::Filter::check_inner(expr).map_err(|e| format!("--inner: {e}; see pcap-filter(7) for the syntax"))?;
        }
        Ok(TunnelConfig { decode, inner: self.inner.clone() })
    }
}

/// Validated [`TunnelArgs`].
#[derive(Debug, Clone, Default)]
pub struct TunnelConfig {
    /// What the decoder peels off, and on which UDP ports.
    pub decode: crate::decode::tunnel::DecodeOptions,
    /// The `--inner` filter expression.
    pub inner: Option<String>,
}

/// Arguments of `wireseam stream`.
#[derive(Args, Debug)]
pub struct StreamArgs {
    /// The capture file and how to read it.
    #[command(flatten)]
    pub input: InputArgs,

    /// Only connection N (default: every connection and UDP flow).
    #[arg(long = "conn", value_name = "N")]
    pub conn: Option<u32>,

    /// Every connection (the default; for symmetry with --conn).
    #[arg(long, conflicts_with = "conn")]
    pub all: bool,

    /// Hexdump of every message.
    #[arg(short = 'x', long = "hex")]
    pub hex: bool,

    /// Simulate an application that calls recv(N) each time data arrives (--recv-at says when
    /// else), and show what each call returns with message boundaries marked '|', and b'' or
    /// the reset at the end. A list (2,10) gives the size of each call in turn, the last
    /// repeating. On UDP flows: recvfrom(N) on each datagram, which cuts a larger one.
    #[arg(long, value_name = "N[,N...]", value_delimiter = ',')]
    pub recv: Vec<usize>,

    /// With --recv: when the reading application calls recv(). `arrival`: each time data
    /// arrives (default); `after:MS`: first MS ms after the connection is established (a server
    /// busy after accept()), then call after call; `every:MS`: it wakes every MS ms and reads
    /// until the buffer is empty; `end`: once everything has arrived (the most glued case);
    /// `after-send`: once after each message it sends itself (a request/response client).
    #[arg(long, value_name = "WHEN", requires = "recv", conflicts_with = "slow")]
    pub recv_at: Option<String>,

    /// With --recv: the application wakes up only every MS milliseconds and then reads until
    /// the socket buffer is empty (the same as --recv-at every:MS).
    #[arg(long, value_name = "MS", requires = "recv")]
    pub slow: Option<u64>,

    /// Bytes of each message shown in the preview (and of each recv() result, at least 80).
    #[arg(long, default_value_t = 48, value_name = "N")]
    pub preview: usize,

    /// Stream bytes kept per direction for previews and recv (MiB).
    #[arg(long, default_value_t = 16, value_name = "MIB")]
    pub keep: usize,

    /// Instead of the messages, each TCP connection's bytes (--conn N: that one), both
    /// directions interleaved in the order they arrived, as `tshark -z follow,tcp,MODE`: ascii
    /// (text, control bytes escaped; the default), hex (a hexdump per chunk) or raw (hex-encoded,
    /// a line per chunk). The server's chunks are indented by a tab; ascii and hex mark where each
    /// message starts. A bare --follow is ascii, before the file or a filter too.
    #[arg(long, value_enum, value_name = "MODE", num_args = 0..=1, default_missing_value = "ascii", conflicts_with_all = ["hex", "recv"])]
    pub follow: Option<FollowArg>,

    /// Output format: the messages for people, or Parquet files of the message and conn
    /// records in the directory of -o (docs/parquet.md).
    #[arg(short = 'F', long, value_enum, default_value_t = StreamFormatArg::Text)]
    pub format: StreamFormatArg,

    /// Where --format parquet writes.
    #[command(flatten)]
    pub export: export::ExportArgs,
}

/// `-F`/`--format` of `stream`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamFormatArg {
    /// Each connection's messages for people.
    Text,
    /// messages.parquet and conns.parquet in the directory of -o (builds with the `parquet`
    /// feature).
    Parquet,
}

/// `--follow` of `stream`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FollowArg {
    /// Text, line ends kept, control bytes escaped.
    Ascii,
    /// A hexdump of every chunk.
    Hex,
    /// The bytes hex-encoded, a line per chunk (tshark's raw).
    Raw,
}

const STATS_AFTER: &str = "\
Sections: the protocol hierarchy (as `tshark -q -z io,phs`: frames and bytes of every frame that
holds each layer, the layers wireseam decodes), the hosts and the conversations (TCP connections
and UDP flows) with the most bytes (as `-z endpoints,ip` and `-z conv,tcp`), an I/O graph (frames
and bytes per interval since the first frame, as bars that fit the terminal; 80 columns when
piped), and the expert summary (each TCP analysis flag, ARP conflicts and each kind of decode
warning: how many frames, and the first of them). Bytes are frame lengths on the wire, as
tshark's frame.len. Without --interval the interval is 1, 2 or 5 times a power of ten seconds,
chosen so that 20 to 60 rows cover the capture.

Examples:
  wireseam stats capture.pcap
  wireseam stats capture.pcap --interval 0.5 --top 5
  wireseam stats capture.pcap tcp port 443 --format json | jq .hierarchy";

/// `--format` of `stats`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatsFormatArg {
    /// Sections of text with bars.
    Text,
    /// One {"type":"stats"} JSON object.
    Json,
}

/// Arguments of `wireseam stats`.
#[derive(Args, Debug)]
pub struct StatsArgs {
    /// The capture file and how to read it.
    #[command(flatten)]
    pub input: InputArgs,

    /// Seconds per row of the I/O graph (e.g. 1, 0.01; default: 20 to 60 rows over the capture).
    #[arg(long, value_name = "SECS", allow_hyphen_values = true)]
    pub interval: Option<String>,

    /// Hosts and conversations listed, the largest by bytes first (0: all).
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub top: usize,

    /// Output format.
    #[arg(short = 'F', long, value_enum, default_value_t = StatsFormatArg::Text)]
    pub format: StatsFormatArg,
}

/// Arguments of `wireseam conns`.
#[derive(Args, Debug)]
pub struct ConnsArgs {
    /// The capture file and how to read it.
    #[command(flatten)]
    pub input: InputArgs,

    /// Output format: a table, the JSON-lines `conn` records, CSV or TSV with a header line, or a
    /// Zeek conn.log (`zeek-cut` reads it).
    #[arg(short = 'F', long, value_enum, default_value_t = ConnsFormatArg::Text)]
    pub format: ConnsFormatArg,

    /// Order of rows: id, start, duration, bytes, packets or retrans (largest first).
    #[arg(long, default_value = "id", value_name = "KEY")]
    pub sort: String,

    /// Reverse the order.
    #[arg(long)]
    pub reverse: bool,

    /// Keep only connections matching every condition: state=SF, client_state=TIME-WAIT,
    /// server_state=CLOSE-WAIT, host=IP, port=N, or bytes|packets|retrans|dupacks|zerowin|duration
    /// compared with > or < a number (e.g. 'retrans>0').
    #[arg(long = "filter", value_name = "COND")]
    pub conds: Vec<String>,

    /// Only these protocols: tcp, udp, icmp, comma-separated (default: all, as Zeek's conn.log).
    #[arg(long, value_name = "LIST")]
    pub proto: Option<String>,

    /// Where --format parquet writes.
    #[command(flatten)]
    pub export: export::ExportArgs,

    /// With --format parquet and several FILEs: files read at once (default: the available
    /// cores, at most 4).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
}

/// Arguments of `wireseam flow`.
#[derive(Args, Debug)]
pub struct FlowArgs {
    /// The capture file and how to read it.
    #[command(flatten)]
    pub input: InputArgs,

    /// Only connection N (the `#N` of `read` and the id of `conns`).
    #[arg(long = "conn", value_name = "N")]
    pub conn: Option<u32>,

    /// Fold runs of more than N uneventful segments into one line (0: never fold).
    #[arg(long, default_value_t = 6, value_name = "N")]
    pub fold: usize,
}

/// Arguments of `wireseam read`.
#[derive(Args, Debug)]
pub struct ReadArgs {
    /// The capture file and how to read it.
    #[command(flatten)]
    pub input: InputArgs,

    /// Output format (`-T` is the same option, as in tshark: `-T fields -e ip.src`).
    #[arg(short = 'F', long, short_alias = 'T', value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// The fields of `-T fields`.
    #[command(flatten)]
    pub fields: FieldArgs,

    /// How each frame's line looks.
    #[command(flatten)]
    pub lines: LineArgs,

    /// Which frames are shown besides the BPF filter.
    #[command(flatten)]
    pub select: SelectArgs,

    /// Write the frames shown (after the filter, -Y, --conn, --host, --port and -c) to FILE
    /// instead of listing them, as tcpdump -w: link types and timestamps kept, pcap from a pcap,
    /// pcapng from a pcapng (each interface its own). `-w -`: a pcap on standard output (for
    /// `| tshark -r -`), and nothing else there.
    #[arg(short = 'w', long = "write", value_name = "FILE")]
    pub write: Option<PathBuf>,

    /// Where --format parquet writes.
    #[command(flatten)]
    pub export: export::ExportArgs,
}

/// `-F`/`--format` of `read` and `capture`: the output format.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Aligned annotated lines for people.
    Text,
    /// JSON lines (one object per line) for programs.
    Json,
    /// The fields named by -e, one line per frame (tshark's -T fields).
    Fields,
    /// Parquet files in the directory of -o (`read` only; builds with the `parquet` feature;
    /// docs/parquet.md).
    Parquet,
}

/// `-e` and `-E` of `read` and `capture` (tshark's).
#[derive(Args, Debug)]
pub struct FieldArgs {
    /// With -T fields: a field to write, named as its path in the JSON packet record (n, t, ts,
    /// eth.src, ip.src, ip.ttl, tcp.sport, tcp.flags, tcp.rseq, tcp.rack, tcp.len, tcp.win_scaled,
    /// tcp.conn, tcp.dir, tcp.phase, tcp.state.client, tcp.analysis, udp.sport, ...; the
    /// application layer under tshark's names: app.proto, app.info, http.request.method,
    /// tls.handshake.extensions_server_name, dns.qry.name, dns.a, ...; an unknown name lists
    /// them all). Repeat for more columns; a field the frame lacks is an empty cell.
    #[arg(short = 'e', value_name = "FIELD")]
    pub fields: Vec<String>,

    /// With -T fields, as tshark: header=y (a first line of field names), separator=/t|/s|C
    /// (default tab; `-E separator=,` for CSV), aggregator=/s|C (between the elements of a list,
    /// default ,), quote=d|s|n (quote every cell; default: only cells that need it).
    #[arg(short = 'E', value_name = "KEY=VALUE")]
    pub options: Vec<String>,
}

/// `-F`/`--format` of `conns`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnsFormatArg {
    /// A table for people.
    Text,
    /// The JSON-lines `conn` records.
    Json,
    /// Comma-separated values with a header line.
    Csv,
    /// Tab-separated values with a header line.
    Tsv,
    /// A Zeek conn.log (ASCII writer: #fields, #types header lines).
    Zeek,
    /// conns.parquet in the directory of -o (builds with the `parquet` feature;
    /// docs/parquet.md); several FILEs make one table.
    Parquet,
}

/// A word of the trailing filter that names a capture file (`.pcap`, `.pcapng`, `.cap`,
/// compressed or not), which no BPF expression word does.
fn looks_like_capture_file(word: &str) -> bool {
    let name = word.to_ascii_lowercase();
    let name = [".gz", ".bz2", ".xz", ".zst"].iter().find_map(|z| name.strip_suffix(z)).unwrap_or(&name);
    [".pcap", ".pcapng", ".cap"].iter().any(|ext| name.ends_with(ext))
}

/// The packet-listing format of `format`, `-e` and `-E`; usage errors for options that do not
/// go together.
fn packet_format(
    format: Format,
    fields: FieldArgs,
    lines: &LineArgs,
    look: &TextLook,
    export: &export::ExportArgs,
) -> Result<crate::output::OutputFormat, String> {
    use crate::output::OutputFormat;
    let verbose = lines.verbose;
    let parquet = export.options(format == Format::Parquet)?;
    if format != Format::Text {
        let name = match format {
            Format::Json => "-F json",
            Format::Parquet => "-F parquet",
            _ => "-T fields",
        };
        // The JSON records have no payload key (contract version 2): refused, not dropped.
        if let Some(option) = look.text_only_option(lines) {
            return Err(format!("{option} applies only to text output, not to {name}"));
        }
    }
    if format != Format::Fields {
        if let Some(name) = fields.fields.first() {
            return Err(format!("-e {name}: fields are written only with -T fields"));
        }
        if let Some(option) = fields.options.first() {
            return Err(format!("-E {option}: applies only to -T fields"));
        }
    }
    Ok(match format {
        Format::Text => OutputFormat::Text,
        Format::Json if verbose > 0 => return Err("-v applies only to text output, not to -F json (its records have every field)".into()),
        Format::Json => OutputFormat::Json,
        Format::Fields => {
            if verbose > 0 {
                return Err("-v does not apply to -T fields (choose the fields with -e)".into());
            }
            OutputFormat::Fields(crate::output::fields::FieldsSpec::parse(&fields.fields, &fields.options)?)
        }
        Format::Parquet if verbose > 0 => {
            return Err("-v applies only to text output, not to -F parquet (its rows have every field)".into())
        }
        Format::Parquet => OutputFormat::Parquet(parquet.expect("options given for parquet")),
    })
}

/// `--color`: when to colour text output. Its `--help` text names the values already, so they
/// carry no help of their own (`help = None`: these doc comments stay out of `--help`, which
/// would otherwise switch every command's long help to the one-option-per-paragraph layout).
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Color {
    /// On a terminal, unless NO_COLOR is set.
    #[value(help = None)]
    Auto,
    /// Always, also into a pipe or file.
    #[value(help = None)]
    Always,
    /// Never.
    #[value(help = None)]
    Never,
}

/// Where frames come from, and how a file command reads them (validated [`InputArgs`]).
#[derive(Debug, Clone)]
pub struct InputConfig {
    /// The capture file (`-`: standard input); for a live capture, the interface's name.
    pub file: PathBuf,
    /// More capture files read with `file` as one, merged by time (`--merge`).
    pub merge: Vec<PathBuf>,
    /// The BPF filter expression (pcap-filter(7)), its words joined by spaces; `None`: every frame.
    pub filter: Option<String>,
    /// Stop after this many frames shown (counted after the filter; at least 1).
    pub count: Option<u64>,
    /// Framing per TCP direction (`--framing`).
    pub framing: crate::analyze::FramingChoice,
    /// TCP connections tracked at once (`--max-conns`; at least 1).
    pub max_conns: usize,
    /// Threads for file input, 1 to 256 (`--threads`, else the command's default).
    pub threads: usize,
    /// `--check-checksums` / `--drop-bad-checksums`.
    pub checksums: crate::pipeline::ChecksumMode,
    /// `--tunnel-port`, `--no-decap`, `--inner`.
    pub tunnels: TunnelConfig,
}

/// Validated configuration for `stream`.
#[derive(Debug, Clone)]
pub struct StreamConfig {
    /// What to read.
    pub input: InputConfig,
    /// Only this TCP connection; `None`: every connection and UDP flow.
    pub conn: Option<u32>,
    /// A hexdump of every message (`-x`).
    pub hex: bool,
    /// Sizes of the simulated `recv()` calls in turn, the last repeating, each at least 1;
    /// empty: no simulation.
    pub recv: Vec<usize>,
    /// When the simulated application calls recv() (`--recv-at`, `--slow MS` = `every:MS`).
    pub recv_at: crate::analyze::RecvSchedule,
    /// Bytes of each message shown in its preview.
    pub preview: usize,
    /// Stream bytes kept per direction for previews and `recv` (`--keep` MiB, in bytes).
    pub keep_bytes: usize,
    /// When to colour the output.
    pub color: ColorMode,
    /// `--follow MODE`: each TCP connection's bytes interleaved instead of its messages.
    pub follow: Option<crate::output::follow::FollowMode>,
    /// `--format parquet`: the message and conn records written there instead.
    pub parquet: Option<crate::output::parquet::ParquetOptions>,
}

/// Validated configuration for `stats`.
#[derive(Debug, Clone)]
pub struct StatsConfig {
    /// What to read.
    pub input: InputConfig,
    /// Nanoseconds per I/O graph row (`--interval`, at least 1 µs); `None`: chosen for the capture.
    pub interval_ns: Option<u64>,
    /// Hosts and conversations listed (`--top`; 0: all).
    pub top: usize,
    /// Text or JSON.
    pub format: crate::output::stats::StatsFormat,
}

/// Validated configuration for `report`.
#[derive(Debug, Clone)]
pub struct ReportConfig {
    /// What to read.
    pub input: InputConfig,
    /// The page to write (`-`: standard output).
    pub output: PathBuf,
    /// What the page draws.
    pub report: crate::output::report::ReportOptions,
    /// Stream bytes kept per direction (`--keep` KiB, in bytes).
    pub keep_bytes: usize,
}

/// Validated configuration for `read`.
#[derive(Debug, Clone)]
pub struct ReadConfig {
    /// What to read.
    pub input: InputConfig,
    /// Annotated lines or JSON lines.
    pub format: crate::output::OutputFormat,
    /// How text lines look.
    pub look: TextLook,
    /// Which frames are shown besides the BPF filter.
    pub select: crate::output::select::Selection,
    /// `-w FILE`: write the frames shown to this capture file (`-`: standard output) instead
    /// of listing them.
    pub write: Option<PathBuf>,
    /// When to colour the output.
    pub color: ColorMode,
}

/// Validated configuration for `conns`.
#[derive(Debug, Clone)]
pub struct ConnsConfig {
    /// What to read.
    pub input: InputConfig,
    /// A table, the JSON-lines `conn` records, CSV, TSV or a Zeek conn.log.
    pub format: crate::output::conns_log::ConnsFormat,
    /// Order of the rows (`--sort`).
    pub sort: crate::output::conns::SortKey,
    /// Reverse that order (`-r`).
    pub reverse: bool,
    /// Conditions a row must all meet (`--filter`).
    pub filters: Vec<crate::output::conns::ConnFilter>,
    /// `--format parquet`: where, and the further files of a capture set (`Some` exactly when
    /// `format` is [`ConnsFormat::Parquet`](crate::output::conns_log::ConnsFormat::Parquet)).
    pub parquet: Option<ConnsExport>,
}

/// `conns --format parquet -o DIR FILE...`: the Parquet options and the capture set.
#[derive(Debug, Clone)]
pub struct ConnsExport {
    /// The directory and its layout.
    pub options: crate::output::parquet::ParquetOptions,
    /// Files after the first (`InputConfig::file`), read as one capture set.
    pub files: Vec<PathBuf>,
    /// Files read at once (`--jobs`).
    pub jobs: usize,
}

/// Validated configuration for `flow`.
#[derive(Debug, Clone)]
pub struct FlowConfig {
    /// What to read.
    pub input: InputConfig,
    /// Only this connection; `None`: every one.
    pub conn: Option<u32>,
    /// Runs of more than this many uneventful segments are folded into one line (0: never).
    pub fold: usize,
    /// When to colour the output.
    pub color: ColorMode,
}

/// Validated configuration for `capture`.
#[derive(Debug, Clone)]
pub struct CaptureConfig {
    /// The interface and how libpcap opens it (filter, snap length, promiscuous mode, kernel
    /// buffer, `-w` file).
    pub live: crate::capture::live::LiveConfig,
    /// List the interfaces and exit (`-D`).
    pub list: bool,
    /// Stop after this many frames (`-c`; at least 1).
    pub count: Option<u64>,
    /// Stop after this long (`--duration`; positive).
    pub duration: Option<std::time::Duration>,
    /// Annotated lines or JSON lines.
    pub format: crate::output::OutputFormat,
    /// How text lines look.
    pub look: TextLook,
    /// User to become after opening the capture when started as root (`-Z`); `None`: the
    /// default unprivileged user.
    pub user: Option<String>,
    /// When to colour the output.
    pub color: ColorMode,
    /// `--check-checksums`: flag bad checksums (a live capture never leaves frames out for them).
    pub checksums: crate::pipeline::ChecksumMode,
    /// `--tunnel-port`, `--no-decap`, `--inner`.
    pub tunnels: TunnelConfig,
    /// Framing per TCP direction (`--framing`).
    pub framing: crate::analyze::FramingChoice,
    /// Write the HTML report when the capture stops (`--report`), with what it draws.
    pub report: Option<CaptureReport>,
}

/// The page of `capture --report FILE`, drawn as `wireseam report` draws a file.
#[derive(Debug, Clone)]
pub struct CaptureReport {
    /// The HTML file to write (`-`: standard output).
    pub output: PathBuf,
    /// What the page draws (`--conn`, `--top`, `--recv`, ...).
    pub report: crate::output::report::ReportOptions,
    /// Stream bytes kept per direction (`--keep` KiB, in bytes).
    pub keep_bytes: usize,
}

/// The page of `gen --lab --report FILE`: drawn from the lab's capture as `wireseam report`
/// draws a file, with the same options.
#[derive(Debug, Clone)]
pub struct LabPage {
    /// The HTML file to write.
    pub output: PathBuf,
    /// Only the frames this BPF filter matches are drawn.
    pub filter: Option<String>,
    /// Framing per TCP direction (`--framing`).
    pub framing: crate::analyze::FramingChoice,
    /// What the page draws.
    pub report: crate::output::report::ReportOptions,
    /// Stream bytes kept per direction (`--keep` KiB, in bytes).
    pub keep_bytes: usize,
}

fn lab_page(
    title: String,
    output: PathBuf,
    filter: Vec<String>,
    framing: Option<String>,
    page: page::PageArgs,
    recv: Vec<usize>,
) -> Result<LabPage, String> {
    let filter = if filter.is_empty() { None } else { Some(filter.join(" ")) };
    if let Some(expr) = &filter {
        crate::capture::bpf::Filter::check(expr).map_err(|e| format!("{e}; see pcap-filter(7) for the syntax"))?;
    }
    let framing = crate::analyze::FramingChoice::parse(framing.as_deref().unwrap_or("auto")).map_err(|e| format!("--framing: {e}"))?;
    let (report, keep_bytes) = page.options(title, recv)?;
    Ok(LabPage { output, filter, framing, report, keep_bytes })
}

/// A command line turned into what to run (see [`to_config`]).
#[derive(Debug)]
pub enum Config {
    /// `wireseam read`.
    Read(ReadConfig),
    /// `wireseam conns`.
    Conns(ConnsConfig),
    /// `wireseam flow`.
    Flow(FlowConfig),
    /// `wireseam capture`.
    Capture(CaptureConfig),
    /// `wireseam stream`.
    Stream(StreamConfig),
    /// `wireseam report`.
    Report(ReportConfig),
    /// `wireseam stats`.
    Stats(StatsConfig),
    /// `wireseam gen`: the scenario to run, or `None` to list them (`--list`).
    Gen(Option<crate::gen::GenConfig>),
    /// `wireseam gen --lab`, and the scripted-peer scenarios; with `--report`, its page.
    Lab(crate::lab::LabConfig, Option<LabPage>),
    /// `wireseam demo`.
    Demo(crate::demo::DemoConfig),
    /// `wireseam golden`.
    Golden(GoldenConfig),
    /// `wireseam completions`: the shell to write a script for.
    Completions(clap_complete::Shell),
}

/// `--threads` of `conns` when not given: the available cores, at most this many. Each thread
/// adds its own tables and pages in use; the cap is chosen so that a default run's peak RSS on
/// the 2 GB bench capture stays within the 64 MB target (figures per thread count:
/// `benches/README.md`, Memory).
const MAX_DEFAULT_CONNS_THREADS: usize = 4;

/// `--threads` of `read` and `flow` when not given: the available cores, at most this many
/// seam workers (besides the reader and the renderer, which stay one thread each and are the
/// limit with more workers). Each worker holds batches in flight; the cap is chosen so that
/// `read --format json`, the largest, stays within the 64 MB peak RSS target on the 2 GB bench
/// capture (`benches/README.md`, Memory).
const MAX_DEFAULT_READ_THREADS: usize = 2;

/// `--threads` of `report` when not given. Its second pass keeps details for the largest
/// connections alone, so a worker gains it about 2 % of wall time on the bench captures, while
/// the worker's own tables and malloc arena cost about 39 MB of peak RSS on the 2 GB one (96 MB
/// against 57 MB: `benches/README.md`, Memory).
const DEFAULT_REPORT_THREADS: usize = 1;

/// The cores available to this process, up to `max`.
fn default_threads(max: usize) -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).min(max)
}

/// `default_threads`: `--threads` when not given.
fn input_config(args: InputArgs, default_threads: usize) -> Result<InputConfig, String> {
    // With -r FILE, the first word is the filter's (clap gave it to FILE).
    let (file, words) = match (args.read_file, args.file) {
        (Some(file), Some(first)) => (file, std::iter::once(first.to_string_lossy().into_owned()).chain(args.filter).collect()),
        (Some(file), None) | (None, Some(file)) => (file, args.filter),
        (None, None) => return Err("give the capture file (FILE or -r FILE)".into()),
    };
    let filter = if words.is_empty() { None } else { Some(words.join(" ")) };
    if let Some(expr) = &filter {
        crate::capture::bpf::Filter::check(expr).map_err(|e| format!("{e}; see pcap-filter(7) for the syntax"))?;
    }
    if args.count == Some(0) {
        return Err("-c/--count must be at least 1".into());
    }
    let framing = crate::analyze::FramingChoice::parse(&args.framing).map_err(|e| format!("--framing: {e}"))?;
    if args.max_conns == 0 {
        return Err("--max-conns must be at least 1".into());
    }
    let threads = match args.threads {
        Some(0) => return Err("--threads must be at least 1".into()),
        Some(n) if n > 256 => return Err(format!("--threads {n}: at most 256")),
        Some(n) => n,
        None => default_threads,
    };
    let checksums = match (args.check_checksums, args.drop_bad_checksums) {
        (_, true) => crate::pipeline::ChecksumMode::Drop,
        (true, false) => crate::pipeline::ChecksumMode::Check,
        (false, false) => crate::pipeline::ChecksumMode::Off,
    };
    let tunnels = args.tunnels.config()?;
    Ok(InputConfig { file, merge: args.merge, filter, count: args.count, framing, max_conns: args.max_conns, threads, checksums, tunnels })
}

/// Turn parsed arguments into configuration; errors are usage errors (exit 2).
pub fn to_config(cli: Cli) -> Result<Config, String> {
    let color = match cli.color {
        Color::Auto => ColorMode::Auto,
        Color::Always => ColorMode::Always,
        Color::Never => ColorMode::Never,
    };
    match cli.command {
        Command::Read(args) => {
            let look = text_look(&args.lines)?;
            let write = match &args.write {
                Some(path) => {
                    if args.format != Format::Text {
                        return Err(format!("-w {} writes the frames instead of listing them: leave out -F/-T", path.display()));
                    }
                    if let Some(option) = look.text_only_option(&args.lines).or((args.lines.verbose > 0).then_some("-v")) {
                        return Err(format!("{option} changes listed lines, and -w {} lists none", path.display()));
                    }
                    Some(path.clone())
                }
                None => None,
            };
            Ok(Config::Read(ReadConfig {
                input: input_config(args.input, default_threads(MAX_DEFAULT_READ_THREADS))?,
                format: packet_format(args.format, args.fields, &args.lines, &look, &args.export)?,
                look,
                select: select_config(args.select)?,
                write,
                color,
            }))
        }
        Command::Conns(mut args) => {
            use crate::output::conns::{ConnFilter, SortKey};
            let parquet = args.export.options(args.format == ConnsFormatArg::Parquet)?;
            // a capture set: the filter words before the first that is not a file are more files
            let mut files = Vec::new();
            while args.input.filter.first().is_some_and(|word| std::path::Path::new(word).is_file()) {
                let word = args.input.filter.remove(0);
                if parquet.is_none() {
                    return Err(format!(
                        "{word}: several capture files make one table only with --format parquet -o DIR; --merge {word} reads them as one capture"
                    ));
                }
                files.push(PathBuf::from(word));
            }
            // a capture file's name that is no file: say so, not "bad filter"
            if let Some(word) = args.input.filter.first().filter(|w| looks_like_capture_file(w)) {
                return Err(format!("{word}: no such capture file (the words after the files are the BPF filter)"));
            }
            if parquet.is_some() && (args.sort != "id" || args.reverse) {
                return Err("--sort and --reverse order the table and text rows; order Parquet rows in SQL (ORDER BY)".into());
            }
            let jobs = match args.jobs {
                Some(0) => return Err("--jobs 0: give at least 1".into()),
                Some(n) => n,
                None => default_threads(MAX_DEFAULT_CONNS_THREADS),
            };
            Ok(Config::Conns(ConnsConfig {
                parquet: parquet.map(|options| ConnsExport { options, files, jobs }),
                input: input_config(args.input, default_threads(MAX_DEFAULT_CONNS_THREADS))?,
                format: {
                    use crate::output::conns_log::{ConnsFormat, Delimited};
                    match args.format {
                        ConnsFormatArg::Text => ConnsFormat::Table,
                        ConnsFormatArg::Json => ConnsFormat::Json,
                        ConnsFormatArg::Csv => ConnsFormat::Delimited(Delimited::Csv),
                        ConnsFormatArg::Tsv => ConnsFormat::Delimited(Delimited::Tsv),
                        ConnsFormatArg::Zeek => ConnsFormat::Delimited(Delimited::Zeek),
                        ConnsFormatArg::Parquet => ConnsFormat::Parquet,
                    }
                },
                sort: SortKey::parse(&args.sort)?,
                reverse: args.reverse,
                filters: {
                    let mut filters: Vec<ConnFilter> = args.conds.iter().map(|c| ConnFilter::parse(c)).collect::<Result<_, _>>()?;
                    if let Some(list) = &args.proto {
                        filters.push(ConnFilter::protos(list).map_err(|e| format!("--proto {list}: {e}"))?);
                    }
                    filters
                },
            }))
        }
        Command::Flow(args) => Ok(Config::Flow(FlowConfig {
            input: input_config(args.input, default_threads(MAX_DEFAULT_READ_THREADS))?,
            conn: args.conn,
            fold: args.fold,
            color,
        })),
        Command::Gen(args) => {
            if args.list {
                return Ok(Config::Gen(None));
            }
            let name = args.scenario.unwrap_or_default();
            let scenario: crate::gen::Scenario = name.parse().map_err(|e: crate::gen::UnknownScenario| e.to_string())?;
            let role: crate::gen::Role = args.role.parse().map_err(|e: crate::gen::UnknownRole| e.to_string())?;
            // --recv is the scenario's own reads where it makes them; with --report it is also
            // (for the other scenarios only) the page's simulated reader
            let scenario_reads = matches!(scenario, crate::gen::Scenario::HelloWorld | crate::gen::Scenario::UdpTruncate);
            let page_recv = if args.report.is_some() { args.recv.clone() } else { Vec::new() };
            let recv = if args.report.is_some() && !scenario_reads { Vec::new() } else { args.recv };
            let cfg = crate::gen::GenConfig {
                scenario,
                addr: args.addr,
                port: args.port,
                role,
                seed: args.seed,
                count: args.count,
                size: args.size,
                mss: args.mss,
                // in the lab, the interface is the namespace's eth0
                iface: args.iface.or_else(|| (args.lab && scenario.needs_iface()).then(|| "eth0".to_string())),
                endian: args.endian.map(|text| text.parse()).transpose()?,
                recv,
                read_after: args.read_after.map(std::time::Duration::from_millis),
                header: args.header.map(|text| text.parse()).transpose()?,
                quiet: args.quiet,
            };
            cfg.validate().map_err(|e| e.to_string())?;
            if args.report.is_none() && (args.page.any() || !args.filter.is_empty()) {
                return Err(if args.filter.is_empty() {
                    "--conn, --top, --rows, --fold, --budget, --recv-at, --preview and --keep shape the page of --report FILE: add it"
                        .into()
                } else {
                    format!("unexpected argument '{}': a FILTER after the scenario selects what --report FILE draws", args.filter[0])
                });
            }
            if args.lab || scenario.needs_peer() {
                if role != crate::gen::Role::Both {
                    return Err("the lab runs both sides itself: leave out --role".into());
                }
                let page = match args.report {
                    Some(output) => {
                        Some(lab_page(format!("wireseam gen {scenario} --lab"), output, args.filter, args.framing, args.page, page_recv)?)
                    }
                    None => None,
                };
                return Ok(Config::Lab(
                    crate::lab::LabConfig {
                        gen: cfg,
                        rate: args.rate,
                        delay: args.delay.map(std::time::Duration::from_millis),
                        write: args.write,
                        color,
                    },
                    page,
                ));
            }
            if args.report.is_some() {
                return Err("--report draws the lab's capture: add --lab (or `wireseam capture --report FILE` while gen runs)".into());
            }
            if args.write.is_some() {
                return Err("-w writes the lab's capture: add --lab (or capture with `wireseam capture -w`)".into());
            }
            Ok(Config::Gen(Some(cfg)))
        }
        Command::Demo(args) => Ok(Config::Demo(crate::demo::DemoConfig { color, offline: args.offline })),
        Command::Golden(args) => Ok(Config::Golden(golden::golden_config(args, color)?)),
        Command::Completions(args) => Ok(Config::Completions(args.shell)),
        Command::Stats(args) => Ok(Config::Stats(StatsConfig {
            input: input_config(args.input, 1)?,
            interval_ns: args.interval.as_deref().map(interval_ns).transpose()?,
            top: args.top,
            format: match args.format {
                StatsFormatArg::Text => crate::output::stats::StatsFormat::Text,
                StatsFormatArg::Json => crate::output::stats::StatsFormat::Json,
            },
        })),
        Command::Stream(args) => {
            if args.recv.contains(&0) {
                return Err("--recv sizes must be at least 1 byte".into());
            }
            let parquet = args.export.options(args.format == StreamFormatArg::Parquet)?;
            if parquet.is_some() && (args.conn.is_some() || args.hex || !args.recv.is_empty() || args.follow.is_some()) {
                return Err("--conn, -x, --recv and --follow shape the text view; -F parquet writes every message (select in SQL)".into());
            }
            Ok(Config::Stream(StreamConfig {
                parquet,
                input: input_config(args.input, 1)?,
                conn: args.conn,
                hex: args.hex,
                recv: args.recv,
                recv_at: match (args.recv_at, args.slow) {
                    (Some(w), _) => w.parse().map_err(|e| format!("--recv-at {e}"))?,
                    (None, Some(ms)) => crate::analyze::RecvSchedule::Every { ms: ms.max(1) },
                    (None, None) => crate::analyze::RecvSchedule::Arrival,
                },
                preview: args.preview,
                keep_bytes: args.keep.saturating_mul(1 << 20),
                color,
                follow: args.follow.map(|mode| match mode {
                    FollowArg::Ascii => crate::output::follow::FollowMode::Ascii,
                    FollowArg::Hex => crate::output::follow::FollowMode::Hex,
                    FollowArg::Raw => crate::output::follow::FollowMode::Raw,
                }),
            }))
        }
        Command::Capture(args) => {
            let look = text_look(&args.lines)?;
            if args.write.as_deref().is_some_and(|p| p.as_os_str() == "-") {
                // standard output holds the pcap: nothing else may go there
                if args.format != Format::Text {
                    return Err("-w - writes the pcap to standard output: leave out -F/-T (no lines are written)".into());
                }
                if let Some(option) = look.text_only_option(&args.lines).or((args.lines.verbose > 0).then_some("-v")) {
                    return Err(format!("{option} changes listed lines, and -w - lists none"));
                }
                if args.report.as_deref().is_some_and(|p| p.as_os_str() == "-") {
                    return Err("-w - and --report - both want standard output: give --report a file".into());
                }
            }
            let filter = if args.filter.is_empty() { None } else { Some(args.filter.join(" ")) };
            if let Some(expr) = &filter {
                crate::capture::bpf::Filter::check(expr).map_err(|e| format!("{e}; see pcap-filter(7) for the syntax"))?;
            }
            if args.count == Some(0) {
                return Err("-c/--count must be at least 1".into());
            }
            let duration = match args.duration {
                Some(secs) if secs.is_finite() && secs > 0.0 => Some(std::time::Duration::from_secs_f64(secs)),
                Some(secs) => return Err(format!("--duration {secs}: give a positive number of seconds")),
                None => None,
            };
            if args.snaplen < 1 {
                return Err(format!("--snaplen {}: must be at least 1", args.snaplen));
            }
            if !(1..=2047).contains(&args.buffer_mib) {
                return Err(format!("--buffer-size {}: give 1 to 2047 MiB", args.buffer_mib));
            }
            let iface = match args.iface {
                Some(iface) => iface,
                None if args.list => String::new(),
                None => {
                    pcap::Device::lookup().ok().flatten().map(|d| d.name).ok_or("no interface to capture on: give one with -i (see -D)")?
                }
            };
            let report = match args.report {
                Some(output) => {
                    let title = format!("live capture on {iface}");
                    let (report, keep_bytes) = args.page.options(title, args.recv)?;
                    Some(CaptureReport { output, report, keep_bytes })
                }
                None if args.page.any() => {
                    return Err("--conn, --top, --rows, --fold, --budget, --recv-at, --preview and --keep say what the --report page draws: give --report FILE".into())
                }
                None => None,
        };
            Ok(Config::Capture(CaptureConfig {
                live: crate::capture::live::LiveConfig {
                    iface,
                    filter,
                    snaplen: args.snaplen,
                    promisc: !args.no_promisc,
                    buffer_bytes: args.buffer_mib * 1024 * 1024,
                    rotate: {
                        if args.file_size == Some(0) || args.rotate_seconds == Some(0) {
                            return Err("-C and -G must be at least 1".into());
                        }
                        let rotating = args.file_size.is_some() || args.rotate_seconds.is_some();
                        if rotating && args.write.as_deref().is_some_and(|p| p.as_os_str() == "-") {
                            return Err("-C/-G rotate files: they do not apply to -w - (standard output)".into());
                        }
                        crate::capture::live::Rotation {
                            size: args.file_size.map(|mb| mb.saturating_mul(1_000_000)),
                            seconds: args.rotate_seconds,
                        }
                    },
                    write: args.write,
                },
                list: args.list,
                count: args.count,
                duration,
                format: {
                    if args.format == Format::Parquet {
                        return Err("-F parquet writes files from a capture file: capture with -w FILE, then `wireseam read FILE -F parquet -o DIR`".into());
                    }
                    packet_format(args.format, args.fields, &args.lines, &look, &Default::default())?
                },
                look,
                user: args.user,
                color,
                checksums: if args.check_checksums { crate::pipeline::ChecksumMode::Check } else { crate::pipeline::ChecksumMode::Off },
                tunnels: args.tunnels.config()?,
                framing: crate::analyze::FramingChoice::parse(&args.framing).map_err(|e| format!("--framing: {e}"))?,
                report,
            }))
        }
        Command::Report(args) => {
            let input = input_config(args.input, DEFAULT_REPORT_THREADS)?;
            let title = input.file.display().to_string();
            let (report, keep_bytes) = args.page.options(title, args.recv)?;
            Ok(Config::Report(ReportConfig { input, output: args.output, report, keep_bytes }))
        }
    }
}

/// `stream --follow` without a mode: the next word is the capture file or the filter, not a
/// mode, so `--follow` becomes `--follow=ascii` (clap would take the word for the mode). Words
/// after `--` are not touched.
pub fn follow_args(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let words: Vec<&str> = args.iter().map(|a| a.to_str().unwrap_or("")).collect();
    let end = words.iter().position(|w| *w == "--").unwrap_or(words.len());
    if !words[..end].contains(&"stream") {
        return args;
    }
    let mut out = args.clone();
    for i in 0..end {
        let mode = words.get(i + 1).filter(|_| i + 1 < end);
        if words[i] == "--follow" && !mode.is_some_and(|w| matches!(*w, "ascii" | "hex" | "raw")) {
            out[i] = "--follow=ascii".into();
        }
    }
    out
}

/// `--interval SECS` in nanoseconds: a positive number of seconds, at least 1 µs, at most a
/// year.
fn interval_ns(text: &str) -> Result<u64, String> {
    let bad = || format!("--interval {text}: give a positive number of seconds, from 0.000001 to 31536000 (e.g. 1 or 0.01)");
    let secs: f64 = text.trim().parse().map_err(|_| bad())?;
    if !secs.is_finite() || !(0.000_001..=31_536_000.0).contains(&secs) {
        return Err(bad());
    }
    Ok((secs * 1e9).round() as u64)
}

/// The clap command, for the man page and completions.
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn follow(args: &str) -> String {
        let words = args.split(' ').map(std::ffi::OsString::from).collect();
        follow_args(words).iter().map(|w| w.to_string_lossy().into_owned()).collect::<Vec<_>>().join(" ")
    }

    /// A bare `--follow` before the file (or a filter, or nothing) is `--follow=ascii`; a mode
    /// after it stays; other commands and words after `--` are left alone.
    #[test]
    fn bare_follow_means_ascii() {
        assert_eq!(follow("wireseam stream --follow x.pcap"), "wireseam stream --follow=ascii x.pcap");
        assert_eq!(follow("wireseam stream x.pcap --follow"), "wireseam stream x.pcap --follow=ascii");
        assert_eq!(follow("wireseam stream x.pcap --follow hex --conn 1"), "wireseam stream x.pcap --follow hex --conn 1");
        assert_eq!(follow("wireseam stream x.pcap --follow -- --follow"), "wireseam stream x.pcap --follow=ascii -- --follow");
        assert_eq!(follow("wireseam read x.pcap --follow"), "wireseam read x.pcap --follow");
    }

    fn threads(args: &[&str]) -> usize {
        let cli = Cli::try_parse_from(args).expect("parses");
        match to_config(cli).expect("valid") {
            Config::Read(c) => c.input.threads,
            Config::Conns(c) => c.input.threads,
            Config::Flow(c) => c.input.threads,
            _ => unreachable!("a command reading a file"),
        }
    }

    /// Without `--threads`: the available cores, at most 4 for `conns` and 2 for `read` and
    /// `flow` (their memory caps); `--threads N` wins.
    #[test]
    fn default_threads_follow_the_cores_within_caps() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(threads(&["wireseam", "conns", "x.pcap"]), cores.min(4));
        assert_eq!(threads(&["wireseam", "read", "x.pcap"]), cores.min(2));
        assert_eq!(threads(&["wireseam", "flow", "x.pcap"]), cores.min(2));
        assert_eq!(threads(&["wireseam", "read", "--threads", "3", "x.pcap"]), 3);
        assert_eq!(threads(&["wireseam", "conns", "--threads", "1", "x.pcap"]), 1);
    }
}
