//! `Retry-After` and HTTP-date parsing ([RFC 9110 §10.2.3] and [§5.6.7]).
//!
//! [RFC 9110 §10.2.3]: https://www.rfc-editor.org/rfc/rfc9110#section-10.2.3
//! [§5.6.7]: https://www.rfc-editor.org/rfc/rfc9110#section-5.6.7

use std::time::{Duration, SystemTime};

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
/// The parsing is the [`httpdate`] crate's (the one hyper uses): names are
/// matched case-sensitively as the grammar says, the day name must be the
/// date's, and years run from 1970 to 9999. Surrounding spaces and tabs are
/// ignored. Out-of-range fields (Feb 30, hour 24) are `None`; a leap second
/// (`:60`), which `httpdate` refuses, is accepted as the second after `:59`.
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
    let s = std::str::from_utf8(trim_ows(value)).ok()?;
    match httpdate::parse_http_date(s) {
        Ok(t) => Some(t),
        Err(_) => leap_second(s),
    }
}

/// A date whose time is `HH:MM:60`: the second after `HH:MM:59`.
fn leap_second(s: &str) -> Option<SystemTime> {
    // The seconds field is the only `:60` that follows `DD:DD`.
    let at = s.match_indices(":60").map(|(i, _)| i).find(|&i| {
        i >= 5
            && s.as_bytes()[i - 5..i].iter().enumerate().all(|(k, b)| {
                if k == 2 {
                    *b == b':'
                } else {
                    b.is_ascii_digit()
                }
            })
    })?;
    let mut fixed = String::with_capacity(s.len());
    fixed.push_str(&s[..at]);
    fixed.push_str(":59");
    fixed.push_str(&s[at + 3..]);
    httpdate::parse_http_date(&fixed)
        .ok()?
        .checked_add(Duration::from_secs(1))
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

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use std::time::UNIX_EPOCH;

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
            "Mon, 06 Nov 1994 08:49:37 GMT",
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
