//! Byte order of the 4-byte length prefixes the framing scenarios write.

use std::fmt;
use std::str::FromStr;

/// Byte order of a 4-byte length prefix (Python's `struct.pack('>I', n)` is big, `struct.pack('i', n)`
/// on x86 is little).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endian {
    /// Most significant byte first (network byte order).
    Big,
    /// Least significant byte first (x86's native order).
    Little,
}

impl Endian {
    /// `n` as 4 bytes in this order.
    pub fn pack(self, n: u32) -> [u8; 4] {
        match self {
            Endian::Big => n.to_be_bytes(),
            Endian::Little => n.to_le_bytes(),
        }
    }

    /// The number 4 bytes in this order stand for.
    pub fn unpack(self, bytes: [u8; 4]) -> u32 {
        match self {
            Endian::Big => u32::from_be_bytes(bytes),
            Endian::Little => u32::from_le_bytes(bytes),
        }
    }

    /// `big` or `little`, as `--endian` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Endian::Big => "big",
            Endian::Little => "little",
        }
    }

    /// The Python `struct` format that writes a 4-byte length in this order: `'>I'` or `'<i'`
    /// (what `struct.pack('i', n)` gives on x86).
    pub fn struct_format(self) -> &'static str {
        match self {
            Endian::Big => "'>I'",
            Endian::Little => "'i'",
        }
    }
}

impl fmt::Display for Endian {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Endian {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "big" | "be" => Ok(Endian::Big),
            "little" | "le" => Ok(Endian::Little),
            _ => Err(format!("unknown byte order '{text}'; one of: little, big")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_orders() {
        // struct.pack('i', 6) on x86 is b'\x06\x00\x00\x00' (seed 004)
        assert_eq!(Endian::Little.pack(6), [6, 0, 0, 0]);
        assert_eq!(Endian::Big.pack(0x0102_0304), [1, 2, 3, 4]);
        for order in [Endian::Big, Endian::Little] {
            assert_eq!(order.unpack(order.pack(123_456)), 123_456);
            assert_eq!(order.name().parse::<Endian>().unwrap(), order);
        }
        assert_eq!("LE".parse::<Endian>().unwrap(), Endian::Little);
        assert!("middle".parse::<Endian>().unwrap_err().contains("little, big"));
    }
}
