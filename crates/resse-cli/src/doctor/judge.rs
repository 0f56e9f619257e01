//! The checks: what the observations of [`super::observe`] say about the
//! endpoint, one [`Check`] each, with the evidence and the fix.
//!
//! Every string that comes from the server is cut short and escaped with
//! [`clean`] before it goes into the evidence.

use std::collections::HashSet;
use std::time::Duration;

use http::header::{CACHE_CONTROL, CONTENT_LENGTH, LOCATION, TRANSFER_ENCODING};
use http::{HeaderMap, StatusCode, Version};
use serde::Serialize;

use super::observe::{Head, Record, Seen, cut};
use crate::render::clean;

/// The verdict of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Level {
    /// Fine.
    Pass,
    /// Works, but something on the way to production is likely to break it.
    Warn,
    /// Broken: exit status 1.
    Fail,
    /// Not judged: not applicable, or no evidence in the time watched.
    Skip,
}

impl Level {
    /// The label printed in the readable report.
    pub(crate) const fn label(self) -> &'static str {
        match self {
            Self::Pass => "PASS",
            Self::Warn => "WARN",
            Self::Fail => "FAIL",
            Self::Skip => "SKIP",
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Check {
    /// The check's name (as in `resse doctor --help`).
    pub(crate) check: &'static str,
    /// The verdict.
    pub(crate) level: Level,
    /// What was seen (server text escaped).
    pub(crate) evidence: String,
    /// What to change, for a warning or a failure.
    pub(crate) fix: Option<String>,
}

impl Check {
    fn new(check: &'static str, level: Level, evidence: impl Into<String>) -> Self {
        Self {
            check,
            level,
            evidence: evidence.into(),
            fix: None,
        }
    }

    fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
}

/// A second connection that the doctor opened with a `Last-Event-ID`.
#[derive(Debug, Default)]
pub(crate) struct Probe {
    /// The `Last-Event-ID` it sent.
    pub(crate) id: String,
    /// The index in the watched connection's events of the event with that id.
    pub(crate) from: usize,
    /// How many events the watched connection had recorded when it started.
    pub(crate) a_count: usize,
    /// What it got.
    pub(crate) record: Record,
}

/// Everything the doctor saw.
#[derive(Debug, Default)]
pub(crate) struct Observations {
    /// The URL is `https://`.
    pub(crate) https: bool,
    /// When the watch ended (since the doctor started).
    pub(crate) watched: Duration,
    /// The shortest idle timeout assumed on the path (`--proxy-timeout`).
    pub(crate) proxy_timeout: Duration,
    /// The head of the first request (sent with `Accept-Encoding` as
    /// browsers do) when it was compressed: `a` is then a second request
    /// with `Accept-Encoding: identity`.
    pub(crate) compressed_first: Option<Head>,
    /// The watched connection.
    pub(crate) a: Record,
    /// The reconnection with a recent id.
    pub(crate) resume: Option<Probe>,
    /// The connection with an id the server cannot know.
    pub(crate) bad_id: Option<Probe>,
}

/// The fix for a buffered stream.
const UNBUFFER: &str = "turn response buffering off for this location: nginx `proxy_buffering off;` \
(or have the app send `X-Accel-Buffering: no`), Apache `flushpackets=on` on the ProxyPass; \
the app must flush after each event";

/// `850 ms`, `2.3 s`.
pub(crate) fn secs(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// A header value as evidence: cut short, escaped.
fn shown(headers: &HeaderMap, name: impl http::header::AsHeaderName) -> Option<String> {
    headers
        .get(name)
        .map(|v| clean(&cut(&String::from_utf8_lossy(v.as_bytes()), 80)).into_owned())
}

/// Server text as evidence: quoted, cut short, escaped.
fn quoted(s: &str) -> String {
    format!("\"{}\"", clean(&cut(s, 40)))
}

/// How an event is named in the evidence: its type unless `message`, and
/// its id, else its data.
fn named(e: &Seen) -> String {
    let what = match &e.id {
        Some(id) => format!("id {}", quoted(id)),
        None => format!("data {}", quoted(&e.preview)),
    };
    if e.event_type == "message" {
        what
    } else {
        format!("a {} event ({what})", quoted(&e.event_type))
    }
}

/// `HTTP/1.1`.
fn version(v: Version) -> &'static str {
    match v {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_11 => "HTTP/1.1",
        Version::HTTP_2 => "HTTP/2",
        Version::HTTP_3 => "HTTP/3",
        _ => "an unknown HTTP version",
    }
}

/// All the checks, in report order.
pub(crate) fn judge(o: &Observations) -> Vec<Check> {
    let head = o.compressed_first.as_ref().or(o.a.head.as_ref());
    let mut checks = vec![status(o, head)];
    let Some(head) = head.filter(|h| h.status == StatusCode::OK) else {
        return with_skipped(checks, "content-type", "no 200 response (see status)");
    };
    checks.push(content_type(head));
    if !head.is_event_stream() {
        return with_skipped(
            checks,
            "compression",
            "not an event stream (see content-type)",
        );
    }
    checks.push(compression(o, head));
    checks.push(cache_control(&head.headers));
    let buffering = buffering(o);
    checks.push(x_accel(&head.headers, buffering.level));
    checks.push(framing(o, head));
    checks.push(http_version(head, o.https));
    checks.push(alpn(head, o.https));
    checks.push(buffering);
    checks.push(keep_alive(o));
    checks.push(retry(o));
    checks.push(ids(o));
    checks.push(resumption(o));
    checks.push(bad_id(o));
    checks
}

/// The names of every check, in report order, with what each one looks at.
pub(crate) const CHECKS: [&str; 14] = [
    "status",
    "content-type",
    "compression",
    "cache-control",
    "x-accel-buffering",
    "framing",
    "http-version",
    "alpn-h2",
    "buffering",
    "keep-alive",
    "retry",
    "ids",
    "resumption",
    "bad-last-event-id",
];

/// `checks`, then every check from `from` on as skipped for `why`.
fn with_skipped(mut checks: Vec<Check>, from: &str, why: &str) -> Vec<Check> {
    let start = CHECKS
        .iter()
        .position(|c| *c == from)
        .unwrap_or(CHECKS.len());
    for name in &CHECKS[start..] {
        checks.push(Check::new(name, Level::Skip, why));
    }
    checks
}

fn status(o: &Observations, head: Option<&Head>) -> Check {
    let Some(head) = head else {
        let why =
            o.a.error
                .as_deref()
                .unwrap_or("no response head in the time watched");
        return Check::new("status", Level::Fail, format!("no response: {why}")).fix(
            "check the URL, that the server is up, and the way to it (HTTP_PROXY, HTTPS_PROXY \
             and NO_PROXY are honoured; --insecure accepts a test certificate)",
        );
    };
    let status = head.status;
    let reason = status.canonical_reason().unwrap_or("");
    let after = secs(head.at.saturating_sub(o.a.sent));
    if status == StatusCode::OK {
        return Check::new("status", Level::Pass, format!("200 OK, head after {after}"));
    }
    let check = Check::new(
        "status",
        Level::Fail,
        format!("{} {reason}", status.as_u16()),
    );
    if status.is_redirection() {
        let to = shown(&head.headers, LOCATION).unwrap_or_else(|| "nowhere".to_owned());
        return Check {
            evidence: format!("{} {reason} to {to}", status.as_u16()),
            ..check
        }
        .fix("EventSource follows redirects, the doctor does not: run it on the final URL");
    }
    if status == StatusCode::NO_CONTENT {
        return check.fix(
            "204 tells EventSource to stop for good; answer 200 with the stream (and -H the \
             credentials the endpoint needs)",
        );
    }
    check.fix("EventSource gives up on any status but 200: answer 200 with the stream (send the credentials the endpoint needs with -H)")
}

fn content_type(head: &Head) -> Check {
    let value = shown(&head.headers, http::header::CONTENT_TYPE);
    if head.is_event_stream() {
        return Check::new("content-type", Level::Pass, value.unwrap_or_default());
    }
    Check::new(
        "content-type",
        Level::Fail,
        match value {
            Some(v) => format!("{v}: EventSource refuses anything but text/event-stream"),
            None => "none: EventSource refuses anything but text/event-stream".to_owned(),
        },
    )
    .fix("send `Content-Type: text/event-stream` (a charset parameter is fine)")
}

fn compression(o: &Observations, head: &Head) -> Check {
    let Some(encoding) = head.encoding() else {
        return Check::new(
            "compression",
            Level::Pass,
            "none, asked with Accept-Encoding: gzip, deflate, br as browsers do",
        );
    };
    let again = match o.a.head.as_ref().and_then(Head::encoding) {
        Some(_) => " (also with Accept-Encoding: identity: the stream could not be read)",
        None => " (the other checks read it again with Accept-Encoding: identity)",
    };
    Check::new(
        "compression",
        Level::Fail,
        format!(
            "Content-Encoding: {}: events wait in the compressor until it flushes{again}",
            clean(&cut(&encoding, 40))
        ),
    )
    .fix(
        "do not compress text/event-stream: nginx `gzip off;` in this location (and keep it out \
         of gzip_types), Caddy: keep it out of `encode` with a matcher, app middleware \
         (Express compression, ASP.NET response compression): skip this route",
    )
}

fn cache_control(headers: &HeaderMap) -> Check {
    let value = shown(headers, CACHE_CONTROL);
    let fix = "send `Cache-Control: no-store` with the stream";
    match value {
        None => Check::new(
            "cache-control",
            Level::Warn,
            "none: a cache or CDN on the way may hold or store the stream",
        )
        .fix(fix),
        Some(v) => {
            let lower = v.to_ascii_lowercase();
            if lower.contains("no-store") || lower.contains("no-cache") {
                Check::new("cache-control", Level::Pass, v)
            } else {
                Check::new(
                    "cache-control",
                    Level::Warn,
                    format!("{v}: neither no-store nor no-cache; a cache may keep the stream"),
                )
                .fix(fix)
            }
        }
    }
}

fn x_accel(headers: &HeaderMap, buffering: Level) -> Check {
    let fix =
        "send `X-Accel-Buffering: no` with the stream, or set `proxy_buffering off;` in nginx";
    match shown(headers, "x-accel-buffering") {
        Some(v) if v.eq_ignore_ascii_case("no") => Check::new("x-accel-buffering", Level::Pass, v),
        Some(v) => Check::new(
            "x-accel-buffering",
            Level::Warn,
            format!("{v}: nginx buffers this stream"),
        )
        .fix(fix),
        None if buffering == Level::Pass => Check::new(
            "x-accel-buffering",
            Level::Pass,
            "absent, but nothing held the events (see buffering); nginx removes this header \
             on its way, so its absence proves nothing",
        ),
        None => Check::new(
            "x-accel-buffering",
            Level::Warn,
            "absent: behind nginx (proxy_buffering is on by default) events wait until a buffer fills",
        )
        .fix(fix),
    }
}

fn framing(o: &Observations, head: &Head) -> Check {
    let ended = match o.a.ended {
        Some(at) => format!(
            "; the server ended the body after {} ({} bytes)",
            secs(at.saturating_sub(o.a.sent)),
            o.a.bytes
        ),
        None => String::new(),
    };
    if let Some(length) = shown(&head.headers, CONTENT_LENGTH) {
        return Check::new(
            "framing",
            Level::Fail,
            format!("Content-Length: {length}: a fixed-size body, not a stream{ended}"),
        )
        .fix(
            "stream the response without a length (chunked in HTTP/1.1): write and flush each \
             event as it comes; a middleware that buffers the whole response sets this",
        );
    }
    let how = match (head.version, shown(&head.headers, TRANSFER_ENCODING)) {
        (Version::HTTP_2 | Version::HTTP_3, _) => "no length, DATA frames".to_owned(),
        (_, Some(te)) => format!("Transfer-Encoding: {te}"),
        (_, None) => "no length: the body runs until the connection closes".to_owned(),
    };
    Check::new("framing", Level::Pass, format!("{how}{ended}"))
}

fn http_version(head: &Head, https: bool) -> Check {
    let v = version(head.version);
    if matches!(head.version, Version::HTTP_2 | Version::HTTP_3) {
        return Check::new("http-version", Level::Pass, v);
    }
    let plain = if https {
        ""
    } else {
        "; browsers never use HTTP/2 on plain http://"
    };
    Check::new(
        "http-version",
        Level::Warn,
        format!(
            "{v}: browsers open at most 6 connections per origin, so a 7th tab (or any other \
             request) waits while 6 streams are open{plain}"
        ),
    )
    .fix(
        "serve it over HTTPS with HTTP/2: nginx `listen 443 ssl;` with `http2 on;` (1.25.1+, \
         `listen 443 ssl http2;` before), Caddy does by default; a proxy in front must speak \
         HTTP/2 to browsers",
    )
}

fn alpn(head: &Head, https: bool) -> Check {
    if !https {
        return Check::new("alpn-h2", Level::Skip, "plain http://: no TLS, no ALPN");
    }
    if head.version == Version::HTTP_2 {
        return Check::new(
            "alpn-h2",
            Level::Pass,
            "offered h2 and http/1.1; the server chose h2",
        );
    }
    Check::new(
        "alpn-h2",
        Level::Warn,
        format!(
            "offered h2 and http/1.1; the server chose {}",
            version(head.version)
        ),
    )
    .fix("enable HTTP/2 on the TLS listener (nginx `http2 on;`, Caddy by default), so that ALPN offers h2")
}

fn no_stream_reason(o: &Observations) -> Option<&'static str> {
    if o.a.is_readable_stream() {
        return None;
    }
    Some(match o.a.head.as_ref() {
        Some(h) if h.encoding().is_some() => {
            "the body is compressed even with Accept-Encoding: identity: not read"
        }
        Some(_) => "the second request (Accept-Encoding: identity) got no event stream",
        None => "the second request (Accept-Encoding: identity) got no response",
    })
}

fn buffering(o: &Observations) -> Check {
    if let Some(why) = no_stream_reason(o) {
        return Check::new("buffering", Level::Skip, why);
    }
    let a = &o.a;
    let watched = o.watched.saturating_sub(a.sent);
    let (Some(head), Some(first)) = (a.head.as_ref(), a.deliveries.first()) else {
        return Check::new(
            "buffering",
            Level::Skip,
            format!(
                "no byte of the body in {}: a quiet stream without keep-alive and a held one look the same",
                secs(watched)
            ),
        );
    };
    let mut timing = format!(
        "head after {}, first byte after {}",
        secs(head.at.saturating_sub(a.sent)),
        secs(first.at.saturating_sub(a.sent))
    );
    if let Some(e) = a.events.first() {
        timing.push_str(&format!(
            ", first event after {}",
            secs(e.at.saturating_sub(a.sent))
        ));
    }
    let most = a.deliveries.iter().map(|d| d.events).max().unwrap_or(0);
    if let Some(longest) = a.cuts.iter().map(|c| c.wait).max() {
        let size = a.cuts.iter().map(|c| c.bytes).max().unwrap_or(0);
        return Check::new(
            "buffering",
            Level::Fail,
            format!(
                "held: {} time(s) a delivery of up to {size} bytes stopped inside an event whose \
                 rest came up to {} later (bytes released by size, not by event); up to {most} \
                 events arrived at once; {timing}",
                a.cuts.len(),
                secs(longest)
            ),
        )
        .fix(UNBUFFER);
    }
    // Bursts: deliveries of 4 events or more, but the first one unless it
    // came late (a server may send its history at once on connecting).
    let late_first = first.at.saturating_sub(head.at) >= Duration::from_secs(1);
    let skip = usize::from(!late_first);
    let later: Vec<_> = a.deliveries.iter().skip(skip).collect();
    let events: usize = later.iter().map(|d| d.events).sum();
    let bursts: Vec<_> = later.iter().filter(|d| d.events >= 4).collect();
    let in_bursts: usize = bursts.iter().map(|d| d.events).sum();
    let bundled = later
        .iter()
        .skip(usize::from(late_first))
        .filter(|d| d.comment_then_event)
        .count();
    if (bursts.len() >= 2 && in_bursts * 2 >= events) || bundled >= 2 {
        let mut evidence = format!(
            "events arrive in bursts: {} deliveries carried {in_bursts} of {events} events",
            bursts.len()
        );
        if bundled >= 2 {
            evidence.push_str(&format!(
                "; {bundled} times a keep-alive comment came glued to later events"
            ));
        }
        return Check::new("buffering", Level::Warn, format!("{evidence}; {timing}")).fix(format!(
            "if the server does not publish in batches: {UNBUFFER}"
        ));
    }
    Check::new(
        "buffering",
        Level::Pass,
        format!(
            "{timing}; {} events in {} deliveries, at most {most} at once",
            a.event_count, a.delivery_count
        ),
    )
}

fn keep_alive(o: &Observations) -> Check {
    if let Some(why) = no_stream_reason(o) {
        return Check::new("keep-alive", Level::Skip, why);
    }
    let a = &o.a;
    let budget = o.proxy_timeout / 2;
    let silence = a.silence_until(o.watched);
    let watched = o
        .watched
        .min(a.ended.unwrap_or(o.watched))
        .saturating_sub(a.head.as_ref().map_or(a.sent, |h| h.at));
    let limits = format!(
        "nginx proxy_read_timeout and most load balancers close a connection idle for 60 s, \
         Cloudflare after 100 s; --proxy-timeout {} leaves a budget of {}",
        secs(o.proxy_timeout),
        secs(budget)
    );
    let fix = format!(
        "send a comment line (`: keep-alive`) whenever the stream is quiet for {} or less \
         (15 s is common), or raise the timeouts on the way",
        secs(budget)
    );
    if silence > budget {
        let comments = if a.comment_count == 0 {
            "no keep-alive comment".to_owned()
        } else {
            format!("{} comment(s), but not often enough", a.comment_count)
        };
        return Check::new(
            "keep-alive",
            Level::Warn,
            format!(
                "silent for {} ({comments}), over the budget of {}; {limits}",
                secs(silence),
                secs(budget)
            ),
        )
        .fix(fix);
    }
    if a.comment_count > 0 {
        let cadence = match (a.first_comment, a.last_comment) {
            (Some(first), Some(last)) if a.comment_count >= 2 && last > first => format!(
                ", about every {}",
                secs(
                    (last.saturating_sub(first))
                        / u32::try_from(a.comment_count - 1).unwrap_or(u32::MAX)
                )
            ),
            _ => String::new(),
        };
        return Check::new(
            "keep-alive",
            Level::Pass,
            format!(
                "{} comment(s){cadence}; longest silence {}, within the budget of {}",
                a.comment_count,
                secs(silence),
                secs(budget)
            ),
        );
    }
    Check::new(
        "keep-alive",
        Level::Skip,
        format!(
            "no comment in {}, but the stream was never silent longer than {}: not judged \
             (judged once a comment comes, or a silence passes {}: watch longer with --duration)",
            secs(watched),
            secs(silence),
            secs(budget)
        ),
    )
}

fn retry(o: &Observations) -> Check {
    if let Some(why) = no_stream_reason(o) {
        return Check::new("retry", Level::Skip, why);
    }
    let seen = [
        Some(&o.a),
        o.resume.as_ref().map(|p| &p.record),
        o.bad_id.as_ref().map(|p| &p.record),
    ]
    .into_iter()
    .flatten()
    .find_map(|r| r.retry);
    match seen {
        Some(delay) => Check::new(
            "retry",
            Level::Pass,
            format!(
                "retry: {} ms (EventSource waits this long before reconnecting)",
                delay.as_millis()
            ),
        ),
        None => Check::new(
            "retry",
            Level::Warn,
            format!(
                "no `retry:` in {}: browsers reconnect after a default delay of their own \
                 (a few seconds, not the same in every browser)",
                secs(o.watched.saturating_sub(o.a.sent))
            ),
        )
        .fix("send `retry: MS` at the start of each stream (e.g. `retry: 3000`), to set how long clients wait"),
    }
}

/// How the ids look: increasing integers, a prefix and a counter, or opaque.
fn id_shape(ids: &[&str]) -> String {
    let numbers: Option<Vec<u128>> = ids.iter().map(|id| id.parse().ok()).collect();
    let example = quoted(ids.last().copied().unwrap_or_default());
    if let Some(n) = numbers {
        if n.windows(2).all(|w| w[0] < w[1]) {
            return format!("increasing integers (last {example})");
        }
        return format!("integers, not increasing (last {example})");
    }
    let split = |id: &str| {
        let at = id.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        let (prefix, digits) = id.split_at(at);
        (prefix.to_owned(), digits.parse::<u128>().ok())
    };
    let parts: Vec<_> = ids.iter().map(|id| split(id)).collect();
    let same_prefix = parts.windows(2).all(|w| w[0].0 == w[1].0);
    let counters: Option<Vec<u128>> = parts.iter().map(|p| p.1).collect();
    if same_prefix && counters.is_some_and(|c| c.windows(2).all(|w| w[0] < w[1])) {
        return format!("a fixed prefix and an increasing counter (last {example})");
    }
    format!("opaque (last {example}): only the server knows their order")
}

fn ids(o: &Observations) -> Check {
    if let Some(why) = no_stream_reason(o) {
        return Check::new("ids", Level::Skip, why);
    }
    let events = &o.a.events;
    if events.is_empty() {
        return Check::new(
            "ids",
            Level::Skip,
            format!("no event in {}", secs(o.watched.saturating_sub(o.a.sent))),
        );
    }
    let fix = "give every event an `id:` (a counter or a log position) and replay what follows \
               it when a client reconnects with Last-Event-ID";
    let with: Vec<&str> = events.iter().filter_map(|e| e.id.as_deref()).collect();
    let long = events.iter().filter(|e| e.long_id).count();
    let n = events.len();
    if with.is_empty() && long == 0 {
        return Check::new(
            "ids",
            Level::Warn,
            format!(
                "none of {n} events has an id: a client that reconnects cannot say where it \
                 stopped, and misses what was sent meanwhile"
            ),
        )
        .fix(fix);
    }
    if with.len() + long < n {
        return Check::new(
            "ids",
            Level::Warn,
            format!(
                "{} of {n} events have no id: a client that reconnects after one of them \
                 resumes from the id before it",
                n - with.len() - long
            ),
        )
        .fix(fix);
    }
    let mut unique = HashSet::new();
    if let Some(twice) = with.iter().find(|id| !unique.insert(**id)) {
        return Check::new(
            "ids",
            Level::Warn,
            format!(
                "id {} came twice: resuming from it is ambiguous",
                quoted(twice)
            ),
        )
        .fix("make ids unique within the stream");
    }
    Check::new(
        "ids",
        Level::Pass,
        format!("all {n} events have ids: {}", id_shape(&with)),
    )
}

/// Why no probe with a `Last-Event-ID` ran.
fn no_probe(o: &Observations) -> String {
    if let Some(why) = no_stream_reason(o) {
        return why.to_owned();
    }
    let a = &o.a;
    if !a.events.is_empty() && a.events.iter().all(|e| e.id.is_none()) {
        return "no ids: nothing to resume from".to_owned();
    }
    format!(
        "{} event(s) with ids in {}: 3 are needed to try",
        a.events.iter().filter(|e| e.id.is_some()).count(),
        secs(o.watched.saturating_sub(a.sent))
    )
}

/// A probe's failure to connect or non-stream answer, judged by status.
fn probe_status(name: &'static str, p: &Probe, unknown: bool) -> Option<Check> {
    let r = &p.record;
    let id = quoted(&p.id);
    let Some(head) = &r.head else {
        let why = r.error.as_deref().unwrap_or("no response head in time");
        return Some(
            Check::new(
                name,
                Level::Fail,
                format!("connecting with Last-Event-ID {id} failed: {why}"),
            )
            .fix("a request with Last-Event-ID must get an answer like any other"),
        );
    };
    let status = head.status;
    if status == StatusCode::OK && head.is_event_stream() {
        return None;
    }
    let code = status.as_u16();
    if status == StatusCode::NO_CONTENT || status.is_client_error() {
        let (level, says) = if unknown {
            (
                Level::Pass,
                "a clear answer (EventSource stops; the page can start over)",
            )
        } else {
            (
                Level::Warn,
                "the server cannot resume: clients lose what was sent while they were away",
            )
        };
        let check = Check::new(
            name,
            level,
            format!("answered {code} to Last-Event-ID {id}: {says}"),
        );
        return Some(if unknown {
            check
        } else {
            check.fix("keep a replay log and send what followed the client's Last-Event-ID")
        });
    }
    let what = if status == StatusCode::OK {
        "200 but not an event stream".to_owned()
    } else {
        format!("{code}")
    };
    Some(
        Check::new(
            name,
            Level::Fail,
            format!("answered {what} to Last-Event-ID {id}"),
        )
        .fix(
            "a reconnecting client must get an event stream (or a 4xx or 204 if it must start \
             over): a Last-Event-ID from an old deployment or a hostile client must not break \
             the handler",
        ),
    )
}

fn resumption(o: &Observations) -> Check {
    let Some(p) = &o.resume else {
        return Check::new("resumption", Level::Skip, no_probe(o));
    };
    if let Some(check) = probe_status("resumption", p, false) {
        return check;
    }
    let a = &o.a;
    let b = &p.record.events;
    let id = quoted(&p.id);
    let next = p.from + 1;
    let fix = "replay exactly the events after the client's Last-Event-ID (a replay log \
               keyed by id), then go live";
    let Some(b0) = b.first() else {
        return Check::new(
            "resumption",
            Level::Fail,
            format!(
                "reconnected with Last-Event-ID {id}: no event in {} although {} had followed it",
                secs(
                    o.watched
                        .saturating_sub(p.record.sent)
                        .min(Duration::from_secs(3))
                ),
                p.a_count.saturating_sub(next)
            ),
        )
        .fix(fix);
    };
    match a.find(b0.key) {
        Some(j) if j == next => {
            for (i, e) in b.iter().enumerate() {
                let want = next + i;
                let Some(expected) = a.events.get(want) else {
                    break;
                };
                if e.key == expected.key {
                    continue;
                }
                let evidence = match a.find(e.key) {
                    Some(at) if at < want => format!(
                        "after {i} matching events, {} came again (a duplicate)",
                        named(&a.events[at])
                    ),
                    Some(at) => format!(
                        "after {i} matching events, {} event(s) were skipped (next was {}, got {})",
                        at - want,
                        named(expected),
                        named(&a.events[at])
                    ),
                    None => format!(
                        "after {i} matching events, {} instead of {}",
                        named(e),
                        named(expected)
                    ),
                };
                return Check::new(
                    "resumption",
                    Level::Fail,
                    format!("reconnected with Last-Event-ID {id}: {evidence}"),
                )
                .fix(fix);
            }
            let compared = b.len().min(a.events.len().saturating_sub(next));
            Check::new(
                "resumption",
                Level::Pass,
                format!(
                    "reconnected with Last-Event-ID {id}: the next {compared} event(s) matched \
                     the stream exactly (no gap, no duplicate)"
                ),
            )
        }
        Some(j) if j < next => Check::new(
            "resumption",
            Level::Fail,
            format!(
                "reconnected with Last-Event-ID {id}: the replay started at {}, already \
                 received (a duplicate: the server resumes from the id itself, or before it)",
                named(&a.events[j])
            ),
        )
        .fix(fix),
        Some(j) => Check::new(
            "resumption",
            Level::Fail,
            format!(
                "reconnected with Last-Event-ID {id}: the replay started at {}, so {} event(s) \
                 after the id were skipped (a gap)",
                named(&a.events[j]),
                j - next
            ),
        )
        .fix(fix),
        None if b.iter().skip(1).any(|e| a.find(e.key).is_some()) => Check::new(
            "resumption",
            Level::Warn,
            format!(
                "reconnected with Last-Event-ID {id} (a recent id): the server answered with {} \
                 first, then went on: it says it cannot resume",
                named(b0)
            ),
        )
        .fix("keep a longer replay log, so that recent ids can be resumed exactly"),
        None => Check::new(
            "resumption",
            Level::Skip,
            format!(
                "reconnected with Last-Event-ID {id}: its events ({} first) never came on the \
                 watched connection, so they cannot be compared (is every connection's stream different?)",
                named(b0)
            ),
        ),
    }
}

fn bad_id(o: &Observations) -> Check {
    let Some(p) = &o.bad_id else {
        return Check::new("bad-last-event-id", Level::Skip, no_probe(o));
    };
    if let Some(check) = probe_status("bad-last-event-id", p, true) {
        return check;
    }
    let id = quoted(&p.id);
    let fix = "tell the client: a first event it can act on (resse serve sends `reload` with \
               the reason) or a 4xx, rather than a stream that looks resumed";
    let Some(first) = p.record.events.first() else {
        return Check::new(
            "bad-last-event-id",
            Level::Skip,
            format!("Last-Event-ID {id}: a stream, but no event came in time: not judged"),
        );
    };
    match o.a.find(first.key) {
        None => Check::new(
            "bad-last-event-id",
            Level::Pass,
            format!(
                "Last-Event-ID {id}: the stream opens with {}, which the stream itself never \
                 carries: a notice the client can act on",
                named(first)
            ),
        ),
        Some(j) if j < p.a_count => Check::new(
            "bad-last-event-id",
            Level::Warn,
            format!(
                "Last-Event-ID {id}: the stream starts again at {}, sent before: the client \
                 cannot tell old events from new",
                named(&o.a.events[j])
            ),
        )
        .fix(fix),
        Some(j) => Check::new(
            "bad-last-event-id",
            Level::Warn,
            format!(
                "Last-Event-ID {id}: the stream goes on live ({} first) as if resumed: the \
                 client does not learn that it missed events",
                named(&o.a.events[j])
            ),
        )
        .fix(fix),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_shapes() {
        assert!(id_shape(&["1", "2", "10"]).starts_with("increasing integers"));
        assert!(id_shape(&["2", "1"]).starts_with("integers, not increasing"));
        assert!(id_shape(&["ab-9", "ab-10"]).starts_with("a fixed prefix"));
        assert!(id_shape(&["x", "y"]).starts_with("opaque"));
    }

    /// Observations of a stream whose head came at 0 and whose bytes came at `bytes_ms`.
    fn watched(bytes_ms: &[u64], comments: usize, until_ms: u64) -> Observations {
        let mut a = Record {
            head: Some(Head {
                at: Duration::ZERO,
                status: StatusCode::OK,
                version: Version::HTTP_11,
                headers: {
                    let mut h = HeaderMap::new();
                    h.insert(
                        http::header::CONTENT_TYPE,
                        http::HeaderValue::from_static("text/event-stream"),
                    );
                    h
                },
            }),
            comment_count: comments,
            ..Record::default()
        };
        let mut previous = Duration::ZERO;
        for ms in bytes_ms {
            let at = Duration::from_millis(*ms);
            a.longest_silence = a.longest_silence.max(at - previous);
            previous = at;
            a.last_byte = Some(at);
        }
        Observations {
            watched: Duration::from_millis(until_ms),
            proxy_timeout: Duration::from_secs(60),
            a,
            ..Observations::default()
        }
    }

    #[test]
    fn keep_alive_is_judged_on_the_longest_silence_against_half_the_proxy_timeout() {
        // Comments and no silence over 30 s: pass.
        let o = watched(&[100, 15_100, 30_000], 2, 31_000);
        assert_eq!(keep_alive(&o).level, Level::Pass);
        // 31 s without a byte, comments or not: warn.
        let o = watched(&[100], 0, 31_200);
        assert_eq!(keep_alive(&o).level, Level::Warn);
        let o = watched(&[100, 40_000], 1, 41_000);
        assert_eq!(keep_alive(&o).level, Level::Warn);
        // A busy stream without comments, watched 5 s: not judged.
        let o = watched(&[100, 200, 300, 4_900], 0, 5_000);
        assert_eq!(keep_alive(&o).level, Level::Skip);
    }
}
