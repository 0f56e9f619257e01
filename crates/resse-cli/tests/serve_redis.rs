//! `resse serve --redis`: two processes over one real redis-server (started
//! here on 127.0.0.1, stopped by pid) form one service.

#![cfg(unix)]

#[path = "support/redis.rs"]
mod redis;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use redis::{Redis, free_port};

struct Serve {
    child: Child,
    stderr: mpsc::Receiver<String>,
}

impl Serve {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_resse"))
            .arg("serve")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start resse");
        let (tx, stderr) = mpsc::channel();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Self { child, stderr }
    }

    fn wait_for(&self, needle: &str) -> String {
        loop {
            let line = self
                .stderr
                .recv_timeout(Duration::from_secs(15))
                .unwrap_or_else(|_| panic!("no line with {needle:?}"));
            if line.contains(needle) {
                return line;
            }
        }
    }

    fn addr(&self) -> SocketAddr {
        let line = self.wait_for("serving http");
        let rest = &line[line.find("://").unwrap() + 3..];
        rest[..rest.find('/').unwrap()].parse().unwrap()
    }

    fn send(&mut self, line: &str) {
        let stdin = self.child.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn stream(addr: SocketAddr, extra: &str) -> BufReader<TcpStream> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    write!(s, "GET /events HTTP/1.1\r\nHost: x\r\n{extra}\r\n").unwrap();
    let mut r = BufReader::new(s);
    let mut line = String::new();
    loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        if line == "\r\n" {
            return r;
        }
    }
}

/// Reads until the body contains `end`.
fn read_until(r: &mut BufReader<TcpStream>, end: &str) -> String {
    let mut text = Vec::new();
    while !String::from_utf8_lossy(&text).contains(end) {
        let mut b = [0u8];
        assert_eq!(
            r.read(&mut b).unwrap(),
            1,
            "{}",
            String::from_utf8_lossy(&text)
        );
        text.push(b[0]);
    }
    String::from_utf8(text).unwrap()
}

#[test]
fn two_serve_processes_over_redis_serve_one_stream_and_resume_each_others_clients() {
    let redis = Redis::start();
    let url = format!("redis://127.0.0.1:{}/", redis.port);
    // Two processes of one service: the same Redis and stream.
    let args = [
        "--port",
        "0",
        "--redis",
        &url,
        "--stream",
        "t",
        "--keep-alive",
        "0",
    ];
    let mut a = Serve::start(&args);
    let b = Serve::start(&args);
    let (a_addr, b_addr) = (a.addr(), b.addr());
    let mut on_b = stream(b_addr, "");
    b.wait_for("stream opened");
    a.send("one");
    a.send("two");
    let got = read_until(&mut on_b, "data: two\n\n");
    let first_id = got
        .lines()
        .find_map(|l| l.strip_prefix("id: "))
        .expect("an id")
        .to_owned();
    assert!(got.contains("data: one\n"), "{got}");
    // A client of b resumes on a after "one": exactly "two".
    let mut on_a = stream(a_addr, &format!("Last-Event-ID: {first_id}\r\n"));
    let got = read_until(&mut on_a, "data: two\n\n");
    assert!(!got.contains("data: one"), "{got}");
    // An id that is not a position gets `reset`.
    let mut bad = stream(a_addr, "Last-Event-ID: 7\r\n");
    let got = read_until(&mut bad, "\n\n");
    assert!(got.contains("event: reset\n"), "{got}");
}

#[test]
fn redis_unreachable_at_start_is_a_clear_error_with_the_password_elided() {
    let port = free_port();
    let url = format!("redis://:secret@127.0.0.1:{port}/");
    let out = Command::new(env!("CARGO_BIN_EXE_resse"))
        .args(["serve", "--port", "0", "--redis", &url])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    assert!(!err.contains("secret"), "{err}");
}
