//! `resse doctor URL`: diagnose an event stream endpoint for what breaks
//! streams in production (compression, buffering, caches, idle timeouts,
//! ids that make resumption impossible, wrong replays, HTTP/1.1).
//!
//! The doctor is a client that sees more than a client should: it sends
//! requests through resse-tokio's [`HyperConnector`] (TLS, ALPN, proxies)
//! but reads the raw response itself ([`observe`]): the head as it came,
//! when each piece of the body arrived, and what `resse-codec`'s decoder
//! made of it. Three connections at most, plus one when the first answer
//! is compressed:
//!
//! 1. the watched connection, asked as a browser asks (`Accept-Encoding:
//!    gzip, deflate, br`; when the answer is compressed, asked again with
//!    `identity` so that the stream can be read);
//! 2. once it has 3 events with ids: a reconnection with the `Last-Event-ID`
//!    of an early one, compared with the watched connection event by event;
//! 3. then a connection with a `Last-Event-ID` the server cannot know.
//!
//! The watch ends after `--duration`, or as soon as every check has its
//! evidence. [`judge`] turns the observations into one line per check.

mod judge;
mod observe;

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Args;
use http::header::ACCEPT_ENCODING;
use http::{HeaderName, HeaderValue};
use resse_session::{Action, ClientSession, SessionConfig};
use resse_tokio::client::{HyperConnector, HyperConnectorBuilder, Request};
use serde::Serialize;
use tokio::task::JoinHandle;

use self::judge::{Check, Level, Observations, Probe};
use self::observe::{Shared, lock};
use crate::error::CliError;
use crate::render::clean;
use crate::tail::{parse_header, parse_secs};

/// What browsers send; a server that compresses for them is caught.
const BROWSER_ENCODINGS: &str = "gzip, deflate, br";
/// How long a reconnection gets to show what it replays.
const PROBE_WINDOW: Duration = Duration::from_secs(3);
/// How often the doctor looks at what its connections saw.
const TICK: Duration = Duration::from_millis(50);
/// Events with ids needed (after the chosen one, 2) before reconnecting.
const EVENTS_TO_RESUME: usize = 3;

/// Arguments of `resse doctor`.
#[derive(Debug, Args)]
#[command(after_help = "\
The doctor connects as a client (asking as browsers do, with Accept-Encoding: gzip, deflate, \
br), watches the stream for --duration or until every check has its evidence, reconnects on \
purpose, and prints one line per check: PASS, WARN, FAIL or SKIP (not judged: not applicable, \
or no evidence in the time watched), what it saw, and for WARN and FAIL the fix. Progress goes \
to stderr when it is a terminal.

Checks:
  status             the response is 200 (FAIL otherwise; a redirect is not followed)
  content-type       text/event-stream (FAIL otherwise: EventSource refuses it)
  compression        no Content-Encoding (FAIL: events wait in the compressor)
  cache-control      no-store or no-cache (WARN otherwise: a cache may hold the stream)
  x-accel-buffering  `no` (WARN when absent and events were not seen to flow freely)
  framing            no Content-Length (FAIL: a fixed-size body is not a stream)
  http-version       HTTP/2 or later (WARN on HTTP/1.x: browsers stall at the 7th tab)
  alpn-h2            https only: the server chooses h2 when offered h2 and http/1.1 (WARN)
  buffering          bytes arrive event by event: FAIL when events are cut and held (a buffer \
released by size), WARN on repeated bursts
  keep-alive         the longest silence stays within half of --proxy-timeout (WARN when \
longer); PASS once a comment is seen within it; SKIP when no comment came but the stream never \
went quiet for that long (watch longer)
  retry              a `retry:` field is sent (WARN when missing)
  ids                every event has an id (WARN when some or all have none); says whether \
they are increasing integers, a prefix and a counter, or opaque
  resumption         a reconnection with the Last-Event-ID of an early event gets exactly the \
events that followed it: FAIL on a gap or a duplicate, WARN when the server says it cannot
  bad-last-event-id  an id the server cannot know gets a clear answer: a first event the stream \
never carries (such as `reload`), 204 or a 4xx (PASS); WARN when the stream silently starts \
over or goes on live; FAIL on a 5xx

