//! Fan-out on loopback: one publisher, N subscribers over real TCP, for
//! four servers in the same run:
//!
//! * `axum-broadcast`: the anchor, axum's own `Sse` over a
//!   `tokio::sync::broadcast` channel (`BroadcastStream`), as axum's SSE
//!   example does it;
//! * `resse-hyper`: resse's `Broadcaster` + `SseBody` on plain hyper 1
//!   (HTTP/1.1);
//! * `resse-axum`: the same body served by axum;
//! * `resse-lean`: the same body through resse's own lean HTTP/1.1 driver
//!   (`resse_tokio::server::serve_connection`).
//!
//! Each server runs in its own process (this binary, re-executed), so its
//! memory can be read alone: memory per idle connection is the server's RSS
//! delta after N subscribers connected, divided by N. Then the publisher
//! publishes E events as fast as it can; delivered events/s is N × E over
//! the time until every subscriber has all of them; latency is publish →
//! receive (wall clock, both processes on this machine). Then it publishes
//! events one every 10 ms ("paced", light load) and reads the server
//! process's CPU time over that phase (every thread's
//! `/proc/<pid>/task/*/schedstat`, ns on CPU): divided by the deliveries,
//! that is server CPU per delivery at light load.
//!
//! `cargo bench -p resse-benches --bench fanout` runs 1,000 and 10,000
//! subscribers; under `cargo test --benches` it runs a small smoke size and
//! checks that every server delivers every event.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use resse_tokio::SseStreamExt;

const ROLE: &str = "RESSE_FANOUT_SERVER";
const KINDS: [&str; 4] = ["axum-broadcast", "resse-lean", "resse-hyper", "resse-axum"];

fn main() {
    if let Ok(kind) = std::env::var(ROLE) {
        server::main(&kind);
        return;
    }
    let full = std::env::args().any(|a| a == "--bench");
    raise_nofile();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // (subscribers, events): about 2M deliveries per full-size run.
    let plans: &[(usize, u64)] = if full {
        &[(1_000, 2_000), (10_000, 200)]
    } else {
        &[(20, 50)]
    };
    // Paced events: enough for the CPU figure to hold at full size.
    let paced = if full { PACED } else { 20 };
    // `RESSE_FANOUT_KINDS=resse-hyper,axum-broadcast` runs a subset.
    let only = std::env::var("RESSE_FANOUT_KINDS").ok();
    let kinds: Vec<&'static str> = KINDS
        .into_iter()
        .filter(|k| {
            only.as_deref()
                .is_none_or(|o| o.split(',').any(|x| x == *k))
        })
        .collect();
    let mut rows = Vec::new();
    for &(subscribers, events) in plans {
        for &kind in &kinds {
            let row = runtime.block_on(run(kind, subscribers, events, paced));
            eprintln!("{row:?}");
            row.check_cpu();
            if !full {
                assert_eq!(
                    row.delivered,
                    subscribers as u64 * events,
                    "{kind} delivered every burst event"
                );
                assert!(row.paced_complete, "{kind} delivered every paced event");
            }
            rows.push(row);
        }
    }
    print_table(&rows);
}

/// Raises the soft open-file limit to the hard one (10,000 connections need
/// 10,000 descriptors on each side).
fn raise_nofile() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => eprintln!("open-file limit: {n}"),
        Err(e) => eprintln!("could not raise the open-file limit: {e}"),
    }
}

#[derive(Debug)]
struct Row {
    kind: &'static str,
    subscribers: usize,
    events: u64,
    delivered: u64,
    seconds: f64,
    p50_us: u64,
    p99_us: u64,
    paced_p50_us: u64,
    paced_p99_us: u64,
    idle_bytes_per_conn: f64,
    /// Paced events, and whether every subscriber got all of them.
    paced: u64,
    paced_complete: bool,
    /// The server's CPU time over the paced phase, in ns (every thread's
    /// schedstat), and the same from `/proc/<pid>/stat` in clock ticks
    /// (utime + stime; a cross-check, no thread missed).
    paced_cpu_ns: u64,
    paced_cpu_ticks: u64,
}

