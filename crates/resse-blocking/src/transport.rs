//! The TCP link of the [`HttpConnector`](crate::HttpConnector)'s ureq
//! connector chain: a TCP transport whose reads and writes stop at a
//! deadline the client moves before every read, and whose socket a
//! [`CloseHandle`] can shut down from another thread. ureq's
//! `RustlsConnector` wraps it for `https://`. Through a proxy, ureq's
//! `ConnectProxyConnector` (before it in the chain) runs the chain again
//! to reach the proxy, so the socket to the proxy is one of these too,
//! and its `CONNECT` tunnel is passed on as it is.
//!
//! ureq's own TCP transport cannot do either: its timeouts are fixed per
//! agent or request (and `recv_body` bounds the whole body, not the
//! silence between two reads), and it gives no access to the socket.
//!
//! This uses ureq's `unversioned::transport` API, which does not follow
//! semver: the crate pins ureq's minor version for it.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use ureq::Timeout;
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, Transport,
};

use crate::CloseHandle;

/// Shortest timeout given to the socket: a zero timeout means "block" to
/// `std`, and an expired deadline still gets one short read, so that data
/// already there is not mistaken for silence.
const MIN_TIMEOUT: Duration = Duration::from_millis(1);

/// When the I/O of one connection must stop: shared by the
/// [`HttpConnector`](crate::HttpConnector) (the response deadline while
/// the head is awaited), the body (a deadline per read, from
/// [`Body::set_read_timeout`](crate::Body::set_read_timeout)) and the
/// transport (which obeys it).
#[derive(Debug, Default)]
pub(crate) struct ReadLimit(Mutex<Limit>);

#[derive(Clone, Copy, Debug, Default)]
struct Limit {
    /// The body's read timeout, turned into a deadline by each read.
    timeout: Option<Duration>,
    /// The instant the current read (or the wait for the head) gives up.
    deadline: Option<Instant>,
}

impl ReadLimit {
    fn lock(&self) -> MutexGuard<'_, Limit> {
        // Plain data: a panic elsewhere cannot leave it inconsistent.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets the deadline of all I/O until further notice.
    pub(crate) fn set_deadline(&self, deadline: Option<Instant>) {
        self.lock().deadline = deadline;
    }

    /// Sets the timeout that each following read starts.
    pub(crate) fn set_timeout(&self, timeout: Option<Duration>) {
        self.lock().timeout = timeout;
    }

    /// Starts a read at `now`: the deadline is `now` plus the timeout.
    pub(crate) fn start_read(&self, now: Instant) {
        let mut limit = self.lock();
        limit.deadline = limit.timeout.map(|t| now + t);
    }

    /// Time left until the deadline (`None`: no deadline).
    fn remaining(&self, now: Instant) -> Option<Duration> {
        self.lock()
            .deadline
            .map(|d| d.saturating_duration_since(now))
    }
}

/// What the [`HttpConnector`](crate::HttpConnector) hands to the transport
/// of the connection it is making.
#[derive(Clone, Debug)]
pub(crate) struct CallContext {
    /// Registered to shut the socket down on close.
    pub(crate) close: CloseHandle,
    /// The deadlines of the connection.
    pub(crate) limit: Arc<ReadLimit>,
}

/// The slot through which the [`HttpConnector`](crate::HttpConnector)
/// passes a [`CallContext`] to the connector inside its ureq agent, for
/// the duration of one request.
pub(crate) type CallSlot = Arc<Mutex<Option<CallContext>>>;

pub(crate) fn lock_slot(slot: &CallSlot) -> MutexGuard<'_, Option<CallContext>> {
    slot.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Opens TCP connections to the addresses ureq resolved.
#[derive(Debug)]
pub(crate) struct TcpConnector {
    pub(crate) call: CallSlot,
}

/// What ureq's `ConnectProxyConnector` passes on: nothing, or a tunnel
/// through the proxy.
type Tunnel = Either<(), Box<dyn Transport>>;

impl Connector<Tunnel> for TcpConnector {
    type Out = Either<TcpTransport, Box<dyn Transport>>;

