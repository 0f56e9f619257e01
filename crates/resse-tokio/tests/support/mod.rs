//! Real parts for the client tests: an HTTP server on 127.0.0.1 (plain or
//! TLS, HTTP/1.1 and HTTP/2), a self-signed certificate, an async time
//! limit. The parts shared with the blocking adapter (fault proxy, CONNECT
//! proxy, raw server) are in `resse-testkit`.
#![allow(dead_code, unreachable_pub)]

pub mod server;
pub mod tls;

use std::future::Future;
use std::time::Duration;

use futures_util::StreamExt;
use resse_testkit::fast_reconnect;
use resse_tokio::client::{Client, ClientBuilder, Connect, SessionEvent};

/// A client of `url` with small delays and the given idle timeout.
pub fn client(url: &str, idle: Duration, seed: u64) -> ClientBuilder {
    ClientBuilder::new(url)
        .reconnect(fast_reconnect(seed))
        .seed(seed)
        .idle_timeout(Some(idle))
        .connect_timeout(Duration::from_secs(2))
        // The servers are on loopback: a proxy set in the environment of
        // whoever runs the tests must not be in the way.
        .proxy_from_env(false)
}

/// Everything the client yields until it ends (bounded by `limit`).
pub async fn collect<C: Connect>(client: &mut Client<C>, limit: Duration) -> Vec<SessionEvent> {
    within(limit, async {
        let mut all = Vec::new();
        while let Some(event) = client.next().await {
            all.push(event);
        }
        all
    })
    .await
}

/// Fails the test if `f` takes longer than `limit`.
pub async fn within<T>(limit: Duration, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(limit, f)
        .await
        .unwrap_or_else(|_| panic!("did not finish within {limit:?}"))
}

/// The data of the events among `events`.
pub fn data(events: &[SessionEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            SessionEvent::Event(e) => Some(e.data().to_owned()),
            _ => None,
        })
        .collect()
}
