//! `resse tail URL`: follow an event stream over HTTP, reconnecting as
//! `EventSource` does, and print its events as they arrive.
//!
//! The client is [`resse_tokio::client::Client`] over a [`HyperConnector`]
//! wrapped in [`Recording`] (which notes the HTTP version of each response,
//! the client itself does not expose it). Events go to stdout through the
//! same [`Renderer`] as `resse decode`; connection state changes go to
//! stderr as `resse: <what happened>` lines. Ctrl-C closes the client
//! through its [`CloseHandle`](resse_tokio::client::CloseHandle).

use std::fmt::Write as _;
use std::future::Future;
use std::io::{self, BufWriter};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use clap::Args;
use futures_util::StreamExt;
use http::{HeaderName, HeaderValue, Method, Version};
use resse_codec::DecoderConfig;
use resse_tokio::client::{
    BoxError, ClientBuilder, CloseReason, Connect, HyperConnector, HyperConnectorBuilder,
    ProbeConfig, Request, SessionEvent,
};
use resse_tokio::client::{Cause, DelayReason, ReconnectConfig, VerdictTable};

use crate::error::CliError;
use crate::render::{Format, Renderer, clean, note};

/// Arguments of `resse tail`.
#[derive(Debug, Args)]
#[command(after_help = "\
Output: one entry per event on stdout, as soon as it arrives; with --json one JSON object per \
line, as `resse decode --json` prints events:
  {\"event\":TYPE,\"data\":DATA,\"id\":LAST_EVENT_ID}
where id is the last event id in effect (it carries over events without an `id:` field and \
across reconnections), and with --comments also {\"comment\":TEXT}. Connection changes go to \
stderr, one `resse: ...` line each: connected (with the HTTP version), reconnecting (cause, \
attempt, delay), redirected, closed (reason). The readable form escapes control characters, \
DEL, C1 and bidirectional controls (as \\u{1b}); --json also writes DEL, C1, bidi controls, \
U+2028 and U+2029 as \\uXXXX escapes.

Reconnection follows the event stream rules: after a failure or an end of the stream the \
client waits (at least the server's `retry:`, with jitter, growing while failures go on) and \
asks again with Last-Event-ID. A 204 stops it. By default 4xx statuses (but 408 and 429) and \
a content type other than text/event-stream stop it with an error, other statuses are retried; \
--strict fails on every status but 200. With --method other than GET a stream that ends \
cleanly is finished, not reconnected.

Exit status: 0 when the server said stop (204), a non-GET stream ended cleanly, or on Ctrl-C; \
1 when the client gave up (--max-retries reached, a refused status, a wrong content type) or \
writing the output failed; 2 on bad arguments (a malformed URL, header or option), reported \
before any request.")]
pub(crate) struct TailArgs {
    /// The event stream's URL (http:// or https://).
    #[arg(value_name = "URL")]
    url: String,

    /// Print one JSON object per line instead of the readable form.
    #[arg(long)]
    json: bool,

    /// Also print comment lines (`: ...`), such as keep-alives.
    #[arg(long)]
    comments: bool,

    /// Add a request header, e.g. -H 'Authorization: Bearer T' (repeatable).
    /// Last-Event-ID cannot be set this way: see --last-event-id.
    #[arg(
        short = 'H',
        long = "header",
        value_name = "NAME: VALUE",
        value_parser = parse_header
    )]
    headers: Vec<(HeaderName, HeaderValue)>,

    /// The request method (default GET, or POST with --data). With any other
    /// method than GET a stream that ends cleanly is finished rather than reconnected.
    #[arg(short = 'X', long, value_name = "METHOD", value_parser = parse_method)]
    method: Option<Method>,

    /// The request body, sent with every request (and reconnection); implies
    /// POST unless --method says otherwise.
    #[arg(short = 'd', long, value_name = "BODY")]
    data: Option<String>,

    /// The Last-Event-ID of the first request (later ones send the last id received).
    #[arg(long, value_name = "ID")]
    last_event_id: Option<String>,

    /// Reconnect when the connection stays silent this long, in seconds (default 45; 0: never).
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    idle_timeout: Option<Duration>,

    /// Give up after N failed reconnection attempts in a row (default: never).
    #[arg(long, value_name = "N")]
    max_retries: Option<u32>,

    /// The first reconnection delay until the server sends `retry:`, in seconds (default 2).
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    initial_delay: Option<Duration>,

    /// Cap on the growth of reconnection delays, in seconds (default 30); a
    /// longer `retry:` from the server is still honoured.
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    max_delay: Option<Duration>,

    /// Probe the stream end to end every SECS seconds: a POST to the stream's
    /// path + `/probe` (query kept, `nonce=N` added; `resse serve` answers it)
    /// whose answer, a `pong` event carrying N, must arrive on the stream in
    /// time, or the stream is reopened with Last-Event-ID. Catches a server
    /// whose keep-alives flow while its events do not. Off by default.
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    probe_interval: Option<Duration>,

    /// How long a probe's answer may take, in seconds (default 5; with
    /// --probe-interval).
    #[arg(long, value_name = "SECS", value_parser = parse_secs, requires = "probe_interval")]
    probe_timeout: Option<Duration>,

    /// The probe URL, absolute or relative to the stream URL (default: the
    /// stream's path + `/probe`, its query kept; with --probe-interval).
    #[arg(long, value_name = "URL", requires = "probe_interval")]
    probe_url: Option<String>,

    /// Follow the WHATWG rules exactly: every status but 200 fails, 204 stops.
    #[arg(long)]
    strict: bool,

    /// FOR TESTING ONLY: accept any TLS certificate (self-signed, expired, for
    /// another host). Anyone on the path can then read and change the stream.
    #[arg(long)]
    insecure: bool,
}

/// The probe timeout without `--probe-timeout`.
const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Parses `-H 'Name: value'`.
pub(crate) fn parse_header(s: &str) -> Result<(HeaderName, HeaderValue), String> {
    let Some((name, value)) = s.split_once(':') else {
        return Err("expected 'NAME: VALUE' (a colon after the header name)".to_owned());
    };
    let name = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| format!("{:?} is not a valid header name", name.trim()))?;
    let value = HeaderValue::from_str(value.trim())
        .map_err(|_| format!("the value of {name} holds a control character"))?;
    Ok((name, value))
}

