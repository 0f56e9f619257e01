//! The one error type of the crate, and the URL form it shows.

use std::fmt;

/// What went wrong, broadly: enough to decide whether to retry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The configuration was refused before anything was sent (the message
    /// says which setting and what is accepted).
    Config,
    /// Redis could not be reached at start (refused, timed out, bad address,
    /// authentication failed).
    Connect,
    /// Redis is unreachable now or the connection broke, or a reply did not
    /// come within the response timeout. Retrying later may succeed; nothing
    /// was silently dropped: the operation either did not happen or its
    /// outcome is unknown (a publish whose reply was lost may have been
    /// stored).
    Unavailable,
    /// Redis answered with an error (a script error, a key of the wrong type,
    /// out of memory, ...).
    Command,
    /// Redis answered with data this crate cannot read (an entry without its
    /// `data` field, an id that is not `OFFSET-0`, bytes that are not UTF-8).
    Corrupt,
}

/// An error from Redis or about what it returned. Its message names the Redis
/// URL with any password elided.
#[derive(Clone, Debug)]
pub struct Error {
    kind: ErrorKind,
    target: String,
    detail: String,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, target: &str, detail: impl Into<String>) -> Self {
        Self {
            kind,
            target: target.to_owned(),
            detail: detail.into(),
        }
    }

    pub(crate) fn corrupt(target: &str, detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Corrupt, target, detail)
    }

    /// Classifies an error of the `redis` crate.
    pub(crate) fn from_redis(target: &str, err: &redis::RedisError) -> Self {
        let kind = if err.is_io_error()
            || err.is_timeout()
            || err.is_connection_dropped()
            || err.is_connection_refusal()
            || err.is_unrecoverable_error()
        {
            ErrorKind::Unavailable
        } else {
            ErrorKind::Command
        };
        Self::new(kind, target, err.to_string())
    }

    /// The broad kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The Redis URL this error is about, password elided.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// What happened, without the URL.
    pub fn detail(&self) -> &str {
        &self.detail
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            ErrorKind::Config => "bad configuration for",
            ErrorKind::Connect => "cannot connect to",
            ErrorKind::Unavailable => "unavailable:",
            ErrorKind::Command => "error from",
            ErrorKind::Corrupt => "unreadable reply from",
        };
        write!(f, "redis {what} {}: {}", self.target, self.detail)
    }
}

impl std::error::Error for Error {}

/// `url` with its password (if any) replaced by `***`, for messages and logs.
///
/// A URL that does not parse keeps only what follows its last `@`, so a
/// malformed URL never leaks a password either.
///
/// ```
/// use resse_redis::elide_password;
/// assert_eq!(elide_password("redis://:hunter2@10.0.0.5:6379/0"), "redis://:***@10.0.0.5:6379/0");
/// assert_eq!(elide_password("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
/// ```
pub fn elide_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() && parsed.set_password(Some("***")).is_ok() {
                return parsed.to_string();
            }
            if parsed.password().is_some() {
                return "<redis URL with a password>".to_owned();
            }
            url.to_owned()
        }
        Err(_) => match url.rfind('@') {
            Some(at) => format!("***@{}", &url[at + 1..]),
            None => url.to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elides_password_with_user_and_in_unparseable_urls() {
        assert_eq!(
            elide_password("redis://app:s3cret@127.0.0.1:1/"),
            "redis://app:***@127.0.0.1:1/"
        );
        assert_eq!(elide_password("not a url:pw@host"), "***@host");
        assert!(!elide_password("redis://:pw@[bad").contains("pw"));
    }
}
