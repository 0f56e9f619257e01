//! Test support shared by the resse client adapters (unpublished).
//!
//! Everything here runs on std threads, on 127.0.0.1 with ephemeral ports,
//! so that the blocking suites and the tokio suites (from within a tokio
//! test: the parts run on their own threads) use the same parts:
//!
//! - [`fault`]: a fault-injecting TCP proxy following a per-connection
//!   plan of [`fault::Fault`]s, with one meaning for each fault;
//! - [`connect_proxy`]: a forwarding HTTP proxy that records what it was
//!   asked (`CONNECT` tunnels and absolute-form requests);
//! - [`raw`]: a raw HTTP/1.1 server answering scripted bytes;
//! - [`Rng`], a seeded generator for deterministic plans, [`within`], a
//!   time limit for a test body, and [`fast_reconnect`], small reconnection
//!   delays.

pub mod connect_proxy;
pub mod fault;
pub mod raw;

use std::sync::mpsc;
use std::time::Duration;

use resse_reconnect::ReconnectConfig;

/// Small delays so that a test with many reconnections runs in seconds.
pub fn fast_reconnect(seed: u64) -> ReconnectConfig {
    ReconnectConfig::default()
        .initial_delay(Duration::from_millis(10))
        .floor(Duration::from_millis(5))
        .max_delay(Duration::from_millis(40))
        .min_healthy(Duration::ZERO)
        .seed(seed)
}

/// A tiny seeded generator (xorshift64*): deterministic fault plans.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator whose sequence depends only on `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 bits.
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

/// Runs `f` on a thread and fails the test if it takes longer than `limit`
/// (or panics).
pub fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(value) => value,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("test took longer than {limit:?}"),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("test thread panicked"),
    }
}