Exit status: 0 when no check fails (warnings allowed), 1 when one fails, 2 on bad arguments. \
--json prints the same report as one JSON object: \
{\"url\",\"ok\",\"watched_ms\",\"connections\",\"checks\":[{\"check\",\"level\",\"evidence\",\"fix\"}],\
\"summary\":{\"pass\",\"warn\",\"fail\",\"skip\"}}.")]
pub(crate) struct DoctorArgs {
    /// The event stream's URL (http:// or https://).
    #[arg(value_name = "URL")]
    url: String,

    /// Add a request header, e.g. -H 'Authorization: Bearer T' (repeatable).
    #[arg(
        short = 'H',
        long = "header",
        value_name = "NAME: VALUE",
        value_parser = parse_header
    )]
    headers: Vec<(HeaderName, HeaderValue)>,

    /// Watch at most this long, in seconds; the doctor stops earlier once
    /// every check has its evidence.
    #[arg(long, value_name = "SECS", default_value = "30", value_parser = parse_secs)]
    duration: Duration,

    /// The shortest idle timeout on the way to the server, in seconds
    /// (nginx proxy_read_timeout and most load balancers: 60); the stream
    /// should never be silent for more than half of it.
    #[arg(long, value_name = "SECS", default_value = "60", value_parser = parse_secs)]
    proxy_timeout: Duration,

    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,

    /// FOR TESTING ONLY: accept any TLS certificate (self-signed, expired, for
    /// another host).
    #[arg(long)]
    insecure: bool,
}

/// The request for `url` with the user's headers, a `Last-Event-ID` and an
/// `Accept-Encoding`, as the client's session builds it (`Accept:
/// text/event-stream`, `Cache-Control: no-store`).
fn request(
    args: &DoctorArgs,
    last_event_id: Option<&str>,
    encoding: &'static str,
) -> Result<Request, CliError> {
    let mut config = SessionConfig::new(args.url.clone());
    for (name, value) in &args.headers {
        config = config.header(name.clone(), value.clone());
    }
    if let Some(id) = last_event_id {
        config = config.last_event_id(id);
    }
    let mut session =
        ClientSession::new(Instant::now(), config).map_err(|e| CliError::Usage(e.to_string()))?;
    let Some(Action::Connect(mut request)) = session.poll_action() else {
        return Err(CliError::Usage(format!(
            "cannot build a request for {}",
            clean(&args.url)
        )));
    };
    let encoding = HeaderValue::from_static(encoding);
    if encoding == BROWSER_ENCODINGS {
        // The user's own Accept-Encoding wins.
        request.headers.entry(ACCEPT_ENCODING).or_insert(encoding);
    } else {
        request.headers.insert(ACCEPT_ENCODING, encoding);
    }
    Ok(request)
}

/// The connector: TLS with the default roots, or accepting anything with --insecure.
fn connector(args: &DoctorArgs) -> HyperConnector {
    let mut builder = HyperConnectorBuilder::new();
    if args.insecure {
        builder = builder.tls_config(crate::tail::insecure::config());
    }
    builder.build()
}

