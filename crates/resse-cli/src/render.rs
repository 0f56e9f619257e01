//! Printing decoded frames: JSON lines for programs, a readable form for people.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::{self, Write};

use resse_codec::Frame;
use serde::Serialize;

/// How frames are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// One JSON object per line (see the `decode` help for the shapes).
    Json,
    /// Indented, readable text; control characters are escaped.
    Human,
}

/// `{"event": TYPE, "data": DATA, "id": LAST_EVENT_ID}` (field order is the key order).
#[derive(Serialize)]
struct EventRecord<'a> {
    event: &'a str,
    data: &'a str,
    id: &'a str,
}

/// `{"retry": MILLISECONDS}`.
#[derive(Serialize)]
struct RetryRecord {
    retry: u128,
}

/// `{"comment": TEXT}`.
#[derive(Serialize)]
struct CommentRecord<'a> {
    comment: &'a str,
}

/// `{"eof": {"last_event_id": ID, "incomplete": BOOL}}`.
#[derive(Serialize)]
struct EofRecord<'a> {
    eof: EofInfo<'a>,
}

/// The body of [`EofRecord`].
#[derive(Serialize)]
struct EofInfo<'a> {
    last_event_id: &'a str,
    incomplete: bool,
}

/// Writes frames to `W` in one [`Format`]. Does not flush on its own.
#[derive(Debug)]
pub(crate) struct Renderer<W> {
    out: W,
    format: Format,
}

impl<W: Write> Renderer<W> {
    /// A renderer writing to `out`.
    pub(crate) const fn new(out: W, format: Format) -> Self {
        Self { out, format }
    }

    /// Prints one decoded frame.
    pub(crate) fn frame(&mut self, frame: &Frame) -> io::Result<()> {
        match (self.format, frame) {
            (Format::Json, Frame::Event(e)) => self.json(&EventRecord {
                event: e.event_type(),
                data: e.data(),
                id: e.last_event_id(),
            }),
            (Format::Json, Frame::Retry(d)) => self.json(&RetryRecord {
                retry: d.as_millis(),
            }),
            (Format::Json, Frame::Comment(text)) => self.json(&CommentRecord { comment: text }),
            (Format::Human, Frame::Event(e)) => {
                let mut text = format!("event: {}", clean(e.event_type()));
                if !e.last_event_id().is_empty() {
                    let _ = write!(text, "  id: {}", clean(e.last_event_id()));
                }
                text.push('\n');
                for line in e.data().split('\n') {
                    let _ = writeln!(text, "  {}", clean(line));
                }
                self.out.write_all(text.as_bytes())
            }
            (Format::Human, Frame::Retry(d)) => writeln!(self.out, "retry: {}ms", d.as_millis()),
            (Format::Human, Frame::Comment(text)) => writeln!(self.out, ": {}", clean(text)),
            // Frame is non-exhaustive: a kind this version does not know is not printed.
            (_, _) => Ok(()),
        }
    }

    /// Prints the end-of-stream record.
    pub(crate) fn end_of_stream(
        &mut self,
        last_event_id: &str,
        incomplete: bool,
    ) -> io::Result<()> {
        match self.format {
            Format::Json => self.json(&EofRecord {
                eof: EofInfo {
                    last_event_id,
                    incomplete,
                },
            }),
            Format::Human => {
                let id = if last_event_id.is_empty() {
                    "no last event id".to_owned()
                } else {
                    format!("last event id \"{}\"", last_event_id.escape_debug())
                };
                let tail = if incomplete {
                    "; an unterminated event was discarded"
                } else {
                    ""
                };
                writeln!(self.out, "-- end of stream ({id}{tail})")
            }
        }
    }

    /// Flushes the underlying writer.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Writes `record` as one line of JSON.
    fn json<T: Serialize>(&mut self, record: &T) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, record)?;
        self.out.write_all(b"\n")
    }
}

/// Escapes control characters (except tab) so that a stream cannot move the
/// cursor, clear the screen or fake lines on a terminal.
fn clean(s: &str) -> Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() && c != '\t';
    if !s.contains(unsafe_char) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if unsafe_char(c) {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::clean;

    #[test]
    fn clean_escapes_control_characters_only() {
        assert_eq!(clean("plain text\twith tab, é"), "plain text\twith tab, é");
        assert_eq!(clean("\u{1b}[2Jgone"), "\\u{1b}[2Jgone");
        assert_eq!(clean("a\0b\u{7f}c\u{85}"), "a\\u{0}b\\u{7f}c\\u{85}");
    }
}
