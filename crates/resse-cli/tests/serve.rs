//! End-to-end tests of `resse serve`: run the built binary on an ephemeral
//! port of 127.0.0.1 (`--port 0`; the start-up line on stderr says which),
//! publish through its stdin, and read the streams back with a raw
//! HTTP/1.1 client on `std::net` and with `resse tail --json`. Every wait is
//! bounded in time and every process started here is stopped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// How long any one wait may take before the test fails.
const LIMIT: Duration = Duration::from_secs(20);

/// A running `resse` process (`serve` or `tail`), killed when dropped.
struct Resse {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
    /// Every stderr line read so far.
    log: Vec<String>,
}

/// Reads `from` line by line into a channel, on a thread of its own.
fn lines(from: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(from).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

impl Resse {
    fn start(args: &[&str], stdin: bool) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_resse"))
            .args(args)
            .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start resse");
        let stdout = lines(child.stdout.take().expect("stdout is piped"));
        let stderr = lines(child.stderr.take().expect("stderr is piped"));
        Self {
            stdin: child.stdin.take(),
            child,
            stdout,
            stderr,
            log: Vec::new(),
        }
    }

    /// Starts `resse serve --port 0 ARGS` and returns it with its address.
    fn serve(args: &[&str]) -> (Self, SocketAddr) {
        let mut all = vec!["serve", "--port", "0"];
        all.extend_from_slice(args);
        let mut serve = Self::start(&all, true);
        let line = serve.wait_for("resse: serving http");
        let rest = &line[line.find("://").expect("a URL") + "://".len()..];
        let addr = rest[..rest.find('/').expect("a path")]
            .parse()
            .expect("the address of the URL");
        (serve, addr)
    }

    /// Writes one line to stdin.
    fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin is piped");
        writeln!(stdin, "{line}").expect("write to resse serve");
        stdin.flush().expect("flush");
    }

    /// Waits for a stderr line containing `needle`.
    fn wait_for(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + LIMIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) => {
                    self.log.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!("no stderr line with {needle:?}; stderr: {:#?}", self.log),
            }
        }
    }

    /// Waits for the next stdout line.
    fn next_line(&mut self) -> String {
        self.stdout
            .recv_timeout(LIMIT)
            .expect("a line of output in time")
    }

    /// Sends `signal` (`TERM`, `INT`) with `kill`.
    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// Waits for the exit (failing after [`LIMIT`]); returns the status and
    /// the whole stderr.
    fn finish(mut self) -> (ExitStatus, Vec<String>) {
        let deadline = Instant::now() + LIMIT;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("poll resse") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "resse did not exit in time; stderr: {:#?}",
                self.log
            );
            thread::sleep(Duration::from_millis(10));
        };
        // The pipe is closed: the reader thread ends and the channel with it.
        while let Ok(line) = self.stderr.recv_timeout(LIMIT) {
            self.log.push(line);
        }
        (status, std::mem::take(&mut self.log))
    }
}

impl Drop for Resse {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A raw HTTP/1.1 request on a new connection; returns the response head
/// and the connection, positioned at the body.
fn request(addr: SocketAddr, head: &str) -> (String, BufReader<TcpStream>) {
    let mut stream = TcpStream::connect(addr).expect("connect to resse serve");
    stream.set_read_timeout(Some(LIMIT)).expect("read timeout");
    write!(stream, "{head}\r\nHost: {addr}\r\n\r\n").expect("send the request");
    let mut reader = BufReader::new(stream);
    let mut response = String::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("read the response head");
        assert!(
            !line.is_empty(),
            "the connection closed in the head: {response:?}"
        );
        if line == "\r\n" {
            return (response, reader);
        }
        response.push_str(&line);
    }
}

/// `GET path` with extra header lines; asserts an event stream answered.
fn stream(addr: SocketAddr, path: &str, headers: &str) -> BufReader<TcpStream> {
    let (head, body) = request(addr, &format!("GET {path} HTTP/1.1{headers}"));
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(
        head.contains("content-type: text/event-stream\r\n"),
        "{head}"
    );
    body
}

