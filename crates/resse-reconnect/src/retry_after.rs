//! `Retry-After` and HTTP-date parsing ([RFC 9110 §10.2.3] and [§5.6.7]).
//!
//! [RFC 9110 §10.2.3]: https://www.rfc-editor.org/rfc/rfc9110#section-10.2.3
//! [§5.6.7]: https://www.rfc-editor.org/rfc/rfc9110#section-5.6.7

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderMap;
use http::header::{DATE, RETRY_AFTER};

/// A parsed `Retry-After` header value: a number of seconds or an HTTP date.
///
/// ```
/// use std::time::{Duration, SystemTime, UNIX_EPOCH};
/// use resse_reconnect::RetryAfter;
///
/// assert_eq!(RetryAfter::parse(b"120"), Some(RetryAfter::Delay(Duration::from_secs(120))));
///
/// let date = RetryAfter::parse(b"Sun, 06 Nov 1994 08:49:37 GMT").ok_or("no date")?;
/// let now = UNIX_EPOCH + Duration::from_secs(784_111_777 - 30);
/// assert_eq!(date.delay_from(now), Duration::from_secs(30));
///
/// assert_eq!(RetryAfter::parse(b"soon"), None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RetryAfter {
    /// `delay-seconds`: retry after this long (from when the response was
    /// received). Values too large for a `u64` saturate.
    Delay(Duration),
    /// `HTTP-date`: retry no sooner than this wall-clock time.
    Date(SystemTime),
}

impl RetryAfter {
    /// Parses a header value: `1*DIGIT` seconds or an HTTP date in any of the
    /// three formats [`parse_http_date`] accepts. Surrounding spaces and tabs
    /// are ignored; anything else (a sign, a fraction, garbage) is `None`.
    pub fn parse(value: &[u8]) -> Option<Self> {
        let value = trim_ows(value);
        if !value.is_empty() && value.iter().all(u8::is_ascii_digit) {
            let secs = value.iter().fold(0u64, |acc, d| {
                acc.saturating_mul(10).saturating_add(u64::from(d - b'0'))
            });
            return Some(Self::Delay(Duration::from_secs(secs)));
        }
        parse_http_date(value).map(Self::Date)
    }

    /// The first `Retry-After` header of a response, if present and valid.
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        headers
            .get(RETRY_AFTER)
            .and_then(|v| Self::parse(v.as_bytes()))
    }

    /// The delay this value asks for, with `now` the wall-clock time the
    /// response was generated or received: a `Date` in the past gives zero.
    pub fn delay_from(&self, now: SystemTime) -> Duration {
        match *self {
            Self::Delay(d) => d,
            Self::Date(at) => at.duration_since(now).unwrap_or(Duration::ZERO),
        }
    }

    /// The delay this value asks for, resolved without reading a clock.
    ///
    /// A `Delay` needs nothing. A `Date` is measured from the response's own
    /// `Date` header when present and valid (both times then come from the
    /// server's clock, so client clock skew does not matter), else from
    /// `wall_clock` if the caller provided one, else it cannot be resolved
    /// (`None`).
    pub fn resolve(&self, headers: &HeaderMap, wall_clock: Option<SystemTime>) -> Option<Duration> {
        match *self {
            Self::Delay(d) => Some(d),
            Self::Date(_) => {
                let server_now = headers
                    .get(DATE)
                    .and_then(|v| parse_http_date(v.as_bytes()));
                server_now.or(wall_clock).map(|now| self.delay_from(now))
            }
        }
    }
}

/// Parses an HTTP date ([RFC 9110 §5.6.7]) in any of its three formats:
///
/// * IMF-fixdate, the one servers must send: `Sun, 06 Nov 1994 08:49:37 GMT`;
/// * obsolete RFC 850: `Sunday, 06-Nov-94 08:49:37 GMT` (two-digit years
///   70–99 are 19xx, 00–69 are 20xx);
/// * obsolete asctime: `Sun Nov  6 08:49:37 1994`.
///
/// Names are matched case-sensitively as the grammar says; the day name must
/// be a valid one but is not checked against the date. Surrounding spaces
/// and tabs are ignored. Out-of-range fields (Feb 30, hour 24) are `None`; a
/// leap second (`:60`) is accepted.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use resse_reconnect::parse_http_date;
///
/// let t = UNIX_EPOCH + Duration::from_secs(784_111_777);
/// assert_eq!(parse_http_date(b"Sun, 06 Nov 1994 08:49:37 GMT"), Some(t));
/// assert_eq!(parse_http_date(b"Sunday, 06-Nov-94 08:49:37 GMT"), Some(t));
/// assert_eq!(parse_http_date(b"Sun Nov  6 08:49:37 1994"), Some(t));
/// assert_eq!(parse_http_date(b"yesterday"), None);
/// ```
///
/// [RFC 9110 §5.6.7]: https://www.rfc-editor.org/rfc/rfc9110#section-5.6.7
pub fn parse_http_date(value: &[u8]) -> Option<SystemTime> {
    let s = trim_ows(value);
    let dt = parse_imf_fixdate(s)
        .or_else(|| parse_rfc850(s))
        .or_else(|| parse_asctime(s))?;
    dt.to_system_time()
}

fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

const DAYS: [&[u8]; 7] = [b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun"];
const DAYS_LONG: [&[u8]; 7] = [
    b"Monday",
    b"Tuesday",
    b"Wednesday",
    b"Thursday",
    b"Friday",
    b"Saturday",
    b"Sunday",
];
const MONTHS: [&[u8]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

struct DateTime {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
}

impl DateTime {
    fn to_system_time(&self) -> Option<SystemTime> {
        let leap = (self.year % 4 == 0 && self.year % 100 != 0) || self.year % 400 == 0;
        let month_len = match self.month {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        if !(1..=12).contains(&self.month)
            || !(1..=month_len).contains(&self.day)
            || self.hour > 23
            || self.minute > 59
            || self.second > 60
        {
            return None;
        }
        let days = days_from_civil(self.year, self.month, self.day);
        let secs = days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second);
        if secs >= 0 {
            UNIX_EPOCH.checked_add(Duration::from_secs(secs.unsigned_abs()))
        } else {
            UNIX_EPOCH.checked_sub(Duration::from_secs(secs.unsigned_abs()))
        }
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn digits(s: &[u8]) -> Option<u32> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0, |acc, d| acc * 10 + u32::from(d - b'0')))
}

fn month(s: &[u8]) -> Option<u32> {
    MONTHS
        .iter()
        .position(|m| *m == s)
        .and_then(|i| u32::try_from(i + 1).ok())
}

/// `HH:MM:SS`.
fn time(s: &[u8]) -> Option<(u32, u32, u32)> {
    match s {
        [h1, h2, b':', m1, m2, b':', s1, s2] => Some((
            digits(&[*h1, *h2])?,
            digits(&[*m1, *m2])?,
            digits(&[*s1, *s2])?,
        )),
        _ => None,
    }
}

/// `Sun, 06 Nov 1994 08:49:37 GMT`
fn parse_imf_fixdate(s: &[u8]) -> Option<DateTime> {
    if s.len() != 29 || &s[3..5] != b", " || &s[25..] != b" GMT" {
        return None;
    }
    if !DAYS.contains(&&s[..3]) || s[7] != b' ' || s[11] != b' ' || s[16] != b' ' {
        return None;
    }
    let (hour, minute, second) = time(&s[17..25])?;
    Some(DateTime {
        day: digits(&s[5..7])?,
        month: month(&s[8..11])?,
        year: i64::from(digits(&s[12..16])?),
        hour,
        minute,
        second,
    })
}

/// `Sunday, 06-Nov-94 08:49:37 GMT`
fn parse_rfc850(s: &[u8]) -> Option<DateTime> {
    let comma = s.iter().position(|&b| b == b',')?;
    let (name, rest) = s.split_at(comma);
    if !DAYS_LONG.contains(&name) {
        return None;
    }
    // ", 06-Nov-94 08:49:37 GMT"
    let rest = rest.strip_prefix(b", ")?.strip_suffix(b" GMT")?;
    if rest.len() != 18 || rest[2] != b'-' || rest[6] != b'-' || rest[9] != b' ' {
        return None;
    }
    let yy = digits(&rest[7..9])?;
    let (hour, minute, second) = time(&rest[10..])?;
    Some(DateTime {
        day: digits(&rest[..2])?,
        month: month(&rest[3..6])?,
        year: i64::from(if yy >= 70 { 1900 + yy } else { 2000 + yy }),
        hour,
        minute,
        second,
    })
}

/// `Sun Nov  6 08:49:37 1994` (day padded with a space, or two digits)
fn parse_asctime(s: &[u8]) -> Option<DateTime> {
    if s.len() != 24 || !DAYS.contains(&&s[..3]) {
        return None;
    }
    if s[3] != b' ' || s[7] != b' ' || s[10] != b' ' || s[19] != b' ' {
        return None;
    }
    let day = match &s[8..10] {
        [b' ', d] => digits(&[*d])?,
        two => digits(two)?,
    };
    let (hour, minute, second) = time(&s[11..19])?;
    Some(DateTime {
        day,
        month: month(&s[4..7])?,
        year: i64::from(digits(&s[20..24])?),
        hour,
        minute,
        second,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    const RFC_EXAMPLE: u64 = 784_111_777; // Sun, 06 Nov 1994 08:49:37 GMT

    fn epoch(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn three_formats_agree() {
        for s in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "  Sun, 06 Nov 1994 08:49:37 GMT\t",
        ] {
            assert_eq!(
                parse_http_date(s.as_bytes()),
                Some(epoch(RFC_EXAMPLE)),
                "{s}"
            );
        }
    }

    #[test]
    fn known_instants() {
        let cases: [(&str, u64); 6] = [
            ("Thu, 01 Jan 1970 00:00:00 GMT", 0),
            ("Sat, 01 Jan 2000 00:00:00 GMT", 946_684_800),
            ("Tue, 29 Feb 2000 12:00:00 GMT", 951_825_600),
            ("Wed, 21 Oct 2015 07:28:00 GMT", 1_445_412_480),
            ("Fri, 31 Dec 9999 23:59:59 GMT", 253_402_300_799),
            ("Thu Jan 01 00:00:10 1970", 10),
        ];
        for (s, secs) in cases {
            assert_eq!(parse_http_date(s.as_bytes()), Some(epoch(secs)), "{s}");
        }
    }

    #[test]
    fn rfc850_two_digit_years() {
        assert_eq!(
            parse_http_date(b"Thursday, 01-Jan-70 00:00:00 GMT"),
            Some(epoch(0))
        );
        assert_eq!(
            parse_http_date(b"Saturday, 01-Jan-00 00:00:00 GMT"),
            Some(epoch(946_684_800))
        );
    }

    #[test]
    fn invalid_dates() {
        for s in [
            "",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 6 Nov 1994 08:49:37 GMT",
            "Sun, 06 nov 1994 08:49:37 GMT",
            "Xyz, 06 Nov 1994 08:49:37 GMT",
            "Sun, 31 Nov 1994 08:49:37 GMT",
            "Sun, 29 Feb 1900 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 1994 08:60:00 GMT",
            "Sun, 06 Nov 1994 08:49:61 GMT",
            "Sun, 00 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08-49-37 GMT",
            "Sun, 06 Nov +994 08:49:37 GMT",
            "Sunday, 06-Nov-1994 08:49:37 GMT",
            "Sun Nov 6 08:49:37 1994",
            "1994-11-06T08:49:37Z",
            "Sun, 06 Nov 1994 08:49:37 GMT trailing",
        ] {
            assert_eq!(parse_http_date(s.as_bytes()), None, "{s:?}");
        }
    }

    #[test]
    fn leap_second_accepted() {
        assert_eq!(
            parse_http_date(b"Sat, 31 Dec 2016 23:59:60 GMT"),
            Some(epoch(1_483_228_800))
        );
    }

    #[test]
    fn retry_after_seconds() {
        assert_eq!(
            RetryAfter::parse(b"0"),
            Some(RetryAfter::Delay(Duration::ZERO))
        );
        assert_eq!(
            RetryAfter::parse(b" 120 "),
            Some(RetryAfter::Delay(Duration::from_secs(120)))
        );
        assert_eq!(
            RetryAfter::parse(b"99999999999999999999999"),
            Some(RetryAfter::Delay(Duration::from_secs(u64::MAX)))
        );
        for bad in ["", " ", "-1", "+5", "1.5", "5s", "0x10", "1 2"] {
            assert_eq!(RetryAfter::parse(bad.as_bytes()), None, "{bad:?}");
        }
    }

    #[test]
    fn retry_after_date_resolution() {
        let ra = RetryAfter::Date(epoch(1000));
        let mut headers = HeaderMap::new();
        // No Date header, no wall clock: unresolvable.
        assert_eq!(ra.resolve(&headers, None), None);
        // Wall clock fallback.
        assert_eq!(
            ra.resolve(&headers, Some(epoch(990))),
            Some(Duration::from_secs(10))
        );
        // The server's Date wins over the (skewed) local clock.
        headers.insert(
            DATE,
            HeaderValue::from_static("Thu, 01 Jan 1970 00:16:00 GMT"),
        );
        assert_eq!(
            ra.resolve(&headers, Some(epoch(0))),
            Some(Duration::from_secs(40))
        );
        // A date in the past asks for no delay.
        assert_eq!(ra.delay_from(epoch(2000)), Duration::ZERO);
        // An invalid Date header falls back to the wall clock.
        headers.insert(DATE, HeaderValue::from_static("garbage"));
        assert_eq!(
            ra.resolve(&headers, Some(epoch(999))),
            Some(Duration::from_secs(1))
        );
    }

    #[test]
    fn from_headers_takes_the_first_valid() {
        let mut headers = HeaderMap::new();
        assert_eq!(RetryAfter::from_headers(&headers), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        headers.append(RETRY_AFTER, HeaderValue::from_static("9"));
        assert_eq!(
            RetryAfter::from_headers(&headers),
            Some(RetryAfter::Delay(Duration::from_secs(7)))
        );
    }
}
