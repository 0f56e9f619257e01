//! The table that maps a response status to an action, and the
//! content-type check.

use http::header::CONTENT_TYPE;
use http::{HeaderMap, StatusCode};

/// What to do with a response of a given status. The entries of a
/// [`VerdictTable`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StatusAction {
    /// Check that the content type is `text/event-stream`; if so the stream
    /// is open ([`Verdict::Stream`](crate::Verdict::Stream)), else fail
    /// ([`StopReason::ContentType`](crate::StopReason::ContentType)).
    Stream,
    /// Follow the `Location` header, at most
    /// [`max_redirects`](crate::ReconnectConfig::max_redirects) times in a row.
    Follow,
    /// Reconnect with backoff, and no sooner than the response's
    /// `Retry-After` header asks, if it has one.
    Retry,
    /// Stop for good, without an error: the server asked the client to go
    /// away ([`StopReason::ServerStop`](crate::StopReason::ServerStop)).
    Stop,
    /// Stop for good with an error
    /// ([`StopReason::Rejected`](crate::StopReason::Rejected)).
    Fail,
}

/// The class of a status code: its first digit. Used for the fallback
/// entries of a [`VerdictTable`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StatusClass {
    /// 1xx.
    Informational,
    /// 2xx.
    Success,
    /// 3xx.
    Redirection,
    /// 4xx.
    ClientError,
    /// 5xx.
    ServerError,
}

