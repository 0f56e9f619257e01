//! The blocking client's own test parts: a threaded SSE test server, a TLS
//! server, a client with small delays. The parts shared with the tokio
//! adapter (fault proxy, CONNECT proxy, raw server) are in `resse-testkit`.
#![allow(dead_code, unreachable_pub)]

pub mod server;
pub mod tls;

use std::time::Duration;

use resse_blocking::ClientBuilder;
use resse_testkit::fast_reconnect;

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
