//! Printing decoded frames: JSON lines for programs, a readable form for people.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::{self, Write};

use std::time::Duration;

use resse_codec::{Event, Frame};
use serde::Serialize;

/// How frames are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// One JSON object per line (see the `decode` help for the shapes).
    Json,
    /// Indented, readable text; control characters are escaped (see [`clean`]).
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
        match frame {
            Frame::Event(e) => self.event(e),
            Frame::Retry(d) => self.retry(*d),
            Frame::Comment(text) => self.comment(text),
            // Frame is non-exhaustive: a kind this version does not know is not printed.
            _ => Ok(()),
        }
    }

    /// Prints one event: its type, its last event id (sticky) and its data.
    pub(crate) fn event(&mut self, e: &Event) -> io::Result<()> {
        match self.format {
            Format::Json => self.json(&EventRecord {
                event: e.event_type(),
                data: e.data(),
                id: e.last_event_id(),
            }),
            Format::Human => {
                let mut text = format!("event: {}", clean(e.event_type()));
                if !e.last_event_id().is_empty() {
                    let _ = write!(text, "  id: {}", clean(e.last_event_id()));
                }
                text.push('\n');
                // The data's own line breaks are shown as line breaks: one
                // indented output line per data line (a data line cannot hold
                // CR or LF, so nothing else breaks a line).
                for line in e.data().split('\n') {
                    let _ = writeln!(text, "  {}", clean(line));
                }
                self.out.write_all(text.as_bytes())
            }
        }
    }

    /// Prints a `retry:` value.
    pub(crate) fn retry(&mut self, delay: Duration) -> io::Result<()> {
        match self.format {
            Format::Json => self.json(&RetryRecord {
                retry: delay.as_millis(),
            }),
            Format::Human => writeln!(self.out, "retry: {}ms", delay.as_millis()),
        }
    }

    /// Prints a comment.
    pub(crate) fn comment(&mut self, text: &str) -> io::Result<()> {
        match self.format {
            Format::Json => self.json(&CommentRecord { comment: text }),
            Format::Human => writeln!(self.out, ": {}", clean(text)),
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
                    format!(
                        "last event id \"{}\"",
                        clean(&last_event_id.escape_debug().to_string())
                    )
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

    /// The underlying writer (tests).
    #[cfg(test)]
    pub(crate) fn into_inner(self) -> W {
        self.out
    }

    /// Writes `record` as one line of JSON (see [`SafeJson`]).
    fn json<T: Serialize>(&mut self, record: &T) -> io::Result<()> {
        let mut ser = serde_json::Serializer::with_formatter(&mut self.out, SafeJson);
        record.serialize(&mut ser).map_err(io::Error::from)?;
        self.out.write_all(b"\n")
    }
}

/// Writes `value` as one line of JSON, with the escapes of [`SafeJson`].
pub(crate) fn json_line<T: Serialize>(out: &mut impl Write, value: &T) -> io::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(&mut *out, SafeJson);
    value.serialize(&mut ser).map_err(io::Error::from)?;
    out.write_all(b"\n")
}

/// Whether the readable form shows `c` escaped (`\u{1b}`) rather than as is.
///
/// These are the characters that can drive or reorder a terminal, or fake a
/// line: the C0 controls but tab (ESC starts every terminal escape sequence;
/// CR, LF, BS and friends move the cursor), DEL, the C1 controls
/// U+0080–U+009F (U+009B is a one-byte CSI on some terminals, U+0085 a line
/// break), the bidirectional formatting characters (U+061C, U+200E, U+200F,
/// U+202A–U+202E, U+2066–U+2069: they reorder the text around them, the
/// "Trojan Source" trick) and the line and paragraph separators U+2028,
/// U+2029.
pub(crate) const fn is_unsafe(c: char) -> bool {
    matches!(
        c,
        '\0'..='\u{8}'
            | '\u{a}'..='\u{1f}'
            | '\u{7f}'..='\u{9f}'
            | '\u{61c}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
    )
}

