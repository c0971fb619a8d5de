//! Time formatting without time zones: RFC 3339 UTC and relative seconds.

use std::io::{self, Write};

use super::line::{decimal_len, fixed_digits};

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
    let (text, len) = rfc3339_buf(ts_ns, nanos);
    w.write_all(&text[..len])
}

/// [`write_rfc3339`]'s text in a fixed buffer, and its length. By hand, two digits at a time:
/// every JSON packet record has one. Nanoseconds in an i64 span the years 1677 to 2262: the
/// year has four digits.
pub(crate) fn rfc3339_buf(ts_ns: i64, nanos: bool) -> ([u8; 30], usize) {
    let secs = ts_ns.div_euclid(1_000_000_000);
    let frac = ts_ns.rem_euclid(1_000_000_000) as u64;
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let secs_of_day = secs.rem_euclid(86_400) as u64;
    let mut text = *b"0000-00-00T00:00:00.000000000Z";
    fixed_digits(&mut text[0..4], year as u64);
    fixed_digits(&mut text[5..7], u64::from(month));
    fixed_digits(&mut text[8..10], u64::from(day));
    fixed_digits(&mut text[11..13], secs_of_day / 3600);
    fixed_digits(&mut text[14..16], secs_of_day / 60 % 60);
    fixed_digits(&mut text[17..19], secs_of_day % 60);
    let digits = if nanos { 9 } else { 6 };
    fixed_digits(&mut text[20..20 + digits], if nanos { frac } else { frac / 1000 });
    text[20 + digits] = b'Z';
    (text, 21 + digits)
}

/// Seconds with six (or nine) decimals, e.g. `12.000345`; negative values keep their sign.
pub fn write_secs(w: &mut impl Write, ns: i64, nanos: bool) -> io::Result<()> {
    let (text, len) = secs_buf(ns, nanos);
    w.write_all(&text[..len])
}

/// [`write_secs`]'s text in a fixed buffer, and its length (written for every frame of text
/// and JSON: by hand, two digits at a time).
pub(crate) fn secs_buf(ns: i64, nanos: bool) -> ([u8; 32], usize) {
    let mut text = [0u8; 32];
    let mut at = 0;
    if ns < 0 {
        text[0] = b'-';
        at = 1;
    }
    let magnitude = ns.unsigned_abs();
    let whole = magnitude / 1_000_000_000;
    let digits = decimal_len(whole);
    fixed_digits(&mut text[at..at + digits], whole);
    at += digits;
    text[at] = b'.';
    at += 1;
    let (frac, digits) = if nanos { (magnitude % 1_000_000_000, 9) } else { (magnitude % 1_000_000_000 / 1000, 6) };
    fixed_digits(&mut text[at..at + digits], frac);
    (text, at + digits)
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
    fn secs_by_hand_match_fmt() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut values = vec![0i64, 1, -1, 999_999_999, 1_000_000_000, -1_000_000_001, i64::MAX, i64::MIN + 1];
        for _ in 0..5000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            values.push((state >> (state % 64)) as i64 * if state & 1 == 0 { 1 } else { -1 });
        }
        for ns in values {
            let sign = if ns < 0 { "-" } else { "" };
            let m = ns.unsigned_abs();
            let want9 = format!("{sign}{}.{:09}", m / 1_000_000_000, m % 1_000_000_000);
            let want6 = format!("{sign}{}.{:06}", m / 1_000_000_000, m % 1_000_000_000 / 1000);
            assert_eq!(secs_string(ns, true), want9);
            assert_eq!(secs_string(ns, false), want6);
        }
    }

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
