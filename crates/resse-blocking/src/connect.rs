//! [`Connect`], [`Stream`] and the default [`HttpConnector`]: a minimal
//! HTTP/1.1 client over [`TcpStream`] for `http://` URLs.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use http::header::{CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use resse_session::Request;

use crate::CloseHandle;

/// The longest response head the [`HttpConnector`] accepts.
const MAX_HEAD: usize = 64 * 1024;

/// An open response: the status and headers, and the body to read.
#[derive(Debug)]
#[non_exhaustive]
pub struct Response<S> {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: S,
}

impl<S> Response<S> {
    /// A response.
    pub fn new(status: StatusCode, headers: HeaderMap, body: S) -> Self {
        Self {
            status,
            headers,
            body,
        }
    }
}

/// How long a [`Connect`] may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timeouts {
    /// For the TCP (and TLS) connection itself.
    pub connect: Duration,
    /// Until the whole response head has arrived, counted from the start of
    /// the attempt (the session's idle deadline); `None` for no limit.
    pub response: Option<Duration>,
}

/// A response body the [`Client`](crate::Client) can read with a timeout.
///
/// A body whose reads cannot time out cannot detect a silent connection:
/// the idle timeout then only acts between reads.
pub trait Stream: Read {
    /// Makes each following `read` fail with `WouldBlock` or `TimedOut`
    /// after `timeout` without data (`None`: block). The client passes at
    /// least 1 ms.
    ///
    /// # Errors
    /// When the timeout cannot be set.
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()>;
}

/// Opens the connection a [`Request`] describes: bring your own HTTP client
/// by implementing it.
pub trait Connect {
    /// The response body.
    type Stream: Stream;

    /// Sends `request` and reads the response head, within `timeouts`.
    ///
    /// To let [`CloseHandle::close`] interrupt a blocked call promptly,
    /// register a way to shut the connection down with
    /// [`CloseHandle::on_close`] as soon as there is one (the client
    /// unregisters it when the connection ends).
    ///
    /// # Errors
    /// Any failure to get a response head (the client reconnects); a
    /// `WouldBlock` or `TimedOut` error means the response timeout expired.
    fn connect(
        &mut self,
        request: &Request,
        timeouts: Timeouts,
        close: &CloseHandle,
    ) -> io::Result<Response<Self::Stream>>;
}

/// The default [`Connect`]: HTTP/1.1 over a [`TcpStream`], `http://` only.
///
/// It sends the request (a `Content-Length` body if any), reads the head,
/// and reads the body as framed by `Transfer-Encoding: chunked`,
/// `Content-Length`, or the end of the connection. No TLS, no proxy, no
/// compression, no connection reuse: an event stream holds its connection
/// anyway. For `https://`, implement [`Connect`] over your TLS client.
#[derive(Clone, Debug, Default)]
pub struct HttpConnector {
    _private: (),
}

impl HttpConnector {
    /// The connector.
    pub fn new() -> Self {
        Self::default()
    }
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_owned())
}

impl Connect for HttpConnector {
    type Stream = HttpBody;

    fn connect(
        &mut self,
        request: &Request,
        timeouts: Timeouts,
        close: &CloseHandle,
    ) -> io::Result<Response<HttpBody>> {
        let start = Instant::now();
        let uri: Uri = request
            .url
            .parse()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "invalid url"))?;
        if uri.scheme_str() != Some("http") {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "the default connector only speaks http://; bring a Connect for https",
            ));
        }
        let host = uri
            .host()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "url without host"))?;
        let port = uri.port_u16().unwrap_or(80);
        let host_port = host.trim_start_matches('[').trim_end_matches(']');
        let mut last = io::Error::new(io::ErrorKind::NotFound, "no address for host");
        let mut tcp = None;
        for addr in (host_port, port).to_socket_addrs()? {
            match TcpStream::connect_timeout(&addr, timeouts.connect.max(Duration::from_millis(1)))
            {
                Ok(s) => {
                    tcp = Some(s);
                    break;
                }
                Err(e) => last = e,
            }
        }
        let mut tcp = tcp.ok_or(last)?;
        let shutdown = tcp.try_clone()?;
        close.on_close(move || {
            let _ = shutdown.shutdown(Shutdown::Both);
        });
        tcp.set_nodelay(true)?;

        // Request.
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let mut head = format!("{} {} HTTP/1.1\r\n", request.method, path).into_bytes();
        if !request.headers.contains_key(HOST) {
            let authority = uri.authority().map_or(host, |a| a.as_str());
            head.extend_from_slice(format!("host: {authority}\r\n").as_bytes());
        }
        for (name, value) in &request.headers {
            head.extend_from_slice(name.as_str().as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(value.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
        if let Some(body) = &request.body {
            head.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
        }
        head.extend_from_slice(b"\r\n");
        let remaining = |start: Instant| {
            timeouts.response.map(|t| {
                t.saturating_sub(start.elapsed())
                    .max(Duration::from_millis(1))
            })
        };
        tcp.set_write_timeout(remaining(start))?;
        tcp.write_all(&head)?;
        if let Some(body) = &request.body {
            tcp.write_all(body)?;
        }

        // Response head; interim 1xx heads (other than 101) are skipped.
        let mut buf = Vec::with_capacity(1024);
        let mut chunk = [0u8; 4096];
        let (status, headers) = loop {
            let end = loop {
                if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break i + 4;
                }
                if buf.len() > MAX_HEAD {
                    return Err(invalid("response head too long"));
                }
                tcp.set_read_timeout(remaining(start))?;
                let n = tcp.read(&mut chunk)?;
                if n == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "connection closed before the response head",
                    ));
                }
                buf.extend_from_slice(&chunk[..n]);
            };
            let head = parse_head(&buf[..end])?;
            buf.drain(..end);
            if !head.0.is_informational() || head.0 == StatusCode::SWITCHING_PROTOCOLS {
                break head;
            }
        };
        let framing = if headers
            .get_all(TRANSFER_ENCODING)
            .iter()
            .any(|v| v.as_bytes().eq_ignore_ascii_case(b"chunked"))
        {
            Framing::Chunked(Chunk::Size)
        } else if let Some(len) = headers.get(CONTENT_LENGTH) {
            let len = len
                .to_str()
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .ok_or_else(|| invalid("bad content-length"))?;
            Framing::Length(len)
        } else {
            Framing::Close
        };
        let body = HttpBody {
            tcp,
            pending: buf,
            framing,
        };
        Ok(Response::new(status, headers, body))
    }
}