    fn connect(
        &self,
        details: &ConnectionDetails<'_>,
        chained: Option<Tunnel>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        if let Some(Either::B(tunnel)) = chained {
            // Already connected, through a proxy (over a transport of
            // this connector).
            return Ok(Some(Either::B(tunnel)));
        }
        let call = lock_slot(&self.call).clone();
        let (close, limit) = match call {
            Some(call) => (Some(call.close), call.limit),
            None => (None, Arc::default()),
        };
        let start = Instant::now();
        // ureq's connect budget (TCP and TLS), and the response deadline.
        let budget = (!details.timeout.after.is_not_happening()).then(|| *details.timeout.after);
        let deadline = [budget.map(|b| start + b), limit.lock().deadline]
            .into_iter()
            .flatten()
            .min();
        let mut last = None;
        let mut stream = None;
        for addr in &details.addrs {
            let result = match deadline {
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    TcpStream::connect_timeout(addr, left.max(MIN_TIMEOUT))
                }
                None => TcpStream::connect(addr),
            };
            match result {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let stream = match (stream, last) {
            (Some(stream), _) => stream,
            (None, Some(e)) => return Err(ureq::Error::Io(normalize(e))),
            (None, None) if deadline.is_some() => {
                return Err(ureq::Error::Io(timed_out("connect timed out")));
            }
            (None, None) => return Err(ureq::Error::HostNotFound),
        };
        if details.config.no_delay() {
            stream.set_nodelay(true)?;
        }
        if let Some(close) = close {
            let shutdown = stream.try_clone()?;
            close.on_close(move || {
                let _ = shutdown.shutdown(Shutdown::Both);
            });
        }
        let buffers = LazyBuffers::new(
            details.config.input_buffer_size(),
            details.config.output_buffer_size(),
        );
        Ok(Some(Either::A(TcpTransport {
            stream,
            buffers,
            limit,
            read_timeout: None,
            write_timeout: None,
        })))
    }
}

fn timed_out(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, what)
}

/// The client's read deadline expired (as opposed to a connect timeout).
#[derive(Debug)]
pub(crate) struct ReadDeadline;

impl fmt::Display for ReadDeadline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no data before the read deadline")
    }
}

impl std::error::Error for ReadDeadline {}

/// `WouldBlock` is how some platforms report an expired socket timeout.
fn normalize(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::WouldBlock {
        io::Error::new(io::ErrorKind::TimedOut, e)
    } else {
        e
    }
}

/// A TCP connection whose I/O obeys both ureq's timeouts and the
/// connection's [`ReadLimit`].
#[derive(Debug)]
pub(crate) struct TcpTransport {
    stream: TcpStream,
    buffers: LazyBuffers,
    limit: Arc<ReadLimit>,
    /// The socket timeouts last set, to save system calls.
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
}

/// Who set the timeout of one I/O call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Owner {
    /// ureq: its timeout error carries ureq's reason (ureq acts on some,
    /// such as the end of the wait for `100 Continue`).
    Ureq(Timeout),
    /// The client's deadline: a `TimedOut` I/O error, which the client
    /// reads as "call `handle_timeout`".
    Client,
}

impl TcpTransport {
    /// The socket timeout for one I/O call: the earlier of ureq's
    /// `timeout` and the connection's deadline, at least [`MIN_TIMEOUT`].
    fn timeout(&self, timeout: NextTimeout) -> Result<(Option<Duration>, Owner), ureq::Error> {
        if timeout.after.is_zero() {
            return Err(ureq::Error::Timeout(timeout.reason));
        }
        let ureq = (!timeout.after.is_not_happening()).then(|| *timeout.after);
        let ours = self.limit.remaining(Instant::now());
        Ok(match (ureq, ours) {
            (Some(u), Some(o)) if u < o => (Some(u), Owner::Ureq(timeout.reason)),
            (_, Some(o)) => (Some(o.max(MIN_TIMEOUT)), Owner::Client),
            (Some(u), None) => (Some(u), Owner::Ureq(timeout.reason)),
            (None, None) => (None, Owner::Client),
        })
    }
}

fn io_error(e: io::Error, owner: Owner) -> ureq::Error {
    match (e.kind(), owner) {
        (io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut, Owner::Ureq(reason)) => {
            ureq::Error::Timeout(reason)
        }
        (io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut, Owner::Client) => {
            ureq::Error::Io(io::Error::new(io::ErrorKind::TimedOut, ReadDeadline))
        }
        _ => ureq::Error::Io(e),
    }
}

impl Transport for TcpTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        let (timeout, owner) = self.timeout(timeout.for_write())?;
        if timeout != self.write_timeout {
            self.stream.set_write_timeout(timeout)?;
            self.write_timeout = timeout;
        }
        let output = &self.buffers.output()[..amount];
        self.stream
            .write_all(output)
            .map_err(|e| io_error(e, owner))
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        loop {
            let (timeout, owner) = self.timeout(timeout.for_read())?;
            if timeout != self.read_timeout {
                self.stream.set_read_timeout(timeout)?;
                self.read_timeout = timeout;
            }
            let input = self.buffers.input_append_buf();
            match self.stream.read(input) {
                Ok(n) => {
                    self.buffers.input_appended(n);
                    return Ok(n > 0);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_error(e, owner)),
            }
        }
    }

    fn is_open(&mut self) -> bool {
        // Open if a read would block: no byte and no end of stream waiting.
        // (The agent keeps no idle connection; this is for completeness.)
        if self.stream.set_nonblocking(true).is_err() {
            return false;
        }
        let open = matches!(
            self.stream.read(&mut [0u8; 1]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock
        );
        open && self.stream.set_nonblocking(false).is_ok()
    }
}
