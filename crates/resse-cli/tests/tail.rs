//! End-to-end tests of `resse tail`: run the built binary against real
//! servers on 127.0.0.1 (ephemeral ports): one written in Python's standard
//! library (the script is written to a temporary file and run with
//! `python3`), and small ones on `std::net` in this file. Every run is
//! bounded in time and every process and thread started here is stopped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::Shutdown;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How long any one `resse tail` run may take before the test fails.
const RUN_LIMIT: Duration = Duration::from_secs(30);

/// The test server: modes `replay` (events with ids over three requests,
/// then 204), `hostile` (terminal escapes in every field, then 204) and
/// `hold` (one event, then silence). It prints its port, then one line per
/// request with the `Last-Event-ID` it received.
const SERVER_PY: &str = r#"
import http.server, socketserver, sys, time

MODE = sys.argv[1]
HOSTILE_SENT = False

REPLAY = {
    None: "retry: 200\n\nid: 1\ndata: one\n\ndata: one-b\n\nid: 2\ndata: two\n\n",
    "2": "data: after-reconnect\n\nid: 3\nevent: custom\ndata: three\n\nid: 4\ndata: line1\ndata: line2\n\n",
}

HOSTILE = (
    "retry: 200\n\n"
    "event: e\x1b[2J\u202ex\nid: i\x07\u2066d\ndata: \x1b]0;title\x07\u009b31m\x7f \u0085 \u2028 \u2029 \u200f \u061c end\ndata: line2\x08\n\n"
)

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *args):
        pass

    def stream(self, body):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body.encode("utf-8"))
        self.wfile.flush()

    def status(self, code):
        self.send_response(code)
        self.end_headers()

    def do_GET(self):
        last = self.headers.get("Last-Event-ID")
        print("request", repr(last), flush=True)
        if MODE == "replay":
            if last in REPLAY:
                self.stream(REPLAY[last])
            elif last == "4":
                self.status(204)
            else:
                self.status(400)
        elif MODE == "hostile":
            # The id cannot be sent back (a control character is not allowed
            # in a header value): count the requests instead.
            global HOSTILE_SENT
            if not HOSTILE_SENT:
                HOSTILE_SENT = True
                self.stream(HOSTILE)
            else:
                self.status(204)
        elif MODE == "hold":
            self.stream("id: 7\ndata: held\n\n")
            time.sleep(20)

class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True

server = Server(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

/// A Python test server, killed when dropped.
struct PyServer {
    child: Child,
    port: u16,
    lines: BufReader<ChildStdout>,
    script: PathBuf,
}

impl PyServer {
    fn start(mode: &str) -> Self {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let script = std::env::temp_dir().join(format!(
            "resse-tail-test-{}-{}.py",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&script, SERVER_PY).expect("write the server script");
        let mut child = Command::new("python3")
            .arg(&script)
            .arg(mode)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start python3");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout is piped"));
        let mut first = String::new();
        lines.read_line(&mut first).expect("read the port");
        let port = first.trim().parse().expect("the server prints its port");
        Self {
            child,
            port,
            lines,
            script,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/events", self.port)
    }

    /// Stops the server and returns the requests it logged.
    fn stop(mut self) -> Vec<String> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut rest = String::new();
        let _ = self.lines.read_to_string(&mut rest);
        rest.lines().map(str::to_owned).collect()
    }
}

impl Drop for PyServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.script);
    }
}

/// A running `resse` process, killed when dropped.
struct Resse {
    child: Child,
    stdout: mpsc::Receiver<String>,
    stdout_seen: Vec<String>,
    stderr: Option<JoinHandle<String>>,
    started: Instant,
}

