//! A threaded SSE test server and a fault-injecting TCP proxy, both on
//! 127.0.0.1 with ephemeral ports, std threads only.
#![allow(dead_code, unreachable_pub)]

pub mod connect_proxy;
pub mod proxy;
pub mod raw;
pub mod server;
pub mod tls;

use std::time::Duration;

use resse_blocking::ClientBuilder;
use resse_session::ReconnectConfig;

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

/// Runs `f` on a thread and fails the test if it takes longer than `limit`.
pub fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(value) => value,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("test took longer than {limit:?}")
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => panic!("test thread panicked"),
    }
}