impl Row {
    fn events_per_s(&self) -> f64 {
        self.delivered as f64 / self.seconds
    }

    /// Warns when the threads' schedstat sum reads clearly less than the
    /// process's utime + stime (taken at 100 ticks/s, Linux's USER_HZ):
    /// CPU time of threads that exited during the paced phase is missing.
    fn check_cpu(&self) {
        let ticks_ns = self.paced_cpu_ticks as f64 * 1e7;
        if ticks_ns > self.paced_cpu_ns as f64 * 1.2 + 2e7 {
            eprintln!(
                "warning: {} paced CPU: schedstat {} ns, stat {} ticks",
                self.kind, self.paced_cpu_ns, self.paced_cpu_ticks
            );
        }
    }

    /// Server CPU ns per delivery at light load (the paced phase).
    fn cpu_ns_per_delivery(&self) -> f64 {
        self.paced_cpu_ns as f64 / (self.subscribers as u64 * self.paced) as f64
    }
}

fn print_table(rows: &[Row]) {
    println!(
        "\n| server | subscribers | burst events | delivered | events/s | vs anchor | burst p50 / p99 ms | paced p50 / p99 ms | KiB/idle conn | vs anchor | paced CPU ns/delivery | vs anchor |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for row in rows {
        let anchor = rows
            .iter()
            .find(|r| r.kind == KINDS[0] && r.subscribers == row.subscribers)
            .unwrap_or(row);
        println!(
            "| {} | {} | {} | {} | {:.0} | {:.2}× | {:.1} / {:.1} | {:.2} / {:.2} | {:.1} | {:.2}× | {:.0}{} | {:.2}× |",
            row.kind,
            row.subscribers,
            row.events,
            row.delivered,
            row.events_per_s(),
            row.events_per_s() / anchor.events_per_s(),
            row.p50_us as f64 / 1e3,
            row.p99_us as f64 / 1e3,
            row.paced_p50_us as f64 / 1e3,
            row.paced_p99_us as f64 / 1e3,
            row.idle_bytes_per_conn / 1024.0,
            row.idle_bytes_per_conn / anchor.idle_bytes_per_conn,
            row.cpu_ns_per_delivery(),
            if row.paced_complete {
                ""
            } else {
                " (incomplete)"
            },
            row.cpu_ns_per_delivery() / anchor.cpu_ns_per_delivery(),
        );
    }
}

/// A server process of `kind`, driven over its stdin/stdout.
struct ServerProcess {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    port: u16,
}

