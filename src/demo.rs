//! `wireseam demo` (and `make demo`): capture in the lab (root) or on loopback while a tour of generators runs, then
//! show per scenario the annotated packets, the ladder diagram and the message seams. Without
//! the right to capture it says so and shows the same tour on captures bundled in the binary.

use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use crate::analyze::RecvSchedule;
use crate::capture::live::{LiveConfig, LiveSource};
use crate::capture::mem::MemSource;
use crate::capture::{FileSource, Source};
use crate::gen::{self, CmdHeader, GenConfig, Scenario};
use crate::output::flow::{FlowOptions, FlowSink};
use crate::output::stream::{StreamOptions, StreamSink};
use crate::output::style::{self, ColorMode, Palette};
use crate::output::text::{TextOptions, TextSink};
use crate::pipeline::{self, PacketView, ReadOptions, Sink};

/// One stop of the tour: what runs, on which port, and the bundled capture that shows the same.
struct Stop {
    scenario: Scenario,
    port: u16,
    fixture: &'static [u8],
    fixture_name: &'static str,
    lesson: &'static str,
    /// Options of the generator beyond the scenario's defaults.
    tune: fn(&mut GenConfig),
    /// The receiving program shown under the seams: its `recv()` sizes and when it calls
    /// (no sizes: none shown).
    reader: (&'static [usize], RecvSchedule),
}

/// A stop's generator with the scenario's own defaults.
fn defaults(_: &mut GenConfig) {}

/// No `recv()` simulation under the seams.
const NO_READER: (&[usize], RecvSchedule) = (&[], RecvSchedule::Arrival);

/// Port of the first stop; the others follow it (a range the capture filter can name).
const BASE_PORT: u16 = 47_100;

/// The stops, in the order shown.
fn tour() -> Vec<Stop> {
    vec![
        Stop {
            scenario: Scenario::Handshake,
            port: BASE_PORT,
            fixture: include_bytes!("../fixtures/tcp-basic.pcap"),
            fixture_name: "tcp-basic.pcap",
            lesson: "The three-way handshake (SYN, SYN-ACK, ACK) and the four-way close (FIN, ACK, FIN, ACK). \
                     Watch each side's state: the side that closes first ends in TIME-WAIT.",
            tune: defaults,
            reader: NO_READER,
        },
        Stop {
            scenario: Scenario::Sticky,
            port: BASE_PORT + 1,
            fixture: include_bytes!("../fixtures/sticky.pcap"),
            fixture_name: "sticky.pcap",
            lesson: "Many small send() calls, few segments: TCP is a byte stream, so the receiver's recv() \
                     can return several messages glued together ('sticky packets').",
            tune: defaults,
            reader: (&[4096], RecvSchedule::Arrival),
        },
        Stop {
            scenario: Scenario::HelloWorld,
            port: BASE_PORT + 7,
            fixture: include_bytes!("../fixtures/lesson-hello.pcap"),
            fixture_name: "lesson-hello.pcap",
            lesson: "The lesson's send('hello'); send('world'): two segments on the wire, nothing stuck there. \
                     But the server's first recv(1024) comes 200 ms after accept(), when both have arrived: \
                     it returns b'helloworld'. The sticking happens in the receive buffer.",
            tune: defaults,
            reader: (&[1024], RecvSchedule::End),
        },
        Stop {
            scenario: Scenario::Nodelay,
            port: BASE_PORT + 2,
            fixture: include_bytes!("../fixtures/nodelay.pcap"),
            fixture_name: "nodelay.pcap",
            lesson: "The same writes with TCP_NODELAY: more, smaller segments. Boundaries are still not \
                     guaranteed; only the application's framing makes them.",
            tune: defaults,
            reader: NO_READER,
        },
        Stop {
            scenario: Scenario::Framed,
            port: BASE_PORT + 3,
            fixture: include_bytes!("../fixtures/framed.pcap"),
            fixture_name: "framed.pcap",
            lesson: "A 4-byte length before every message: whatever the segments look like, the receiver \
                     reads the length, then exactly that many bytes.",
            tune: defaults,
            reader: NO_READER,
        },
        Stop {
            scenario: Scenario::RemoteCmd,
            port: BASE_PORT + 8,
            fixture: include_bytes!("../fixtures/lesson-cmd-json.pcap"),
            fixture_name: "lesson-cmd-json.pcap",
            lesson: "The lesson's fix with a JSON header: struct.pack('i', len(header)), the header \
                     {\"filename\": ..., \"len\": N}, then N bytes. struct.pack('i') is little-endian on x86: \
                     the 4 bytes read b'\\x24\\x00\\x00\\x00' for a 36-byte header. wireseam finds jsonhdr:le by itself.",
            tune: |cfg| cfg.header = Some(CmdHeader::Json),
            reader: NO_READER,
        },
        Stop {
            scenario: Scenario::HalfClose,
            port: BASE_PORT + 4,
            fixture: include_bytes!("../fixtures/half-close.pcap"),
            fixture_name: "half-close.pcap",
            lesson: "shutdown(SHUT_WR): the client's FIN closes only its direction; the server (CLOSE-WAIT) \
                     keeps sending until it closes too.",
            tune: defaults,
            reader: NO_READER,
        },
        Stop {
            scenario: Scenario::Reset,
            port: BASE_PORT + 5,
            fixture: include_bytes!("../fixtures/rst-abort.pcap"),
            fixture_name: "rst-abort.pcap",
            lesson: "SO_LINGER {on, 0} then close(): an abort with RST, no four-way close, no TIME-WAIT.",
            tune: defaults,
            reader: NO_READER,
        },
        Stop {
            scenario: Scenario::UdpEcho,
            port: BASE_PORT + 6,
            fixture: include_bytes!("../fixtures/udp.pcap"),
            fixture_name: "udp.pcap",
            lesson: "UDP keeps message boundaries: each sendto() arrives as one datagram, one recvfrom().",
            tune: defaults,
            reader: NO_READER,
        },
    ]
}

/// Records frames of a live capture for replay.
struct Recorder(Arc<Mutex<MemSource>>);

impl Sink for Recorder {
    fn packet(&mut self, view: &PacketView<'_, '_>) -> io::Result<()> {
        if let Ok(mut frames) = self.0.lock() {
            frames.push(view.meta, view.raw);
        }
        Ok(())
    }
}

/// How `wireseam demo` runs.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// `--color`.
    pub color: ColorMode,
    /// Do not try to capture: show the bundled captures.
    pub offline: bool,
}

