//! End-to-end tests of `resse doctor`: run the built binary against real
//! servers on 127.0.0.1 (ephemeral ports): `resse serve` itself (where
//! every check passes), and deliberately misconfigured servers written in
//! Python's standard library (the script is written to a temporary file and
//! run with `python3`), each of which must yield its own WARN or FAIL line
//! and no other failure. Every run is bounded in time and every process
//! started here is stopped by its pid.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, ChildStderr, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// How long any one `resse doctor` run (or a server's start) may take.
const LIMIT: Duration = Duration::from_secs(30);

/// The misconfigured servers. Every stream is generated per connection:
/// `retry: 1000`, then events `id: N` / `data: tick N` every PERIOD with a
/// keep-alive comment between them, from 1 or from Last-Event-ID + 1; an id
/// that is not a number gets a `reset` event first, then events from 1.
/// Modes change one thing each:
///
/// - `gzip`: compresses when the request accepts gzip;
/// - `noids`: events without ids;
/// - `nokeepalive`: no comments, and silence after 6 events;
/// - `length`: 8 events in a body with a Content-Length, then the end;
/// - `wrongreplay`: resumes *at* Last-Event-ID (a duplicate);
/// - `proxy`: bigger events behind a proxy that passes the head at once
///   but holds the body until it has 4 KiB, then sends exactly 4 KiB;
/// - `hostile`: the `reset` event's type holds terminal escapes.
///
/// It prints its port (the proxy's in `proxy` mode).
const SERVER_PY: &str = r#"
import http.server, socket, socketserver, sys, threading, time, zlib

MODE = sys.argv[1]
PERIOD = 0.04 if MODE == "proxy" else 0.1
PAD = "x" * 300 if MODE == "proxy" else ""

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *args):
        pass

    def do_GET(self):
        last = self.headers.get("Last-Event-ID")
        start, notice = 1, ""
        if last is not None:
            try:
                start = int(last) if MODE == "wrongreplay" else int(last) + 1
            except ValueError:
                kind = "reset\x1b[2J\x1b]0;owned\x07" if MODE == "hostile" else "reset"
                notice = "event: %s\ndata: unknown id\n\n" % kind
        def event(i):
            ident = "" if MODE == "noids" else "id: %d\n" % i
            return "%sdata: tick %d%s\n\n" % (ident, i, PAD)
        if MODE == "length":
            body = ("retry: 1000\n\n" + notice
                    + "".join(": ka\n\n" + event(i) for i in range(start, 9))).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Accel-Buffering", "no")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        gz = MODE == "gzip" and "gzip" in (self.headers.get("Accept-Encoding") or "")
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Accel-Buffering", "no")
        if gz:
            self.send_header("Content-Encoding", "gzip")
        self.end_headers()
        comp = zlib.compressobj(wbits=31) if gz else None
        def send(text):
            data = text.encode()
            if comp:
                data = comp.compress(data) + comp.flush(zlib.Z_SYNC_FLUSH)
            self.wfile.write(data)
            self.wfile.flush()
        try:
            send("retry: 1000\n\n" + notice)
            i = start
            while True:
                if MODE == "nokeepalive" and i >= start + 6:
                    time.sleep(60)
                    return
                send(event(i))
                i += 1
                time.sleep(PERIOD / 2)
                if MODE != "nokeepalive":
                    send(": ka\n\n")
                time.sleep(PERIOD / 2)
        except (BrokenPipeError, ConnectionResetError):
            return

class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True

def proxy(client, upstream):
    try:
        up = socket.create_connection(("127.0.0.1", upstream))
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = client.recv(4096)
            if not chunk:
                return
            request += chunk
        up.sendall(request)
        held = b""
        while b"\r\n\r\n" not in held:
            chunk = up.recv(4096)
            if not chunk:
                return
            held += chunk
        head, _, held = held.partition(b"\r\n\r\n")
        client.sendall(head + b"\r\n\r\n")
        while True:
            while len(held) >= 4096:
                client.sendall(held[:4096])
                held = held[4096:]
            chunk = up.recv(4096)
            if not chunk:
                return
            held += chunk
    except OSError:
        return
    finally:
        client.close()

server = Server(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
if MODE == "proxy":
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    print(listener.getsockname()[1], flush=True)
    while True:
        client, _ = listener.accept()
        threading.Thread(target=proxy, args=(client, server.server_address[1]), daemon=True).start()
else:
    print(server.server_address[1], flush=True)
    while True:
        time.sleep(3600)
"#;

/// A child process, killed (by its pid) when dropped.
struct Proc {
    child: Child,
    script: Option<PathBuf>,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(script) = &self.script {
            let _ = std::fs::remove_file(script);
        }
    }
}

