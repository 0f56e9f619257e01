//! [`EventWriter`]: encoded events and keep-alives into any [`Write`].

use std::io::Write;
use std::time::{Duration, Instant};

use resse_codec::{Encoder, Event};
use resse_heartbeat::{KeepAlive, KeepAliveConfig};

use crate::Error;

/// Writes encoded events, comments and keep-alives to any writer (a
/// socket, a response body), flushing after each, for a threaded server.
///
/// With [`with_keep_alive`](Self::with_keep_alive) a
/// [`KeepAlive`] scheduler from `resse-heartbeat` tracks when the stream was
/// last written: [`keep_alive_due`](Self::keep_alive_due) says whether the
/// stream has been quiet for the interval and
/// [`write_keep_alive`](Self::write_keep_alive) sends the configured
/// message; [`keep_alive_deadline`](Self::keep_alive_deadline) is when to
/// wake up next. Every write counts as activity at the instant it happens.
///
/// ```
/// use std::time::{Duration, Instant};
/// use resse_blocking::EventWriter;
/// use resse_codec::Event;
/// use resse_heartbeat::KeepAliveConfig;
///
/// let t0 = Instant::now();
/// let mut w = EventWriter::with_keep_alive(Vec::new(), KeepAliveConfig::new(Duration::from_secs(15)), t0);
/// w.send(&Event::new("hello").with_id("1"))?;
/// assert!(!w.keep_alive_due(t0));
/// let later = t0 + Duration::from_secs(60);
/// assert!(w.keep_alive_due(later));
/// w.write_keep_alive(later)?;
/// assert_eq!(w.get_ref(), b"id: 1\ndata: hello\n\n: keep-alive\n");
/// # Ok::<(), resse_blocking::Error>(())
/// ```
#[derive(Debug)]
pub struct EventWriter<W> {
    writer: W,
    encoder: Encoder,
    keep_alive: Option<KeepAlive>,
    buf: Vec<u8>,
}

impl<W: Write> EventWriter<W> {
    /// A writer without keep-alives.
    pub fn new(writer: W) -> Self {
        Self {
            writer,
            encoder: Encoder::new(),
            keep_alive: None,
            buf: Vec::new(),
        }
    }

    /// A writer whose stream started at `now` and that sends keep-alives as
    /// `config` says.
    pub fn with_keep_alive(writer: W, config: KeepAliveConfig, now: Instant) -> Self {
        let mut w = Self::new(writer);
        w.keep_alive = Some(KeepAlive::new(now, config));
        w
    }

    /// Writes and flushes one event.
    ///
    /// # Errors
    /// [`Error::Encode`] when the event cannot be encoded (nothing is
    /// written); [`Error::Io`] when writing fails.
    pub fn send(&mut self, event: &Event) -> Result<(), Error> {
        self.buf.clear();
        self.encoder.encode(event, &mut self.buf)?;
        self.flush_buf()
    }

    /// Writes and flushes a comment (one `:` line per line of `text`).
    ///
    /// # Errors
    /// [`Error::Io`] when writing fails.
    pub fn comment(&mut self, text: &str) -> Result<(), Error> {
        self.buf.clear();
        self.encoder.comment(text, &mut self.buf);
        self.flush_buf()
    }

    /// Writes and flushes a `retry:` line: the client's reconnection delay.
    ///
    /// # Errors
    /// [`Error::Io`] when writing fails.
    pub fn retry(&mut self, delay: Duration) -> Result<(), Error> {
        self.buf.clear();
        self.encoder.retry(delay, &mut self.buf);
        self.flush_buf()
    }

    /// Whether a keep-alive is due at `now` (always `false` without
    /// keep-alives).
    pub fn keep_alive_due(&self, now: Instant) -> bool {
        self.keep_alive_deadline().is_some_and(|d| d <= now)
    }

    /// When the next keep-alive is due if nothing is written before; `None`
    /// without keep-alives.
    pub fn keep_alive_deadline(&self) -> Option<Instant> {
        self.keep_alive.as_ref().and_then(KeepAlive::poll_timeout)
    }