/// Runs `resse doctor`: the report on stdout, exit status 1 on any FAIL.
pub(crate) fn run(args: DoctorArgs) -> Result<ExitCode, CliError> {
    // A malformed URL is a usage error, before any connection.
    let first = request(&args, None, BROWSER_ENCODINGS)?;
    let https = first.url.starts_with("https:");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    let progress = Progress::new(io::stderr().is_terminal(), args.duration);
    let (observations, connections) = runtime.block_on(diagnose(&args, first, https, &progress))?;
    progress.clear();
    // Aborted connection tasks are dropped with the runtime.
    drop(runtime);
    let checks = judge::judge(&observations);
    let report = Report::new(&args.url, &observations, connections, checks);
    let mut out = io::stdout().lock();
    if args.json {
        crate::render::json_line(&mut out, &report)
    } else {
        report.write_human(&mut out)
    }
    .and_then(|()| out.flush())
    .map_err(CliError::Output)?;
    Ok(if report.summary.fail == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A connection being watched.
struct Running {
    record: Shared,
    task: JoinHandle<()>,
    started: Instant,
    id: String,
    from: usize,
    a_count: usize,
}

impl Running {
    fn start(
        connector: &HyperConnector,
        request: Request,
        origin: Instant,
    ) -> (Shared, JoinHandle<()>) {
        let record = Shared::default();
        let task = tokio::spawn(observe::watch(
            connector.clone(),
            request,
            origin,
            record.clone(),
        ));
        (record, task)
    }

    /// Stops the connection and keeps what it saw.
    fn finish(self) -> Probe {
        self.task.abort();
        Probe {
            id: self.id,
            from: self.from,
            a_count: self.a_count,
            record: std::mem::take(&mut *lock(&self.record)),
        }
    }
}

/// Where the doctor is.
enum Phase {
    /// Watching, until the stream has enough events with ids.
    Waiting,
    /// Reconnected with a recent id.
    Resuming(Running),
    /// Connected with an id the server cannot know.
    BadId(Running),
    /// Only watching.
    Done,
}

/// Watches and probes; returns the observations and how many connections were opened.
async fn diagnose(
    args: &DoctorArgs,
    first: Request,
    https: bool,
    progress: &Progress,
) -> Result<(Observations, usize), CliError> {
    let origin = Instant::now();
    let deadline = origin + args.duration;
    let connector = connector(args);
    let mut obs = Observations {
        https,
        proxy_timeout: args.proxy_timeout,
        ..Observations::default()
    };
    let mut connections = 1;
    let (mut a, mut a_task) = Running::start(&connector, first, origin);
    // The head first: a compressed answer is asked again without compression.
    while Instant::now() < deadline {
        let head = {
            let r = lock(&a);
            if r.finished || r.head.is_some() {
                Some(r.head.clone())
            } else {
                None
            }
        };
        if let Some(head) = head {
            if let Some(head) = head.filter(|h| h.encoding().is_some()) {
                a_task.abort();
                obs.compressed_first = Some(head);
                connections += 1;
                (a, a_task) = Running::start(&connector, request(args, None, "identity")?, origin);
            }
            break;
        }
        progress.show(origin, "waiting for the response", &a);
        tokio::time::sleep(TICK).await;
    }
    // Probes ask as the watched connection did, when it had to avoid compression.
    let probe_encoding = if obs.compressed_first.is_some() {
        "identity"
    } else {
        BROWSER_ENCODINGS
    };
    let budget = args.proxy_timeout / 2;
    let mut phase = Phase::Waiting;
    while Instant::now() < deadline {
        let now = Instant::now();
        let (readable, finished, ids_from, no_ids, a_events) = {
            let r = lock(&a);
            let from = r
                .events
                .iter()
                .position(|e| e.id.is_some())
                .filter(|k| r.events.len() >= k + EVENTS_TO_RESUME);
            let no_ids =
                r.events.len() >= EVENTS_TO_RESUME && r.events.iter().all(|e| e.id.is_none());
            (
                r.is_readable_stream(),
                r.finished,
                from,
                no_ids,
                r.events.len(),
            )
        };
        let head_in = lock(&a).head.is_some();
        if head_in && !readable {
            break;
        }
        phase = match phase {
            Phase::Waiting => match ids_from {
                Some(k) => {
                    let id = lock(&a).events[k].id.clone().unwrap_or_default();
                    connections += 1;
                    let (record, task) = Running::start(
                        &connector,
                        request(args, Some(&id), probe_encoding)?,
                        origin,
                    );
                    Phase::Resuming(Running {
                        record,
                        task,
                        started: now,
                        id,
                        from: k,
                        a_count: a_events,
                    })
                }
                None if no_ids || finished => Phase::Done,
                None => Phase::Waiting,
            },
            Phase::Resuming(r) => {
                let want = r.a_count.saturating_sub(r.from + 1).clamp(1, 5);
                let over = {
                    let b = lock(&r.record);
                    b.finished || b.event_count >= want || now >= r.started + PROBE_WINDOW
                };
                if over {
                    obs.resume = Some(r.finish());
                    let id = unknown_id();
                    connections += 1;
                    let (record, task) = Running::start(
                        &connector,
                        request(args, Some(&id), probe_encoding)?,
                        origin,
                    );
                    Phase::BadId(Running {
                        record,
                        task,
                        started: now,
                        id,
                        from: 0,
                        a_count: a_events,
                    })
                } else {
                    Phase::Resuming(r)
                }
            }
            Phase::BadId(r) => {
                let over = {
                    let c = lock(&r.record);
                    c.finished
                        || now >= r.started + PROBE_WINDOW
                        || c.events.first().is_some_and(|first| {
                            // Long enough for the watched connection to
                            // show whether this was a live event.
                            lock(&a).find(first.key).is_some()
                                || origin.elapsed() >= first.at + Duration::from_secs(1)
                        })
                };
                if over {
                    obs.bad_id = Some(r.finish());
                    Phase::Done
                } else {
                    Phase::BadId(r)
                }
            }
            Phase::Done => Phase::Done,
        };
        if matches!(phase, Phase::Done) {
            let r = lock(&a);
            if r.finished {
                break;
            }
            let elapsed = origin.elapsed();
            let retry = r.retry.is_some()
                || [&obs.resume, &obs.bad_id]
                    .into_iter()
                    .flatten()
                    .any(|p| p.record.retry.is_some());
            let keep_alive = r.comment_count > 0 || r.silence_until(elapsed) > budget;
            let buffering = !r.cuts.is_empty() || (r.event_count >= 6 && r.delivery_count >= 6);
            if retry && keep_alive && buffering && r.event_count >= EVENTS_TO_RESUME {
                break;
            }
        }
        let doing = match &phase {
            Phase::Waiting => "watching",
            Phase::Resuming(_) => "reconnecting with a recent Last-Event-ID",
            Phase::BadId(_) => "connecting with an unknown Last-Event-ID",
            Phase::Done => "watching (probes done)",
        };
        progress.show(origin, doing, &a);
        tokio::time::sleep(TICK).await;
    }
    // A probe cut short by the end of the watch is judged on what it saw.
    match phase {
        Phase::Resuming(r) => obs.resume = Some(r.finish()),
        Phase::BadId(r) => obs.bad_id = Some(r.finish()),
        Phase::Waiting | Phase::Done => {}
    }
    a_task.abort();
    obs.watched = origin.elapsed().min(args.duration);
    obs.a = std::mem::take(&mut *lock(&a));
    Ok((obs, connections))
}

/// An id no server has sent.
fn unknown_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("resse-doctor-unknown-{nanos:x}")
}

/// One status line on stderr, rewritten in place, only on a terminal.
struct Progress {
    on: bool,
    duration: Duration,
}

impl Progress {
    const fn new(on: bool, duration: Duration) -> Self {
        Self { on, duration }
    }

    fn show(&self, origin: Instant, doing: &str, a: &Shared) {
        if !self.on {
            return;
        }
        let (events, comments) = {
            let r = lock(a);
            (r.event_count, r.comment_count)
        };
        let mut err = io::stderr().lock();
        let _ = write!(
            err,
            "\r\x1b[2Kresse doctor: {:.1}/{:.0} s, {events} events, {comments} comments; {doing}",
            origin.elapsed().as_secs_f64(),
            self.duration.as_secs_f64()
        );
        let _ = err.flush();
    }

    fn clear(&self) {
        if self.on {
            let mut err = io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    }
}

/// How many checks ended at each level.
#[derive(Debug, Default, Serialize)]
struct Summary {
    pass: usize,
    warn: usize,
    fail: usize,
    skip: usize,
}

/// The whole report (also its JSON form).
#[derive(Debug, Serialize)]
struct Report {
    url: String,
    /// No check failed.
    ok: bool,
    watched_ms: u128,
    connections: usize,
    checks: Vec<Check>,
    summary: Summary,
}

impl Report {
    fn new(url: &str, o: &Observations, connections: usize, checks: Vec<Check>) -> Self {
        let mut summary = Summary::default();
        for check in &checks {
            match check.level {
                Level::Pass => summary.pass += 1,
                Level::Warn => summary.warn += 1,
                Level::Fail => summary.fail += 1,
                Level::Skip => summary.skip += 1,
            }
        }
        Self {
            url: url.to_owned(),
            ok: summary.fail == 0,
            watched_ms: o.watched.as_millis(),
            connections,
            checks,
            summary,
        }
    }

    /// The readable form: a title, one line per check, a summary.
    fn write_human(&self, out: &mut impl Write) -> io::Result<()> {
        writeln!(
            out,
            "resse doctor {}: watched {}, {} connection(s)",
            clean(&self.url),
            judge::secs(Duration::from_millis(
                u64::try_from(self.watched_ms).unwrap_or(u64::MAX)
            )),
            self.connections
        )?;
        for check in &self.checks {
            write!(
                out,
                "{}  {:<18} {}",
                check.level.label(),
                check.check,
                check.evidence
            )?;
            if let Some(fix) = &check.fix {
                write!(out, ". Fix: {fix}")?;
            }
            writeln!(out)?;
        }
        let s = &self.summary;
        writeln!(
            out,
            "summary: {} passed, {} warned, {} failed, {} not judged: {}",
            s.pass,
            s.warn,
            s.fail,
            s.skip,
            if self.ok {
                "nothing fails (exit status 0)"
            } else {
                "the endpoint has failures (exit status 1)"
            }
        )
    }
}