/// Starts the Python server in `mode`; returns it with its stream URL.
fn python(mode: &str) -> (Proc, String) {
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    let script = std::env::temp_dir().join(format!(
        "resse-doctor-test-{}-{}.py",
        std::process::id(),
        COUNT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&script, SERVER_PY).expect("write the server script");
    let mut child = Command::new("python3")
        .arg(&script)
        .arg(mode)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start python3");
    let stdout = child.stdout.take().expect("stdout is piped");
    let proc = Proc {
        child,
        script: Some(script),
    };
    let port = first_line(stdout, "the server's port");
    let port: u16 = port.trim().parse().expect("the server prints its port");
    (proc, format!("http://127.0.0.1:{port}/events"))
}

/// The first line of `from`, waiting at most [`LIMIT`]. The rest is read
/// and dropped until the pipe closes, so that the writer never meets a
/// closed pipe.
fn first_line(from: impl Read + Send + 'static, what: &str) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let mut reader = BufReader::new(from);
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        let _ = tx.send(line);
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
    });
    rx.recv_timeout(LIMIT)
        .unwrap_or_else(|_| panic!("no line with {what} in time"))
}

/// Starts `resse serve --port 0 ARGS`; returns it with its stream URL.
fn serve(args: &[&str]) -> (Proc, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_resse"))
        .args(["serve", "--port", "0", "-q"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start resse serve");
    let stderr: ChildStderr = child.stderr.take().expect("stderr is piped");
    let proc = Proc {
        child,
        script: None,
    };
    let line = first_line(stderr, "the serving URL");
    let start = line.find("http").expect("a URL on the start-up line");
    let url = line[start..].split_whitespace().next().expect("a URL");
    (proc, url.to_owned())
}

/// How a `resse doctor` run ended.
#[derive(Debug)]
struct Finished {
    status: ExitStatus,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

/// Runs `resse doctor ARGS` to its end (at most [`LIMIT`]).
fn doctor(args: &[&str]) -> Finished {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_resse"))
        .arg("doctor")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start resse doctor");
    let mut out = child.stdout.take().expect("stdout is piped");
    let mut err = child.stderr.take().expect("stderr is piped");
    let stdout = thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let stderr = thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let proc = Proc {
        child,
        script: None,
    };
    let mut proc = proc;
    let status = loop {
        if let Some(status) = proc.child.try_wait().expect("poll resse doctor") {
            break status;
        }
        assert!(
            started.elapsed() < LIMIT,
            "resse doctor did not finish in time"
        );
        thread::sleep(Duration::from_millis(20));
    };
    Finished {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
        elapsed: started.elapsed(),
    }
}

/// The level of every check in a readable report.
fn levels(report: &str) -> BTreeMap<String, String> {
    report
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let level = words.next()?;
            let check = words.next()?;
            ["PASS", "WARN", "FAIL", "SKIP"]
                .contains(&level)
                .then(|| (check.to_owned(), level.to_owned()))
        })
        .collect()
}

/// The line of `check` in a readable report.
fn line_of<'a>(report: &'a str, check: &str) -> &'a str {
    report
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(check))
        .unwrap_or_else(|| panic!("no line for {check}:\n{report}"))
}

