//! Build script: the MAC-vendor table (feature `oui`).
//!
//! The `oui-data` crate holds the IEEE registry as a `phf` map of `&str`s. Linked in as it is,
//! every one of its ~50,000 entries holds two pointers, which a position-independent executable
//! must patch at start: ~8 ms and 8 MB of dirty memory in every run, even one that never prints a
//! vendor. Here the map is read once at build time and written as three pointer-free blobs
//! (sorted 64-bit keys, where each name lies, the names) that `src/decode/oui.rs` embeds with
//! `include_bytes!`: they stay clean file-backed pages, read only where a lookup lands.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(feature = "oui")]
    oui::write();
}

#[cfg(feature = "oui")]
mod oui {
    use std::path::PathBuf;

    /// Key of a registry prefix of `digits` hex digits (6, 7 or 9) with value `v`.
    fn key(digits: u32, v: u64) -> u64 {
        (u64::from(digits) << 40) | v
    }

    pub fn write() {
        let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
        let mut rows: Vec<(u64, &str)> = oui_data::OUI_ENTRIES
            .entries()
            .filter_map(|(prefix, d)| {
                let v = u64::from_str_radix(prefix, 16).ok()?;
                matches!(prefix.len(), 6 | 7 | 9).then(|| (key(prefix.len() as u32, v), d.organization()))
            })
            .collect();
        rows.sort_unstable();
        rows.dedup_by_key(|r| r.0);
        let mut keys = Vec::with_capacity(rows.len() * 8);
        let mut offs = Vec::with_capacity(rows.len() * 8);
        let mut names = String::new();
        let mut seen = std::collections::HashMap::new();
        for (k, name) in &rows {
            keys.extend_from_slice(&k.to_le_bytes());
            let at = *seen.entry(*name).or_insert_with(|| {
                let at = names.len() as u32;
                names.push_str(name);
                at
            });
            offs.extend_from_slice(&at.to_le_bytes());
            offs.extend_from_slice(&(name.len() as u32).to_le_bytes());
        }
        std::fs::write(out.join("oui_keys.bin"), keys).expect("write oui_keys.bin");
        std::fs::write(out.join("oui_names_at.bin"), offs).expect("write oui_names_at.bin");
        std::fs::write(out.join("oui_names.txt"), names).expect("write oui_names.txt");
    }
}