impl StatusClass {
    /// The class of `status`; `None` for codes 600–999 (which the `http`
    /// crate accepts but HTTP does not define).
    pub fn of(status: StatusCode) -> Option<Self> {
        match status.as_u16() / 100 {
            1 => Some(Self::Informational),
            2 => Some(Self::Success),
            3 => Some(Self::Redirection),
            4 => Some(Self::ClientError),
            5 => Some(Self::ServerError),
            _ => None,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Maps response statuses to [`StatusAction`]s: exact entries first, then
/// one entry per status class; codes outside 1xx–5xx
/// [`Fail`](StatusAction::Fail).
///
/// Two presets:
///
/// | status | [`default()`](Self::default) (resse) | [`strict()`](Self::strict) (WHATWG) |
/// | --- | --- | --- |
/// | 200 | `Stream` | `Stream` |
/// | 204 | `Stop` | `Stop` |
/// | 301, 302, 303, 307, 308 | `Follow` | `Follow` |
/// | 408, 429 | `Retry` | `Fail` |
/// | other 4xx | `Fail` | `Fail` |
/// | 5xx (503 included) | `Retry` | `Fail` |
/// | other 1xx, 2xx, 3xx | `Fail` | `Fail` |
///
/// The WHATWG `EventSource` fails the connection on any final status other
/// than 200 (redirects are followed by fetch before it sees them): it does
/// not reconnect. Both presets stop on 204 without an error (`Stop`), since
/// a 204 is the spec's own way for a server to tell clients to stop
/// reconnecting: it is not a failure of the client or the server. `strict()`
/// turns every other status into a failure (`Fail`), as the spec does. The
/// default goes beyond it where a real server means something else: 408, 429 and 5xx are transient by definition
/// (timeout, rate limit, overload, restart), so giving up on them forever
/// would turn a deploy or a brief overload into a permanent outage for every
/// client, while retrying with backoff and honouring `Retry-After` is what
/// the server asks for.
///
/// ```
/// use http::StatusCode;
/// use resse_reconnect::{StatusAction, StatusClass, VerdictTable};
///
/// let table = VerdictTable::default()
///     .status(StatusCode::GONE, StatusAction::Stop)          // 410: go away quietly
///     .class(StatusClass::ServerError, StatusAction::Fail)   // never retry 5xx...
///     .status(StatusCode::SERVICE_UNAVAILABLE, StatusAction::Retry); // ...except 503
/// assert_eq!(table.action(StatusCode::GONE), StatusAction::Stop);
/// assert_eq!(table.action(StatusCode::BAD_GATEWAY), StatusAction::Fail);
/// assert_eq!(table.action(StatusCode::SERVICE_UNAVAILABLE), StatusAction::Retry);
/// assert_eq!(VerdictTable::strict().action(StatusCode::NO_CONTENT), StatusAction::Stop);
/// assert_eq!(VerdictTable::strict().action(StatusCode::SERVICE_UNAVAILABLE), StatusAction::Fail);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerdictTable {
    exact: Vec<(StatusCode, StatusAction)>,
    classes: [StatusAction; 5],
}

const REDIRECTS: [StatusCode; 5] = [
    StatusCode::MOVED_PERMANENTLY,
    StatusCode::FOUND,
    StatusCode::SEE_OTHER,
    StatusCode::TEMPORARY_REDIRECT,
    StatusCode::PERMANENT_REDIRECT,
];

impl VerdictTable {
    /// The WHATWG behaviour, in one call: 200 streams (if the content type
    /// is right), the redirect statuses fetch follows (301, 302, 303, 307,
    /// 308) are followed, 204 stops without an error (the spec's way to stop
    /// clients), everything else fails. No status is retried.
    pub fn strict() -> Self {
        let mut table = Self {
            exact: Vec::new(),
            classes: [StatusAction::Fail; 5],
        }
        .status(StatusCode::OK, StatusAction::Stream)
        .status(StatusCode::NO_CONTENT, StatusAction::Stop);
        for code in REDIRECTS {
            table = table.status(code, StatusAction::Follow);
        }
        table
    }

    /// Sets the action for one status code (replacing an earlier entry for
    /// it). Exact entries take precedence over class entries.
    pub fn status(mut self, status: StatusCode, action: StatusAction) -> Self {
        match self.exact.iter_mut().find(|(s, _)| *s == status) {
            Some(entry) => entry.1 = action,
            None => self.exact.push((status, action)),
        }
        self
    }

    /// Sets the action for every code of a class that has no exact entry.
    pub fn class(mut self, class: StatusClass, action: StatusAction) -> Self {
        self.classes[class.index()] = action;
        self
    }

    /// The action for `status`.
    pub fn action(&self, status: StatusCode) -> StatusAction {
        if let Some((_, action)) = self.exact.iter().find(|(s, _)| *s == status) {
            return *action;
        }
        StatusClass::of(status).map_or(StatusAction::Fail, |c| self.classes[c.index()])
    }
}

impl Default for VerdictTable {
    /// The resse defaults; see the table in the type's docs.
    fn default() -> Self {
        Self::strict()
            .status(StatusCode::REQUEST_TIMEOUT, StatusAction::Retry)
            .status(StatusCode::TOO_MANY_REQUESTS, StatusAction::Retry)
            .class(StatusClass::ServerError, StatusAction::Retry)
    }
}

/// Whether the response's MIME type essence is `text/event-stream`, as the
/// WHATWG fetch "extract a MIME type" algorithm finds it: parameters (like
/// `charset=utf-8`) are allowed, case and whitespace around the type do not
/// matter, and with several values (several headers, or commas) the last
/// valid one counts. A missing or non-UTF-8 header is not an event stream.
pub(crate) fn is_event_stream(headers: &HeaderMap) -> bool {
    let mut essence: Option<&str> = None;
    for value in headers.get_all(CONTENT_TYPE) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let ty = item
                .split(';')
                .next()
                .unwrap_or("")
                .trim_matches([' ', '\t']);
            if is_type_subtype(ty) {
                essence = Some(ty);
            }
        }
    }
    essence.is_some_and(|e| e.eq_ignore_ascii_case("text/event-stream"))
}

/// `token "/" token`.
fn is_type_subtype(s: &str) -> bool {
    let is_token = |t: &str| {
        !t.is_empty()
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    };
    s.split_once('/')
        .is_some_and(|(ty, sub)| is_token(ty) && is_token(sub))
}

