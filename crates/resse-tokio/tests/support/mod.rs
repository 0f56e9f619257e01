//! Real parts for the client tests: an HTTP server on 127.0.0.1 (plain or
//! TLS, HTTP/1.1 and HTTP/2), a fault-injecting TCP proxy, a self-signed
//! certificate.
#![allow(dead_code, unreachable_pub)]

pub mod connect_proxy;
pub mod proxy;
pub mod raw;
pub mod server;
pub mod tls;

use std::future::Future;
use std::time::Duration;

use futures_util::StreamExt;
use resse_reconnect::ReconnectConfig;
use resse_tokio::client::{Client, ClientBuilder, Connect, SessionEvent};

/// Small delays so that a test with many reconnections runs in seconds.
pub fn fast_reconnect(seed: u64) -> ReconnectConfig {
    ReconnectConfig::default()
        .initial_delay(Duration::from_millis(10))
        .floor(Duration::from_millis(5))
        .max_delay(Duration::from_millis(40))
        .min_healthy(Duration::ZERO)
        .seed(seed)
}

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

/// A tiny seeded generator (xorshift64*): deterministic fault plans.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `lo..hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo)
    }
}
