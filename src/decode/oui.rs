//! MAC vendor names from the IEEE registry, embedded by the `oui-data` crate (MIT licence; data
//! from the IEEE MA-L/MA-M/MA-S public listings). Behind the default `oui` feature: it adds ~9 MB
//! to the binary.

use super::MacAddr;

/// Vendor (organisation) of a globally administered unicast MAC, if registered.
pub fn vendor(mac: &MacAddr) -> Option<&'static str> {
    if mac.is_local() || mac.is_multicast() || mac.is_zero() {
        return None;
    }
    lookup(mac)
}

#[cfg(feature = "oui")]
fn lookup(mac: &MacAddr) -> Option<&'static str> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut b = [0u8; 12];
    for (i, x) in mac.0.iter().enumerate() {
        b[i * 2] = HEX[(x >> 4) as usize];
        b[i * 2 + 1] = HEX[(x & 15) as usize];
    }
    let s = std::str::from_utf8(&b).ok()?;
    oui_data::lookup(s).map(|d| d.organization())
}

#[cfg(not(feature = "oui"))]
fn lookup(_mac: &MacAddr) -> Option<&'static str> {
    None
}

#[cfg(all(test, feature = "oui"))]
mod tests {
    use super::*;

    #[test]
    fn known_vendor() {
        assert_eq!(vendor(&MacAddr([0x50, 0xa6, 0xd8, 0, 0, 1])), Some("Apple, Inc."));
        assert_eq!(vendor(&MacAddr([0x52, 0x54, 0, 0, 0, 1])), None, "locally administered");
    }
}
