//! Wall-clock times as DTrace's `%Y` and `%T` print them.
//!
//! `%Y` is ctime(3) rearranged: `2026 Nov 27 17:46:55` (the day padded to
//! two columns with a space). `%T` is RFC 822 through strftime's
//! `%a, %d %b %G %T %Z`: `Fri, 27 Nov 2026 17:46:55 UTC` (note `%G`, the
//! ISO 8601 week-based year, which DTrace uses where `%Y` was meant; it
//! differs from the calendar year in the first and last days of some
//! years, and so does DTrace's output).
//!
//! The time is local time. This crate reads no files, so the zone comes
//! from the caller as a [`LocalTime`]; [`Utc`] is the default.

/// The local time zone: its offset from UTC at an instant, and its
/// abbreviation.
pub trait LocalTime {
    /// Seconds east of UTC at `unix_secs`, and the zone's abbreviation then
    /// (`CET`, `CEST`, `UTC` …).
    fn at(&self, unix_secs: i64) -> (i64, String);
}

/// Coordinated Universal Time.
#[derive(Debug, Clone, Copy, Default)]
pub struct Utc;

impl LocalTime for Utc {
    fn at(&self, _unix_secs: i64) -> (i64, String) {
        (0, "UTC".to_string())
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/// A broken-down time.
struct Civil {
    year: i64,
    /// 1..=12.
    month: u32,
    /// 1..=31.
    day: u32,
    hour: i64,
    min: i64,
    sec: i64,
    /// 0 = Sunday.
    weekday: usize,
    /// Days since 1970-01-01.
    days: i64,
}

/// The calendar date of a day count since 1970-01-01 (proleptic
/// Gregorian), by counting 400-year eras from 0000-03-01.
fn date_of_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = (if mp < 10 { mp + 3 } else { mp - 9 }) as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn civil(unix_secs: i64) -> Civil {
    let days = unix_secs.div_euclid(86_400);
    let rem = unix_secs.rem_euclid(86_400);
    let (year, month, day) = date_of_days(days);
    Civil {
        year,
        month,
        day,
        hour: rem / 3600,
        min: rem / 60 % 60,
        sec: rem % 60,
        // 1970-01-01 was a Thursday.
        weekday: (days + 4).rem_euclid(7) as usize,
        days,
    }
}

/// Local seconds of a nanosecond timestamp (DTrace divides the signed
/// 64-bit value, truncating toward zero).
fn local(ns: u64, tz: &dyn LocalTime) -> (Civil, String) {
    let secs = (ns as i64) / 1_000_000_000;
    let (offset, abbrev) = tz.at(secs);
    (civil(secs.saturating_add(offset)), abbrev)
}

/// `%Y`: `2026 Nov 27 17:46:55`.
pub(crate) fn ctime_y(ns: u64, tz: &dyn LocalTime) -> String {
    let (c, _) = local(ns, tz);
    let month = MONTHS[(c.month as usize).saturating_sub(1) % 12];
    format!(
        "{} {} {:2} {:02}:{:02}:{:02}",
        year4(c.year),
        month,
        c.day,
        c.hour,
        c.min,
        c.sec
    )
}

/// The four characters ctime(3) has where the year is.
fn year4(year: i64) -> String {
    let mut y = year.to_string();
    y.truncate(4);
    y
}

/// `%T`: `Fri, 27 Nov 2026 17:46:55 UTC`.
pub(crate) fn rfc822(ns: u64, tz: &dyn LocalTime) -> String {
    let (c, abbrev) = local(ns, tz);
    // ISO 8601: the week-based year is the year of the week's Thursday.
    let iso_weekday = (c.weekday + 6) % 7; // Monday = 0
    let thursday = c.days - iso_weekday as i64 + 3;
    let (iso_year, _, _) = date_of_days(thursday);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} {}",
        DAYS[c.weekday % 7],
        c.day,
        MONTHS[(c.month as usize).saturating_sub(1) % 12],
        iso_year,
        c.hour,
        c.min,
        c.sec,
        abbrev
    )
}
