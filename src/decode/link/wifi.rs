//! IEEE 802.11 (LINKTYPE_IEEE802_11, 105), behind a radiotap header (LINKTYPE_IEEE802_11_RADIOTAP,
//! 127) or a PPI header (LINKTYPE_PPI, 192). Data frames carrying LLC/SNAP are followed into
//! their EtherType; management and control frames are named, with the SSID where present.
//!
//! Frame layout from IEEE 802.11-2020 §9.2-9.3; radiotap from radiotap.org (fields aligned to
//! their natural size from the start of the radiotap header); PPI from the CACE PPI 1.0.10
//! specification.

use super::{le16, le32, llc, Link, LlcPayload, MacAddr, Proto};
use crate::decode::Layer;

/// The header in front of the 802.11 frame, and what it says about the radio.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Radio {
    /// Which pseudo-header carried the fields.
    pub header: RadioHeader,
    /// Channel centre frequency in MHz.
    pub freq: Option<u16>,
    /// Antenna signal in dBm.
    pub signal: Option<i8>,
    /// Legacy data rate in units of 500 kb/s.
    pub rate: Option<u8>,
}

/// The pseudo-header a capture put in front of the 802.11 frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RadioHeader {
    /// None (LINKTYPE_IEEE802_11).
    #[default]
    None,
    /// A radiotap header.
    Radiotap,
    /// A PPI header.
    Ppi,
}

/// The three 802.11 frame types (frame control bits 2-3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WifiKind {
    /// Type 0: beacons, probes, authentication, association, action.
    Management,
    /// Type 1: ACK, RTS, CTS, block ack, ...
    Control,
    /// Type 2: data, QoS data, null function.
    Data,
    /// Type 3: extension frames (DMG and S1G beacons).
    Extension,
}

/// What the frame body holds, as far as it is decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WifiBody<'a> {
    /// Nothing decoded (control frames, null data, bodies this decoder does not read).
    None,
    /// Beacon, probe request/response, (re)association request: the SSID element's bytes, as
    /// on the wire (escape before showing); empty for the wildcard SSID.
    Ssid(&'a [u8]),
    /// Authentication: algorithm (0 open system, 1 shared key, 3 SAE), transaction sequence, status.
    Auth {
        /// Authentication algorithm number.
        algorithm: u16,
        /// Transaction sequence number.
        seq: u16,
        /// Status code (0 success).
        status: u16,
    },
    /// Deauthentication or disassociation: the reason code.
    Reason(u16),
    /// (Re)association response: the status code (0 success).
    Status(u16),
    /// Action frame: its category (IEEE 802.11 Table 9-51).
    Action(u8),
    /// Protected (WEP/TKIP/CCMP) data: not dissected.
    Protected,
    /// A data frame's LLC header that is not SNAP.
    Llc {
        /// Destination service access point.
        dsap: u8,
        /// Source service access point.
        ssap: u8,
    },
    /// The body (or the header before it) is cut short.
    Cut,
}

/// An 802.11 MAC header and what is known of the frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wifi<'a> {
    /// Frame type.
    pub kind: WifiKind,
    /// Subtype (frame control bits 4-7).
    pub subtype: u8,
    /// Frame control flags: 0x01 to DS, 0x02 from DS, 0x04 more fragments, 0x08 retry,
    /// 0x10 power management, 0x20 more data, 0x40 protected, 0x80 +HTC/order.
    pub flags: u8,
    /// The address fields present, in order (address 1 first); the first `naddr` are set.
    pub addrs: [MacAddr; 4],
    /// How many address fields the frame has (1 to 4; 0 when cut before address 1).
    pub naddr: u8,
    /// What the body holds.
    pub body: WifiBody<'a>,
    /// The radio pseudo-header's fields.
    pub radio: Radio,
    /// The frame ends with its 4-byte FCS (radiotap flags 0x10, PPI flags 0x1).
    pub(crate) fcs: bool,
}