/// How a `resse` run ended.
#[derive(Debug)]
struct Finished {
    status: ExitStatus,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl Resse {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_resse"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start resse");
        let out = child.stdout.take().expect("stdout is piped");
        let (tx, stdout) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut err = child.stderr.take().expect("stderr is piped");
        let stderr = thread::spawn(move || {
            let mut text = String::new();
            let _ = err.read_to_string(&mut text);
            text
        });
        Self {
            child,
            stdout,
            stdout_seen: Vec::new(),
            stderr: Some(stderr),
            started: Instant::now(),
        }
    }

    /// Waits for the next stdout line.
    fn next_line(&mut self) -> String {
        let line = self
            .stdout
            .recv_timeout(RUN_LIMIT)
            .expect("a line of output in time");
        self.stdout_seen.push(line.clone());
        line
    }

    /// Waits for the process to exit (killing it and failing after [`RUN_LIMIT`]).
    fn finish(mut self) -> Finished {
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("poll resse") {
                break status;
            }
            if self.started.elapsed() > RUN_LIMIT {
                let _ = self.child.kill();
                let _ = self.child.wait();
                let stderr = self.stderr.take().map(|h| h.join().unwrap_or_default());
                panic!("resse did not exit within {RUN_LIMIT:?}; stderr: {stderr:?}");
            }
            thread::sleep(Duration::from_millis(10));
        };
        let elapsed = self.started.elapsed();
        let mut stdout = self.stdout_seen.join("\n");
        if !stdout.is_empty() {
            stdout.push('\n');
        }
        // The pipe is closed: the reader thread ends and the channel with it.
        for line in self.stdout.iter() {
            stdout.push_str(&line);
            stdout.push('\n');
        }
        let stderr = self
            .stderr
            .take()
            .map(|h| h.join().expect("stderr reader"))
            .unwrap_or_default();
        Finished {
            status,
            stdout,
            stderr,
            elapsed,
        }
    }
}

