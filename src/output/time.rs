//! Time formatting without time zones: RFC 3339 UTC and relative seconds.

use std::io::{self, Write};

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `2026-01-01T00:00:00.000123Z` (nine fraction digits when `nanos`).
pub fn write_rfc3339(w: &mut impl Write, ts_ns: i64, nanos: bool) -> io::Result<()> {
    let secs = ts_ns.div_euclid(1_000_000_000);
    let frac = ts_ns.rem_euclid(1_000_000_000);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    write!(w, "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.", s / 3600, s / 60 % 60, s % 60)?;
    if nanos {
        write!(w, "{frac:09}Z")
    } else {
        write!(w, "{:06}Z", frac / 1000)
    }
}

/// Seconds with six (or nine) decimals, e.g. `12.000345`; negative values keep their sign.
pub fn write_secs(w: &mut impl Write, ns: i64, nanos: bool) -> io::Result<()> {
    // by hand (itoa and a fixed-width fraction): written for every frame of text and JSON
    if ns < 0 {
        w.write_all(b"-")?;
    }
    let a = ns.unsigned_abs();
    w.write_all(itoa::Buffer::new().format(a / 1_000_000_000).as_bytes())?;
    let (mut frac, digits) = if nanos { (a % 1_000_000_000, 9) } else { (a % 1_000_000_000 / 1000, 6) };
    let mut buf = [b'0'; 10];
    buf[0] = b'.';
    for i in (1..=digits).rev() {
        buf[i] = b'0' + (frac % 10) as u8;
        frac /= 10;
    }
    w.write_all(&buf[..=digits])
}

pub fn secs_string(ns: i64, nanos: bool) -> String {
    let mut v = Vec::new();
    let _ = write_secs(&mut v, ns, nanos);
    String::from_utf8(v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(ts: i64, n: bool) -> String {
        let mut v = Vec::new();
        write_rfc3339(&mut v, ts, n).unwrap();
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn rfc3339() {
        assert_eq!(s(0, false), "1970-01-01T00:00:00.000000Z");
        assert_eq!(s(1_767_225_600_000_123_456, false), "2026-01-01T00:00:00.000123Z");
        assert_eq!(s(1_767_225_600_000_123_456, true), "2026-01-01T00:00:00.000123456Z");
        assert_eq!(s(951_782_400_000_000_000, false), "2000-02-29T00:00:00.000000Z");
        assert_eq!(s(-1_000_000_000, false), "1969-12-31T23:59:59.000000Z");
    }

    #[test]
    fn secs() {
        assert_eq!(secs_string(1_500_000, false), "0.001500");
        assert_eq!(secs_string(12_000_000_345, true), "12.000000345");
        assert_eq!(secs_string(-2_000, true), "-0.000002000");
    }
}