/// Frame control flag: to the distribution system.
pub const TO_DS: u8 = 0x01;
/// Frame control flag: from the distribution system.
pub const FROM_DS: u8 = 0x02;
/// Frame control flag: the body is encrypted.
pub const PROTECTED: u8 = 0x40;
/// Frame control flag: +HTC (QoS data and management frames) or strictly ordered.
pub const ORDER: u8 = 0x80;

impl Wifi<'_> {
    fn addr(&self, i: usize) -> Option<MacAddr> {
        (i < self.naddr as usize).then_some(self.addrs[i])
    }

    /// The source address (IEEE 802.11 Table 9-26: address 2, 3 or 4 by the DS bits); for
    /// control frames the transmitter address when there is one.
    pub fn src(&self) -> Option<MacAddr> {
        match (self.kind, self.flags & (TO_DS | FROM_DS)) {
            (WifiKind::Data, 0x02) => self.addr(2),
            (WifiKind::Data, 0x03) => self.addr(3),
            _ => self.addr(1),
        }
    }

    /// The destination address (address 1, or address 3 of a frame to the DS).
    pub fn dst(&self) -> Option<MacAddr> {
        match (self.kind, self.flags & (TO_DS | FROM_DS)) {
            (WifiKind::Data, 0x01 | 0x03) => self.addr(2),
            _ => self.addr(0),
        }
    }

    /// The BSSID, when the frame names one.
    pub fn bssid(&self) -> Option<MacAddr> {
        match (self.kind, self.flags & (TO_DS | FROM_DS)) {
            (WifiKind::Management, _) | (WifiKind::Data, 0x00) => self.addr(2),
            (WifiKind::Data, 0x01) => self.addr(0),
            (WifiKind::Data, 0x02) => self.addr(1),
            (WifiKind::Control, 10) => self.addr(0),
            _ => None,
        }
    }

    /// The SSID element's bytes, when the frame carries one.
    pub fn ssid(&self) -> Option<&[u8]> {
        match self.body {
            WifiBody::Ssid(ssid) => Some(ssid),
            _ => None,
        }
    }

    /// A QoS data subtype (subtype bit 3).
    fn qos(&self) -> bool {
        self.kind == WifiKind::Data && self.subtype & 0x08 != 0
    }

    /// The name tcpdump gives the frame type, in lower case: `beacon`, `qos data`, `ack`, ...
    pub fn name(&self) -> &'static str {
        subtype_name(self.kind, self.subtype)
    }
}

/// The name of a frame type and subtype (IEEE 802.11 Table 9-1).
pub fn subtype_name(kind: WifiKind, subtype: u8) -> &'static str {
    match (kind, subtype) {
        (WifiKind::Management, 0) => "assoc request",
        (WifiKind::Management, 1) => "assoc response",
        (WifiKind::Management, 2) => "reassoc request",
        (WifiKind::Management, 3) => "reassoc response",
        (WifiKind::Management, 4) => "probe request",
        (WifiKind::Management, 5) => "probe response",
        (WifiKind::Management, 6) => "timing advertisement",
        (WifiKind::Management, 8) => "beacon",
        (WifiKind::Management, 9) => "atim",
        (WifiKind::Management, 10) => "disassoc",
        (WifiKind::Management, 11) => "auth",
        (WifiKind::Management, 12) => "deauth",
        (WifiKind::Management, 13) => "action",
        (WifiKind::Management, 14) => "action no ack",
        (WifiKind::Management, _) => "management",
        (WifiKind::Control, 2) => "trigger",
        (WifiKind::Control, 4) => "beamforming report poll",
        (WifiKind::Control, 5) => "ndp announcement",
        (WifiKind::Control, 6) => "control frame extension",
        (WifiKind::Control, 7) => "control wrapper",
        (WifiKind::Control, 8) => "block ack request",
        (WifiKind::Control, 9) => "block ack",
        (WifiKind::Control, 10) => "ps-poll",
        (WifiKind::Control, 11) => "rts",
        (WifiKind::Control, 12) => "cts",
        (WifiKind::Control, 13) => "ack",
        (WifiKind::Control, 14) => "cf-end",
        (WifiKind::Control, 15) => "cf-end+cf-ack",
        (WifiKind::Control, _) => "control",
        (WifiKind::Data, 0) => "data",
        (WifiKind::Data, 1) => "data+cf-ack",
        (WifiKind::Data, 2) => "data+cf-poll",
        (WifiKind::Data, 3) => "data+cf-ack+cf-poll",
        (WifiKind::Data, 4) => "null function",
        (WifiKind::Data, 5) => "cf-ack",
        (WifiKind::Data, 6) => "cf-poll",
        (WifiKind::Data, 7) => "cf-ack+cf-poll",
        (WifiKind::Data, 8) => "qos data",
        (WifiKind::Data, 9) => "qos data+cf-ack",
        (WifiKind::Data, 10) => "qos data+cf-poll",
        (WifiKind::Data, 11) => "qos data+cf-ack+cf-poll",
        (WifiKind::Data, 12) => "qos null",
        (WifiKind::Data, 14) => "qos cf-poll",
        (WifiKind::Data, 15) => "qos cf-ack+cf-poll",
        (WifiKind::Data, _) => "data",
        (WifiKind::Extension, _) => "extension",
    }
}