/// Parses `--method`: an HTTP method token (upper-cased).
fn parse_method(s: &str) -> Result<Method, String> {
    Method::from_bytes(s.to_ascii_uppercase().as_bytes())
        .map_err(|_| format!("{s:?} is not a valid HTTP method"))
}

/// Parses a duration in seconds (`1`, `0.25`): every `SECS` flag of the CLI.
pub(crate) fn parse_secs(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    Duration::try_from_secs_f64(secs).map_err(|_| format!("{s:?} is not a duration in seconds"))
}

/// A [`HyperConnector`] that remembers how the last request went: the HTTP
/// version of its response for the "connected" line, or that it failed (so
/// that the client's `last_error()` is known to be about it).
#[derive(Clone, Debug)]
struct Recording {
    inner: HyperConnector,
    last: Arc<Mutex<Outcome>>,
}

/// What the last request of a [`Recording`] got.
#[derive(Clone, Copy, Debug, Default)]
enum Outcome {
    /// No request yet.
    #[default]
    None,
    /// A response head, in this HTTP version.
    Response(Version),
    /// No response (connect, TLS or request error).
    Failed,
}

impl Connect for Recording {
    type Body = <HyperConnector as Connect>::Body;

    fn connect(
        &self,
        request: Request,
    ) -> impl Future<Output = Result<http::Response<Self::Body>, BoxError>> + Send + 'static {
        let response = self.inner.connect(request);
        let last = Arc::clone(&self.last);
        async move {
            let response = response.await;
            *last.lock().unwrap_or_else(PoisonError::into_inner) = match &response {
                Ok(response) => Outcome::Response(response.version()),
                Err(_) => Outcome::Failed,
            };
            response
        }
    }
}

