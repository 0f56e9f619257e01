//! Through a real hyper server and a real axum router on 127.0.0.1, an
//! event stream has the right head (event-stream type, no caching, no proxy
//! buffering, no compression), carries the broadcaster's events with
//! `Last-Event-ID` replay and keep-alives, and a client that goes away is
//! removed from the broadcaster.
#![cfg(feature = "server")]

#[path = "support/server_http.rs"]
mod server_http;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::get;
use resse_codec::Event;
use resse_heartbeat::KeepAliveConfig;
use resse_tokio::server::{BroadcastConfig, Broadcaster, SseBody, Subscription, last_event_id};
use server_http::{Head, RawClient, SseServer, within};

const LIMIT: Duration = Duration::from_secs(10);

fn assert_event_stream_head(head: &Head) {
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-type"), Some("text/event-stream"));
    assert_eq!(head.header("cache-control"), Some("no-store"));
    assert_eq!(head.header("x-accel-buffering"), Some("no"));
    assert_eq!(
        head.header("content-encoding"),
        None,
        "never compressed, though the client accepts gzip"
    );
    assert_eq!(head.header("transfer-encoding"), Some("chunked"));
    assert_eq!(head.header("content-length"), None);
}

fn broadcaster() -> Broadcaster {
    Broadcaster::new(BroadcastConfig::default().id_prefix(""))
}

#[tokio::test]
async fn hyper_serves_the_head_the_events_and_the_replay() {
    within(LIMIT, async {
        let mut server = SseServer::start(broadcaster()).await;
        let b = server.broadcaster.clone();
        for n in 1..=3 {
            b.publish(Event::new(format!("e{n}"))).expect("publish");
        }

        let mut client = RawClient::get(server.addr, "/events", Some("1")).await;
        assert!(server.next_opened().await.replay.is_exact());
        let head = client.head().await;
        assert_event_stream_head(&head);

        b.publish(Event::new("e4")).expect("publish");
        let got = client.events_until("e4").await;
        let ids: Vec<&str> = got.iter().map(Event::last_event_id).collect();
        assert_eq!(ids, ["2", "3", "4"]);
    })
    .await;
}

async fn axum_events(
    State(broadcaster): State<Broadcaster>,
    headers: HeaderMap,
) -> http::Response<SseBody<Subscription>> {
    let subscription = broadcaster.subscribe(last_event_id(&headers));
    SseBody::new(subscription)
        .keep_alive(KeepAliveConfig::new(Duration::from_millis(100)))
        .into_response()
}

async fn start_axum(broadcaster: Broadcaster) -> SocketAddr {
    let app = Router::new()
        .route("/events", get(axum_events))
        .with_state(broadcaster);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("axum serve");
    });
    addr
}

#[tokio::test]
async fn axum_serves_the_head_the_events_the_replay_and_keep_alives() {
    within(LIMIT, async {
        let b = broadcaster();
        let addr = start_axum(b.clone()).await;
        b.publish(Event::new("before")).expect("publish");

        let mut client = RawClient::get(addr, "/events", Some("1")).await;
        let head = client.head().await;
        assert_event_stream_head(&head);

        // Quiet: a keep-alive comment comes over the wire.
        let body = client.next_body().await.expect("a keep-alive");
        assert_eq!(&body[..], b": keep-alive\n");

        b.publish(Event::new("after")).expect("publish");
        let got = client.events_until("after").await;
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].last_event_id(), "2");
    })
    .await;
}

/// Waits until `condition` holds, checking every few milliseconds.
async fn eventually(mut condition: impl FnMut() -> bool) {
    while !condition() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn a_client_that_goes_away_is_removed_from_the_broadcaster() {
    within(LIMIT, async {
        let mut server = SseServer::start(broadcaster()).await;
        let b = server.broadcaster.clone();
        let mut clients = Vec::new();
        for _ in 0..20 {
            let mut client = RawClient::get(server.addr, "/events", None).await;
            client.head().await;
            server.next_opened().await;
            clients.push(client);
        }
        assert_eq!(b.subscriber_count(), 20);
        b.publish(Event::new("hello")).expect("publish");
        for client in &mut clients {
            assert_eq!(client.next_event().await.expect("event").data(), "hello");
        }
        clients.truncate(5);
        // hyper sees the closed sockets and drops the bodies.
        eventually(|| b.subscriber_count() == 5).await;
        eventually(|| server.open_connections() == 5).await;
        drop(clients);
        eventually(|| b.subscriber_count() == 0).await;
    })
    .await;
}

#[tokio::test]
async fn a_second_connection_of_the_same_client_replaces_the_first() {
    within(LIMIT, async {
        let mut server = SseServer::start(broadcaster()).await;
        let b = server.broadcaster.clone();
        let mut first = RawClient::get(server.addr, "/events?client=alice", None).await;
        first.head().await;
        server.next_opened().await;
        b.publish(Event::new("one")).expect("publish");
        assert_eq!(first.next_event().await.expect("event").data(), "one");

        let mut second = RawClient::get(server.addr, "/events?client=alice", Some("1")).await;
        second.head().await;
        server.next_opened().await;
        // The first response gets the superseded event (its client stops
        // instead of reconnecting) and ends cleanly; the second carries on.
        let last = first.next_event().await.expect("the superseded event");
        assert_eq!(last.event_type(), "superseded");
        assert!(first.next_event().await.is_none());
        assert!(first.ended_cleanly(), "the old stream was ended, not cut");
        assert_eq!(b.subscriber_count(), 1);
        b.publish(Event::new("two")).expect("publish");
        assert_eq!(second.next_event().await.expect("event").data(), "two");
    })
    .await;
}
