//! `serve_connection`, the lean HTTP/1.1 driver: it serves a broadcaster's
//! stream to the reconnecting client, writes a close-delimited response
//! with the event-stream head, refuses bad heads with the right status,
//! ends when the client leaves, and cuts a client that stops reading after
//! the write timeout.
#![cfg(all(feature = "rustls", feature = "server"))]

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use resse_codec::Event;
use resse_tokio::client::SessionEvent;
use resse_tokio::server::{
    BroadcastConfig, Broadcaster, ConnConfig, ConnError, SseBody, last_event_id, serve_connection,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Serves every connection with `serve_connection` over `broadcaster`;
/// each connection's result goes to the returned channel.
async fn serve(
    broadcaster: Broadcaster,
    config: ConnConfig,
) -> (
    SocketAddr,
    mpsc::UnboundedReceiver<Result<(), ConnError>>,
    JoinHandle<()>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            // Small socket buffers, so that a client that stops reading
            // blocks the writer quickly.
            let _ = socket2::SockRef::from(&tcp).set_send_buffer_size(4096);
            let (broadcaster, config, tx) = (broadcaster.clone(), config.clone(), tx.clone());
            tokio::spawn(async move {
                let result = serve_connection(tcp, &config, |request| async move {
                    let subscription = broadcaster.subscribe(last_event_id(request.headers()));
                    SseBody::new(subscription).into_response()
                })
                .await;
                let _ = tx.send(result);
            });
        }
    });
    (addr, rx, task)
}

fn numbered() -> Broadcaster {
    Broadcaster::new(BroadcastConfig::default().id_prefix(""))
}

async fn next_result(
    rx: &mut mpsc::UnboundedReceiver<Result<(), ConnError>>,
) -> Result<(), ConnError> {
    support::within(Duration::from_secs(5), rx.recv())
        .await
        .expect("a connection result")
}