    /// Writes the keep-alive message if one is due at `now`; returns whether
    /// it wrote one.
    ///
    /// # Errors
    /// [`Error::Io`] when writing fails; [`Error::Encode`] when the
    /// configured event keep-alive has a newline in its type.
    pub fn write_keep_alive(&mut self, now: Instant) -> Result<bool, Error> {
        let Some(message) = self.keep_alive.as_mut().and_then(|k| k.handle_timeout(now)) else {
            return Ok(false);
        };
        self.buf.clear();
        resse_session::encode_keep_alive(&message, &mut self.buf)?;
        self.flush_buf()?;
        Ok(true)
    }

    /// The underlying writer.
    pub fn get_ref(&self) -> &W {
        &self.writer
    }

    /// The underlying writer, mutably (bytes written directly do not count
    /// as activity for the keep-alive).
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.writer
    }

    /// The underlying writer.
    pub fn into_inner(self) -> W {
        self.writer
    }

    fn flush_buf(&mut self) -> Result<(), Error> {
        self.writer.write_all(&self.buf)?;
        self.writer.flush()?;
        if let Some(k) = &mut self.keep_alive {
            // The one clock read of the writer: when the bytes went out.
            k.on_bytes_sent(Instant::now());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use resse_codec::Frame;

    use crate::EventReader;

    #[test]
    fn written_events_read_back() {
        let mut w = EventWriter::new(Vec::new());
        w.retry(Duration::from_millis(250)).unwrap();
        w.send(&Event::new("a\nb").with_id("7").with_event_type("t"))
            .unwrap();
        w.comment("ignored").unwrap();
        let frames: Vec<_> = EventReader::new(&w.get_ref()[..])
            .map(Result::unwrap)
            .collect();
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0], Frame::Retry(Duration::from_millis(250)));
        let Frame::Event(e) = &frames[1] else {
            panic!("expected an event, got {:?}", frames[1]);
        };
        assert_eq!(
            (e.event_type(), e.data(), e.last_event_id()),
            ("t", "a\nb", "7")
        );
    }

    #[test]
    fn unencodable_event_writes_nothing() {
        let mut w = EventWriter::new(Vec::new());
        assert!(matches!(
            w.send(&Event::new("x").with_id("1\n2")),
            Err(Error::Encode(_))
        ));
        assert!(w.get_ref().is_empty());
    }

    #[test]
    fn keep_alive_only_after_quiet_interval_and_once() {
        let t0 = Instant::now();
        let interval = Duration::from_secs(3600);
        let config = KeepAliveConfig::new(interval)
            .message(resse_heartbeat::KeepAliveMessage::event("ping", ""));
        let mut w = EventWriter::with_keep_alive(Vec::new(), config, t0);
        assert!(!w.write_keep_alive(t0 + interval / 2).unwrap());
        let due = t0 + interval;
        assert!(w.keep_alive_due(due));
        assert!(w.write_keep_alive(due).unwrap());
        assert!(!w.keep_alive_due(due));
        assert!(!w.write_keep_alive(due).unwrap());
        let frames: Vec<_> = EventReader::new(&w.get_ref()[..]).collect();
        assert_eq!(frames.len(), 1, "one keep-alive written");
        assert!(
            matches!(&frames[0], Ok(Frame::Event(e)) if e.event_type() == "ping" && e.data().is_empty())
        );
        // A write pushes the deadline to one interval after it.
        w.comment("x").unwrap();
        assert!(w.keep_alive_deadline().unwrap() > due);
    }

    #[test]
    fn no_keep_alive_configured_never_due() {
        let t0 = Instant::now();
        let mut w = EventWriter::new(Vec::new());
        assert!(!w.keep_alive_due(t0 + Duration::from_secs(1_000_000)));
        assert!(!w.write_keep_alive(t0).unwrap());
        assert_eq!(w.keep_alive_deadline(), None);
    }
}
