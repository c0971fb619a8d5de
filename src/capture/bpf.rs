//! BPF filters compiled by libpcap and matched against file frames in user space.
//!
//! pcapng files can mix link types, so a filter is compiled lazily once per link type.

use pcap::{BpfProgram, Capture, Linktype};

/// A filter expression libpcap cannot compile (for the link type at hand).
#[derive(Debug, thiserror::Error)]
#[error("filter expression `{expr}`: {msg}")]
pub struct FilterError {
    /// The expression.
    pub expr: String,
    /// libpcap's message, without its `libpcap error: ` prefix.
    pub msg: String,
}

/// A pcap-filter(7) expression, compiled once per link type it meets.
pub struct Filter {
    expr: String,
    /// (linktype, program or None if this link type cannot take the filter)
    progs: Vec<(u32, Option<BpfProgram>)>,
}

impl Filter {
    /// Compile `expr` for `linktype` right away so a syntax error is reported before any output.
    pub fn new(expr: &str, linktype: u32) -> Result<Self, FilterError> {
        let mut filter = Filter { expr: expr.to_string(), progs: Vec::new() };
        let program = compile(expr, linktype)?;
        filter.progs.push((linktype, Some(program)));
        Ok(filter)
    }

    /// Check the expression's syntax (against Ethernet) without keeping the program.
    pub fn check(expr: &str) -> Result<(), FilterError> {
        compile(expr, 1).map(|_| ())
    }

    /// The link type inner filters are compiled for: raw IP (LINKTYPE_RAW), so that the
    /// program reads an IP header at offset 0, whatever encapsulates it.
    pub const INNER_LINKTYPE: u32 = 101;

    /// Compile `expr` for headers that start at the IP layer (`--inner`).
    pub fn new_inner(expr: &str) -> Result<Self, FilterError> {
        Filter::new(expr, Self::INNER_LINKTYPE)
    }

    /// Check an `--inner` expression's syntax without keeping the program.
    pub fn check_inner(expr: &str) -> Result<(), FilterError> {
        compile(expr, Self::INNER_LINKTYPE).map(|_| ())
    }

    /// Does the IP packet `ip` (an IP header and what follows, as captured) match an
    /// [`new_inner`](Self::new_inner) filter?
    pub fn matches_inner(&mut self, ip: &[u8]) -> bool {
        self.matches(Self::INNER_LINKTYPE, ip)
    }

    /// The expression as given.
    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// Does `frame` (the captured bytes) match? A link type met for the first time gets the
    /// expression compiled for it; where the expression cannot apply, nothing matches.
    pub fn matches(&mut self, linktype: u32, frame: &[u8]) -> bool {
        let index = match self.progs.iter().position(|(lt, _)| *lt == linktype) {
            Some(found) => found,
            None => {
                // A filter that cannot apply to this link type (e.g. `ether host` on raw IP) matches nothing.
                let program = compile(&self.expr, linktype).ok();
                self.progs.push((linktype, program));
                self.progs.len() - 1
            }
        };
        match &self.progs[index].1 {
            Some(program) => program.filter(frame),
            None => false,
        }
    }
}

/// pcap files store LINKTYPE_* values; libpcap's compiler wants the platform's DLT_* value.
/// They differ only for a few old types, of which raw IP matters here.
fn linktype_to_dlt(linktype: u32) -> i32 {
    match linktype {
        101 => 12, // LINKTYPE_RAW → DLT_RAW (Linux and most BSDs)
        100 => 11, // LINKTYPE_ATM_RFC1483 → DLT_ATM_RFC1483
        other => other as i32,
    }
}

/// Compile `expr` for `linktype` with optimisation, as tcpdump does.
fn compile(expr: &str, linktype: u32) -> Result<BpfProgram, FilterError> {
    let filter_error = |msg: String| FilterError { expr: expr.to_string(), msg };
    let dead = Capture::dead(Linktype(linktype_to_dlt(linktype))).map_err(|err| filter_error(err.to_string()))?;
    dead.compile(expr, true).map_err(|err| {
        let msg = err.to_string();
        let msg = msg.strip_prefix("libpcap error: ").unwrap_or(&msg).to_string();
        filter_error(msg)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_expression_is_an_error() {
        let e = Filter::new("tcp port", 1).err().expect("should fail");
        assert!(e.to_string().contains("tcp port"), "{e}");
        assert!(Filter::check("tcp port 80 and not arp").is_ok());
    }

    #[test]
    fn matches_by_linktype() {
        // Raw IPv4 UDP packet to port 53
        let pkt: [u8; 28] = [0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0x30, 0x39, 0, 53, 0, 8, 0, 0];
        let mut f = Filter::new("udp port 53", 101).unwrap();
        assert!(f.matches(101, &pkt));
        let mut f = Filter::new("udp port 54", 101).unwrap();
        assert!(!f.matches(101, &pkt));
    }
}
