//! What a UDP or ICMP flow leaves for its `conn` record: Zeek's conn.log fields for protocols
//! without connection state (flow semantics: packets from one endpoint to the other and back).

use std::net::SocketAddr;

use super::tcp::{ConnSummary, TcpState, ZeekConnState};
use super::{Dir, Proto};

/// Counters of one flow.
#[derive(Clone, Debug)]
pub struct FlowStats {
    /// The first sender (Zeek's originator). For ICMP the port is the first message's type.
    pub client: SocketAddr,
    /// The other side. For ICMP the port is the first message's code.
    pub server: SocketAddr,
    first_ts: i64,
    last_ts: i64,
    first_frame: u64,
    last_frame: u64,
    packets: [u64; 2],
    bytes: [u64; 2],
    /// Zeek's letters for UDP: `D` the originator sent data, `d` the responder did, in order of
    /// first occurrence.
    history: String,
    /// ICMP errors that quoted one of its datagrams.
    pub icmp_errors: u64,
    /// The tunnels its first packet came in ([`ConnSummary::tunnel`]).
    pub tunnel: Option<Box<str>>,
}

impl FlowStats {
    /// A flow whose first packet is frame `n` at `ts`, from `client` to `server`.
    pub fn new(n: u64, ts: i64, client: SocketAddr, server: SocketAddr) -> Self {
        FlowStats {
            client,
            server,
            first_ts: ts,
            last_ts: ts,
            first_frame: n,
            last_frame: n,
            packets: [0; 2],
            bytes: [0; 2],
            history: String::new(),
            icmp_errors: 0,
            tunnel: None,
        }
    }

    /// Frame `n` at `ts` in direction `dir`, with `len` payload bytes; `letters`: UDP's D/d.
    pub fn saw(&mut self, n: u64, ts: i64, dir: Dir, len: u64, letters: bool) {
        let d = dir.idx();
        self.packets[d] += 1;
        self.bytes[d] += len;
        self.last_ts = self.last_ts.max(ts);
        self.last_frame = n;
        if letters && len > 0 {
            let letter = if dir == Dir::C2S { 'D' } else { 'd' };
            if !self.history.contains(letter) {
                self.history.push(letter);
            }
        }
    }

    /// The flow's record. Zeek's `conn_state` for UDP: `SF` when both sides sent, `S0` when only
    /// the originator did (base/protocols/conn/main.zeek); ICMP is always `OTH`.
    pub fn summary(&self, id: u32, proto: Proto) -> ConnSummary {
        let conn_state = match (proto, self.packets[1] > 0) {
            (Proto::Udp, true) => ZeekConnState::Sf,
            (Proto::Udp, false) => ZeekConnState::S0,
            _ => ZeekConnState::Oth,
        };
        ConnSummary {
            conn: id,
            proto,
            client: self.client,
            server: self.server,
            conn_state,
            history: self.history.clone(),
            client_state: TcpState::Unknown,
            server_state: TcpState::Unknown,
            mss: (None, None),
            ws: (None, None),
            sack_perm: false,
            timestamps: false,
            irtt: None,
            first_ts: self.first_ts,
            last_ts: self.last_ts,
            first_frame: self.first_frame,
            last_frame: self.last_frame,
            packets: self.packets,
            bytes: self.bytes,
            retransmissions: 0,
            dup_acks: 0,
            zero_windows: 0,
            icmp_errors: self.icmp_errors,
            missed_bytes: [0; 2],
            unacked: [0; 2],
            tunnel: self.tunnel.clone(),
        }
    }
}

/// The flow records of threads that each saw a share of the frames, as one run would have
/// written them: a flow seen by several threads (ICMP errors go with the flow they quote) is one
/// record, and ids are the order of first appearance per protocol, as a single run mints them.
pub fn merge_shares(mut flows: Vec<ConnSummary>) -> Vec<ConnSummary> {
    flows.sort_by_key(|f| (f.proto, f.first_frame));
    let mut out: Vec<ConnSummary> = Vec::with_capacity(flows.len());
    let mut seen: rustc_hash::FxHashMap<(Proto, SocketAddr, SocketAddr), usize> = Default::default();
    for f in flows {
        match seen.get(&(f.proto, f.client, f.server)) {
            Some(&i) => {
                let o = &mut out[i];
                for d in 0..2 {
                    o.packets[d] += f.packets[d];
                    o.bytes[d] += f.bytes[d];
                }
                if f.last_frame > o.last_frame {
                    o.last_frame = f.last_frame;
                }
                o.last_ts = o.last_ts.max(f.last_ts);
                o.icmp_errors += f.icmp_errors;
                for letter in f.history.chars() {
                    if !o.history.contains(letter) {
                        o.history.push(letter);
                    }
                }
                if o.packets[1] > 0 && o.proto == Proto::Udp {
                    o.conn_state = ZeekConnState::Sf;
                }
            }
            None => {
                seen.insert((f.proto, f.client, f.server), out.len());
                out.push(f);
            }
        }
    }
    let mut next = [0u32; 3];
    for f in &mut out {
        let k = f.proto as usize;
        f.conn = next[k];
        next[k] += 1;
    }
    out
}