/// Runs `resse tail`. Returns the exit status once the client has closed.
pub(crate) fn run(args: TailArgs) -> Result<ExitCode, CliError> {
    let connector = connector(&args);
    let last = Arc::clone(&connector.last);
    let last_outcome = move || *last.lock().unwrap_or_else(PoisonError::into_inner);
    let url = args.url.clone();
    let client = builder(args.url.clone(), &args)
        .build_with(connector)
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let format = if args.json {
        Format::Json
    } else {
        Format::Human
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    runtime.block_on(async move {
        let mut client = client;
        let close = client.close_handle();
        // Ctrl-C closes the client: it reports `Closed` and the loop ends.
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                close.close();
            }
        });
        let mut out = Renderer::new(BufWriter::new(io::stdout().lock()), format);
        let mut status = ExitCode::SUCCESS;
        while let Some(item) = client.next().await {
            match item {
                SessionEvent::Event(event) => {
                    out.event(&event)
                        .and_then(|()| out.flush())
                        .map_err(CliError::Output)?;
                }
                SessionEvent::Comment(text) => {
                    out.comment(&text)
                        .and_then(|()| out.flush())
                        .map_err(CliError::Output)?;
                }
                SessionEvent::Connecting { attempt: 0 } => {
                    note(&format!("connecting to {url}"));
                }
                SessionEvent::Connecting { .. } => {}
                SessionEvent::Open => match last_outcome() {
                    Outcome::Response(v) => note(&format!("connected ({v:?})")),
                    _ => note("connected"),
                },
                SessionEvent::Redirected { status, url } => {
                    note(&format!("redirected ({status}) to {url}"));
                }
                SessionEvent::DecodeError(e) => note(&e.to_string()),
                SessionEvent::Reconnecting {
                    cause,
                    attempt,
                    delay,
                    reason,
                } => {
                    let mut line = format!("reconnecting: {cause}");
                    if matches!(cause, Cause::ConnectFailed | Cause::Io) {
                        if let Some(e) = client.last_error() {
                            let _ = write!(line, " ({})", chain(e.as_ref()));
                        }
                    }
                    let _ = write!(line, "; attempt {attempt} in {}", millis(delay));
                    match reason {
                        DelayReason::ServerRetry => line.push_str(" (server's retry:)"),
                        DelayReason::RetryAfter => line.push_str(" (Retry-After)"),
                        _ => {}
                    }
                    note(&line);
                }
                SessionEvent::Closed { reason } => {
                    if reason.is_error() {
                        let mut line = format!("stopped: {reason}");
                        if let Some(e) = client.last_error() {
                            // The last attempt had no response: the error is its.
                            if gave_up_on_failure(&reason)
                                && matches!(last_outcome(), Outcome::Failed)
                            {
                                let _ = write!(line, " (last error: {})", chain(e.as_ref()));
                            }
                        }
                        note(&line);
                        status = ExitCode::FAILURE;
                    } else {
                        note(&format!("closed: {reason}"));
                    }
                }
                // A later kind of event this version does not know.
                _ => {}
            }
        }
        out.flush().map_err(CliError::Output)?;
        Ok(status)
    })
}

/// The client's configuration from the arguments (all but the connector).
fn builder(url: String, args: &TailArgs) -> ClientBuilder {
    let mut builder = ClientBuilder::new(url);
    // As curl does: a body without a method is a POST.
    let method = match (&args.method, &args.data) {
        (Some(method), _) => Some(method.clone()),
        (None, Some(_)) => Some(Method::POST),
        (None, None) => None,
    };
    if let Some(method) = method {
        builder = builder.method(method);
    }
    for (name, value) in &args.headers {
        builder = builder.header(name.clone(), value.clone());
    }
    if let Some(body) = &args.data {
        builder = builder.body(body.clone());
    }
    if let Some(id) = &args.last_event_id {
        builder = builder.last_event_id(id.as_str());
    }
    if let Some(timeout) = args.idle_timeout {
        builder = builder.idle_timeout((!timeout.is_zero()).then_some(timeout));
    }
    let mut reconnect = ReconnectConfig::default().max_attempts(args.max_retries);
    if let Some(delay) = args.initial_delay {
        reconnect = reconnect.initial_delay(delay);
    }
    if let Some(delay) = args.max_delay {
        reconnect = reconnect.max_delay(delay);
    }
    if args.strict {
        reconnect = reconnect.verdicts(VerdictTable::strict());
    }
    builder = builder.reconnect(reconnect);
    if let Some(interval) = args.probe_interval {
        let timeout = args.probe_timeout.unwrap_or(DEFAULT_PROBE_TIMEOUT);
        let mut probe = ProbeConfig::new(interval, timeout);
        if let Some(url) = &args.probe_url {
            probe = probe.url(url.as_str());
        }
        builder = builder.probe(Some(probe));
    }
    if args.comments {
        builder = builder.decoder(DecoderConfig::default().comments(true));
    }
    builder
}