impl ServerProcess {
    fn spawn(kind: &str, queue: u64) -> Self {
        let mut child = Command::new(std::env::current_exe().expect("current exe"))
            .env(ROLE, kind)
            .env("RESSE_FANOUT_QUEUE", queue.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn the server");
        let stdin = child.stdin.take().expect("stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("port line");
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("bad port line {line:?}"));
        Self {
            child,
            stdin,
            stdout,
            port,
        }
    }

    fn ask(&mut self, command: &str) -> String {
        writeln!(self.stdin, "{command}").expect("send command");
        self.stdin.flush().expect("flush");
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("answer");
        line.trim().to_owned()
    }

    /// CPU time of every thread of the server so far, in ns on CPU (the
    /// first field of each `/proc/<pid>/task/<tid>/schedstat`), and the
    /// process's utime + stime in clock ticks (`/proc/<pid>/stat`, which
    /// also counts threads that exited).
    fn cpu(&self) -> (u64, u64) {
        let pid = self.child.id();
        let mut ns = 0;
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
            for task in tasks.flatten() {
                ns += std::fs::read_to_string(task.path().join("schedstat"))
                    .ok()
                    .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        }
        // Fields 14 and 15 (utime, stime), counted after the `(comm)`.
        let ticks = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                let mut f = s.rsplit_once(')')?.1.split_whitespace().skip(11);
                Some(f.next()?.parse::<u64>().ok()? + f.next()?.parse::<u64>().ok()?)
            })
            .unwrap_or(0);
        (ns, ticks)
    }

    fn rss(&mut self) -> u64 {
        self.ask("rss")
            .strip_prefix("RSS ")
            .and_then(|n| n.parse().ok())
            .expect("rss answer")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// One subscriber: an HTTP/1.1 connection reading events until it has
/// `burst + paced` of them; returns its latencies in µs, for the burst and
/// for the paced events.
async fn subscriber(
    port: u16,
    burst: u64,
    paced: u64,
    ready: Arc<AtomicU64>,
    delivered: Arc<AtomicU64>,
) -> (Vec<u32>, Vec<u32>) {
    let tcp = loop {
        match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            Ok(tcp) => break tcp,
            Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    };
    let _ = tcp.set_nodelay(true);
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(tcp))
            .await
            .expect("handshake");
    tokio::spawn(conn);
    let request = http::Request::get("/events")
        .header("host", "127.0.0.1")
        .header("accept", "text/event-stream")
        .body(Empty::new())
        .expect("request");
    let response = sender.send_request(request).await.expect("response");
    assert!(response.status().is_success());
    ready.fetch_add(1, Ordering::SeqCst);
    let mut stream = response.into_body().into_data_stream().sse_events();
    let mut burst_latencies = Vec::with_capacity(burst as usize);
    let mut paced_latencies = Vec::with_capacity(paced as usize);
    let mut seen = 0;
    while let Some(event) = stream.next().await {
        let Ok(event) = event else { break };
        let mut fields = event
            .data()
            .split(' ')
            .map(|f| f.parse::<u64>().unwrap_or(0));
        let (seq, sent) = (fields.next().unwrap_or(0), fields.next().unwrap_or(0));
        let latency = (now_ns().saturating_sub(sent) / 1_000) as u32;
        if seq <= burst {
            burst_latencies.push(latency);
        } else {
            paced_latencies.push(latency);
        }
        delivered.fetch_add(1, Ordering::Relaxed);
        seen += 1;
        if seen == burst + paced {
            break;
        }
    }
    (burst_latencies, paced_latencies)
}