/// A stop's title line.
fn heading(out: &mut dyn Write, palette: Palette, text: &str) -> io::Result<()> {
    writeln!(
        out,
        "\n{}━━ {text} {}{}",
        palette.start(style::PROTO),
        "━".repeat(70usize.saturating_sub(text.chars().count())),
        palette.reset()
    )
}

/// A section's title line within a stop.
fn sub(out: &mut dyn Write, palette: Palette, text: &str) -> io::Result<()> {
    writeln!(out, "{}── {text}{}", palette.start(style::DIM), palette.reset())
}

/// Run the tour. Returns the exit status.
pub fn run(cfg: &DemoConfig, out: &mut dyn Write) -> io::Result<i32> {
    let palette = Palette::for_stdout(cfg.color);
    let stops = tour();
    let recorded = if cfg.offline { None } else { capture_tour(&stops, out, palette)? };
    let live = recorded.is_some();
    if !live {
        writeln!(
            out,
            "Showing the captures bundled with wireseam (fixtures/), made from the same generators between two network namespaces."
        )?;
    }
    for (i, stop) in stops.iter().enumerate() {
        heading(out, palette, &format!("{}/{}  {}: {}", i + 1, stops.len(), stop.scenario.name(), stop.scenario.describe()))?;
        writeln!(out, "{}", stop.lesson)?;
        let filter = if live { Some(format!("port {}", stop.port)) } else { None };
        let label = if live { format!("live capture, port {}", stop.port) } else { format!("fixtures/{}", stop.fixture_name) };
        let source = |recorded: &Option<Arc<Mutex<MemSource>>>| -> Box<dyn Source> {
            match recorded {
                Some(frames) => {
                    let mut frames = frames.lock().map(|frames| frames.clone()).unwrap_or_default();
                    frames.rewind();
                    Box::new(frames)
                }
                None => {
                    Box::new(FileSource::from_bytes(stop.fixture_name, stop.fixture.to_vec()).expect("bundled fixture is a valid pcap"))
                }
            }
        };
        let opts = ReadOptions { filter: filter.clone(), ..ReadOptions::new(label.clone().into()) };
        sub(out, palette, &format!("packets ({label})"))?;
        let text = TextOptions::new(0, palette);
        let mut buf = Vec::new();
        let result = pipeline::run(source(&recorded).as_mut(), &opts, &mut TextSink::new(&mut buf, text));
        write_limited(out, &buf, 24)?;
        if let Ok(summary) = result {
            if summary.shown == 0 {
                writeln!(out, "(no frames captured for this scenario)")?;
                continue;
            }
        }
        if stop.scenario != Scenario::UdpEcho {
            sub(out, palette, "ladder (wireseam flow)")?;
            let mut buf = Vec::new();
            let _ = pipeline::run(
                source(&recorded).as_mut(),
                &opts,
                &mut FlowSink::new(&mut buf, FlowOptions { conn: None, fold: 6, palette }),
            );
            write_limited(out, &buf, 40)?;
        }
        let seams_lesson = matches!(
            stop.scenario,
            Scenario::Sticky | Scenario::Nodelay | Scenario::Framed | Scenario::UdpEcho | Scenario::HelloWorld | Scenario::RemoteCmd
        );
        if seams_lesson {
            sub(out, palette, "message seams (wireseam stream)")?;
            let mut seam_opts = ReadOptions { filter, ..ReadOptions::new(label.clone().into()) };
            if let Some(seams) = seam_opts.seams.as_mut() {
                seams.keep_bytes = 1 << 20;
                seams.keep_timeline = !stop.reader.0.is_empty();
            }
            let stream_opts = StreamOptions {
                conn: None,
                hex: false,
                recv: stop.reader.0.to_vec(),
                recv_at: stop.reader.1,
                preview: 24,
                palette,
                follow: None,
                keep_mib: 0,
            };
            let mut buf = Vec::new();
            let _ = pipeline::run(source(&recorded).as_mut(), &seam_opts, &mut StreamSink::new(&mut buf, stream_opts.clone()));
            write_limited(out, &buf, 44)?;
        }
    }
    writeln!(out)?;
    writeln!(
        out,
        "Next: `wireseam gen --list` for every scenario, `wireseam capture -i lo` in one terminal and `wireseam gen sticky` in another."
    )?;
    Ok(0)
}