/// What the radio pseudo-header said about the frame behind it.
struct RadioFacts {
    radio: Radio,
    fcs: bool,
    /// Radiotap flag 0x20: padding after the 802.11 header to a multiple of 4 bytes.
    datapad: bool,
}

/// LINKTYPE_IEEE802_11_RADIOTAP: skip the radiotap header (it_len), reading flags, rate,
/// channel and signal when they are among the first fields.
pub(super) fn slice_radiotap(data: &[u8]) -> (Link<'_>, usize, Proto) {
    if data.len() < 8 {
        return super::short(Layer::Radiotap, 8);
    }
    let it_len = usize::from(le16(&data[2..4]));
    if it_len < 8 {
        return (Link::Unknown { linktype: super::LINKTYPE_IEEE802_11_RADIOTAP }, 0, Proto::None);
    }
    if data.len() < it_len {
        return super::short(Layer::Radiotap, it_len);
    }
    let facts = radiotap_fields(&data[..it_len]);
    offset(slice_80211(&data[it_len..], facts), it_len)
}

/// The radiotap fields of the first presence word up to the antenna signal (bits 0-5: TSFT,
/// flags, rate, channel, FHSS, dBm signal), which come first whatever follows. A field that does
/// not fit in `header` ends the walk: a field read from the wrong place is worse than none.
fn radiotap_fields(header: &[u8]) -> RadioFacts {
    let mut facts = RadioFacts { radio: Radio { header: RadioHeader::Radiotap, ..Radio::default() }, fcs: false, datapad: false };
    let first = le32(&header[4..8]);
    // more presence words follow while bit 31 (ext) is set
    let mut at = 4;
    loop {
        let Some(word) = header.get(at..at + 4) else { return facts };
        at += 4;
        if le32(word) & (1 << 31) == 0 {
            break;
        }
    }
    // (alignment, size) of the fields of bits 0-5
    const FIELDS: [(usize, usize); 6] = [(8, 8), (1, 1), (1, 1), (2, 4), (1, 2), (1, 1)];
    for (bit, (align, size)) in FIELDS.iter().enumerate() {
        if first & (1 << bit) == 0 {
            continue;
        }
        at = at.div_ceil(*align) * align;
        let Some(field) = header.get(at..at + size) else { return facts };
        match bit {
            1 => {
                facts.fcs = field[0] & 0x10 != 0;
                facts.datapad = field[0] & 0x20 != 0;
            }
            2 if field[0] != 0 => facts.radio.rate = Some(field[0]),
            3 if le16(field) != 0 => facts.radio.freq = Some(le16(field)),
            5 => facts.radio.signal = Some(field[0] as i8),
            _ => {}
        }
        at += size;
    }
    facts
}

