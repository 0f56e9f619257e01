//! `serve`: the event path streams (with replay), other paths get 404 and
//! other methods 405, a connection that sends nothing is closed quietly,
//! and shutdown ends the streams cleanly and returns.
#![cfg(feature = "server")]

use std::net::SocketAddr;
use std::time::Duration;

use resse_codec::Event;
use resse_tokio::server::{BroadcastConfig, Broadcaster, ServeConfig, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn exchange(addr: SocketAddr, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    stream.shutdown().await.expect("shutdown");
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn serve_routes_replays_and_shuts_down() {
    let broadcaster = Broadcaster::new(BroadcastConfig::default().id_prefix(""));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(
        listener,
        broadcaster.clone(),
        ServeConfig::new().path("/sse"),
        async move {
            let _ = stopped.await;
        },
    ));
    broadcaster.publish(Event::new("one")).expect("publish");
    broadcaster.publish(Event::new("two")).expect("publish");

    let not_found = exchange(addr, "GET /other HTTP/1.1\r\nhost: x\r\n\r\n").await;
    assert!(
        not_found.starts_with("HTTP/1.1 404 Not Found\r\n"),
        "{not_found}"
    );
    let refused = exchange(addr, "POST /sse HTTP/1.1\r\nhost: x\r\n\r\n").await;
    assert!(refused.starts_with("HTTP/1.1 405"), "{refused}");
    // Nothing sent and closed: closed quietly, nothing answered.
    let started = std::time::Instant::now();
    assert_eq!(exchange(addr, "").await, "");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "not held until a timeout"
    );

    // A stream replayed after 1, then ended by the shutdown.
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(b"GET /sse?x=1 HTTP/1.1\r\nhost: x\r\nlast-event-id: 1\r\n\r\n")
        .await
        .expect("write");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains("data: two\n\n") {
        let n = stream.read(&mut buf).await.expect("read");
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got).into_owned();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("content-type: text/event-stream"), "{text}");
    assert!(text.ends_with("\r\n\r\nid: 2\ndata: two\n\n"), "{text}");
    stop.send(()).expect("stop");
    // The stream ends cleanly (end of the connection) and serve returns.
    let rest = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut got))
        .await
        .expect("the stream ends");
    assert!(rest.is_ok());
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("serve returns")
        .expect("task")
        .expect("serve");
    assert!(broadcaster.is_closed());
}