impl Drop for Resse {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `resse` to completion.
fn run(args: &[&str]) -> Finished {
    Resse::start(args).finish()
}

#[test]
fn reconnects_with_last_event_id_and_stops_on_204() {
    let server = PyServer::start("replay");
    let url = server.url();
    let done = run(&["tail", "--json", "--max-retries", "3", &url]);
    let requests = server.stop();
    assert_eq!(
        done.stdout,
        r#"{"event":"message","data":"one","id":"1"}
{"event":"message","data":"one-b","id":"1"}
{"event":"message","data":"two","id":"2"}
{"event":"message","data":"after-reconnect","id":"2"}
{"event":"custom","data":"three","id":"3"}
{"event":"message","data":"line1\nline2","id":"4"}
"#,
        "{done:?}"
    );
    assert!(done.status.success(), "{done:?}");
    assert_eq!(
        requests,
        ["request None", "request '2'", "request '4'"],
        "{done:?}"
    );
    let stderr = &done.stderr;
    assert!(
        stderr.contains(&format!("resse: connecting to {url}\n")),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("resse: connected (HTTP/1.0)\n").count(),
        2,
        "{stderr}"
    );
    // `retry: 200` sets the base delay: each reconnection waits 200 to 500 ms.
    assert_eq!(
        stderr
            .matches("resse: reconnecting: stream ended at an event boundary; attempt 1 in ")
            .count(),
        2,
        "{stderr}"
    );
    assert!(stderr.contains("(server's retry:)"), "{stderr}");
    assert!(
        stderr.ends_with("resse: closed: server asked the client to stop (204 No Content)\n"),
        "{stderr}"
    );
    assert!(done.elapsed < Duration::from_secs(10), "{done:?}");
}

#[test]
fn readable_output_of_the_same_stream() {
    let server = PyServer::start("replay");
    let done = run(&["tail", &server.url()]);
    assert!(done.status.success(), "{done:?}");
    assert_eq!(
        done.stdout,
        "event: message  id: 1
  one
event: message  id: 1
  one-b
event: message  id: 2
  two
event: message  id: 2
  after-reconnect
event: custom  id: 3
  three
event: message  id: 4
  line1
  line2
"
    );
}

#[test]
fn hostile_stream_is_escaped_in_the_readable_form() {
    let server = PyServer::start("hostile");
    let done = run(&["tail", &server.url()]);
    assert!(done.status.success(), "{done:?}");
    assert_eq!(
        done.stdout,
        "event: e\\u{1b}[2J\\u{202e}x  id: i\\u{7}\\u{2066}d
  \\u{1b}]0;title\\u{7}\\u{9b}31m\\u{7f} \\u{85} \\u{2028} \\u{2029} \\u{200f} \\u{61c} end
  line2\\u{8}
"
    );
    // Nothing the terminal would act on is left, on stdout or stderr.
    let unsafe_char = |c: char| {
        (c.is_control() && c != '\n')
            || matches!(c, '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    assert!(!done.stdout.contains(unsafe_char));
    assert!(!done.stderr.contains(unsafe_char), "{:?}", done.stderr);
}

#[test]
fn hostile_stream_is_escaped_in_json() {
    let server = PyServer::start("hostile");
    let done = run(&["tail", "--json", &server.url()]);
    assert!(done.status.success(), "{done:?}");
    assert_eq!(
        done.stdout,
        r#"{"event":"e\u001b[2J\u202ex","data":"\u001b]0;title\u0007\u009b31m\u007f \u0085 \u2028 \u2029 \u200f \u061c end\nline2\b","id":"i\u0007\u2066d"}
"#
    );
    assert!(done.stdout.is_ascii());
    let value: serde_json::Value =
        serde_json::from_str(done.stdout.trim_end()).expect("one JSON object");
    assert_eq!(value["event"], "e\u{1b}[2J\u{202e}x");
    assert_eq!(value["id"], "i\u{7}\u{2066}d");
}

#[cfg(unix)]
#[test]
fn ctrl_c_closes_and_exits_zero() {
    let server = PyServer::start("hold");
    let mut resse = Resse::start(&["tail", "--json", &server.url()]);
    assert_eq!(
        resse.next_line(),
        r#"{"event":"message","data":"held","id":"7"}"#
    );
    let pid = resse.child.id().to_string();
    let killed = Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("run kill");
    assert!(killed.success());
    let done = resse.finish();
    assert!(done.status.success(), "{done:?}");
    assert!(
        done.stderr.ends_with("resse: closed: closed by the user\n"),
        "{done:?}"
    );
}

#[cfg(unix)]
#[test]
fn a_silent_connection_is_dropped_after_the_idle_timeout() {
    let server = PyServer::start("hold");
    let mut resse = Resse::start(&[
        "tail",
        "--json",
        "--idle-timeout",
        "0.3",
        "--initial-delay",
        "0.1",
        &server.url(),
    ]);
    // The same event, from the first connection and from the one after the timeout.
    let held = r#"{"event":"message","data":"held","id":"7"}"#;
    assert_eq!(resse.next_line(), held);
    assert_eq!(resse.next_line(), held);
    let pid = resse.child.id().to_string();
    let killed = Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("run kill");
    assert!(killed.success());
    let done = resse.finish();
    assert!(done.status.success(), "{done:?}");
    assert!(
        done.stderr
            .contains("resse: reconnecting: no data within the idle timeout; attempt 1 in "),
        "{done:?}"
    );
    let requests = server.stop();
    assert_eq!(
        requests[..2],
        ["request None", "request '7'"],
        "{requests:?}"
    );
}

/// A server on `std::net`: `handler` gets each connection and its number
/// (0, 1, ...), one at a time, until the server is dropped.
struct RustServer {
    port: u16,
    stop: Arc<AtomicBool>,
    requests: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl RustServer {
    /// Answers every request with `response`.
    fn start(response: &'static str) -> Self {
        Self::with(move |mut stream, _| drop(answer(&mut stream, response)))
    }

    fn with(handler: impl Fn(TcpStream, usize) + Send + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let port = listener.local_addr().expect("local address").port();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicUsize::new(0));
        let thread = {
            let (stop, requests) = (Arc::clone(&stop), Arc::clone(&requests));
            thread::spawn(move || {
                while !stop.load(Ordering::Acquire) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let _ = stream.set_nonblocking(false);
                            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                            handler(stream, requests.fetch_add(1, Ordering::Relaxed));
                        }
                        Err(_) => thread::sleep(Duration::from_millis(5)),
                    }
                }
            })
        };
        Self {
            port,
            stop,
            requests,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }
}

impl Drop for RustServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads a request (head, and body by its `content-length`), writes
/// `response` and returns the request. (Closing a socket with unread input
/// would reset it.)
fn answer(stream: &mut (impl Read + Write), response: &str) -> String {
    let mut request = Vec::new();
    let mut byte = [0_u8; 1];
    while !request.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => request.push(byte[0]),
            _ => return String::from_utf8_lossy(&request).into_owned(),
        }
    }
    let length = String::from_utf8_lossy(&request)
        .to_ascii_lowercase()
        .lines()
        .find_map(|line| line.strip_prefix("content-length:").map(str::to_owned))
        .and_then(|n| n.trim().parse::<u64>().ok())
        .unwrap_or(0);
    let _ = stream.take(length).read_to_end(&mut request);
    let _ = stream.write_all(response.as_bytes());
    let _ = stream.flush();
    String::from_utf8_lossy(&request).into_owned()
}

