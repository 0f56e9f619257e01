//! [`ConnectError`] (from `resse-session`), carried in an [`io::Error`],
//! and the marker of the resolver's failures.

use std::error::Error;
use std::fmt;
use std::io;

pub use resse_session::{ConnectError, ConnectErrorKind};

/// `error` in an [`io::Error`] of a kind that matches it:
/// `ConnectionRefused`, `NotFound`, `InvalidData`, `TimedOut` or `Other`.
/// The `io::Error` shows its message, and [`io::Error::get_ref`] gives it
/// back.
pub(crate) fn into_io(error: ConnectError) -> io::Error {
    let kind = match error.kind() {
        ConnectErrorKind::Refused => io::ErrorKind::ConnectionRefused,
        ConnectErrorKind::Dns => io::ErrorKind::NotFound,
        ConnectErrorKind::Tls => io::ErrorKind::InvalidData,
        ConnectErrorKind::Timeout => io::ErrorKind::TimedOut,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, error)
}

/// A name resolution failure (marks the resolver's errors).
#[derive(Debug)]
pub(crate) struct DnsError(pub(crate) io::Error);

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Error for DnsError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.0.source()
    }
}
