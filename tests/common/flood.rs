//! Floods for the cap tests (tests/caps.rs) and benchmark (benches/caps.sh, through
//! benches/flood.rs): captures written straight to a file, frame by frame, so a million frames
//! never sit in memory.
//!
//! * [`Flood::Syn`]: N TCP connections that open and never close: one SYN each (MSS option),
//!   each from its own client address and port, 1 µs apart, so all N are open at once and none
//!   lingers out of the table by capture time.
//! * [`Flood::Frag`]: N IPv4 datagrams of which only the first fragment is sent (more
//!   fragments set, offset 0): each its own (source, identification), 1 µs apart, so none times
//!   out (30 s) and only the reassembly caps bound what is held.
//!
//! Checksums are correct (the IPv4 header's, and TCP's/UDP's over the pseudo-header), so
//! `--check-checksums` finds nothing to say.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// What to flood with.
#[derive(Clone, Copy, Debug)]
pub enum Flood {
    /// SYNs of connections that stay open.
    Syn,
    /// First fragments of datagrams that stay incomplete; the field is the fragment's IP
    /// payload in bytes (a multiple of 8, at least the 8-byte UDP header).
    Frag(usize),
}

/// Client ports used per client address (1024..=65535).
const PORTS: u32 = 64_512;
/// The first capture timestamp (2026-01-01), in seconds.
const EPOCH: u32 = 1_767_225_600;

/// Client (or fragment source) address number `k`: 10.1.0.0 upwards for SYNs, 10.2.0.0 for
/// fragments.
fn addr(second: u8, k: u32) -> [u8; 4] {
    let [_, a, b, c] = k.to_be_bytes();
    [10, second.wrapping_add(a), b, c]
}

/// The one's complement sum of `bytes` (RFC 1071), not yet folded.
fn sum(bytes: &[u8]) -> u32 {
    bytes.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))).sum()
}

fn fold(mut s: u32) -> u16 {
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// Ethernet + IPv4 header (20 bytes) for `payload_len` bytes of `proto`, with `id` and the
/// fragment field `frag`, checksum filled.
fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, id: u16, frag: u16, payload_len: usize, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]);
    let start = out.len();
    out.extend_from_slice(&[0x45, 0]);
    out.extend_from_slice(&((20 + payload_len) as u16).to_be_bytes());
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&frag.to_be_bytes());
    out.extend_from_slice(&[64, proto, 0, 0]);
    out.extend_from_slice(&src);
    out.extend_from_slice(&dst);
    let csum = fold(sum(&out[start..]));
    out[start + 10..start + 12].copy_from_slice(&csum.to_be_bytes());
}

/// The transport checksum over the IPv4 pseudo-header and `segment` (whose checksum field is 0).
fn transport_csum(src: [u8; 4], dst: [u8; 4], proto: u8, segment: &[u8]) -> u16 {
    let pseudo = sum(&src) + sum(&dst) + u32::from(proto) + segment.len() as u32;
    fold(pseudo + sum(segment))
}

/// Frame `i` of the flood, into `out`.
pub fn frame(flood: Flood, i: u32, out: &mut Vec<u8>) {
    match flood {
        Flood::Syn => {
            let src = addr(1, i / PORTS);
            let dst = [10, 255, 0, 1];
            let sport = (1024 + i % PORTS) as u16;
            ipv4(src, dst, 6, i as u16, 0x4000, 24, out);
            let at = out.len();
            out.extend_from_slice(&sport.to_be_bytes());
            out.extend_from_slice(&80u16.to_be_bytes());
            out.extend_from_slice(&i.wrapping_mul(2_654_435_761).to_be_bytes()); // ISN
            out.extend_from_slice(&[0, 0, 0, 0]); // ack
            out.extend_from_slice(&[0x60, 0x02]); // 24-byte header, SYN
            out.extend_from_slice(&64_240u16.to_be_bytes());
            out.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
            out.extend_from_slice(&[2, 4, 0x05, 0xb4]); // MSS 1460
            let csum = transport_csum(src, dst, 6, &out[at..]);
            out[at + 16..at + 18].copy_from_slice(&csum.to_be_bytes());
        }
        Flood::Frag(len) => {
            assert!(len >= 8 && len % 8 == 0, "a first fragment's payload is a multiple of 8 bytes");
            let src = addr(2, i >> 16);
            let dst = [10, 255, 0, 2];
            ipv4(src, dst, 17, i as u16, 0x2000, len, out);
            // the UDP header of a datagram twice as long as this fragment (its checksum would
            // cover the bytes never sent: 0, "no checksum", as RFC 768 allows)
            out.extend_from_slice(&40_000u16.to_be_bytes());
            out.extend_from_slice(&9_000u16.to_be_bytes());
            out.extend_from_slice(&((2 * len) as u16).to_be_bytes());
            out.extend_from_slice(&[0, 0]);
            out.extend((8..len).map(|k| (k % 251) as u8));
        }
    }
}

/// Writes a classic pcap (microseconds, Ethernet) of `n` frames of `flood` to `path`; returns
/// its size in bytes.
pub fn write(path: &Path, flood: Flood, n: u32) -> io::Result<u64> {
    let mut w = BufWriter::with_capacity(1 << 20, File::create(path)?);
    w.write_all(&0xa1b2_c3d4u32.to_le_bytes())?;
    w.write_all(&2u16.to_le_bytes())?;
    w.write_all(&4u16.to_le_bytes())?;
    w.write_all(&[0; 8])?;
    w.write_all(&65_535u32.to_le_bytes())?;
    w.write_all(&1u32.to_le_bytes())?;
    let mut f = Vec::with_capacity(2048);
    let mut size = 24u64;
    for i in 0..n {
        frame(flood, i, &mut f);
        // Ethernet minimum (60 bytes without the FCS), as on the wire
        if f.len() < 60 {
            f.resize(60, 0);
        }
        w.write_all(&(EPOCH + i / 1_000_000).to_le_bytes())?;
        w.write_all(&(i % 1_000_000).to_le_bytes())?;
        w.write_all(&(f.len() as u32).to_le_bytes())?;
        w.write_all(&(f.len() as u32).to_le_bytes())?;
        w.write_all(&f)?;
        size += 16 + f.len() as u64;
    }
    w.flush()?;
    Ok(size)
}