const UNAVAILABLE: &str =
    "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";

#[test]
fn strict_fails_on_a_503_at_once() {
    let server = RustServer::start(UNAVAILABLE);
    let done = run(&["tail", "--strict", &server.url()]);
    assert_eq!(done.status.code(), Some(1), "{done:?}");
    assert_eq!(server.requests.load(Ordering::Relaxed), 1);
    assert!(
        done.stderr
            .ends_with("resse: stopped: server answered 503 Service Unavailable\n"),
        "{done:?}"
    );
    assert!(!done.stderr.contains("reconnecting"), "{done:?}");
    assert_eq!(done.stdout, "");
}

#[test]
fn without_strict_a_503_is_retried() {
    let server = RustServer::start(UNAVAILABLE);
    let done = run(&[
        "tail",
        "--max-retries",
        "1",
        "--initial-delay",
        "0.1",
        &server.url(),
    ]);
    assert_eq!(done.status.code(), Some(1), "{done:?}");
    assert_eq!(server.requests.load(Ordering::Relaxed), 2);
    assert!(
        done.stderr.contains(
            "resse: reconnecting: server answered 503 Service Unavailable; attempt 1 in "
        ),
        "{done:?}"
    );
    assert!(
        done.stderr
            .ends_with("resse: stopped: gave up after 1 reconnection attempts\n"),
        "{done:?}"
    );
}

#[test]
fn wrong_content_type_fails() {
    let server = RustServer::start(
        "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 2\r\nconnection: close\r\n\r\nhi",
    );
    let done = run(&["tail", &server.url()]);
    assert_eq!(done.status.code(), Some(1), "{done:?}");
    assert!(
        done.stderr.ends_with(
            "resse: stopped: response content type is \"text/html\", expected text/event-stream\n"
        ),
        "{done:?}"
    );
}

#[test]
fn post_with_headers_a_body_and_a_first_id_stops_after_a_clean_end() {
    let requests = Arc::new(std::sync::Mutex::new(Vec::new()));
    let server = {
        let requests = Arc::clone(&requests);
        RustServer::with(move |mut stream, _| {
            let request = answer(
                &mut stream,
                "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n\
                 data: answer\n\n",
            );
            requests.lock().expect("requests").push(request);
        })
    };
    let done = run(&[
        "tail",
        "--json",
        "-d",
        "{\"q\":1}",
        "-H",
        "Content-Type: application/json",
        "-H",
        "X-Trace:  abc ",
        "--last-event-id",
        "41",
        &server.url(),
    ]);
    let requests = requests.lock().expect("requests").clone();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let request = requests[0].to_ascii_lowercase();
    assert!(request.starts_with("post / http/1.1\r\n"), "{request}");
    assert!(
        request.contains("\r\ncontent-type: application/json\r\n"),
        "{request}"
    );
    assert!(request.contains("\r\nx-trace: abc\r\n"), "{request}");
    assert!(request.contains("\r\nlast-event-id: 41\r\n"), "{request}");
    assert!(request.ends_with("\r\n\r\n{\"q\":1}"), "{request}");
    assert!(done.status.success(), "{done:?}");
    assert_eq!(
        done.stdout,
        // The first id is in effect until the stream sends one.
        "{\"event\":\"message\",\"data\":\"answer\",\"id\":\"41\"}\n"
    );
    assert_eq!(server.requests.load(Ordering::Relaxed), 1);
    assert!(
        done.stderr.ends_with("resse: closed: stream ended\n"),
        "{done:?}"
    );
}

#[test]
fn max_retries_against_a_closed_port() {
    // Bind and release a port: nothing listens there now.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port();
    let url = format!("http://127.0.0.1:{port}/");
    let done = run(&[
        "tail",
        "--max-retries",
        "2",
        "--initial-delay",
        "0.1",
        "--max-delay",
        "0.3",
        &url,
    ]);
    assert_eq!(done.status.code(), Some(1), "{done:?}");
    let stderr = &done.stderr;
    assert_eq!(
        stderr
            .matches("resse: reconnecting: could not connect")
            .count(),
        2,
        "{stderr}"
    );
    assert!(stderr.contains("; attempt 1 in "), "{stderr}");
    assert!(stderr.contains("; attempt 2 in "), "{stderr}");
    assert!(
        stderr.contains("resse: stopped: gave up after 2 reconnection attempts (last error: "),
        "{stderr}"
    );
    assert!(done.elapsed < Duration::from_secs(10), "{done:?}");
}

