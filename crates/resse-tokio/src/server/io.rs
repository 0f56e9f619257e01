//! Stuck clients: a capped send buffer on accepted sockets, and an I/O
//! wrapper that fails a write blocked past a timeout and resets the
//! connection, for [`serve_connection`](super::serve_connection), hyper and
//! axum alike.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Sleep;

/// Default send buffer of accepted sockets ([`tune_accepted`]): 128 KiB,
/// so that a client that stops reading pins at most about that much kernel
/// memory for its socket, instead of the several MiB that send-buffer
/// autotuning grows to (and still lets a reader 100 ms away receive over
/// 1 MB/s).
pub const DEFAULT_SEND_BUFFER_SIZE: usize = 128 * 1024;

/// Default write timeout of [`TimeoutIo`] (and of
/// [`ConnConfig`](super::ConnConfig)): 30 s.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// Prepares an accepted socket for an event stream: `TCP_NODELAY` (events
/// go out at once) and a send buffer of `send_buffer_size` bytes (`None`
/// keeps the system's autotuning; see [`DEFAULT_SEND_BUFFER_SIZE`]), which
/// bounds what a client that stops reading pins in the kernel. The size is
/// what the kernel ends up with: Linux doubles the value passed to
/// `SO_SNDBUF` (for its bookkeeping), so half of it is passed there.
///
/// # Errors
/// Setting an option failed.
pub fn tune_accepted(stream: &TcpStream, send_buffer_size: Option<usize>) -> io::Result<()> {
    stream.set_nodelay(true)?;
    if let Some(size) = send_buffer_size {
        let request = if cfg!(target_os = "linux") {
            size / 2
        } else {
            size
        };
        socket2::SockRef::from(stream).set_send_buffer_size(request.max(1))?;
    }
    Ok(())
}

/// Closes a TCP connection with a reset (`SO_LINGER` 0) when it is
/// dropped: the kernel frees its buffers at once instead of keeping an
/// orphan socket that tries to deliver them for minutes.
fn reset_tcp(stream: &TcpStream) {
    let _ = socket2::SockRef::from(stream).set_linger(Some(Duration::ZERO));
}

pin_project_lite::pin_project! {
    /// An I/O wrapper for the connections of an event-stream server: a
    /// write (or flush) that stays blocked longer than the write timeout
    /// fails with [`io::ErrorKind::TimedOut`] (the client stopped reading:
    /// its socket is full), and a connection dropped while a write is
    /// blocked is reset (for a [`TcpStream`], through [`TimeoutIo::tcp`]),
    /// so that neither the process nor the kernel keeps buffers for it.
    ///
    /// Use it with hyper or axum, which have no write timeout of their own
    /// (the connection's future ends with the error and drops the stream),
    /// and with [`serve_connection`](super::serve_connection) to have its
    /// write timeout reset the connection. [`serve`](super::serve) uses it.
    ///
    /// ```no_run
    /// use hyper_util::rt::TokioIo;
    /// use resse_tokio::server::{TimeoutIo, tune_accepted, DEFAULT_SEND_BUFFER_SIZE};
    /// use std::time::Duration;
    ///
    /// # async fn f(listener: tokio::net::TcpListener) -> std::io::Result<()> {
    /// let (stream, _) = listener.accept().await?;
    /// tune_accepted(&stream, Some(DEFAULT_SEND_BUFFER_SIZE))?;
    /// let io = TokioIo::new(TimeoutIo::tcp(stream, Some(Duration::from_secs(30))));
    /// // hyper::server::conn::http1::Builder::new().serve_connection(io, service)
    /// # drop(io); Ok(()) }
    /// ```
    ///
    /// With axum, whose `serve` accepts the connections itself, implement
    /// `axum::serve::Listener` for a listener that returns
    /// `TimeoutIo<TcpStream>`, or serve with hyper as above.
    pub struct TimeoutIo<IO> {
        #[pin]
        io: IO,
        timeout: Option<Duration>,
        // Whether the last write or flush returned `Pending`.
        blocked: bool,
        // The write-timeout timer, only while blocked (boxed: an idle
        // connection does not carry it).
        timer: Option<Pin<Box<Sleep>>>,
        reset: Option<fn(&IO)>,
    }

    impl<IO> PinnedDrop for TimeoutIo<IO> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if *this.blocked {
                if let Some(reset) = this.reset {
                    reset(&*this.io);
                }
            }
        }
    }
}

impl<IO> fmt::Debug for TimeoutIo<IO> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimeoutIo")
            .field("timeout", &self.timeout)
            .field("blocked", &self.blocked)
            .finish_non_exhaustive()
    }
}

impl TimeoutIo<TcpStream> {
    /// Wraps a TCP stream; a connection dropped while a write is blocked
    /// (after the timeout, or for any other reason) is reset.
    pub fn tcp(stream: TcpStream, timeout: Option<Duration>) -> Self {
        Self {
            io: stream,
            timeout,
            blocked: false,
            timer: None,
            reset: Some(reset_tcp),
        }
    }
}

impl<IO> TimeoutIo<IO> {
    /// Wraps any transport (e.g. a TLS stream); `reset` is called when it is
    /// dropped while a write is blocked (pass one that resets the
    /// underlying TCP socket; `None`: a plain close).
    pub fn new(io: IO, timeout: Option<Duration>, reset: Option<fn(&IO)>) -> Self {
        Self {
            io,
            timeout,
            blocked: false,
            timer: None,
            reset,
        }
    }

    /// The transport.
    pub fn get_ref(&self) -> &IO {
        &self.io
    }

    /// Whether the last write or flush is blocked.
    pub fn is_blocked(&self) -> bool {
        self.blocked
    }
}

/// Runs the write-timeout bookkeeping around one poll of a write.
fn timed<T>(
    blocked: &mut bool,
    timer: &mut Option<Pin<Box<Sleep>>>,
    timeout: Option<Duration>,
    cx: &mut Context<'_>,
    poll: Poll<io::Result<T>>,
) -> Poll<io::Result<T>> {
    match poll {
        Poll::Ready(result) => {
            *blocked = false;
            *timer = None;
            Poll::Ready(result)
        }
        Poll::Pending => {
            *blocked = true;
            let Some(timeout) = timeout else {
                return Poll::Pending;
            };
            let sleep = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
            if sleep.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the client stopped reading: a write was blocked past the write timeout",
                )));
            }
            Poll::Pending
        }
    }
}

impl<IO: AsyncRead> AsyncRead for TimeoutIo<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.project().io.poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite> AsyncWrite for TimeoutIo<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        let poll = this.io.poll_write(cx, buf);
        timed(this.blocked, this.timer, *this.timeout, cx, poll)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        let poll = this.io.poll_write_vectored(cx, bufs);
        timed(this.blocked, this.timer, *this.timeout, cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.project();
        let poll = this.io.poll_flush(cx);
        timed(this.blocked, this.timer, *this.timeout, cx, poll)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().io.poll_shutdown(cx)
    }
}
