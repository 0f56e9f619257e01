//! End-to-end tests of `resse serve` in a real browser: headless Chromium,
//! driven over the DevTools protocol (a websocket, JSON commands), runs the
//! live page and `EventSource`s against the built binary on an ephemeral
//! port of 127.0.0.1.
//!
//! - The live page follows a listener restart (SIGHUP) and shows every
//!   event exactly once and in order, with one reconnect; a screenshot of
//!   it goes to `target/resse-browser/page.png`.
//! - Over HTTPS (HTTP/2), ten `EventSource`s on one page all get every
//!   event: HTTP/2 multiplexes them on one connection.
//! - Over plain HTTP/1.1 the browser opens at most six connections per
//!   origin, and an event stream holds its connection for good: the
//!   seventh to tenth `EventSource`s stall, until one of the six closes.
//!
//! Chromium is found as `$RESSE_CHROMIUM`, or `chromium`, `chromium-browser`,
//! `google-chrome` or `google-chrome-stable` in `PATH`. Without it these
//! tests pass after printing a line that says they were not run, unless
//! `RESSE_BROWSER_TEST=require` (then they fail); `RESSE_BROWSER_TEST=skip`
//! skips them even with Chromium. Every wait is bounded in time, every
//! process started here is stopped (Chromium with its whole process group)
//! and its temporary profile directory removed. Unix only (process groups,
//! signals).

#![cfg(unix)]

use std::cell::Cell;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard, mpsc};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde_json::{Value, json};
use tungstenite::{Message, WebSocket};

/// How long any one wait may take before the test fails.
const LIMIT: Duration = Duration::from_secs(15);

/// How long a whole test may take (its waits stop there).
const TEST_LIMIT: Duration = Duration::from_secs(45);

/// One browser at a time: the machine may have few cores.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