/// LINKTYPE_PPI: skip pph_len and decode the link type it names (802.11 with the 802.11-Common
/// field's FCS flag, frequency and rate; Ethernet and raw IP as themselves).
pub(super) fn slice_ppi(data: &[u8]) -> (Link<'_>, usize, Proto) {
    if data.len() < 8 {
        return super::short(Layer::Ppi, 8);
    }
    let len = usize::from(le16(&data[2..4]));
    let dlt = le32(&data[4..8]);
    if len < 8 {
        return (Link::Unknown { linktype: super::LINKTYPE_PPI }, 0, Proto::None);
    }
    if data.len() < len {
        return super::short(Layer::Ppi, len);
    }
    match dlt {
        super::LINKTYPE_IEEE802_11 => {
            let mut facts = RadioFacts { radio: Radio { header: RadioHeader::Ppi, ..Radio::default() }, fcs: false, datapad: false };
            // fields: type, length (both little endian), value
            let mut at = 8;
            while let Some(field) = data.get(at..at + 4).filter(|_| at + 4 <= len) {
                let (ty, flen) = (le16(&field[0..2]), usize::from(le16(&field[2..4])));
                let Some(value) = data.get(at + 4..at + 4 + flen).filter(|_| at + 4 + flen <= len) else { break };
                // 802.11-Common: TSF u64, flags u16, rate u16, frequency u16, channel flags u16, ...
                if ty == 2 && flen >= 20 {
                    facts.fcs = le16(&value[8..10]) & 0x0001 != 0;
                    let rate = le16(&value[10..12]);
                    if (1..=255).contains(&rate) {
                        facts.radio.rate = Some(rate as u8);
                    }
                    let freq = le16(&value[12..14]);
                    if freq != 0 {
                        facts.radio.freq = Some(freq);
                    }
                }
                at += 4 + flen;
            }
            offset(slice_80211(&data[len..], facts), len)
        }
        super::LINKTYPE_ETHERNET | super::LINKTYPE_RAW | super::LINKTYPE_IPV4 | super::LINKTYPE_IPV6 => {
            offset(super::slice(dlt, &data[len..]), len)
        }
        _ => (Link::Unknown { linktype: super::LINKTYPE_PPI }, 0, Proto::None),
    }
}

/// LINKTYPE_IEEE802_11: an 802.11 frame without a radio header (and, as Wireshark assumes by
/// default, without an FCS).
pub(super) fn slice_plain(data: &[u8]) -> (Link<'_>, usize, Proto) {
    slice_80211(data, RadioFacts { radio: Radio::default(), fcs: false, datapad: false })
}

/// Move the header length of an inner slice past the pseudo-header before it.
fn offset<'a>((link, len, proto): (Link<'a>, usize, Proto), by: usize) -> (Link<'a>, usize, Proto) {
    match link {
        Link::Truncated { layer, need } => (Link::Truncated { layer, need: need + by }, 0, proto),
        _ => (link, len + by, proto),
    }
}