/// Waits until `counter` reaches `want` or `limit` passes.
async fn wait_for(counter: &AtomicU64, want: u64, limit: Duration) {
    let deadline = Instant::now() + limit;
    while counter.load(Ordering::Relaxed) < want && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// The `p` quantile of sorted samples.
fn quantile(sorted: &[u32], p: f64) -> u64 {
    sorted
        .get(((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1)))
        .copied()
        .unwrap_or(0) as u64
}

/// Events published at a steady pace after the burst, for latency without
/// queueing and server CPU per delivery at light load: `PACED` events (at
/// full size), one every `PACE`.
const PACED: u64 = 200;
const PACE: Duration = Duration::from_millis(10);

async fn run(kind: &'static str, subscribers: usize, events: u64, paced: u64) -> Row {
    let mut server = ServerProcess::spawn(kind, events + paced);
    let port = server.port;
    let rss0 = server.rss();
    let ready = Arc::new(AtomicU64::new(0));
    let delivered = Arc::new(AtomicU64::new(0));
    // Connect in waves, so the listen backlog never overflows.
    let mut tasks = Vec::with_capacity(subscribers);
    for wave in (0..subscribers).collect::<Vec<_>>().chunks(500) {
        for _ in wave {
            tasks.push(tokio::spawn(subscriber(
                port,
                events,
                paced,
                ready.clone(),
                delivered.clone(),
            )));
        }
        let target = tasks.len() as u64;
        while ready.load(Ordering::SeqCst) < target {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    // Let the server settle, then read its memory with every connection idle.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss1 = server.rss();
    let idle_bytes_per_conn = (rss1.saturating_sub(rss0)) as f64 / subscribers as f64;
    // The burst: as fast as the publisher can.
    let start = Instant::now();
    assert_eq!(server.ask(&format!("publish 1 {events} 0")), "PUBLISHED");
    let want = subscribers as u64 * events;
    wait_for(&delivered, want, Duration::from_secs(120)).await;
    let seconds = start.elapsed().as_secs_f64();
    let got = delivered.load(Ordering::Relaxed);
    // The paced events, with the server's CPU time over them (publishing
    // included, until every subscriber has the last one).
    let pace = PACE.as_micros();
    let (cpu0, ticks0) = server.cpu();
    assert_eq!(
        server.ask(&format!("publish {} {paced} {pace}", events + 1)),
        "PUBLISHED"
    );
    let all = subscribers as u64 * (events + paced);
    wait_for(&delivered, all, Duration::from_secs(30)).await;
    let (cpu1, ticks1) = server.cpu();
    let complete = delivered.load(Ordering::Relaxed) == all;
    let (mut burst, mut paced_latencies) = (Vec::new(), Vec::new());
    for task in tasks {
        if complete {
            let (b, p) = task.await.expect("subscriber");
            burst.extend(b);
            paced_latencies.extend(p);
        } else {
            task.abort();
        }
    }
    burst.sort_unstable();
    paced_latencies.sort_unstable();
    Row {
        kind,
        subscribers,
        events,
        delivered: got,
        seconds,
        p50_us: quantile(&burst, 0.50),
        p99_us: quantile(&burst, 0.99),
        paced_p50_us: quantile(&paced_latencies, 0.50),
        paced_p99_us: quantile(&paced_latencies, 0.99),
        idle_bytes_per_conn,
        paced,
        paced_complete: complete,
        paced_cpu_ns: cpu1.saturating_sub(cpu0),
        paced_cpu_ticks: ticks1.saturating_sub(ticks0),
    }
}

mod server {
    //! The server process: serves `/events`, publishes on command.

    use std::convert::Infallible;
    use std::io::{BufRead, Write};
    use std::sync::Arc;

    use futures_util::StreamExt;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;
    use tokio::net::TcpListener;

    pub(crate) fn main(kind: &str) {
        let queue: usize = std::env::var("RESSE_FANOUT_QUEUE")
            .ok()
            .and_then(|q| q.parse().ok())
            .unwrap_or(1024);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let publish: Box<dyn Fn(u64) + Send + Sync> = runtime.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let port = listener.local_addr().expect("addr").port();
            let publish = match kind {
                "axum-broadcast" => axum_broadcast(listener, queue),
                "resse-hyper" => resse(listener, queue, Stack::Hyper),
                "resse-axum" => resse(listener, queue, Stack::Axum),
                "resse-lean" => resse(listener, queue, Stack::Lean),
                other => panic!("unknown server kind {other}"),
            };
            println!("PORT {port}");
            let _ = std::io::stdout().flush();
            publish
        });
        let publish = Arc::new(publish);
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            let answer = if line == "rss" {
                format!("RSS {}", rss())
            } else if let Some(args) = line.strip_prefix("publish ") {
                // `publish FIRST COUNT INTERVAL_US`: events FIRST.., one
                // every INTERVAL_US (0: as fast as possible).
                let args: Vec<u64> = args
                    .split(' ')
                    .map(|a| a.parse().expect("number"))
                    .collect();
                let (first, count, interval) = (args[0], args[1], args[2]);
                let publish = publish.clone();
                runtime.block_on(async move {
                    for seq in first..first + count {
                        publish(seq);
                        if interval == 0 {
                            // Let the connections run between events, as a
                            // publisher task sharing the runtime would.
                            tokio::task::yield_now().await;
                        } else {
                            tokio::time::sleep(std::time::Duration::from_micros(interval)).await;
                        }
                    }
                });
                "PUBLISHED".to_owned()
            } else {
                break;
            };
            println!("{answer}");
            let _ = std::io::stdout().flush();
        }
    }

    /// Resident set size of this process, in bytes.
    fn rss() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    }

    fn payload(seq: u64) -> String {
        format!("{seq} {}", super::now_ns())
    }

    /// The anchor: axum's `Sse` over a broadcast channel.
    fn axum_broadcast(listener: TcpListener, queue: usize) -> Box<dyn Fn(u64) + Send + Sync> {
        use axum::response::sse::{Event, KeepAlive, Sse};
        use tokio_stream::wrappers::BroadcastStream;

        let (tx, _) = tokio::sync::broadcast::channel::<(u64, Arc<str>)>(queue.max(16));
        let sender = tx.clone();
        let app = axum::Router::new().route(
            "/events",
            axum::routing::get(move || {
                let rx = sender.subscribe();
                async move {
                    let stream = BroadcastStream::new(rx).filter_map(|item| async move {
                        item.ok().map(|(seq, data): (u64, Arc<str>)| {
                            Ok::<_, Infallible>(Event::default().id(seq.to_string()).data(&*data))
                        })
                    });
                    Sse::new(stream).keep_alive(KeepAlive::default())
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        Box::new(move |seq| {
            let _ = tx.send((seq, payload(seq).into()));
        })
    }

    /// Which HTTP stack serves resse's body.
    #[derive(Clone, Copy)]
    enum Stack {
        Hyper,
        Axum,
        Lean,
    }

    /// resse's broadcaster and body, on plain hyper, on axum, or through
    /// resse's lean driver.
    fn resse(listener: TcpListener, queue: usize, stack: Stack) -> Box<dyn Fn(u64) + Send + Sync> {
        use resse_codec::Event;
        use resse_tokio::server::{
            BroadcastConfig, Broadcaster, ConnConfig, ReplayConfig, SseBody, serve_connection,
        };

        // One ring serves replay and delivery: room for the whole burst.
        let broadcaster = Broadcaster::new(
            BroadcastConfig::default()
                .capacity(queue)
                .replay(ReplayConfig::default().max_events(queue).max_len(64 << 20)),
        );
        let b = broadcaster.clone();
        match stack {
            Stack::Axum => {
                let app = axum::Router::new().route(
                    "/events",
                    axum::routing::get(move || {
                        let subscription = b.subscribe(None);
                        async move { SseBody::new(subscription).into_response() }
                    }),
                );
                tokio::spawn(async move { axum::serve(listener, app).await });
            }
            Stack::Hyper => {
                tokio::spawn(async move {
                    loop {
                        let Ok((tcp, _)) = listener.accept().await else {
                            continue;
                        };
                        let b = b.clone();
                        tokio::spawn(async move {
                            let service = service_fn(move |_request| {
                                let subscription = b.subscribe(None);
                                async move {
                                    Ok::<_, Infallible>(SseBody::new(subscription).into_response())
                                }
                            });
                            let _ = hyper::server::conn::http1::Builder::new()
                                .serve_connection(TokioIo::new(tcp), service)
                                .await;
                        });
                    }
                });
            }
            Stack::Lean => {
                let config = Arc::new(ConnConfig::default());
                tokio::spawn(async move {
                    loop {
                        let Ok((tcp, _)) = listener.accept().await else {
                            continue;
                        };
                        let (b, config) = (b.clone(), config.clone());
                        tokio::spawn(async move {
                            let _ = serve_connection(tcp, &config, |_request| async move {
                                SseBody::new(b.subscribe(None)).into_response()
                            })
                            .await;
                        });
                    }
                });
            }
        }
        Box::new(move |seq| {
            let _ = broadcaster.publish(Event::new(payload(seq)).with_id(seq.to_string()));
        })
    }
}