/// Prints a status line on stderr as `resse: LINE`, escaped (parts of it may
/// come from a server). A closed or failing stderr is ignored: a long-running
/// `serve` or `tail` must not stop (or panic, as `eprintln!` would) because
/// nobody reads its log.
pub(crate) fn note(line: &str) {
    let _ = writeln!(io::stderr().lock(), "resse: {}", clean(line));
}

/// Escapes the characters of [`is_unsafe`] as `\u{HEX}`, so that a stream
/// cannot move the cursor, clear the screen, reorder text or fake lines on a
/// terminal. Tab is kept. A backslash is not escaped: `\u{1b}` in the output
/// may also be those six characters in the input (`--json` is exact).
pub(crate) fn clean(s: &str) -> Cow<'_, str> {
    if !s.contains(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_unsafe(c) {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// The JSON form of `serde_json`'s compact output, with the characters of
/// [`is_unsafe`] that serde_json leaves raw (DEL, C1 with U+0085, the bidi
/// controls, U+2028 and U+2029) also written as `\uXXXX`: the same strings
/// for a JSON reader, but nothing a terminal or a JavaScript `eval` of the
/// line would act on.
struct SafeJson;

impl serde_json::ser::Formatter for SafeJson {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        // serde_json has already escaped `"`, `\` and C0; the fragment holds
        // everything else.
        let mut rest = fragment;
        while let Some(at) = rest.find(is_unsafe) {
            let (plain, tail) = rest.split_at(at);
            writer.write_all(plain.as_bytes())?;
            let mut chars = tail.chars();
            if let Some(c) = chars.next() {
                // Every unsafe character is in the BMP: one `\uXXXX`.
                write!(writer, "\\u{:04x}", u32::from(c))?;
            }
            rest = chars.as_str();
        }
        writer.write_all(rest.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::{Format, Renderer, clean};

    #[test]
    fn clean_escapes_control_characters_only() {
        assert_eq!(clean("plain text\twith tab, é"), "plain text\twith tab, é");
        assert_eq!(clean("\u{1b}[2Jgone"), "\\u{1b}[2Jgone");
        assert_eq!(clean("a\0b\u{7f}c\u{85}"), "a\\u{0}b\\u{7f}c\\u{85}");
        assert_eq!(clean("\r\n\u{9b}31m"), "\\u{d}\\u{a}\\u{9b}31m");
    }

    #[test]
    fn clean_escapes_bidi_controls_and_separators() {
        for c in [
            '\u{61c}', '\u{200e}', '\u{200f}', '\u{2028}', '\u{2029}', '\u{202a}', '\u{202b}',
            '\u{202c}', '\u{202d}', '\u{202e}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
        ] {
            let input = format!("a{c}b");
            assert_eq!(clean(&input), format!("a\\u{{{:x}}}b", u32::from(c)));
        }
        // Neighbours stay: zero-width space and joiner, U+2065, U+206A, U+00A0.
        let fine = "\u{200b}\u{200d}\u{2065}\u{206a}\u{a0}";
        assert_eq!(clean(fine), fine);
    }

    #[test]
    fn json_escapes_what_serde_json_leaves_raw() {
        let mut out = Renderer::new(Vec::new(), Format::Json);
        out.comment("\u{1b}x\u{7f}\u{85}\u{9b}\u{2028}\u{2029}\u{202e}\u{2066}é\"\\")
            .expect("write to a Vec");
        let line = String::from_utf8(out.into_inner()).expect("UTF-8");
        assert_eq!(
            line,
            "{\"comment\":\"\\u001bx\\u007f\\u0085\\u009b\\u2028\\u2029\\u202e\\u2066é\\\"\\\\\"}\n"
        );
        let value: serde_json::Value = serde_json::from_str(&line).expect("valid JSON");
        assert_eq!(
            value["comment"],
            "\u{1b}x\u{7f}\u{85}\u{9b}\u{2028}\u{2029}\u{202e}\u{2066}é\"\\"
        );
    }
}
