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
    // By hand into a fixed buffer (every JSON packet record has one): `YYYY-MM-DDTHH:MM:SS.` then
    // 6 or 9 digits and `Z`. Nanoseconds in an i64 span the years 1677 to 2262: four digits.
    let mut b = *b"0000-00-00T00:00:00.000000000Z";
    let put = |b: &mut [u8; 30], at: usize, width: usize, mut v: u64| {
        for i in (at..at + width).rev() {
            b[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(&mut b, 0, 4, y as u64);
    put(&mut b, 5, 2, u64::from(mo));
    put(&mut b, 8, 2, u64::from(d));
    put(&mut b, 11, 2, (s / 3600) as u64);
    put(&mut b, 14, 2, (s / 60 % 60) as u64);
    put(&mut b, 17, 2, (s % 60) as u64);
    let digits = if nanos { 9 } else { 6 };
    put(&mut b, 20, digits, if nanos { frac as u64 } else { frac as u64 / 1000 });
    b[20 + digits] = b'Z';
    w.write_all(&b[..21 + digits])
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

    /// The by-hand digits against `core::fmt`'s padding, over the whole i64 range (years
    /// 1677 to 2262) and both precisions.
    #[test]
    fn rfc3339_by_hand_matches_fmt() {
        let fmt = |ts: i64, nanos: bool| {
            let secs = ts.div_euclid(1_000_000_000);
            let frac = ts.rem_euclid(1_000_000_000);
            let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
            let t = secs.rem_euclid(86_400);
            let head = format!("{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.", t / 3600, t / 60 % 60, t % 60);
            if nanos {
                format!("{head}{frac:09}Z")
            } else {
                format!("{head}{:06}Z", frac / 1000)
            }
        };
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut all = vec![i64::MIN, i64::MAX, 0, -1, 1];
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            all.push(x as i64);
        }
        for ts in all {
            for nanos in [false, true] {
                assert_eq!(s(ts, nanos), fmt(ts, nanos), "{ts}");
            }
        }
    }

    #[test]
    fn secs() {
        assert_eq!(secs_string(1_500_000, false), "0.001500");
        assert_eq!(secs_string(12_000_000_345, true), "12.000000345");
        assert_eq!(secs_string(-2_000, true), "-0.000002000");
    }
}
