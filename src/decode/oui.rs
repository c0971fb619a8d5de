//! MAC vendor names from the IEEE registry, from the `oui-data` crate (MIT licence; data from
//! the IEEE MA-L/MA-M/MA-S/CID/IAB public listings), turned into pointer-free tables by
//! `build.rs`. Behind the default `oui` feature: it adds ~2 MB to the binary.

use super::MacAddr;

/// Vendor (organisation) of a globally administered unicast MAC, if registered.
pub fn vendor(mac: &MacAddr) -> Option<&'static str> {
    if mac.is_local() || mac.is_multicast() || mac.is_zero() {
        return None;
    }
    lookup(mac)
}

/// The registry as `build.rs` wrote it: sorted keys (`digits << 40 | prefix`, little-endian
/// u64); for each key where its name lies in `NAMES` (u32 offset, u32 length).
#[cfg(feature = "oui")]
mod table {
    /// Sorted keys, 8 bytes each.
    pub static KEYS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/oui_keys.bin"));
    /// For key `i`, words `2i` and `2i + 1`: offset and length of its name in `NAMES`.
    pub static NAMES_AT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/oui_names_at.bin"));
    /// Every vendor name, one after the other.
    pub static NAMES: &str = include_str!(concat!(env!("OUT_DIR"), "/oui_names.txt"));
}

#[cfg(feature = "oui")]
fn lookup(mac: &MacAddr) -> Option<&'static str> {
    use table::{KEYS, NAMES, NAMES_AT};
    let bits = mac.0.iter().fold(0u64, |acc, &byte| acc << 8 | u64::from(byte));
    let count = KEYS.len() / 8;
    let key_at = |i: usize| u64::from_le_bytes(KEYS[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
    // The longest registered prefix wins: MA-S (36 bits), MA-M (28), then MA-L/CID/IAB (24).
    for digits in [9u32, 7, 6] {
        let key = (u64::from(digits) << 40) | (bits >> (48 - 4 * digits));
        let (mut lo, mut hi) = (0, count);
        while lo < hi {
            let mid = (lo + hi) / 2;
            match key_at(mid).cmp(&key) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => {
                    let word = |i: usize| u32::from_le_bytes(NAMES_AT[i * 4..i * 4 + 4].try_into().expect("4 bytes")) as usize;
                    let (at, len) = (word(mid * 2), word(mid * 2 + 1));
                    return NAMES.get(at..at + len);
                }
            }
        }
    }
    None
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

    /// The tables build.rs writes answer as the oui-data crate does: every registered prefix
    /// (each with a tail that falls inside it), and a spread of other addresses.
    #[test]
    fn same_answers_as_the_registry_crate() {
        let hex = |m: &MacAddr| m.0.iter().map(|b| format!("{b:02X}")).collect::<String>();
        let mut macs = Vec::new();
        for (prefix, _) in oui_data::OUI_ENTRIES.entries() {
            let digits = prefix.len() as u32;
            let v = u64::from_str_radix(prefix, 16).unwrap();
            for tail in [0u64, 0x5a5a5a5a5, u64::MAX] {
                let low = tail & ((1u64 << (48 - 4 * digits)) - 1);
                let m = (v << (48 - 4 * digits)) | low;
                macs.push(MacAddr(std::array::from_fn(|i| (m >> (40 - 8 * i)) as u8)));
            }
        }
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            macs.push(MacAddr(std::array::from_fn(|i| (x >> (8 * i)) as u8)));
        }
        assert!(macs.len() > 100_000, "{} addresses", macs.len());
        for m in &macs {
            assert_eq!(lookup(m), oui_data::lookup(&hex(m)).map(|d| d.organization()), "{}", hex(m));
        }
    }
}
