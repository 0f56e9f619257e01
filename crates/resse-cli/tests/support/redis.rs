//! A real `redis-server` per test (Debian's package `redis-server`, or
//! `RESSE_REDIS_SERVER`): its own free port on 127.0.0.1 and temporary
//! directory, no snapshots, stopped by pid when dropped. Shared by the
//! tests that need one (`#[path = "support/redis.rs"] mod redis;`).

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A running `redis-server`.
pub(crate) struct Redis {
    child: Child,
    /// Its port on 127.0.0.1.
    pub(crate) port: u16,
    dir: PathBuf,
}

impl Redis {
    /// Starts one and waits (at most 10 s) until it accepts connections.
    pub(crate) fn start() -> Self {
        let port = free_port();
        let dir =
            std::env::temp_dir().join(format!("resse-cli-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let binary = std::env::var("RESSE_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let child = Command::new(binary)
            .args([
                "--bind",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--save",
                "",
            ])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (Debian's package redis-server) must be installed");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, port, dir }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