/// Reads the body until it ends with `end`; returns all of it.
fn read_until(body: &mut BufReader<TcpStream>, end: &str) -> String {
    let mut text = Vec::new();
    while !text.ends_with(end.as_bytes()) {
        let mut byte = [0u8];
        match body.read(&mut byte) {
            Ok(1) => text.push(byte[0]),
            Ok(_) => panic!(
                "the stream ended before {end:?}: {:?}",
                String::from_utf8_lossy(&text)
            ),
            Err(e) => panic!(
                "reading the stream ({e}) before {end:?}: {:?}",
                String::from_utf8_lossy(&text)
            ),
        }
    }
    String::from_utf8(text).expect("UTF-8")
}

/// Reads the rest of the body: it must end cleanly (EOF, no error).
fn read_to_end(body: &mut BufReader<TcpStream>) -> String {
    let mut rest = String::new();
    body.read_to_string(&mut rest)
        .expect("a clean end of the stream");
    rest
}

/// The assigned-id prefix from an event's `id: PREFIX-N` line.
fn prefix_of(text: &str) -> String {
    let id = text
        .lines()
        .find_map(|l| l.strip_prefix("id: "))
        .expect("an id line");
    id[..=id.rfind('-').expect("an assigned id")].to_owned()
}

#[cfg(unix)]
#[test]
fn publishes_stdin_lines_replays_exactly_and_stops_on_sigterm() {
    let (mut serve, addr) = Resse::serve(&["--retry", "700"]);
    let mut live = stream(addr, "/events", "");
    serve.wait_for("stream opened (new)");

    serve.send("one");
    serve.send(r#"{"event":"price","data":"42","id":"p-1"}"#);
    serve.send(r#"{"data":5}"#);
    serve.send(r#"{"data":"a\nb"}"#);
    serve.send(r#"{"temp":3}"#);
    let refused = serve.wait_for("not published");
    assert_eq!(
        refused,
        r#"resse: stdin line 3 not published: "data" must be a string, not a number"#
    );

    let text = read_until(&mut live, "data: {\"temp\":3}\n\n");
    let p = prefix_of(&text);
    let after_p1 = format!("id: {p}2\ndata: a\ndata: b\n\nid: {p}3\ndata: {{\"temp\":3}}\n\n");
    assert_eq!(
        text,
        format!(
            "retry: 700\n\nid: {p}1\ndata: one\n\nevent: price\nid: p-1\ndata: 42\n\n{after_p1}"
        )
    );

    // A client that saw p-1 gets exactly what came after it.
    let mut resumed = stream(addr, "/events", "\r\nLast-Event-ID: p-1");
    let replay = read_until(&mut resumed, "data: {\"temp\":3}\n\n");
    assert_eq!(replay, format!("retry: 700\n\n{after_p1}"));
    serve.wait_for(r#"stream opened (resumed after "p-1", 2 replayed)"#);
    // ... and from the newest id, nothing but what comes next.
    let mut newest = stream(addr, "/events", &format!("\r\nLast-Event-ID: {p}3"));
    assert_eq!(read_until(&mut newest, "retry: 700\n\n"), "retry: 700\n\n");
    serve.send("after");
    let next = format!("id: {p}4\ndata: after\n\n");
    assert_eq!(read_until(&mut newest, &next), next);
    assert_eq!(read_until(&mut resumed, &next), next);
    assert!(read_until(&mut live, &next).ends_with(&next));

    // End of input: still serving.
    drop(serve.stdin.take());
    serve.wait_for("end of input after 6 lines; still serving");
    let mut late = stream(addr, "/events", "\r\nLast-Event-ID: p-1");
    let late_text = read_until(&mut late, &next);
    assert_eq!(late_text, format!("retry: 700\n\n{after_p1}{next}"));

    // SIGTERM: every open stream ends cleanly, exit status 0.
    serve.signal("TERM");
    for body in [&mut live, &mut resumed, &mut newest, &mut late] {
        assert_eq!(read_to_end(body), "");
    }
    let (status, log) = serve.finish();
    assert!(status.success(), "{status:?} {log:#?}");
    assert!(
        log.iter()
            .any(|l| l == "resse: terminated (SIGTERM): stopping"),
        "{log:#?}"
    );
    let stopped = log
        .iter()
        .filter(|l| l.ends_with("stream closed: the server is stopping"))
        .count();
    assert_eq!(stopped, 4, "{log:#?}");
}

/// Reads what is left of a stream that is cut (not ended cleanly by the
/// server): EOF or a reset, within [`LIMIT`].
fn read_cut(body: &mut BufReader<TcpStream>) -> String {
    let mut rest = Vec::new();
    let _ = body.read_to_end(&mut rest);
    String::from_utf8(rest).expect("UTF-8")
}

#[cfg(unix)]
#[test]
fn sighup_restarts_the_listener_and_keeps_the_replay_log() {
    let (mut serve, addr) = Resse::serve(&["--retry", "1500"]);
    let mut live = stream(addr, "/events", "");
    serve.wait_for("stream opened (new)");
    serve.send("one");
    serve.send("two");
    let text = read_until(&mut live, "data: two\n\n");
    let p = prefix_of(&text);

    // SIGHUP: the listener closes and every connection is dropped ...
    serve.signal("HUP");
    let line = serve.wait_for("SIGHUP: listener closed");
    assert_eq!(
        line,
        "resse: SIGHUP: listener closed; dropping 1 open connection(s); listening again in 1500 ms"
    );
    read_cut(&mut live);
    serve.wait_for("stream closed: the listener is restarting (SIGHUP): connection dropped");
    assert!(
        TcpStream::connect(addr).is_err(),
        "nothing listens during the pause"
    );
    // ... while publishing goes on into the replay log.
    serve.send("three");
    serve.send("four");
    serve.wait_for(&format!("listening again on {addr}"));

    // Same address; the replay log has what was published in between.
    let mut resumed = stream(addr, "/events", &format!("\r\nLast-Event-ID: {p}2"));
    let replay = read_until(&mut resumed, "data: four\n\n");
    assert_eq!(
        replay,
        format!("retry: 1500\n\nid: {p}3\ndata: three\n\nid: {p}4\ndata: four\n\n")
    );
    serve.wait_for(&format!(
        r#"stream opened (resumed after "{p}2", 2 replayed)"#
    ));
    serve.send("five");
    let next = format!("id: {p}5\ndata: five\n\n");
    assert_eq!(read_until(&mut resumed, &next), next);

    // SIGTERM still stops it cleanly.
    serve.signal("TERM");
    assert_eq!(read_to_end(&mut resumed), "");
    let (status, log) = serve.finish();
    assert!(status.success(), "{status:?} {log:#?}");
}

#[cfg(unix)]
#[test]
fn tail_follows_resumes_and_sees_a_clean_end() {
    let (mut serve, addr) = Resse::serve(&["--retry", "100"]);
    serve.send(r#"{"id":"1","data":"a"}"#);
    serve.send(r#"{"id":"2","event":"e","data":"b"}"#);
    // Wait until both are published (a live stream sees the second).
    let mut live = stream(addr, "/events", "\r\nLast-Event-ID: 1");
    read_until(&mut live, "data: b\n\n");

    let url = format!("http://{addr}/events");
    let mut tail = Resse::start(
        &[
            "tail",
            "--json",
            "--last-event-id",
            "1",
            "--max-retries",
            "2",
            &url,
        ],
        false,
    );
    assert_eq!(tail.next_line(), r#"{"event":"e","data":"b","id":"2"}"#);
    serve.wait_for(r#"stream opened (resumed after "1", 1 replayed)"#);
    serve.send("c\u{1b}");
    let line = tail.next_line();
    let value: serde_json::Value = serde_json::from_str(&line).expect("JSON");
    assert_eq!(value["event"], "message");
    assert_eq!(value["data"], "c\u{1b}");
    assert!(
        value["id"].as_str().expect("an id").ends_with("-1"),
        "{line}"
    );

    // The server stops: tail sees a clean end of the stream, not an error.
    serve.signal("TERM");
    let (status, _) = serve.finish();
    assert!(status.success());
    tail.wait_for("reconnecting: stream ended at an event boundary");
    tail.signal("INT");
    let (status, log) = tail.finish();
    assert!(status.success(), "{log:#?}");
}

#[cfg(unix)]
#[test]
fn too_old_and_unknown_ids_get_a_reload_event_then_live_events() {
    let (mut serve, addr) = Resse::serve(&["--replay", "2"]);
    let mut live = stream(addr, "/events", "");
    serve.wait_for("stream opened (new)");
    // The ring of 2 events is also the lag limit: the live client reads
    // each event before the next one.
    for (id, data) in [("1", "a"), ("2", "b"), ("3", "c"), ("4", "d")] {
        serve.send(&format!(r#"{{"id":"{id}","data":"{data}"}}"#));
        read_until(&mut live, &format!("id: {id}\ndata: {data}\n\n"));
    }

    // The log keeps 3 and 4: after 3, exactly 4.
    let mut exact = stream(addr, "/events", "\r\nLast-Event-ID: 3");
    assert_eq!(read_until(&mut exact, "\n\n"), "id: 4\ndata: d\n\n");
    // 1 was evicted: too old.
    let mut old = stream(addr, "/events", "\r\nLast-Event-ID: 1");
    let reload = "event: reload\nid: 4\ndata: {\"last_event_id\":\"1\",\"reason\":\"too-old\"}\n\n";
    assert_eq!(read_until(&mut old, "\n\n"), reload);
    serve.wait_for(r#"Last-Event-ID "1" is older than the replay log"#);
    // Never published: unknown.
    let mut unknown = stream(addr, "/events", "\r\nLast-Event-ID: nope");
    let reload =
        "event: reload\nid: 4\ndata: {\"last_event_id\":\"nope\",\"reason\":\"unknown\"}\n\n";
    assert_eq!(read_until(&mut unknown, "\n\n"), reload);
    serve.wait_for(r#"Last-Event-ID "nope" is unknown"#);
    // Then live events, and the reload's id resumes exactly.
    serve.send(r#"{"id":"5","data":"e"}"#);
    for body in [&mut exact, &mut old, &mut unknown] {
        assert_eq!(read_until(body, "\n\n"), "id: 5\ndata: e\n\n");
    }
    let mut from_reload = stream(addr, "/events", "\r\nLast-Event-ID: 4");
    assert_eq!(read_until(&mut from_reload, "\n\n"), "id: 5\ndata: e\n\n");
    // A duplicate id is refused, and the server goes on.
    serve.send(r#"{"id":"5","data":"again"}"#);
    let refused = serve.wait_for("not published");
    assert!(
        refused.starts_with("resse: stdin line 6 not published: "),
        "{refused}"
    );
    assert!(refused.contains("\"5\""), "{refused}");
    serve.send(r#"{"id":"6","data":"f"}"#);
    let text = read_until(&mut live, "id: 6\ndata: f\n\n");
    assert!(
        text.ends_with("id: 5\ndata: e\n\nid: 6\ndata: f\n\n"),
        "{text:?}"
    );
}

#[cfg(unix)]
#[test]
fn the_page_and_other_paths() {
    let (serve, addr) = Resse::serve(&["--path", "/s", "--retry", "1234", "-q"]);
    let (head, mut body) = request(addr, "GET / HTTP/1.1");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(
        head.contains("content-type: text/html; charset=utf-8\r\n"),
        "{head}"
    );
    let page = read_to_end(&mut body);
    assert!(page.starts_with("<!doctype html>"));
    assert!(
        page.contains(r#"data-path="/s" data-retry="1234""#),
        "templated"
    );
    assert!(page.contains("new EventSource(streamUrl())"));
    assert!(page.contains("/probe"), "the page probes its stream");
    assert!(page.contains("prefers-color-scheme: dark"));
    assert!(!page.contains("innerHTML"));
    assert!(!page.contains("{{"), "every placeholder is filled");
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "no external assets"
    );

    let (head, mut body) = request(addr, "HEAD / HTTP/1.1");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert_eq!(read_to_end(&mut body), "");
    let (head, _) = request(addr, "GET /events HTTP/1.1");
    assert!(head.starts_with("HTTP/1.1 404 Not Found\r\n"), "{head}");
    let (head, _) = request(addr, "POST /s HTTP/1.1");
    assert!(
        head.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"),
        "{head}"
    );
    assert!(head.contains("allow: GET, HEAD\r\n"), "{head}");
    let mut events = stream(addr, "/s", "");
    assert_eq!(read_until(&mut events, "\n\n"), "retry: 1234\n\n");

    // -q: no connection lines, only start and stop.
    serve.signal("INT");
    assert_eq!(read_to_end(&mut events), "");
    let (status, log) = serve.finish();
    assert!(status.success());
    assert_eq!(log.len(), 2, "{log:#?}");
    assert_eq!(log[1], "resse: interrupted: stopping");
}

#[cfg(unix)]
#[test]
fn ticker_publishes_counter_events_with_keep_alives() {
    let (serve, addr) = Resse::serve(&["--ticker", "50", "--keep-alive", "0.02"]);
    let mut body = stream(addr, "/events", "");
    // Collect a few ticks: counter data in order, type `tick`.
    let mut ticks = Vec::new();
    let mut comments = 0;
    let deadline = Instant::now() + LIMIT;
    while ticks.len() < 3 && Instant::now() < deadline {
        let block = read_until(&mut body, "\n");
        if block.starts_with(':') {
            comments += 1;
        } else if let Some(data) = block.strip_prefix("data: ") {
            ticks.push(data.trim_end().parse::<u64>().expect("a counter"));
        } else {
            assert!(
                block == "\n" || block == "event: tick\n" || block.starts_with("id: "),
                "{block:?}"
            );
        }
    }
    assert_eq!(ticks.len(), 3);
    assert!(ticks.windows(2).all(|w| w[1] == w[0] + 1), "{ticks:?}");
    assert!(comments > 0, "keep-alive comments between ticks");
    serve.signal("TERM");
    let (status, _) = serve.finish();
    assert!(status.success());
}

#[test]
fn a_port_in_use_fails_with_status_1() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("address").port().to_string();
    let serve = Resse::start(&["serve", "--port", &port], true);
    let (status, log) = serve.finish();
    assert_eq!(status.code(), Some(1), "{log:#?}");
    assert!(
        log[0].starts_with(&format!("resse: cannot listen on 127.0.0.1:{port}: ")),
        "{log:#?}"
    );
}

#[test]
fn bad_arguments_fail_with_status_2() {
    for args in [
        &["serve", "--path", "events"][..],
        &["serve", "--path", "/"],
        &["serve", "--ticker", "0"],
        &["serve", "--bind", "localhost:80"],
    ] {
        let (status, log) = Resse::start(args, false).finish();
        assert_eq!(status.code(), Some(2), "{args:?}: {log:#?}");
    }
}

/// A TLS client in Python's standard library: connects offering `ALPN`
/// (comma-separated), prints the protocol chosen and the SHA-256 of the
/// server's certificate, then (over HTTP/1.1) sends a GET of `PATH` with
/// `Last-Event-ID: 1` and prints the response until `END` is in it.
const TLS_CLIENT_PY: &str = r#"
import hashlib, socket, ssl, sys
port, alpn, path, end = int(sys.argv[1]), sys.argv[2].split(","), sys.argv[3], sys.argv[4]
context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
context.set_alpn_protocols(alpn)
with socket.create_connection(("127.0.0.1", port), timeout=20) as tcp:
    with context.wrap_socket(tcp, server_hostname="localhost") as tls:
        print(tls.selected_alpn_protocol())
        print(hashlib.sha256(tls.getpeercert(binary_form=True)).hexdigest())
        if path != "-":
            tls.sendall(("GET %s HTTP/1.1\r\nHost: localhost\r\nLast-Event-ID: 1\r\n\r\n" % path).encode())
            got = b""
            while end.encode() not in got:
                chunk = tls.recv(4096)
                if not chunk:
                    break
                got += chunk
            sys.stdout.write(got.decode())
"#;

/// Runs [`TLS_CLIENT_PY`]; returns (ALPN protocol, certificate SHA-256 in
/// the server's notation, the response).
fn tls_client(addr: SocketAddr, alpn: &str, path: &str, end: &str) -> (String, String, String) {
    let mut child = Command::new("python3")
        .args([
            "-c",
            TLS_CLIENT_PY,
            &addr.port().to_string(),
            alpn,
            path,
            end,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start python3");
    let out = lines(child.stdout.take().expect("stdout is piped"));
    let deadline = Instant::now() + LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll python3") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the TLS client did not finish in time");
        }
        thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success());
    let all: Vec<String> = out.iter().collect();
    let fingerprint = all[1]
        .as_bytes()
        .chunks(2)
        .map(|pair| std::str::from_utf8(pair).expect("hex").to_ascii_uppercase())
        .collect::<Vec<_>>()
        .join(":");
    let response = all[2..].join("\n");
    (all[0].clone(), fingerprint, response)
}

/// The fingerprint in a `resse: TLS: ...` line.
fn fingerprint_of(line: &str) -> String {
    let start = line.find("fingerprint ").expect("a fingerprint") + "fingerprint ".len();
    line[start..].trim_end_matches(')').to_owned()
}

#[cfg(unix)]
#[test]
fn tls_self_signed_speaks_h2_and_http11_and_stops_cleanly() {
    let (mut serve, addr) = Resse::serve(&["--tls-self-signed", "--retry", "100"]);
    let tls_line =
        serve.wait_for("resse: TLS: self-signed certificate for localhost, 127.0.0.1, ::1");
    let fingerprint = fingerprint_of(&tls_line);
    assert_eq!(fingerprint.len(), 95, "{tls_line}");
    serve.send(r#"{"id":"1","data":"a"}"#);
    serve.send(r#"{"id":"2","data":"b"}"#);

    // HTTP/2 is offered and chosen; the certificate is the one announced.
    let (alpn, seen, _) = tls_client(addr, "h2,http/1.1", "-", "");
    assert_eq!(alpn, "h2");
    assert_eq!(seen, fingerprint);
    // HTTP/1.1 when the client offers only that: an exact replay.
    let (alpn, _, response) = tls_client(addr, "http/1.1", "/events", "data: b");
    assert_eq!(alpn, "http/1.1");
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    assert!(
        response.contains("content-type: text/event-stream"),
        "{response}"
    );
    assert!(
        response.contains("retry: 100\n\nid: 2\ndata: b"),
        "{response}"
    );
    // `resse tail` over HTTP/2, resuming after 1.
    let url = format!("https://127.0.0.1:{}/events", addr.port());
    let mut tail = Resse::start(
        &[
            "tail",
            "--json",
            "--insecure",
            "--last-event-id",
            "1",
            "--max-retries",
            "1",
            &url,
        ],
        false,
    );
    assert_eq!(
        tail.next_line(),
        r#"{"event":"message","data":"b","id":"2"}"#
    );
    tail.wait_for("resse: connected (HTTP/2.0)");
    serve.wait_for(r#"stream opened (resumed after "1", 1 replayed) [HTTP/2.0]"#);

    // SIGTERM: the HTTP/2 stream ends cleanly, exit status 0.
    serve.signal("TERM");
    let (status, log) = serve.finish();
    assert!(status.success(), "{log:#?}");
    assert!(
        log.iter()
            .any(|l| l.ends_with("stream closed: the server is stopping")),
        "{log:#?}"
    );
    tail.wait_for("reconnecting: stream ended at an event boundary");
    tail.signal("INT");
    let (status, _) = tail.finish();
    assert!(status.success());
}

#[cfg(unix)]
#[test]
fn tls_from_pem_files() {
    let dir = std::env::temp_dir().join(format!("resse-serve-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let generated =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("a certificate");
    let (cert, key, bad) = (
        dir.join("cert.pem"),
        dir.join("key.pem"),
        dir.join("bad.pem"),
    );
    std::fs::write(&cert, generated.cert.pem()).expect("write the certificate");
    std::fs::write(&key, generated.signing_key.serialize_pem()).expect("write the key");
    std::fs::write(&bad, "not a key\n").expect("write a bad key");
    let (cert, key, bad) = (
        cert.to_str().expect("UTF-8 path").to_owned(),
        key.to_str().expect("UTF-8 path").to_owned(),
        bad.to_str().expect("UTF-8 path").to_owned(),
    );

    let (mut serve, addr) = Resse::serve(&["--tls-cert", &cert, "--tls-key", &key, "-q"]);
    let tls_line = serve.wait_for("resse: TLS: certificate from ");
    let (alpn, seen, response) = tls_client(addr, "http/1.1", "/", "</html>");
    assert_eq!(alpn, "http/1.1");
    assert_eq!(seen, fingerprint_of(&tls_line));
    assert!(
        response.contains("content-type: text/html; charset=utf-8"),
        "{response}"
    );
    serve.signal("TERM");
    assert!(serve.finish().0.success());

    // A file without a key: status 1, before listening.
    let (status, log) = Resse::start(
        &[
            "serve",
            "--port",
            "0",
            "--tls-cert",
            &cert,
            "--tls-key",
            &bad,
        ],
        false,
    )
    .finish();
    assert_eq!(status.code(), Some(1), "{log:#?}");
    assert!(
        log[0].starts_with(&format!("resse: TLS: {bad}: ")),
        "{log:#?}"
    );
    // A certificate without its key, or both kinds of TLS: bad arguments.
    for args in [
        &["serve", "--tls-cert", &cert][..],
        &[
            "serve",
            "--tls-self-signed",
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
        ],
    ] {
        let (status, log) = Resse::start(args, false).finish();
        assert_eq!(status.code(), Some(2), "{args:?}: {log:#?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(unix)]
#[test]
fn a_connection_without_a_request_neither_logs_nor_delays_the_stop() {
    let (mut serve, addr) = Resse::serve(&[]);
    // A browser's preconnection: a socket that sends nothing (yet).
    let mut idle = TcpStream::connect(addr).expect("connect");
    idle.set_read_timeout(Some(LIMIT)).expect("read timeout");
    // A request after it shows that the server has accepted both.
    let (head, _) = request(addr, "GET /nothing HTTP/1.1");
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
    serve.wait_for("GET /nothing: 404");
    let stopping = Instant::now();
    serve.signal("TERM");
    let mut rest = Vec::new();
    assert_eq!(idle.read_to_end(&mut rest).expect("a closed connection"), 0);
    let (status, log) = serve.finish();
    assert!(status.success());
    assert!(
        stopping.elapsed() < Duration::from_secs(3),
        "{:?}",
        stopping.elapsed()
    );
    assert_eq!(log.len(), 3, "{log:#?}");
    assert_eq!(log[2], "resse: terminated (SIGTERM): stopping");
}

/// `resse tail --probe-interval` asks `resse serve` for a pong on its own
/// stream (found by `?client=`), and the pong is not printed as an event.
#[test]
fn tail_probes_the_stream_it_follows() {
    let (mut serve, addr) = Resse::serve(&[]);
    let url = format!("http://{addr}/events?client=probed");
    let mut tail = Resse::start(
        &[
            "tail",
            "--json",
            "--probe-interval",
            "0.3",
            "--probe-timeout",
            "2",
            &url,
        ],
        false,
    );
    serve.wait_for(r#"stream opened (new; client "probed")"#);
    // Two probes answered: the first is not a fluke of timing.
    serve.wait_for("/events/probe: 204 (probe answered)");
    serve.wait_for("/events/probe: 204 (probe answered)");
    serve.send("after the probes");
    // The first line tail prints is the event: the pongs were consumed.
    let line = tail.next_line();
    let value: serde_json::Value = serde_json::from_str(&line).expect("JSON");
    assert_eq!(value["event"], "message", "{line}");
    assert_eq!(value["data"], "after the probes", "{line}");
    drop(tail);
    serve.signal("TERM");
    let (status, log) = serve.finish();
    assert!(status.success(), "{log:#?}");
    assert!(
        !log.iter().any(|l| l.contains("probe: 4")),
        "no probe was refused: {log:#?}"
    );
}