/// The first `max` lines of `buf`, and how many more there were.
fn write_limited(out: &mut dyn Write, buf: &[u8], max: usize) -> io::Result<()> {
    let text = String::from_utf8_lossy(buf);
    let total = text.lines().count();
    for line in text.lines().take(max) {
        writeln!(out, "{line}")?;
    }
    if total > max {
        writeln!(out, "… {} more lines", total - max)?;
    }
    Ok(())
}

/// The stops' generator settings.
fn stop_configs(stops: &[Stop]) -> Vec<GenConfig> {
    stops
        .iter()
        .map(|stop| {
            let mut gen_cfg = GenConfig { port: stop.port, quiet: false, ..GenConfig::new(stop.scenario) };
            (stop.tune)(&mut gen_cfg);
            gen_cfg
        })
        .collect()
}

/// Capture in the lab (root: two namespaces joined by a veth, see [`crate::lab`]) or else on lo
/// while the generators run, saying which. `None` when capturing is not possible here.
fn capture_tour(stops: &[Stop], out: &mut dyn Write, palette: Palette) -> io::Result<Option<Arc<Mutex<MemSource>>>> {
    if nix::unistd::geteuid().is_root() {
        writeln!(out, "Capturing in a private lab network (two network namespaces joined by a veth, MTU 1500, offloads off) while the generators run:")?;
        match crate::lab::record_runs(&stop_configs(stops)) {
            Ok((frames, results)) => {
                for (stop, result) in stops.iter().zip(results) {
                    match result {
                        Ok(_) => writeln!(out, "  {:<12} done", stop.scenario.name())?,
                        Err(err) => writeln!(out, "  {:<12} failed: {err}", stop.scenario.name())?,
                    }
                }
                writeln!(out, "{} frames captured.", frames.len())?;
                return Ok(Some(Arc::new(Mutex::new(frames))));
            }
            Err(err) => {
                writeln!(out, "{}The lab is not available ({err}); loopback instead.{}", palette.start(style::WARN), palette.reset())?
            }
        }
    }
    capture_loopback(stops, out, palette)
}

/// Capture on lo while the generators run.
fn capture_loopback(stops: &[Stop], out: &mut dyn Write, palette: Palette) -> io::Result<Option<Arc<Mutex<MemSource>>>> {
    let first_port = stops.iter().map(|stop| stop.port).min().unwrap_or(BASE_PORT);
    let last_port = stops.iter().map(|stop| stop.port).max().unwrap_or(BASE_PORT);
    let cfg = LiveConfig {
        iface: "lo".into(),
        filter: Some(format!("portrange {first_port}-{last_port}")),
        snaplen: 262_144,
        promisc: false,
        buffer_bytes: 64 << 20,
        write: None,
        rotate: Default::default(),
    };
    let mut src = match LiveSource::open(&cfg) {
        Ok(source) => source,
        Err(err) => {
            writeln!(out, "{}Cannot capture on lo: {err}{}", palette.start(style::WARN), palette.reset())?;
            writeln!(out, "(run `sudo make demo` or `sudo wireseam demo` to watch it live)")?;
            return Ok(None);
        }
    };
    let stopper = src.stopper();
    let mem = Arc::new(Mutex::new(MemSource::new(src.linktype())));
    let recorder = Recorder(Arc::clone(&mem));
    let handle = std::thread::spawn(move || {
        let mut recorder = recorder;
        let _ = pipeline::run(&mut src, &ReadOptions::new("lo".into()), &mut recorder);
    });
    writeln!(out, "Capturing on loopback (lo, ports {first_port}-{last_port}; MTU 65536, so segments are larger than on a real network) while the generators run:")?;
    for (stop, gen_cfg) in stops.iter().zip(stop_configs(stops)) {
        let mut log = Vec::new();
        match gen::run(&gen_cfg, &mut log) {
            Ok(_) => writeln!(out, "  {:<12} done", stop.scenario.name())?,
            Err(err) => writeln!(out, "  {:<12} failed: {err}", stop.scenario.name())?,
        }
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    stopper.stop();
    let _ = handle.join();
    let captured = mem.lock().map(|frames| frames.len()).unwrap_or(0);
    writeln!(out, "{captured} frames captured.")?;
    Ok(Some(mem))
}