fn parse_head(head: &[u8]) -> io::Result<(StatusCode, HeaderMap)> {
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, |&b| b == b' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with(b"HTTP/1.") {
        return Err(invalid("not an HTTP/1 response"));
    }
    let status = parts
        .next()
        .and_then(|c| StatusCode::from_bytes(c).ok())
        .ok_or_else(|| invalid("bad status"))?;
    let mut headers = HeaderMap::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or_else(|| invalid("bad header line"))?;
        let name =
            HeaderName::from_bytes(&line[..colon]).map_err(|_| invalid("bad header name"))?;
        let value = HeaderValue::from_bytes(line[colon + 1..].trim_ascii())
            .map_err(|_| invalid("bad header value"))?;
        headers.append(name, value);
    }
    Ok((status, headers))
}

#[derive(Debug)]
enum Framing {
    Close,
    Length(u64),
    Chunked(Chunk),
}

#[derive(Debug)]
enum Chunk {
    Size,
    Data(u64),
    DataEnd,
    Trailers,
    Done,
}

/// The body of an [`HttpConnector`] response.
#[derive(Debug)]
pub struct HttpBody {
    tcp: TcpStream,
    /// Bytes received but not yet consumed (raw, framing included).
    pending: Vec<u8>,
    framing: Framing,
}

impl HttpBody {
    /// Reads more raw bytes into `pending`; 0 at the end of the connection.
    fn fill(&mut self) -> io::Result<usize> {
        let mut chunk = [0u8; crate::reader::CHUNK];
        let n = self.tcp.read(&mut chunk)?;
        self.pending.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// Takes one line (without its end) from `pending`, reading as needed.
    fn line(&mut self) -> io::Result<Vec<u8>> {
        loop {
            if let Some(i) = self.pending.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.pending.drain(..=i).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            if self.pending.len() > MAX_HEAD {
                return Err(invalid("chunk line too long"));
            }
            if self.fill()? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    /// Copies up to `limit` body bytes into `out`, reading as needed.
    fn data(&mut self, out: &mut [u8], limit: u64) -> io::Result<usize> {
        if self.pending.is_empty() && self.fill()? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let n = self
            .pending
            .len()
            .min(out.len())
            .min(usize::try_from(limit).unwrap_or(usize::MAX));
        out[..n].copy_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        Ok(n)
    }
}

impl Read for HttpBody {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            match self.framing {
                Framing::Close => {
                    if self.pending.is_empty() {
                        return self.tcp.read(out);
                    }
                    return self.data(out, u64::MAX);
                }
                Framing::Length(0) => return Ok(0),
                Framing::Length(left) => {
                    let n = self.data(out, left)?;
                    self.framing = Framing::Length(left - n as u64);
                    return Ok(n);
                }
                Framing::Chunked(Chunk::Size) => {
                    let line = self.line()?;
                    let hex = line.split(|&b| b == b';').next().unwrap_or_default();
                    let size = std::str::from_utf8(hex)
                        .ok()
                        .and_then(|s| u64::from_str_radix(s.trim(), 16).ok())
                        .ok_or_else(|| invalid("bad chunk size"))?;
                    self.framing = Framing::Chunked(if size == 0 {
                        Chunk::Trailers
                    } else {
                        Chunk::Data(size)
                    });
                }
                Framing::Chunked(Chunk::Data(left)) => {
                    let n = self.data(out, left)?;
                    let left = left - n as u64;
                    self.framing = Framing::Chunked(if left == 0 {
                        Chunk::DataEnd
                    } else {
                        Chunk::Data(left)
                    });
                    return Ok(n);
                }
                Framing::Chunked(Chunk::DataEnd) => {
                    if !self.line()?.is_empty() {
                        return Err(invalid("chunk not followed by a line end"));
                    }
                    self.framing = Framing::Chunked(Chunk::Size);
                }
                Framing::Chunked(Chunk::Trailers) => {
                    if self.line()?.is_empty() {
                        self.framing = Framing::Chunked(Chunk::Done);
                    }
                }
                Framing::Chunked(Chunk::Done) => return Ok(0),
            }
        }
    }
}

impl Stream for HttpBody {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.tcp.set_read_timeout(timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_parses_status_and_repeated_headers() {
        let (status, headers) =
            parse_head(b"HTTP/1.1 503 Busy\r\nRetry-After: 1\r\nX: a\r\nx:  b \r\n\r\n").unwrap();
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(headers["retry-after"], "1");
        let xs: Vec<_> = headers.get_all("x").iter().collect();
        assert_eq!(xs, ["a", "b"]);
    }

    #[test]
    fn head_that_is_not_http_is_refused() {
        assert!(parse_head(b"SSH-2.0-x\r\n\r\n").is_err());
        assert!(parse_head(b"HTTP/1.1 abc\r\n\r\n").is_err());
    }
}