/// The content type as received, for error messages.
pub(crate) fn content_type_lossy(headers: &HeaderMap) -> Option<String> {
    let values: Vec<String> = headers
        .get_all(CONTENT_TYPE)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn ct(values: &[&'static str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(CONTENT_TYPE, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn event_stream_content_types() {
        for ok in [
            &["text/event-stream"][..],
            &["Text/Event-Stream; charset=utf-8"],
            &["TEXT/EVENT-STREAM"],
            &["text/event-stream;charset=UTF-8"],
            &[" text/event-stream ; foo=bar"],
            &["text/html", "text/event-stream"],
            &["text/html, text/event-stream"],
            &["text/event-stream, garbage"],
        ] {
            assert!(is_event_stream(&ct(ok)), "{ok:?}");
        }
        for bad in [
            &[][..],
            &[""],
            &["text/plain"],
            &["text/event-stream-x"],
            &["text/eventstream"],
            &["application/json"],
            &["text/event-stream, text/html"],
            &["text/event-stream", "text/plain"],
            &["event-stream"],
            &["text /event-stream"],
        ] {
            assert!(!is_event_stream(&ct(bad)), "{bad:?}");
        }
    }

    #[test]
    fn non_utf8_content_type_is_not_a_stream() {
        let mut h = HeaderMap::new();
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_bytes(b"text/event-stream; x=\xff")
                .expect("obs-text is a valid header value"),
        );
        assert!(!is_event_stream(&h));
        assert_eq!(
            content_type_lossy(&h).as_deref(),
            Some("text/event-stream; x=\u{fffd}")
        );
    }

    #[test]
    fn default_table_rows() {
        let t = VerdictTable::default();
        let rows: [(u16, StatusAction); 19] = [
            (200, StatusAction::Stream),
            (201, StatusAction::Fail),
            (204, StatusAction::Stop),
            (206, StatusAction::Fail),
            (301, StatusAction::Follow),
            (302, StatusAction::Follow),
            (303, StatusAction::Follow),
            (307, StatusAction::Follow),
            (308, StatusAction::Follow),
            (300, StatusAction::Fail),
            (304, StatusAction::Fail),
            (400, StatusAction::Fail),
            (404, StatusAction::Fail),
            (408, StatusAction::Retry),
            (429, StatusAction::Retry),
            (500, StatusAction::Retry),
            (503, StatusAction::Retry),
            (599, StatusAction::Retry),
            (600, StatusAction::Fail),
        ];
        for (code, action) in rows {
            let status = StatusCode::from_u16(code).expect("valid code");
            assert_eq!(t.action(status), action, "{code}");
        }
        assert_eq!(t.action(StatusCode::CONTINUE), StatusAction::Fail);
    }

    #[test]
    fn strict_table_rows() {
        let t = VerdictTable::strict();
        for code in [100u16, 201, 300, 304, 400, 404, 408, 429, 500, 503, 999] {
            let status = StatusCode::from_u16(code).expect("valid code");
            assert_eq!(t.action(status), StatusAction::Fail, "{code}");
        }
        assert_eq!(t.action(StatusCode::OK), StatusAction::Stream);
        assert_eq!(t.action(StatusCode::NO_CONTENT), StatusAction::Stop);
        for code in REDIRECTS {
            assert_eq!(t.action(code), StatusAction::Follow);
        }
    }

    #[test]
    fn overrides() {
        let t = VerdictTable::default()
            .status(StatusCode::NOT_FOUND, StatusAction::Retry)
            .status(StatusCode::NOT_FOUND, StatusAction::Stop)
            .class(StatusClass::ClientError, StatusAction::Retry);
        assert_eq!(t.action(StatusCode::NOT_FOUND), StatusAction::Stop);
        assert_eq!(t.action(StatusCode::FORBIDDEN), StatusAction::Retry);
        assert_eq!(t.action(StatusCode::OK), StatusAction::Stream);
    }
}