/// Reads from `tcp` until `needle` has been seen; returns all of it.
async fn read_until(tcp: &mut TcpStream, needle: &str) -> String {
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    support::within(Duration::from_secs(5), async {
        while !String::from_utf8_lossy(&all).contains(needle) {
            let n = tcp.read(&mut buf).await.unwrap();
            assert!(
                n > 0,
                "closed before {needle:?}: {}",
                String::from_utf8_lossy(&all)
            );
            all.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    String::from_utf8(all).unwrap()
}

#[tokio::test]
async fn serves_a_broadcast_to_the_reconnecting_client_with_replay() {
    let broadcaster = numbered();
    for n in 1..=3 {
        broadcaster.publish(Event::new(format!("e{n}"))).unwrap();
    }
    let (addr, _results, _server) = serve(broadcaster.clone(), ConnConfig::default()).await;
    let mut client = support::client(&format!("http://{addr}/events"), Duration::from_secs(5), 1)
        .last_event_id("1")
        .build()
        .unwrap();
    let mut data = Vec::new();
    support::within(Duration::from_secs(10), async {
        while let Some(item) = client.next().await {
            if let SessionEvent::Event(e) = item {
                data.push((e.last_event_id().to_owned(), e.data().to_owned()));
                if data.len() == 2 {
                    broadcaster.publish(Event::new("e4")).unwrap();
                }
                if data.len() == 3 {
                    break;
                }
            }
        }
    })
    .await;
    let want = [("2", "e2"), ("3", "e3"), ("4", "e4")].map(|(i, d)| (i.to_owned(), d.to_owned()));
    assert_eq!(data, want);
}

#[tokio::test]
async fn writes_a_close_delimited_event_stream_and_ends_when_the_client_leaves() {
    let broadcaster = numbered();
    let (addr, mut results, _server) = serve(broadcaster.clone(), ConnConfig::default()).await;
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
        .await
        .unwrap();
    let head = read_until(&mut tcp, "\r\n\r\n").await;
    let head = head.to_lowercase();
    assert!(head.starts_with("http/1.1 200 ok\r\n"), "{head}");
    for line in [
        "content-type: text/event-stream\r\n",
        "cache-control: no-store\r\n",
        "x-accel-buffering: no\r\n",
        "connection: close\r\n",
    ] {
        assert!(head.contains(line), "{line:?} in {head}");
    }
    assert!(!head.contains("transfer-encoding"), "no chunking: {head}");
    broadcaster.publish(Event::new("hello")).unwrap();
    let body = read_until(&mut tcp, "data: hello\n\n").await;
    assert_eq!(
        body, "id: 1\ndata: hello\n\n",
        "raw event bytes, no chunk framing"
    );
    assert_eq!(broadcaster.subscriber_count(), 1);
    drop(tcp);
    next_result(&mut results)
        .await
        .expect("a client leaving is not an error");
    assert_eq!(
        broadcaster.subscriber_count(),
        0,
        "the subscription is gone"
    );
}

#[tokio::test]
async fn a_head_request_gets_the_head_only() {
    let (addr, mut results, _server) = serve(numbered(), ConnConfig::default()).await;
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"HEAD /events HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut all = String::new();
    support::within(Duration::from_secs(5), tcp.read_to_string(&mut all))
        .await
        .unwrap();
    assert!(
        all.starts_with("HTTP/1.1 200 OK\r\n") && all.ends_with("\r\n\r\n"),
        "{all}"
    );
    next_result(&mut results).await.unwrap();
}

async fn refused(config: ConnConfig, request: &[u8]) -> (String, ConnError) {
    let (addr, mut results, _server) = serve(numbered(), config).await;
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(request).await.unwrap();
    let mut answer = String::new();
    support::within(Duration::from_secs(5), tcp.read_to_string(&mut answer))
        .await
        .unwrap();
    let error = next_result(&mut results).await.expect_err("refused");
    (answer, error)
}

#[tokio::test]
async fn a_malformed_head_gets_400() {
    let (answer, error) = refused(
        ConnConfig::default(),
        b"GET / HTTP/1.1\r\nbad header\r\n\r\n",
    )
    .await;
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
    assert!(matches!(error, ConnError::BadRequest(_)), "{error}");
}

#[tokio::test]
async fn a_head_over_the_limits_gets_431() {
    let config = ConnConfig::default().max_head_len(256);
    let long = format!("GET / HTTP/1.1\r\nx-pad: {}\r\n\r\n", "a".repeat(300));
    let (answer, error) = refused(config, long.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
    assert!(matches!(error, ConnError::HeadTooLarge));

    let config = ConnConfig::default().max_headers(2);
    let (answer, error) = refused(config, b"GET / HTTP/1.1\r\na: 1\r\nb: 2\r\nc: 3\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
    assert!(matches!(error, ConnError::HeadTooLarge));

    // Exactly at the limit is fine.
    let (addr, mut results, _server) =
        serve(numbered(), ConnConfig::default().max_headers(2)).await;
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\na: 1\r\nb: 2\r\n\r\n")
        .await
        .unwrap();
    assert!(
        read_until(&mut tcp, "\r\n\r\n")
            .await
            .starts_with("HTTP/1.1 200 OK")
    );
    drop(tcp);
    next_result(&mut results).await.unwrap();
}

#[tokio::test]
async fn a_slow_head_gets_408_after_the_head_timeout() {
    let config = ConnConfig::default().head_timeout(Duration::from_millis(200));
    let start = Instant::now();
    let (answer, error) = refused(config, b"GET /events HTTP/1.1\r\nHost:").await;
    let took = start.elapsed();
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    assert!(matches!(error, ConnError::HeadTimeout));
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

#[tokio::test]
async fn a_client_that_stops_reading_is_cut_after_the_write_timeout() {
    let broadcaster = numbered();
    let write_timeout = Duration::from_millis(300);
    let config = ConnConfig::default().write_timeout(Some(write_timeout));
    let (addr, mut results, _server) = serve(broadcaster.clone(), config).await;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut tcp = socket.connect(addr).await.unwrap();
    tcp.write_all(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    read_until(&mut tcp, "\r\n\r\n").await;
    // Never read again; publish until the connection's socket is full.
    let big = "x".repeat(32 * 1024);
    let start = Instant::now();
    let result = support::within(Duration::from_secs(10), async {
        loop {
            broadcaster.publish(Event::new(big.as_str())).unwrap();
            tokio::select! {
                result = results.recv() => break result.expect("a result"),
                _ = tokio::time::sleep(Duration::from_millis(20)) => {}
            }
        }
    })
    .await;
    assert!(matches!(result, Err(ConnError::WriteTimeout)), "{result:?}");
    assert!(start.elapsed() >= write_timeout);
    assert_eq!(
        broadcaster.subscriber_count(),
        0,
        "its subscription is gone"
    );
    drop(tcp);
}

#[tokio::test]
async fn serves_over_tls_when_alpn_offers_http1_only() {
    let cert = support::tls::TestCert::generate();
    let mut tls = cert.server_config();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(tls));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let broadcaster = numbered();
    broadcaster.publish(Event::new("secret")).unwrap();
    let b = broadcaster.clone();
    let _server = tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let (acceptor, b) = (acceptor.clone(), b.clone());
            tokio::spawn(async move {
                let Ok(stream) = acceptor.accept(tcp).await else {
                    return;
                };
                let _ = serve_connection(stream, &ConnConfig::default(), |request| async move {
                    SseBody::new(b.subscribe(last_event_id(request.headers()))).into_response()
                })
                .await;
            });
        }
    });
    let connector = resse_tokio::client::HyperConnector::builder()
        .tls_config(cert.client_config())
        .build();
    let mut client = support::client(&format!("https://{addr}/events"), Duration::from_secs(5), 9)
        .last_event_id("")
        .build_with(connector)
        .unwrap();
    // A new subscriber gets live events: publish once it is connected.
    let data = support::within(Duration::from_secs(10), async {
        while let Some(item) = client.next().await {
            match item {
                SessionEvent::Open => {
                    broadcaster.publish(Event::new("over tls")).unwrap();
                }
                SessionEvent::Event(e) => return e.data().to_owned(),
                _ => {}
            }
        }
        panic!("the client ended");
    })
    .await;
    assert_eq!(data, "over tls");
}
