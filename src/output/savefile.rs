//! `read -w FILE`: the frames shown, written back as a capture file (tcpdump's `-w`). Each
//! record keeps its captured bytes, wire length, timestamp and link type: a pcap (one link
//! type; nanosecond magic when the frames have nanosecond times) or a pcapng (one interface
//! description per input interface, written before its first frame; `if_tsresol` 9 for
//! nanosecond interfaces), as chosen by [`SaveFormat`].

use std::io::{self, Write};

use crate::pipeline::{PacketView, RunSummary, Sink};

/// The file format written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaveFormat {
    /// Classic pcap: every frame of the first frame's link type.
    Pcap,
    /// pcapng: one interface per input interface and link type.
    Pcapng,
    /// The input's own: pcapng when the input file (or one of a merged set) is pcapng, or the
    /// set mixes link types; else pcap. Decided when the run says what its input is
    /// ([`Sink::source`]), which a pipe (standard input) can only say once it is read; a pcap
    /// when it never does.
    FollowInput,
}

/// LINKTYPE_ETHERNET: the link type of an empty pcap (no frame said otherwise).
const LINKTYPE_ETHERNET: u32 = 1;

/// The largest snap length libpcap accepts (written in the headers).
const SNAPLEN: u32 = 262_144;

/// Writes every frame it is given; the header when the first frame says what it is.
pub struct SaveSink<W: Write> {
    w: W,
    format: SaveFormat,
    /// Pcap: the link type and time resolution of the header written (`None`: not yet).
    pcap: Option<(u32, bool)>,
    /// Pcapng: (input interface, link type) of each interface written, in order (its index
    /// is its id in the output).
    interfaces: Vec<(u32, u32, bool)>,
    section: bool,
    /// Frames written.
    pub written: u64,
    buf: Vec<u8>,
}

impl<W: Write> SaveSink<W> {
    /// A sink writing `format` to `w`.
    pub fn new(w: W, format: SaveFormat) -> Self {
        SaveSink { w, format, pcap: None, interfaces: Vec::new(), section: false, written: 0, buf: Vec::with_capacity(65_536 + 64) }
    }

    fn pcap_header(&mut self, linktype: u32, nanos: bool) -> io::Result<()> {
        let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
        let mut h = Vec::with_capacity(24);
        h.extend_from_slice(&magic.to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&4u16.to_le_bytes());
        h.extend_from_slice(&[0; 8]);
        h.extend_from_slice(&SNAPLEN.to_le_bytes());
        h.extend_from_slice(&linktype.to_le_bytes());
        self.pcap = Some((linktype, nanos));
        self.w.write_all(&h)
    }

    /// A pcapng Section Header Block (byte-order magic, version 1.0, length unknown).
    fn section_header(&mut self) -> io::Result<()> {
        let mut b = Vec::with_capacity(28);
        b.extend_from_slice(&0x0a0d_0d0au32.to_le_bytes());
        b.extend_from_slice(&28u32.to_le_bytes());
        b.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        b.extend_from_slice(&(-1i64).to_le_bytes());
        b.extend_from_slice(&28u32.to_le_bytes());
        self.section = true;
        self.w.write_all(&b)
    }