thread_local! {
    /// When the running test must be done (each test has its own thread).
    static TEST_END: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// When a wait that starts now must end: [`LIMIT`] from now, or the end
/// of the test if that comes first.
fn deadline() -> Instant {
    let wait = Instant::now() + LIMIT;
    TEST_END.get().map_or(wait, |end| wait.min(end))
}

/// Starts a browser test: Chromium (or `None`: not run, see
/// [`chromium_or_skip`]), and the lock that runs one at a time.
fn begin(test: &str) -> Option<(PathBuf, MutexGuard<'static, ()>)> {
    let chromium = chromium_or_skip(test)?;
    let one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    TEST_END.set(Some(Instant::now() + TEST_LIMIT));
    Some((chromium, one))
}

/// A line for whoever runs the tests, past the test harness's capture of
/// `print!` (so it shows on a passing run too).
fn say(line: &str) {
    let mut stderr = std::io::stderr();
    let _ = writeln!(stderr, "{line}");
}

/// Chromium's executable, if there is one.
fn find_chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("RESSE_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let dirs = std::env::var_os("PATH")?;
    [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ]
    .iter()
    .flat_map(|name| std::env::split_paths(&dirs).map(move |dir| dir.join(name)))
    .find(|path| path.is_file())
}

/// Chromium, or `None` (with a line saying why the test is not run).
/// Panics without Chromium when `RESSE_BROWSER_TEST=require`.
fn chromium_or_skip(test: &str) -> Option<PathBuf> {
    let mode = std::env::var("RESSE_BROWSER_TEST").unwrap_or_default();
    if mode == "skip" {
        say(&format!(
            "browser test {test}: NOT RUN (RESSE_BROWSER_TEST=skip)"
        ));
        return None;
    }
    let found = find_chromium();
    if found.is_none() {
        let why = "no Chromium found (looked for $RESSE_CHROMIUM, then chromium, \
                   chromium-browser, google-chrome, google-chrome-stable in PATH)";
        assert!(
            mode != "require",
            "browser test {test}: {why}, and RESSE_BROWSER_TEST=require"
        );
        say(&format!(
            "browser test {test}: NOT RUN: {why}; install Chromium to run it \
             (RESSE_BROWSER_TEST=require makes this a failure)"
        ));
    }
    found
}

/// The target directory (the binary is `TARGET/PROFILE/resse`).
fn target_dir() -> PathBuf {
    let exe = Path::new(env!("CARGO_BIN_EXE_resse"));
    exe.parent()
        .and_then(Path::parent)
        .expect("the binary is in TARGET/PROFILE/")
        .to_owned()
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

/// A running `resse serve`, killed when dropped.
struct Serve {
    child: Child,
    stdin: ChildStdin,
    stderr: mpsc::Receiver<String>,
    /// Every stderr line read so far.
    log: Vec<String>,
    addr: SocketAddr,
}

impl Serve {
    /// Starts `resse serve --port 0 ARGS` and waits for its address.
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_resse"))
            .args(["serve", "--port", "0"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start resse serve");
        let stderr = lines(child.stderr.take().expect("stderr is piped"));
        let stdin = child.stdin.take().expect("stdin is piped");
        let mut serve = Self {
            child,
            stdin,
            stderr,
            log: Vec::new(),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        let line = serve.wait_for("resse: serving http");
        let rest = &line[line.find("://").expect("a URL") + "://".len()..];
        serve.addr = rest[..rest.find('/').expect("a path")]
            .parse()
            .expect("the address of the URL");
        serve
    }

    /// Publishes one line.
    fn send(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("write to resse serve");
        self.stdin.flush().expect("flush");
    }

    /// Waits for a stderr line containing `needle`.
    fn wait_for(&mut self, needle: &str) -> String {
        let deadline = deadline();
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

    /// Takes the stderr lines written so far (without waiting).
    fn drain(&mut self) -> &[String] {
        while let Ok(line) = self.stderr.try_recv() {
            self.log.push(line);
        }
        &self.log
    }

    /// Sends `signal` (`TERM`, `HUP`) with `kill`.
    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// Stops it with SIGTERM; it must exit with status 0 in time.
    fn stop(mut self) {
        self.signal("TERM");
        let deadline = deadline();
        loop {
            if let Some(status) = self.child.try_wait().expect("poll resse") {
                assert!(status.success(), "{status:?}; stderr: {:#?}", self.drain());
                return;
            }
            assert!(
                Instant::now() < deadline,
                "resse serve did not stop in time"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Headless Chromium with one page, driven over the DevTools protocol.
/// Dropping it kills its process group and removes its profile.
struct Browser {
    child: Child,
    profile: PathBuf,
    ws: WebSocket<TcpStream>,
    /// The page's session (flat mode: its commands carry this id).
    session: String,
    next_id: u64,
    /// The protocol events received so far (with their session's).
    events: Vec<Value>,
}

impl Browser {
    fn start(chromium: &Path, extra: &[&str]) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let profile = std::env::temp_dir().join(format!(
            "resse-browser-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir(&profile).expect("create the temporary profile directory");
        let child = Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--no-first-run",
                "--no-default-browser-check",
                "--window-size=1000,1100",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(extra)
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, so that every process it starts can
            // be killed with it.
            .process_group(0)
            .spawn();
        let mut child = match child {
            Ok(child) => child,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&profile);
                panic!("cannot start {}: {e}", chromium.display());
            }
        };
        // Chromium writes the port it chose, then the browser's path.
        let port_file = profile.join("DevToolsActivePort");
        let deadline = deadline();
        let (port, path) = loop {
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                let mut parts = text.lines();
                if let (Some(port), Some(path)) = (parts.next(), parts.next()) {
                    if let Ok(port) = port.parse::<u16>() {
                        break (port, path.to_owned());
                    }
                }
            }
            let exited = child.try_wait().ok().flatten();
            if exited.is_some() || Instant::now() > deadline {
                kill_group(&mut child);
                let _ = std::fs::remove_dir_all(&profile);
                panic!("Chromium did not open its DevTools port (exit: {exited:?})");
            }
            thread::sleep(Duration::from_millis(50));
        };
        let connected = TcpStream::connect(("127.0.0.1", port))
            .map_err(|e| e.to_string())
            .and_then(|stream| {
                stream
                    .set_read_timeout(Some(LIMIT))
                    .map_err(|e| e.to_string())?;
                tungstenite::client(format!("ws://127.0.0.1:{port}{path}"), stream)
                    .map_err(|e| e.to_string())
            });
        let ws = match connected {
            Ok((ws, _)) => ws,
            Err(e) => {
                kill_group(&mut child);
                let _ = std::fs::remove_dir_all(&profile);
                panic!("cannot connect to Chromium's DevTools: {e}");
            }
        };
        let mut browser = Self {
            child,
            profile,
            ws,
            session: String::new(),
            next_id: 0,
            events: Vec::new(),
        };
        let target = browser.command(None, "Target.createTarget", json!({"url": "about:blank"}));
        let target_id = target["targetId"].as_str().expect("a target id").to_owned();
        let attached = browser.command(
            None,
            "Target.attachToTarget",
            json!({"targetId": target_id, "flatten": true}),
        );
        browser.session = attached["sessionId"]
            .as_str()
            .expect("a session id")
            .to_owned();
        browser.call("Page.enable", json!({}));
        browser
    }

    /// Sends a command (to the page's session, or the browser's) and
    /// returns its result, keeping the events received meanwhile.
    fn command(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        self.ws
            .send(Message::text(message.to_string()))
            .unwrap_or_else(|e| panic!("sending {method}: {e}"));
        let deadline = deadline();
        loop {
            assert!(Instant::now() < deadline, "no answer to {method} in time");
            let message = self
                .ws
                .read()
                .unwrap_or_else(|e| panic!("waiting for the answer to {method}: {e}"));
            let Message::Text(text) = message else {
                continue;
            };
            let value: Value = serde_json::from_str(&text).expect("JSON from DevTools");
            if value["id"] == json!(id) {
                if let Some(error) = value.get("error") {
                    panic!("{method} failed: {error}");
                }
                return value["result"].clone();
            }
            if value.get("method").is_some() {
                self.events.push(value);
            }
        }
    }

    /// A command to the page.
    fn call(&mut self, method: &str, params: Value) -> Value {
        let session = self.session.clone();
        self.command(Some(&session), method, params)
    }

    /// Evaluates `expression` in the page (awaiting a promise) and returns
    /// its value.
    fn eval(&mut self, expression: &str) -> Value {
        let result = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
        );
        if let Some(exception) = result.get("exceptionDetails") {
            panic!("{expression}: {exception}");
        }
        result["result"]["value"].clone()
    }

    /// Evaluates `expression` until it is true; returns how long it took.
    fn wait_until(&mut self, expression: &str) -> Duration {
        let start = Instant::now();
        let deadline = deadline();
        loop {
            if self.eval(expression) == json!(true) {
                return start.elapsed();
            }
            assert!(
                Instant::now() < deadline,
                "not true in time ({:?}): {expression}",
                start.elapsed()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Opens `url` and waits until it has loaded.
    fn open(&mut self, url: &str) {
        let navigated = self.call("Page.navigate", json!({"url": url}));
        assert!(
            navigated.get("errorText").is_none(),
            "opening {url}: {navigated}"
        );
        self.wait_until(&format!(
            "location.href === {} && document.readyState === 'complete'",
            json!(url)
        ));
    }

    /// Writes a PNG screenshot of the page to `path`.
    fn screenshot(&mut self, path: &Path) {
        let shot = self.call("Page.captureScreenshot", json!({"format": "png"}));
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("screenshot data"))
            .expect("base64 PNG");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("create the screenshot directory");
        }
        std::fs::write(path, png).expect("write the screenshot");
    }
}

/// Kills `child`'s whole process group, reaps `child`, and waits (a few
/// seconds at most) until no process of the group is left.
fn kill_group(child: &mut Child) {
    let group = format!("-{}", child.id());
    let kill = |signal: &str| {
        Command::new("kill")
            .args([signal, "--", &group])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    };
    kill("-KILL");
    let _ = child.kill();
    let _ = child.wait();
    let deadline = Instant::now() + Duration::from_secs(5);
    while kill("-0") && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.ws.close(None);
        kill_group(&mut self.child);
        // Killed processes may still be going away for a moment.
        for _ in 0..50 {
            if std::fs::remove_dir_all(&self.profile).is_ok() || !self.profile.exists() {
                break;
            }
            thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The page's event list, oldest first: (type, "id ..." or "no id", data).
const SHOWN_EVENTS: &str = "Array.from(document.querySelectorAll('#events li.event')).reverse()
    .map(li => [li.querySelector('.type').textContent, li.querySelector('.meta .mono').textContent,
                li.querySelector('.data').textContent])";

/// The text of the element with id `id`.
fn text_of(id: &str) -> String {
    format!("document.getElementById({}).textContent", json!(id))
}

#[test]
fn the_page_follows_a_listener_restart_with_every_event_once_and_in_order() {
    let test = "the_page_follows_a_listener_restart_with_every_event_once_and_in_order";
    let Some((chromium, _one)) = begin(test) else {
        return;
    };
    let started = Instant::now();
    let mut serve = Serve::start(&["--retry", "300"]);
    let mut browser = Browser::start(&chromium, &[]);
    let page = format!("http://{}/", serve.addr);
    browser.open(&page);
    browser.wait_until(&format!("{} === 'open'", text_of("state-text")));
    serve.wait_for("stream opened (new; client \"page-");

    for n in 1..=5 {
        serve.send(&format!("event {n}"));
    }
    browser.wait_until(&format!("{} === '5'", text_of("count")));
    let first_id = browser.eval(&format!("{SHOWN_EVENTS}[0][1]"));
    let first_id = first_id.as_str().expect("an id").to_owned();
    let prefix = first_id
        .strip_prefix("id ")
        .and_then(|id| id.strip_suffix('1'))
        .unwrap_or_else(|| panic!("an assigned id: {first_id:?}"))
        .to_owned();

    // The listener restarts: the page's connection is dropped, the page
    // says it is reconnecting, and events go on being published into the
    // replay log meanwhile.
    serve.signal("HUP");
    let restart = serve.wait_for("SIGHUP: listener closed; dropping ");
    assert!(
        restart.ends_with("; listening again in 300 ms"),
        "{restart}"
    );
    for n in 6..=8 {
        serve.send(&format!("event {n}"));
    }
    browser.wait_until(&format!(
        "{} === 'reconnecting' || {} === '1'",
        text_of("state-text"),
        text_of("reconnects")
    ));
    serve.wait_for(&format!("listening again on {}", serve.addr));
    let resumed = serve.wait_for(&format!("stream opened (resumed after \"{prefix}5\""));
    browser.wait_until(&format!(
        "{} === '1' && {} === 'open'",
        text_of("reconnects"),
        text_of("state-text")
    ));
    for n in 9..=10 {
        serve.send(&format!("event {n}"));
    }
    browser.wait_until(&format!("{} === '10'", text_of("count")));
    // Nothing more arrives late (a duplicate would).
    thread::sleep(Duration::from_millis(300));

    let shown = browser.eval(SHOWN_EVENTS);
    let expected: Vec<Value> = (1..=10)
        .map(|n| json!(["message", format!("id {prefix}{n}"), format!("event {n}")]))
        .collect();
    assert_eq!(
        shown,
        json!(expected),
        "the events on the page, oldest first"
    );
    assert_eq!(browser.eval(&text_of("count")), json!("10"));
    assert_eq!(browser.eval(&text_of("reconnects")), json!("1"));
    assert_eq!(
        browser.eval(&text_of("last-id")),
        json!(format!("{prefix}10"))
    );
    assert_eq!(
        browser.eval("document.getElementById('notice').hidden"),
        json!(true),
        "no reload notice: nothing was missed"
    );

    // The page's liveness probe: a fetch asks for a pong carrying a nonce,
    // and it arrives on the page's own stream (found by its ?client= id).
    browser.eval("window.resseProbeNow()");
    browser.wait_until(&format!("{}.startsWith('answered in')", text_of("probe")));
    serve.wait_for("/events/probe: 204 (probe answered)");
    assert_eq!(
        browser.eval(&text_of("count")),
        json!("10"),
        "the pong is not shown as an event"
    );

    let png = target_dir().join("resse-browser").join("page.png");
    browser.screenshot(&png);
    say(&format!(
        "browser test {test}: ok in {:.1}s ({}); screenshot: {}",
        started.elapsed().as_secs_f64(),
        resumed.trim_start_matches("resse: "),
        png.display()
    ));
    drop(browser);
    serve.stop();
}

/// Opens `n` `EventSource`s on `path` in the page; `window.opened[i]` and
/// `window.got[i]` count each one's opens and `message` events.
fn open_sources(browser: &mut Browser, n: usize, path: &str) {
    browser.eval(&format!(
        "window.sources = []; window.opened = []; window.got = [];
         for (let i = 0; i < {n}; i++) {{
           const source = new EventSource({});
           opened.push(0); got.push(0);
           source.onopen = () => {{ opened[i] += 1; }};
           source.onmessage = () => {{ got[i] += 1; }};
           sources.push(source);
         }}
         true",
        json!(path)
    ));
}

#[test]
fn ten_event_sources_on_one_page_all_stream_over_http2() {
    let test = "ten_event_sources_on_one_page_all_stream_over_http2";
    let Some((chromium, _one)) = begin(test) else {
        return;
    };
    let started = Instant::now();
    let mut serve = Serve::start(&["--tls-self-signed", "--retry", "300"]);
    // The certificate is self-signed: accepted in this test's browser only.
    let mut browser = Browser::start(&chromium, &["--ignore-certificate-errors"]);
    browser.call("Network.enable", json!({}));
    let page = format!("https://{}/", serve.addr);
    browser.open(&page);
    // The page follows the stream itself (one stream); ten more on top.
    browser.wait_until(&format!("{} === 'open'", text_of("state-text")));
    open_sources(&mut browser, 10, "/events");
    browser.wait_until("opened.every(n => n === 1)");
    for n in 1..=3 {
        serve.send(&format!("event {n}"));
    }
    browser.wait_until("got.every(n => n === 3)");

    // HTTP/2: the page came over h2, and so did every stream's response,
    // all on one connection.
    assert_eq!(
        browser.eval("performance.getEntriesByType('navigation')[0].nextHopProtocol"),
        json!("h2")
    );
    let streams: Vec<&Value> = browser
        .events
        .iter()
        .filter(|e| e["method"] == "Network.responseReceived")
        .map(|e| &e["params"]["response"])
        .filter(|r| {
            r["url"].as_str().is_some_and(|u| {
                let path = u.split('?').next().unwrap_or(u);
                path.ends_with("/events")
            })
        })
        .collect();
    assert_eq!(streams.len(), 11, "the page's stream and ten more");
    for response in &streams {
        assert_eq!(response["protocol"], "h2", "{response}");
        assert_eq!(response["status"], 200, "{response}");
    }
    let mut connections: Vec<String> = streams
        .iter()
        .map(|r| r["connectionId"].to_string())
        .collect();
    connections.sort();
    connections.dedup();
    assert_eq!(
        connections.len(),
        1,
        "one HTTP/2 connection: {connections:?}"
    );
    let h2_streams = serve
        .drain()
        .iter()
        .filter(|l| l.contains("stream opened (new") && l.ends_with("[HTTP/2.0]"))
        .count();
    assert_eq!(h2_streams, 11, "{:#?}", serve.log);
    say(&format!(
        "browser test {test}: ok in {:.1}s: 11 event streams over h2 on {} connection",
        started.elapsed().as_secs_f64(),
        connections.len()
    ));
    drop(browser);
    serve.stop();
}

#[test]
fn over_http11_the_seventh_event_source_stalls() {
    let test = "over_http11_the_seventh_event_source_stalls";
    let Some((chromium, _one)) = begin(test) else {
        return;
    };
    let started = Instant::now();
    let mut serve = Serve::start(&["--retry", "300"]);
    let mut browser = Browser::start(&chromium, &[]);
    // A page of the origin that opens no stream of its own.
    let page = format!("http://{}/not-the-page", serve.addr);
    browser.open(&page);
    open_sources(&mut browser, 10, "/events");
    // Six connections per origin (HTTP/1.1): six streams open, and the
    // other four wait for a connection that none of the six gives back.
    browser.wait_until("opened.filter(n => n === 1).length === 6");
    for n in 1..=2 {
        serve.send(&format!("event {n}"));
    }
    browser.wait_until("got.filter(n => n === 2).length === 6");
    thread::sleep(Duration::from_secs(2));
    assert_eq!(
        browser.eval("[opened.filter(n => n > 0).length, got.filter(n => n > 0).length]"),
        json!([6, 6]),
        "the 7th to 10th EventSource got nothing in 2 s"
    );
    assert_eq!(
        browser.eval("sources.filter(s => s.readyState === EventSource.CONNECTING).length"),
        json!(4)
    );
    // Closing one of the six frees its connection for one that waited.
    browser.eval("sources[opened.indexOf(1)].close(); true");
    browser.wait_until("opened.filter(n => n > 0).length === 7");
    let opened = serve
        .drain()
        .iter()
        .filter(|l| l.ends_with("stream opened (new)"))
        .count();
    assert_eq!(opened, 7, "{:#?}", serve.log);
    say(&format!(
        "browser test {test}: ok in {:.1}s: 6 of 10 streams over HTTP/1.1, the 7th once one closed",
        started.elapsed().as_secs_f64()
    ));
    drop(browser);
    serve.stop();
}
