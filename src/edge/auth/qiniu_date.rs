//! `X-Qiniu-Date: YYYYMMDDTHHMMSSZ`, the signed time the official SDKs add.

use std::time::{SystemTime, UNIX_EPOCH};
use time::{Date, Month, Time, UtcDateTime};

/// Parses `YYYYMMDDTHHMMSSZ` (UTC) into seconds since the Unix epoch.
/// `None` for any other shape, an impossible date or time, or a time
/// before 1970.
pub fn parse_qiniu_date(value: &[u8]) -> Option<u64> {
    if value.len() != 16 || value[8] != b'T' || value[15] != b'Z' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u16> {
        let digits = &value[range];
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(digits.iter().fold(0, |n, d| n * 10 + u16::from(d - b'0')))
    };
    let two_digits = |range| number(range).and_then(|n| u8::try_from(n).ok());
    let month = Month::try_from(two_digits(4..6)?).ok()?;
    let date = Date::from_calendar_date(i32::from(number(0..4)?), month, two_digits(6..8)?).ok()?;
    let time = Time::from_hms(two_digits(9..11)?, two_digits(11..13)?, two_digits(13..15)?).ok()?;
    u64::try_from(UtcDateTime::new(date, time).unix_timestamp()).ok()
}

/// Formats a time as `YYYYMMDDTHHMMSSZ`, the inverse of [`parse_qiniu_date`]
/// (times before 1970 are formatted as 1970, after 9999 as the end of 9999).
pub fn format_qiniu_date(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let t = i64::try_from(secs)
        .ok()
        .and_then(|secs| UtcDateTime::from_unix_timestamp(secs).ok())
        .unwrap_or(UtcDateTime::MAX);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}