/// The 802.11 MAC header and enough of the body to name or follow it. `data` ends with the FCS
/// when `facts.fcs`.
fn slice_80211<'a>(data: &'a [u8], facts: RadioFacts) -> (Link<'a>, usize, Proto) {
    if data.len() < 10 {
        return super::short(Layer::Wifi, 10);
    }
    let fc0 = data[0];
    let kind = match (fc0 >> 2) & 3 {
        0 => WifiKind::Management,
        1 => WifiKind::Control,
        2 => WifiKind::Data,
        _ => WifiKind::Extension,
    };
    let mut wifi = Wifi {
        kind,
        subtype: fc0 >> 4,
        flags: data[1],
        addrs: [MacAddr::default(); 4],
        naddr: 0,
        body: WifiBody::None,
        radio: facts.radio,
        fcs: facts.fcs,
    };
    // the body ends before the FCS
    let end = if facts.fcs { data.len().saturating_sub(4) } else { data.len() };
    // addresses at 4, 10, 16 and (four-address data frames) 24
    let naddr = match kind {
        // ACK, CTS and the control wrapper carry only the receiver address
        WifiKind::Control if matches!(wifi.subtype, 7 | 12 | 13) => 1,
        WifiKind::Control => 2,
        WifiKind::Data if wifi.flags & (TO_DS | FROM_DS) == TO_DS | FROM_DS => 4,
        WifiKind::Management | WifiKind::Data => 3,
        WifiKind::Extension => 1,
    };
    for (i, start) in [4usize, 10, 16, 24].into_iter().take(naddr).enumerate() {
        let Some(a) = data.get(start..start + 6) else { break };
        wifi.addrs[i] = MacAddr([a[0], a[1], a[2], a[3], a[4], a[5]]);
        wifi.naddr += 1;
    }
    let mut hdr: usize = match kind {
        WifiKind::Control | WifiKind::Extension => return (Link::Wifi(wifi), data.len().min(4 + 6 * naddr), Proto::None),
        WifiKind::Management => 24,
        WifiKind::Data if naddr == 4 => 30,
        WifiKind::Data => 24,
    };
    let qos = wifi.qos();
    if qos {
        hdr += 2;
    }
    // +HTC: the HT/VHT/HE control field of QoS data and management frames (§9.2.4.1.10)
    if wifi.flags & ORDER != 0 && (qos || kind == WifiKind::Management) {
        hdr += 4;
    }
    if facts.datapad {
        hdr = hdr.div_ceil(4) * 4;
    }
    if end < hdr || (wifi.naddr as usize) < naddr {
        wifi.body = WifiBody::Cut;
        return (Link::Wifi(wifi), data.len().min(hdr), Proto::None);
    }
    let body = &data[hdr..end];
    if kind == WifiKind::Management {
        wifi.body = management_body(wifi.subtype, body);
        return (Link::Wifi(wifi), hdr, Proto::None);
    }
    if wifi.flags & PROTECTED != 0 {
        wifi.body = WifiBody::Protected;
        return (Link::Wifi(wifi), hdr, Proto::None);
    }
    // null function and the CF subtypes carry no data (subtype bit 2)
    if wifi.subtype & 0x04 != 0 {
        return (Link::Wifi(wifi), hdr, Proto::None);
    }
    // Mesh control (§9.2.4.7.3): QoS control's mesh-control-present bit, a flags byte whose
    // reserved bits are clear, then 6, 12 or 18 bytes; taken only when LLC/SNAP follows it and
    // does not follow the header directly.
    let mut start = hdr;
    let qos_at = if naddr == 4 { 30 } else { 24 };
    if qos && data[qos_at + 1] & 0x01 != 0 && !matches!(llc(body), LlcPayload::Snap(_)) {
        if let Some(&flags) = body.first() {
            let mesh_len = 6 + 6 * usize::from(flags & 0x03);
            if flags & 0xfc == 0 && flags & 0x03 != 3 {
                if let Some(rest) = body.get(mesh_len..) {
                    if matches!(llc(rest), LlcPayload::Snap(_)) {
                        start += mesh_len;
                    }
                }
            }
        }
    }
    match llc(&data[start..end]) {
        LlcPayload::Snap(ethertype) => (Link::Wifi(wifi), start + 8, Proto::Ether(ethertype)),
        LlcPayload::Llc { dsap, ssap } => {
            wifi.body = WifiBody::Llc { dsap, ssap };
            (Link::Wifi(wifi), start, Proto::None)
        }
        LlcPayload::Cut => {
            if start < end {
                wifi.body = WifiBody::Cut;
            }
            (Link::Wifi(wifi), start, Proto::None)
        }
    }
}