/// Every check of the report, in order.
const CHECKS: [&str; 14] = [
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

/// Asserts that the report has every check, at PASS but the `expected`
/// ones (and, for the HTTP/1.0 Python servers, http-version WARN and
/// alpn-h2 SKIP), and the exit status that goes with it.
fn assert_report(run: &Finished, expected: &[(&str, &str)]) {
    let report = &run.stdout;
    let got = levels(report);
    let mut want: BTreeMap<String, String> = CHECKS
        .iter()
        .map(|c| ((*c).to_owned(), "PASS".to_owned()))
        .collect();
    for (check, level) in expected {
        want.insert((*check).to_owned(), (*level).to_owned());
    }
    assert_eq!(got, want, "report:\n{report}\nstderr:\n{}", run.stderr);
    let fails = want.values().any(|l| l == "FAIL");
    assert_eq!(
        run.status.code(),
        Some(i32::from(fails)),
        "report:\n{report}"
    );
    assert!(report.contains("\nsummary: "), "{report}");
    // WARN and FAIL lines say what to do.
    for line in report.lines() {
        if line.starts_with("WARN") || line.starts_with("FAIL") {
            assert!(line.contains(". Fix: "), "no fix in {line:?}");
        }
    }
    // Not a terminal: no progress on stderr.
    assert_eq!(run.stderr, "", "stderr should be quiet");
}

/// What an HTTP/1.0 Python server gets besides its own problem.
const PLAIN_HTTP10: [(&str, &str); 2] = [("http-version", "WARN"), ("alpn-h2", "SKIP")];

fn with_plain(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut all = PLAIN_HTTP10.to_vec();
    all.extend_from_slice(extra);
    all
}

#[test]
fn resse_serve_over_https_passes_every_check_and_finishes_early() {
    let (_server, url) = serve(&[
        "--tls-self-signed",
        "--ticker",
        "300",
        "--retry",
        "1000",
        "--keep-alive",
        "0.1",
    ]);
    assert!(url.starts_with("https://"), "{url}");
    let run = doctor(&[&url, "--insecure", "--duration", "8"]);
    assert_report(&run, &[]);
    assert!(line_of(&run.stdout, "alpn-h2").contains("chose h2"));
    assert!(line_of(&run.stdout, "resumption").contains("matched the stream exactly"));
    // Every check had its evidence before the 8 s were up.
    assert!(run.elapsed < Duration::from_secs(7), "{:?}", run.elapsed);
}

#[test]
fn resse_serve_over_http_json_warns_only_about_http_1_1() {
    let (_server, url) = serve(&["--ticker", "300", "--retry", "1000", "--keep-alive", "0.1"]);
    let run = doctor(&[&url, "--duration", "6", "--json"]);
    assert_eq!(run.status.code(), Some(0), "{run:?}");
    let report: serde_json::Value = serde_json::from_str(&run.stdout).expect("one JSON object");
    assert_eq!(report["ok"], true);
    assert_eq!(report["url"], url.as_str());
    let checks = report["checks"].as_array().expect("checks");
    assert_eq!(checks.len(), CHECKS.len());
    for (check, name) in checks.iter().zip(CHECKS) {
        assert_eq!(check["check"], name);
        let want = match name {
            "http-version" => "warn",
            "alpn-h2" => "skip",
            _ => "pass",
        };
        assert_eq!(check["level"], want, "{check}");
        assert_eq!(check["fix"].is_null(), want != "warn", "{check}");
    }
    assert_eq!(report["summary"]["pass"], 12);
    assert_eq!(report["summary"]["fail"], 0);
}

#[test]
fn gzip_fails_compression_and_the_rest_is_read_uncompressed() {
    let (_server, url) = python("gzip");
    let run = doctor(&[&url, "--duration", "5"]);
    assert_report(&run, &with_plain(&[("compression", "FAIL")]));
    assert!(line_of(&run.stdout, "compression").contains("Content-Encoding: gzip"));
}

#[test]
fn no_ids_warns_and_skips_resumption() {
    let (_server, url) = python("noids");
    let run = doctor(&[&url, "--duration", "5"]);
    assert_report(
        &run,
        &with_plain(&[
            ("ids", "WARN"),
            ("resumption", "SKIP"),
            ("bad-last-event-id", "SKIP"),
        ]),
    );
    assert!(line_of(&run.stdout, "ids").contains("none of"));
}

#[test]
fn no_keep_alive_warns_once_the_silence_passes_the_budget() {
    let (_server, url) = python("nokeepalive");
    // A 2 s idle timeout on the way: the stream must not be silent for 1 s.
    let run = doctor(&[&url, "--duration", "4", "--proxy-timeout", "2"]);
    assert_report(&run, &with_plain(&[("keep-alive", "WARN")]));
    assert!(line_of(&run.stdout, "keep-alive").contains("no keep-alive comment"));
}

#[test]
fn a_buffering_proxy_fails_buffering() {
    let (_server, url) = python("proxy");
    let run = doctor(&[&url, "--duration", "6"]);
    assert_report(&run, &with_plain(&[("buffering", "FAIL")]));
    assert!(line_of(&run.stdout, "buffering").contains("4096 bytes"));
}

#[test]
fn content_length_fails_framing() {
    let (_server, url) = python("length");
    let run = doctor(&[&url, "--duration", "5"]);
    assert_report(&run, &with_plain(&[("framing", "FAIL")]));
    assert!(line_of(&run.stdout, "framing").contains("Content-Length"));
}

#[test]
fn replaying_from_the_wrong_id_fails_resumption() {
    let (_server, url) = python("wrongreplay");
    let run = doctor(&[&url, "--duration", "5"]);
    assert_report(&run, &with_plain(&[("resumption", "FAIL")]));
    assert!(line_of(&run.stdout, "resumption").contains("duplicate"));
}

#[test]
fn server_text_is_escaped_in_the_report() {
    let (_server, url) = python("hostile");
    let run = doctor(&[&url, "--duration", "5"]);
    assert_report(&run, &with_plain(&[]));
    let line = line_of(&run.stdout, "bad-last-event-id");
    assert!(
        line.contains("reset\\u{1b}[2J\\u{1b}]0;owned\\u{7}"),
        "{line}"
    );
    assert!(!run.stdout.contains('\u{1b}'));
}

#[test]
fn bad_urls_are_usage_errors_and_help_lists_every_check() {
    let run = doctor(&["ftp://example.com/"]);
    assert_eq!(run.status.code(), Some(2), "{run:?}");
    assert!(run.stderr.starts_with("resse: "), "{}", run.stderr);
    let run = doctor(&["--help"]);
    assert_eq!(run.status.code(), Some(0));
    for check in CHECKS {
        assert!(
            run.stdout
                .lines()
                .any(|l| l.trim_start().starts_with(check)),
            "--help does not explain {check}"
        );
    }
}

#[test]
fn nothing_listening_fails_status() {
    // A port that was free a moment ago.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let run = doctor(&[
        &format!("http://127.0.0.1:{port}/events"),
        "--duration",
        "3",
    ]);
    assert_eq!(run.status.code(), Some(1), "{run:?}");
    let line = line_of(&run.stdout, "status");
    assert!(
        line.starts_with("FAIL") && line.contains("refused"),
        "{line}"
    );
}
