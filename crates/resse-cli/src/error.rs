//! Errors that end a subcommand early.

use std::fmt;
use std::io;
use std::net::SocketAddr;

/// A failure that stops the current subcommand (printed as `resse: <message>`;
/// exit status 2 for [`Usage`](Self::Usage), else 1).
///
/// Decoder limit errors are not here: they do not stop decoding (see `decode`).
#[derive(Debug)]
pub(crate) enum CliError {
    /// Opening or reading the input failed.
    Input {
        /// The input as the user named it (`-` for stdin).
        name: String,
        /// What went wrong.
        source: io::Error,
    },
    /// Writing to stdout failed.
    Output(io::Error),
    /// An argument that the parser accepted but the subcommand cannot use
    /// (a malformed URL): exit status 2, as for the parser's own errors.
    Usage(String),
    /// The async runtime could not start.
    Runtime(io::Error),
    /// `serve` could not set up TLS (a certificate or key file, or their pair).
    Tls(String),
    /// `demo` could not get going (its clients did not connect).
    Demo(String),
    /// The shared log (Redis) cannot be used at start.
    Redis(String),
    /// `serve` could not listen on its address.
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What went wrong.
        source: io::Error,
    },
}

impl CliError {
    /// The exit status for this error.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => 2,
            _ => 1,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Input { name, source } if name == "-" => write!(f, "reading stdin: {source}"),
            Self::Input { name, source } => write!(f, "{name}: {source}"),
            Self::Output(source) => write!(f, "writing output: {source}"),
            Self::Usage(message) => f.write_str(message),
            Self::Tls(message) => write!(f, "TLS: {message}"),
            Self::Demo(message) => write!(f, "demo: {message}"),
            Self::Redis(message) => write!(f, "Redis: {message}"),
            Self::Runtime(source) => write!(f, "starting the async runtime: {source}"),
            Self::Bind { addr, source } => write!(f, "cannot listen on {addr}: {source}"),
        }
    }
}

impl std::error::Error for CliError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Input { source, .. }
            | Self::Output(source)
            | Self::Runtime(source)
            | Self::Bind { source, .. } => Some(source),
            Self::Usage(_) | Self::Tls(_) | Self::Demo(_) | Self::Redis(_) => None,
        }
    }
}
