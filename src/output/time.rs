//! Time formatting without time zones: RFC 3339 UTC and relative seconds.

use std::io::{self, Write};

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let doe = days.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let year = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let month_from_march = (5 * doy + 2) / 153;
    let day = (doy - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 } as u32;
    (if month <= 2 { year + 1 } else { year }, month, day)
}

/// `2026-01-01T00:00:00.000123Z` (nine fraction digits when `nanos`).
pub fn write_rfc3339(w: &mut impl Write, ts_ns: i64, nanos: bool) -> io::Result<()> {
    let secs = ts_ns.div_euclid(1_000_000_000);
    let frac = ts_ns.rem_euclid(1_000_000_000);
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let secs_of_day = secs.rem_euclid(86_400);
    // By hand into a fixed buffer (every JSON packet record has one): `YYYY-MM-DDTHH:MM:SS.` then
    // 6 or 9 digits and `Z`. Nanoseconds in an i64 span the years 1677 to 2262: four digits.
    let mut text = *b"0000-00-00T00:00:00.000000000Z";
    let put = |text: &mut [u8; 30], at: usize, width: usize, mut value: u64| {
        for i in (at..at + width).rev() {
            text[i] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(&mut text, 0, 4, year as u64);
    put(&mut text, 5, 2, u64::from(month));
    put(&mut text, 8, 2, u64::from(day));
    put(&mut text, 11, 2, (secs_of_day / 3600) as u64);
    put(&mut text, 14, 2, (secs_of_day / 60 % 60) as u64);
    put(&mut text, 17, 2, (secs_of_day % 60) as u64);
    let digits = if nanos { 9 } else { 6 };
    put(&mut text, 20, digits, if nanos { frac as u64 } else { frac as u64 / 1000 });
    text[20 + digits] = b'Z';
    w.write_all(&text[..21 + digits])
}

/// Seconds with six (or nine) decimals, e.g. `12.000345`; negative values keep their sign.
pub fn write_secs(w: &mut impl Write, ns: i64, nanos: bool) -> io::Result<()> {
    // by hand (itoa and a fixed-width fraction): written for every frame of text and JSON
    if ns < 0 {
        w.write_all(b"-")?;
    }
    let magnitude = ns.unsigned_abs();
    w.write_all(itoa::Buffer::new().format(magnitude / 1_000_000_000).as_bytes())?;
    let (mut frac, digits) = if nanos { (magnitude % 1_000_000_000, 9) } else { (magnitude % 1_000_000_000 / 1000, 6) };
    let mut buf = [b'0'; 10];
    buf[0] = b'.';
    for i in (1..=digits).rev() {
        buf[i] = b'0' + (frac % 10) as u8;
        frac /= 10;
    }
    w.write_all(&buf[..=digits])
}

/// [`write_secs`] into a `String`.
pub fn secs_string(ns: i64, nanos: bool) -> String {
    let mut text = Vec::new();
    let _ = write_secs(&mut text, ns, nanos);
    String::from_utf8(text).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rfc3339_text(ts: i64, nanos: bool) -> String {
        let mut text = Vec::new();
        write_rfc3339(&mut text, ts, nanos).unwrap();
        String::from_utf8(text).unwrap()
    }

    #[test]
    fn rfc3339() {
        assert_eq!(rfc3339_text(0, false), "1970-01-01T00:00:00.000000Z");
        assert_eq!(rfc3339_text(1_767_225_600_000_123_456, false), "2026-01-01T00:00:00.000123Z");
        assert_eq!(rfc3339_text(1_767_225_600_000_123_456, true), "2026-01-01T00:00:00.000123456Z");
        assert_eq!(rfc3339_text(951_782_400_000_000_000, false), "2000-02-29T00:00:00.000000Z");
        assert_eq!(rfc3339_text(-1_000_000_000, false), "1969-12-31T23:59:59.000000Z");
    }

    /// The by-hand digits against `core::fmt`'s padding, over the whole i64 range (years
    /// 1677 to 2262) and both precisions.
    #[test]
    fn rfc3339_by_hand_matches_fmt() {
        let fmt = |ts: i64, nanos: bool| {
            let secs = ts.div_euclid(1_000_000_000);
            let frac = ts.rem_euclid(1_000_000_000);
            let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
            let secs_of_day = secs.rem_euclid(86_400);
            let head =
                format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.", secs_of_day / 3600, secs_of_day / 60 % 60, secs_of_day % 60);
            if nanos {
                format!("{head}{frac:09}Z")
            } else {
                format!("{head}{:06}Z", frac / 1000)
            }
        };
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut all = vec![i64::MIN, i64::MAX, 0, -1, 1];
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            all.push(state as i64);
        }
        for ts in all {
            for nanos in [false, true] {
                assert_eq!(rfc3339_text(ts, nanos), fmt(ts, nanos), "{ts}");
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