/// The fixed fields and the SSID element of a management frame body.
fn management_body(subtype: u8, body: &[u8]) -> WifiBody<'_> {
    let u16_at = |at: usize| body.get(at..at + 2).map(le16);
    // bytes of fixed fields before the elements (IEEE 802.11 §9.3.3)
    let fixed = match subtype {
        0 => 4,      // capability, listen interval
        2 => 10,     // capability, listen interval, current AP
        4 => 0,      // probe request: elements only
        5 | 8 => 12, // timestamp, beacon interval, capability
        1 | 3 => match u16_at(2) {
            Some(status) => return WifiBody::Status(status),
            None => return WifiBody::Cut,
        },
        11 => {
            return match (u16_at(0), u16_at(2), u16_at(4)) {
                (Some(algorithm), Some(seq), Some(status)) => WifiBody::Auth { algorithm, seq, status },
                _ => WifiBody::Cut,
            }
        }
        10 | 12 => return u16_at(0).map_or(WifiBody::Cut, WifiBody::Reason),
        13 | 14 => return body.first().map_or(WifiBody::Cut, |&c| WifiBody::Action(c)),
        _ => return WifiBody::None,
    };
    // the SSID element (id 0) is the first element
    match body.get(fixed..fixed + 2) {
        Some(&[0, len]) => match body.get(fixed + 2..fixed + 2 + usize::from(len)) {
            Some(ssid) if len <= 32 => WifiBody::Ssid(ssid),
            _ => WifiBody::Cut,
        },
        Some(_) => WifiBody::None,
        None => WifiBody::Cut,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AP: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
    const STA: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
    const HOST: [u8; 6] = [0x02, 0, 0, 0, 0, 0x03];

    /// A QoS data frame to the DS (STA → AP → HOST) carrying LLC/SNAP IPv4.
    fn qos_data(flags: u8) -> Vec<u8> {
        let mut d = vec![0x88, flags | TO_DS, 0, 0];
        d.extend_from_slice(&AP);
        d.extend_from_slice(&STA);
        d.extend_from_slice(&HOST);
        d.extend_from_slice(&[0x10, 0x00, 0x00, 0x00]); // seq, QoS
        if flags & ORDER != 0 {
            d.extend_from_slice(&[0, 0, 0, 0]);
        }
        d.extend_from_slice(&[0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00, 0x45]);
        d
    }

    fn radiotap(flags: u8, frame: &[u8]) -> Vec<u8> {
        // present: flags, rate, channel, dBm signal
        let mut d = vec![0, 0, 0, 0, 0b0010_1110, 0, 0, 0, flags, 2, 0x6c, 0x09, 0xa0, 0x00, 0xd6, 0];
        let len = d.len() as u16;
        d[2..4].copy_from_slice(&len.to_le_bytes());
        d.extend_from_slice(frame);
        d
    }

    #[test]
    fn qos_data_to_ds_is_followed() {
        for flags in [0, ORDER] {
            let d = qos_data(flags);
            let (link, len, proto) = slice_plain(&d);
            assert_eq!(proto, Proto::Ether(0x0800));
            assert_eq!(d[len], 0x45);
            let Link::Wifi(w) = link else { panic!() };
            assert_eq!((w.name(), w.src(), w.dst(), w.bssid()), ("qos data", Some(MacAddr(STA)), Some(MacAddr(HOST)), Some(MacAddr(AP))));
        }
    }

    #[test]
    fn radiotap_fields_and_fcs() {
        let mut frame = qos_data(0);
        frame.extend_from_slice(&[1, 2, 3, 4]);
        let d = radiotap(0x10, &frame);
        let (link, len, proto) = slice_radiotap(&d);
        assert_eq!((d[len], proto), (0x45, Proto::Ether(0x0800)));
        let Link::Wifi(w) = link else { panic!() };
        assert!(w.fcs);
        assert_eq!(w.radio, Radio { header: RadioHeader::Radiotap, freq: Some(2412), signal: Some(-42), rate: Some(2) });
        // a header whose fields do not fit its length: skipped, fields unknown
        let mut short = d.clone();
        short[2] = 10;
        let (link, _, _) = slice_radiotap(&short);
        let Link::Wifi(w) = link else { panic!("{link:?}") };
        assert_eq!((w.radio.freq, w.radio.signal), (None, None));
    }

    #[test]
    fn protected_and_mesh() {
        let d = qos_data(PROTECTED);
        let (link, _, proto) = slice_plain(&d);
        assert_eq!(proto, Proto::None);
        assert!(matches!(link, Link::Wifi(Wifi { body: WifiBody::Protected, .. })));
        // mesh control (flags 0, ttl, seq) between QoS control and LLC
        let mut m = qos_data(0);
        m[25] = 0x01;
        let at = m.len() - 9;
        m.splice(at..at, [0, 5, 1, 0, 0, 0]);
        let (_, len, proto) = slice_plain(&m);
        assert_eq!((proto, m[len]), (Proto::Ether(0x0800), 0x45));
    }

    #[test]
    fn management_frames_named_with_ssid() {
        let mut beacon = vec![0x80, 0, 0, 0];
        beacon.extend_from_slice(&[0xff; 6]);
        beacon.extend_from_slice(&AP);
        beacon.extend_from_slice(&AP);
        beacon.extend_from_slice(&[0; 2]);
        beacon.extend_from_slice(&[0; 12]);
        beacon.extend_from_slice(&[0, 4, b'h', 0x1b, b'm', b'e', 1, 1, 0x82]);
        let (link, _, proto) = slice_plain(&beacon);
        assert_eq!(proto, Proto::None);
        let Link::Wifi(w) = link else { panic!() };
        assert_eq!((w.name(), w.ssid()), ("beacon", Some(&b"h\x1bme"[..])));
        // an SSID length past the frame
        beacon[37] = 30;
        assert!(matches!(slice_plain(&beacon).0, Link::Wifi(Wifi { body: WifiBody::Cut, .. })));
        let mut ack = vec![0xd4, 0, 0, 0];
        ack.extend_from_slice(&STA);
        let Link::Wifi(w) = slice_plain(&ack).0 else { panic!() };
        assert_eq!((w.name(), w.naddr, w.dst()), ("ack", 1, Some(MacAddr(STA))));
    }

    #[test]
    fn ppi_names_80211() {
        let mut d = vec![0, 0, 32, 0, 105, 0, 0, 0, 2, 0, 20, 0];
        let mut common = [0u8; 20];
        common[8] = 1; // FCS present
        common[10] = 22; // 11 Mb/s
        common[12..14].copy_from_slice(&2437u16.to_le_bytes());
        d.extend_from_slice(&common);
        let mut frame = qos_data(0);
        frame.extend_from_slice(&[9, 9, 9, 9]);
        d.extend_from_slice(&frame);
        let (link, len, proto) = slice_ppi(&d);
        assert_eq!((proto, d[len]), (Proto::Ether(0x0800), 0x45));
        let Link::Wifi(w) = link else { panic!() };
        assert!(w.fcs);
        assert_eq!((w.radio.header, w.radio.freq, w.radio.rate), (RadioHeader::Ppi, Some(2437), Some(22)));
    }

    #[test]
    fn cut_and_lying_headers_never_panic() {
        let mut frames = vec![radiotap(0x30, &qos_data(ORDER)), qos_data(0)];
        let mut ppi = vec![0, 0, 8, 0, 105, 0, 0, 0];
        ppi.extend_from_slice(&qos_data(0));
        frames.push(ppi);
        for d in &frames {
            for cut in 0..=d.len() {
                for f in [slice_radiotap, slice_plain, slice_ppi] {
                    let (link, len, _) = f(&d[..cut]);
                    assert!(len <= cut, "{link:?} {len} {cut}");
                    // every byte a lying length could point anywhere
                    for pos in 0..cut.min(40) {
                        let mut m = d[..cut].to_vec();
                        m[pos] = 0xff;
                        let (_, len, _) = f(&m);
                        assert!(len <= cut);
                    }
                }
            }
        }
    }
}
