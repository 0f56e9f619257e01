//! How often a client comes back to a server that ends every response after
//! one event and asks for `retry: 500` (serverless platforms, proxies with
//! request timeouts, servers that rotate connections do this).
//!
//! Runs such a server on `127.0.0.1` and, unless `--serve-only`, the default
//! reconnecting tokio client against it; prints the events per minute and
//! the spread of the gaps between events. With `--serve-only` it only serves
//! (a page at `/` opens the stream with the browser's own `EventSource`), so
//! that a browser can be measured against the same server: the server
//! counts the responses it sent.
//!
//! ```text
//! cargo run --release --example retry_cadence -- --seconds 60
//! cargo run --release --example retry_cadence -- --serve-only --seconds 60
//! # 100 events, the connection dropped after every 10, retry: 200
//! cargo run --release --example retry_cadence -- \
//!     --retry-ms 200 --per-response 10 --total 100
//! ```
//!
//! With `--total N` the client runs until it has N events (or `--seconds`
//! passed) and prints how long that took.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use resse_tokio::client::{ClientBuilder, SessionEvent};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const PAGE: &str = "<!doctype html><meta charset=utf-8><title>retry cadence</title>\
<pre id=log>waiting</pre><script>let n=0;const es=new EventSource('/events');\
es.onmessage=e=>{n++;document.getElementById('log').textContent=n+' events, last id '+e.lastEventId;};\
</script>";

struct Options {
    seconds: u64,
    retry_ms: u64,
    per_response: u64,
    total: Option<u64>,
    serve_only: bool,
    port: u16,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        seconds: 60,
        retry_ms: 500,
        per_response: 1,
        total: None,
        serve_only: false,
        port: 0,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| -> Result<u64, String> {
            args.next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{name} needs a number"))
        };
        match arg.as_str() {
            "--seconds" => o.seconds = value("--seconds")?,
            "--retry-ms" => o.retry_ms = value("--retry-ms")?,
            "--per-response" => o.per_response = value("--per-response")?.max(1),
            "--total" => o.total = Some(value("--total")?),
            "--port" => {
                o.port = u16::try_from(value("--port")?).map_err(|_| "--port: too large")?;
            }
            "--serve-only" => o.serve_only = true,
            "-h" | "--help" => {
                return Err("usage: retry_cadence [--seconds N] [--retry-ms MS] \
                            [--per-response N] [--total N] [--serve-only] [--port N]"
                    .to_owned());
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    Ok(o)
}

/// Answers one HTTP/1.1 request: the page, or `per_response` events (from
/// the request's `Last-Event-ID` on) and the end of the response
/// (`Connection: close`).
async fn serve(mut socket: TcpStream, retry_ms: u64, per_response: u64, served: Arc<AtomicU64>) {
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if head.len() > 64 * 1024 {
            return;
        }
    }
    let response = if head.starts_with(b"GET /events") {
        served.fetch_add(1, Ordering::Relaxed);
        let head = String::from_utf8_lossy(&head);
        let last: u64 = head
            .lines()
            .find_map(|l| {
                l.strip_prefix("last-event-id: ")
                    .or(l.strip_prefix("Last-Event-ID: "))
            })
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        let mut r = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-store\r\n\
             connection: close\r\n\r\nretry: {retry_ms}\n"
        );
        for n in last + 1..=last + per_response {
            r.push_str(&format!("id: {n}\ndata: event {n}\n\n"));
        }
        r
    } else {
        format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\n\
             content-length: {}\r\nconnection: close\r\n\r\n{PAGE}",
            PAGE.len()
        )
    };
    let _ = socket.write_all(response.as_bytes()).await;
    let _ = socket.shutdown().await;
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let o = options()?;
    let listener = TcpListener::bind(("127.0.0.1", o.port)).await?;
    let addr = listener.local_addr()?;
    let served = Arc::new(AtomicU64::new(0));
    let counter = served.clone();
    let (retry_ms, per_response) = (o.retry_ms, o.per_response);
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(serve(socket, retry_ms, per_response, counter.clone()));
        }
    });
    let window = Duration::from_secs(o.seconds);
    let per_minute = |n: u64| n as f64 * 60.0 / window.as_secs_f64();

    if o.serve_only {
        println!("serving http://{addr}/ for {} s", o.seconds);
        // Count from the first stream request, so that a browser's start-up
        // time is not counted.
        while served.load(Ordering::Relaxed) == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let start = served.load(Ordering::Relaxed);
        tokio::time::sleep(window).await;
        let n = served.load(Ordering::Relaxed) - start;
        println!(
            "responses served: {n} in {} s ({:.1} per minute)",
            o.seconds,
            per_minute(n)
        );
        return Ok(());
    }

    let mut client = ClientBuilder::new(format!("http://{addr}/events")).build()?;
    let start = Instant::now();
    let mut last = start;
    let mut gaps = Vec::new();
    let deadline = tokio::time::sleep(window);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            () = &mut deadline => break,
            item = client.next() => match item {
                Some(SessionEvent::Event(_)) => {
                    let now = Instant::now();
                    gaps.push(now - last);
                    last = now;
                    if o.total.is_some_and(|t| gaps.len() as u64 >= t) {
                        break;
                    }
                }
                Some(SessionEvent::Closed { reason }) => return Err(reason.into()),
                Some(_) => {}
                None => break,
            },
        }
    }
    let n = gaps.len() as u64;
    if let Some(total) = o.total {
        println!(
            "retry: {} ms, {} events per response: {n} of {total} events in {:?}",
            o.retry_ms,
            o.per_response,
            last - start
        );
        return Ok(());
    }
    gaps.sort();
    let at = |q: f64| {
        gaps.get(((gaps.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or_default()
    };
    println!(
        "retry: {} ms, {} event(s) per response, {} s: {n} events ({:.1} per minute)",
        o.retry_ms,
        o.per_response,
        o.seconds,
        per_minute(n)
    );
    println!(
        "gap between events: median {:?}, p90 {:?}, max {:?}",
        at(0.5),
        at(0.9),
        at(1.0)
    );
    Ok(())
}
