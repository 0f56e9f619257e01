//! The crate's [`Error`].

use std::{fmt, io};

use resse_codec::{DecodeError, EncodeError};
use resse_session::{CloseReason, ConfigError};

/// Everything that can go wrong in this crate.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing failed. From an [`EventReader`](crate::EventReader)
    /// or [`EventWriter`](crate::EventWriter) the stream is usually unusable
    /// afterwards (a read timeout, `WouldBlock`/`TimedOut`, is the exception:
    /// reading may go on). The [`Client`](crate::Client) never returns it:
    /// it reconnects instead.
    Io(io::Error),
    /// An event exceeded a decoder limit. With
    /// [`Overflow::Skip`](resse_codec::Overflow::Skip) (the default) the
    /// event was skipped and the stream goes on; with `Stop` nothing more is
    /// decoded.
    Decode(DecodeError),
    /// An event could not be encoded (a newline in its type or id); nothing
    /// was written and the writer goes on.
    Encode(EncodeError),
    /// The client configuration is invalid: a URL that is not an absolute
    /// `http://` or `https://` URL with a host, or an invalid reconnection
    /// policy. The message says what is wrong and what is accepted.
    Config(ConfigError),
    /// The client closed for a reason that is a failure (a refused status
    /// or content type, too many redirects, a retry limit, a decoder limit
    /// with `Overflow::Stop`). Final. What `?` makes of the `Err` of
    /// [`Client::next_event`](crate::Client::next_event) in a function that
    /// returns this type.
    Closed(CloseReason),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(_) => f.write_str("i/o error"),
            Self::Decode(_) => f.write_str("event stream limit exceeded"),
            Self::Encode(_) => f.write_str("event cannot be encoded"),
            Self::Config(e) => write!(f, "invalid client configuration: {e}"),
            Self::Closed(reason) => write!(f, "event stream closed: {reason}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            Self::Decode(e) => Some(e),
            Self::Encode(e) => Some(e),
            Self::Config(e) => std::error::Error::source(e),
            Self::Closed(_) => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

impl From<DecodeError> for Error {
    fn from(e: DecodeError) -> Self {
        Self::Decode(e)
    }
}

impl From<EncodeError> for Error {
    fn from(e: EncodeError) -> Self {
        Self::Encode(e)
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Self::Config(e)
    }
}

impl From<CloseReason> for Error {
    fn from(e: CloseReason) -> Self {
        Self::Closed(e)
    }
}