/// The connector: TLS with the default roots, or accepting anything with --insecure.
fn connector(args: &TailArgs) -> Recording {
    let mut builder = HyperConnectorBuilder::new();
    if args.insecure {
        builder = builder.tls_config(insecure::config());
    }
    Recording {
        inner: builder.build(),
        last: Arc::default(),
    }
}

/// Whether the last transport error explains `reason` (a retry limit reached
/// after failures), rather than being stale.
fn gave_up_on_failure(reason: &CloseReason) -> bool {
    use resse_tokio::client::StopReason;
    matches!(
        reason,
        CloseReason::Policy(StopReason::AttemptLimit { .. } | StopReason::ElapsedLimit { .. })
    )
}

/// An error and its sources, `: `-separated, escaped for the terminal.
///
/// Messages that already hold what their sources say (resse's connect
/// errors name the cause; hyper-util repeats its source at times) are not
/// followed by them again.
pub(crate) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut sources = Vec::new();
    let mut source = e.source();
    while let Some(s) = source {
        sources.push(s.to_string());
        source = s.source();
    }
    if sources
        .last()
        .is_some_and(|root| !text.contains(root.as_str()))
    {
        for more in sources {
            if !text.contains(&more) {
                let _ = write!(text, ": {more}");
            }
        }
    }
    clean(&text).into_owned()
}

/// `312ms`, `2.5s`.
fn millis(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// `--insecure`: a rustls configuration whose certificate verifier accepts
/// any certificate (handshake signatures are still checked, so the peer
/// holds the key of the certificate it sent, whatever that is).
pub(crate) mod insecure {
    use std::sync::Arc;

    use rustls::DigitallySignedStruct;
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

    /// Accepts every server certificate. For testing only.
    #[derive(Debug)]
    struct AcceptAnything(Arc<CryptoProvider>);

    impl AcceptAnything {
        /// The provider's signature algorithms (signatures are still checked).
        fn algorithms(&self) -> &rustls::crypto::WebPkiSupportedAlgorithms {
            &self.0.signature_verification_algorithms
        }
    }

    impl ServerCertVerifier for AcceptAnything {
        fn verify_server_cert(
            &self,
            _end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp_response: &[u8],
            _now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls12_signature(message, cert, dss, self.algorithms())
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls13_signature(message, cert, dss, self.algorithms())
        }

        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            self.algorithms().supported_schemes()
        }
    }

    /// The ring provider, its safe default protocol versions, no certificate check.
    pub(crate) fn config() -> rustls::ClientConfig {
        let provider = crate::tls::crypto_provider();
        let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .unwrap_or_else(|_| rustls::ClientConfig::builder());
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnything(provider)))
            .with_no_client_auth()
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_header, parse_method, parse_secs};
    use std::time::Duration;

    #[test]
    fn headers_need_a_name_a_colon_and_a_clean_value() {
        let (name, value) = parse_header("Authorization:  Bearer x ").expect("valid");
        assert_eq!(name, "authorization");
        assert_eq!(value, "Bearer x");
        assert!(parse_header("X-Empty:").is_ok());
        assert!(parse_header("no colon").is_err());
        assert!(parse_header("bad name: v").is_err());
        assert!(parse_header(": v").is_err());
        assert!(parse_header("X-A: a\u{1}b").is_err());
    }

    #[test]
    fn methods_and_seconds() {
        assert_eq!(parse_method("post"), Ok(http::Method::POST));
        assert!(parse_method("GE T").is_err());
        assert_eq!(parse_secs("0.25"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_secs("3"), Ok(Duration::from_secs(3)));
        assert!(parse_secs("-1").is_err());
        assert!(parse_secs("soon").is_err());
        assert!(parse_secs("inf").is_err());
    }
}