#[test]
fn malformed_url_fails_at_once() {
    for (url, problem) in [
        ("not a url", "invalid URL \"not a url\""),
        ("ftp://example.com/", "ftp"),
        ("http://", "invalid URL"),
    ] {
        let done = run(&["tail", url]);
        assert_eq!(done.status.code(), Some(2), "{url}: {done:?}");
        assert!(done.stderr.starts_with("resse: "), "{url}: {done:?}");
        assert!(done.stderr.contains(problem), "{url}: {done:?}");
        assert!(!done.stderr.contains("connecting"), "{url}: {done:?}");
        assert_eq!(done.stdout, "");
        assert!(done.elapsed < Duration::from_secs(5), "{done:?}");
    }
}

#[test]
fn malformed_header_fails_before_any_request() {
    let server = RustServer::start(UNAVAILABLE);
    for header in [
        "no colon",
        "bad name: v",
        ": empty name",
        "X-Ok: bad\u{1}value",
    ] {
        let done = run(&["tail", "-H", header, &server.url()]);
        assert_eq!(done.status.code(), Some(2), "{header}: {done:?}");
        assert!(
            done.stderr.starts_with("resse: invalid value"),
            "{header}: {done:?}"
        );
        assert!(done.stderr.contains("--header"), "{header}: {done:?}");
        // The argument is quoted escaped.
        assert!(
            !done.stderr.contains(|c: char| c.is_control() && c != '\n'),
            "{header}: {done:?}"
        );
        assert!(done.elapsed < Duration::from_secs(5), "{done:?}");
    }
    assert_eq!(server.requests.load(Ordering::Relaxed), 0);
}

/// A self-signed certificate for 127.0.0.1, and a server configuration presenting it.
fn self_signed() -> Arc<rustls::ServerConfig> {
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    let key = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
        .expect("generate a certificate");
    let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.signing_key.serialize_der()));
    // ring, deprecated by rustls 0.23.48 for lacking post-quantum key
    // exchange; a loopback test server needs none.
    #[allow(deprecated)]
    let provider = rustls::crypto::ring::default_provider();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(vec![key.cert.der().clone()], der)
        .expect("server certificate");
    Arc::new(config)
}

/// An HTTPS server with a self-signed certificate: one event, then 204.
fn tls_server() -> RustServer {
    let config = self_signed();
    RustServer::with(move |tcp, n| {
        let Ok(conn) = rustls::ServerConnection::new(Arc::clone(&config)) else {
            return;
        };
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        let response = if n == 0 {
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n\
             retry: 100\nid: s1\ndata: secure\n\n"
        } else {
            "HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n"
        };
        drop(answer(&mut tls, response));
        tls.conn.send_close_notify();
        let _ = tls.flush();
        let _ = tls.sock.shutdown(Shutdown::Write);
    })
}

#[test]
fn insecure_accepts_a_self_signed_certificate() {
    let server = tls_server();
    let url = format!("https://127.0.0.1:{}/", server.port);
    let done = run(&["tail", "--json", "--insecure", &url]);
    assert!(done.status.success(), "{done:?}");
    assert_eq!(
        done.stdout,
        "{\"event\":\"message\",\"data\":\"secure\",\"id\":\"s1\"}\n"
    );
    assert!(
        done.stderr.contains("resse: connected (HTTP/1.1)\n"),
        "{done:?}"
    );
    assert!(
        done.stderr
            .ends_with("resse: closed: server asked the client to stop (204 No Content)\n"),
        "{done:?}"
    );
}

#[test]
fn without_insecure_a_self_signed_certificate_is_refused() {
    let server = tls_server();
    let url = format!("https://127.0.0.1:{}/", server.port);
    let done = run(&["tail", "--max-retries", "0", &url]);
    assert_eq!(done.status.code(), Some(1), "{done:?}");
    assert_eq!(done.stdout, "");
    assert!(
        done.stderr
            .contains("resse: stopped: gave up after 0 reconnection attempts (last error: "),
        "{done:?}"
    );
    assert!(done.stderr.contains("certificate"), "{done:?}");
}