    /// The output interface id of a frame's input interface and link type (an Interface
    /// Description Block is written the first time).
    fn interface(&mut self, iface: u32, linktype: u32, nanos: bool) -> io::Result<u32> {
        if let Some(at) = self.interfaces.iter().position(|&(i, l, _)| (i, l) == (iface, linktype)) {
            return Ok(at as u32);
        }
        let mut b = Vec::with_capacity(32);
        let options: &[u8] = if nanos {
            // if_tsresol (9) = 10^-9, padded to 4 bytes; opt_endofopt
            &[9, 0, 1, 0, 9, 0, 0, 0, 0, 0, 0, 0]
        } else {
            &[]
        };
        let len = 20 + options.len() as u32;
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(&len.to_le_bytes());
        b.extend_from_slice(&(linktype as u16).to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        b.extend_from_slice(&SNAPLEN.to_le_bytes());
        b.extend_from_slice(options);
        b.extend_from_slice(&len.to_le_bytes());
        self.w.write_all(&b)?;
        self.interfaces.push((iface, linktype, nanos));
        Ok(self.interfaces.len() as u32 - 1)
    }
}

impl<W: Write> SaveSink<W> {
    /// The format written (`FollowInput` resolved once the input said what it is).
    pub fn format(&self) -> SaveFormat {
        match self.format {
            SaveFormat::FollowInput => SaveFormat::Pcap,
            format => format,
        }
    }
}

impl<W: Write> Sink for SaveSink<W> {
    fn source(&mut self, info: &crate::capture::SourceInfo) {
        if self.format == SaveFormat::FollowInput {
            self.format = if info.pcapng { SaveFormat::Pcapng } else { SaveFormat::Pcap };
        }
    }

    fn packet(&mut self, p: &PacketView<'_, '_>) -> io::Result<()> {
        let meta = &p.meta;
        let data = p.raw;
        self.buf.clear();
        match self.format() {
            // (format() never answers FollowInput)
            SaveFormat::Pcap | SaveFormat::FollowInput => {
                let (linktype, nanos) = match self.pcap {
                    Some(header) => header,
                    None => {
                        self.pcap_header(meta.linktype, meta.nanos)?;
                        (meta.linktype, meta.nanos)
                    }
                };
                if meta.linktype != linktype {
                    return Err(io::Error::other(format!(
                        "frame {} has link type {} but the pcap written holds link type {linktype} only: read the input from a pcapng file, or choose one link type with a filter",
                        p.n, meta.linktype
                    )));
                }
                let secs = meta.ts_ns.div_euclid(1_000_000_000);
                let frac = meta.ts_ns.rem_euclid(1_000_000_000);
                self.buf.extend_from_slice(&(secs as u32).to_le_bytes());
                self.buf.extend_from_slice(&(if nanos { frac } else { frac / 1000 } as u32).to_le_bytes());
                self.buf.extend_from_slice(&(data.len() as u32).to_le_bytes());
                self.buf.extend_from_slice(&meta.len.to_le_bytes());
                self.buf.extend_from_slice(data);
            }
            SaveFormat::Pcapng => {
                if !self.section {
                    self.section_header()?;
                }
                let id = self.interface(meta.iface, meta.linktype, meta.nanos)?;
                let units = if meta.nanos { meta.ts_ns } else { meta.ts_ns.div_euclid(1000) } as u64;
                let padded = data.len().div_ceil(4) * 4;
                let len = (32 + padded) as u32;
                self.buf.extend_from_slice(&6u32.to_le_bytes());
                self.buf.extend_from_slice(&len.to_le_bytes());
                self.buf.extend_from_slice(&id.to_le_bytes());
                self.buf.extend_from_slice(&((units >> 32) as u32).to_le_bytes());
                self.buf.extend_from_slice(&(units as u32).to_le_bytes());
                self.buf.extend_from_slice(&(data.len() as u32).to_le_bytes());
                self.buf.extend_from_slice(&meta.len.to_le_bytes());
                self.buf.extend_from_slice(data);
                self.buf.resize(self.buf.len() + padded - data.len(), 0);
                self.buf.extend_from_slice(&len.to_le_bytes());
            }
        }
        self.written += 1;
        self.w.write_all(&self.buf)
    }

    fn finish(&mut self, _s: &RunSummary) -> io::Result<()> {
        // Nothing shown: still a valid, empty capture (as tcpdump -w leaves).
        match self.format() {
            SaveFormat::Pcap if self.pcap.is_none() => self.pcap_header(LINKTYPE_ETHERNET, false)?,
            SaveFormat::Pcapng if !self.section => self.section_header()?,
            _ => {}
        }
        self.w.flush()
    }

    fn wants_messages(&self) -> bool {
        false
    }
}
