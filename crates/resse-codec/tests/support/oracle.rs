//! A naive, obviously-correct reference decoder, written straight from the
//! WHATWG HTML standard, "Server-sent events", sections 9.2.5 "Parsing an event
//! stream" and 9.2.6 "Interpreting an event stream"
//! (<https://html.spec.whatwg.org/multipage/server-sent-events.html>).
//!
//! It is deliberately slow and simple: it sees the whole input at once, decodes
//! it to a `String` first, splits it into lines and then follows the spec's
//! steps one by one. It exists to be compared with the real streaming decoder
//! (tests and fuzz targets), so it depends only on `resse_codec`'s public value
//! types and `std`. Include it elsewhere with
//! `#[path = ".../tests/support/oracle.rs"] mod oracle;`.

#![allow(dead_code)] // each includer uses a different subset

use resse_codec::{Event, Frame};
use std::time::Duration;

/// What the oracle knows about a stream besides its bytes.
#[derive(Clone, Debug, Default)]
pub(crate) struct OracleConfig {
    /// Report comment lines as `Frame::Comment` (the spec ignores them).
    pub(crate) comments: bool,
    /// The last event ID string before the stream starts (a fresh decoder:
    /// `""`; a reconnection: what the previous connection committed).
    pub(crate) last_event_id: String,
}

/// Everything the oracle computes for one stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// Frames, in the order the spec's steps produce them.
    pub(crate) frames: Vec<Frame>,
    /// The event source's "last event ID string" at end of input: only
    /// dispatch commits the last event ID buffer to it.
    pub(crate) last_event_id: String,
    /// Whether end of input discarded anything (resse's
    /// `Decoder::incomplete_at_eof`): an unterminated last line, or a block
    /// whose `data`, `event` or (valid) `id` field was not yet followed by a
    /// blank line. Comments, unknown fields and `retry` lines have already
    /// taken effect, so a block of only those loses nothing.
    pub(crate) incomplete: bool,
}

/// Decodes a whole stream with comments off and a fresh last event ID.
pub(crate) fn decode(input: &[u8]) -> Outcome {
    decode_with(input, &OracleConfig::default())
}

/// Decodes a whole stream.
pub(crate) fn decode_with(input: &[u8], config: &OracleConfig) -> Outcome {
    // 9.2.5: "Streams must be decoded using the UTF-8 decode algorithm."
    // UTF-8 decode = strip one leading BOM, then decode with replacement (one
    // U+FFFD per maximal subpart of an ill-formed sequence, which is exactly
    // what `String::from_utf8_lossy` does).
    let decoded = String::from_utf8_lossy(input);
    let text: &str = decoded.strip_prefix('\u{FEFF}').unwrap_or(&decoded);

    // 9.2.5: lines end with CRLF, LF or CR. "Once the end of the file is
    // reached, any pending data must be discarded": an unterminated last line
    // is not a line.
    let (lines, pending) = split_lines(text);

    // 9.2.6: the buffers, all initially empty (the last event ID buffer starts
    // from the source's last event ID string, as browsers do on reconnection).
    let mut data = String::new();
    let mut event_type = String::new();
    let mut id_buffer = config.last_event_id.clone();
    let mut last_event_id = config.last_event_id.clone();
    let mut frames = Vec::new();
    // Whether the block since the last dispatch touched a buffer that
    // dispatch would consume (for `incomplete`).
    let mut in_block = false;

    for line in lines {
        if line.is_empty() {
            // "If the line is empty (a blank line): dispatch the event."
            in_block = false;
            // Dispatch step 1: set the last event ID string.
            last_event_id = id_buffer.clone();
            // Step 2: empty data buffer: reset and return.
            if data.is_empty() {
                event_type.clear();
                continue;
            }
            // Step 3: remove one trailing LF.
            if data.ends_with('\n') {
                data.pop();
            }
            // Steps 4-7: the event, its type only if non-empty.
            let mut event = Event::new(data.as_str()).with_id(last_event_id.as_str());
            if !event_type.is_empty() {
                event = event.with_event_type(event_type.as_str());
            }
            frames.push(Frame::Event(event));
            // Step 8: reset data and event type buffers.
            data.clear();
            event_type.clear();
            continue;
        }
        if let Some(comment) = line.strip_prefix(':') {
            // "If the line starts with a U+003A COLON character: ignore the line."
            // (Reported only on request, with one leading space removed.)
            if config.comments {
                let text = comment.strip_prefix(' ').unwrap_or(comment);
                frames.push(Frame::Comment(text.into()));
            }
            continue;
        }
        let (field, value) = match line.find(':') {
            // Name before the first colon, value after it minus one U+0020.
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(' ').unwrap_or(value))
            }
            // No colon: the whole line is the name, the value is empty.
            None => (line, ""),
        };
        // "Process the field": names are compared literally.
        match field {
            "event" => {
                event_type = value.to_owned();
                in_block = true;
            }
            "data" => {
                data.push_str(value);
                data.push('\n');
                in_block = true;
            }
            // "If the field value does not contain U+0000 NULL" (else ignore).
            "id" if !value.contains('\u{0}') => {
                id_buffer = value.to_owned();
                in_block = true;
            }
            "retry" => {
                if let Some(ms) = parse_retry(value) {
                    frames.push(Frame::Retry(Duration::from_millis(ms)));
                }
            }
            _ => {}
        }
    }

    Outcome {
        frames,
        last_event_id,
        incomplete: in_block || !pending.is_empty(),
    }
}

/// The `retry` rule: only a non-empty string of ASCII digits counts, read in
/// base ten. Values beyond `u64::MAX` milliseconds saturate (resse's choice; the
/// spec sets no bound).
pub(crate) fn parse_retry(value: &str) -> Option<u64> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut ms: u64 = 0;
    for b in value.bytes() {
        ms = ms.saturating_mul(10).saturating_add(u64::from(b - b'0'));
    }
    Some(ms)
}

/// Splits at CRLF, LF and lone CR. Returns the complete lines (terminators
/// removed) and the unterminated rest.
pub(crate) fn split_lines(text: &str) -> (Vec<&str>, &str) {
    let mut lines = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                lines.push(&text[start..i]);
                i += 1;
                start = i;
            }
            b'\r' => {
                lines.push(&text[start..i]);
                i += 1;
                if i < bytes.len() && bytes[i] == b'\n' {
                    i += 1;
                }
                start = i;
            }
            _ => i += 1,
        }
    }
    (lines, &text[start..])
}

/// The round-trip law's normal form: what a fresh decoder yields for
/// `encode(e)`. Event type `Some("")` becomes `None`; CRLF and lone CR in the
/// data become LF; a missing id becomes `""`; retry is dropped (it arrives as
/// its own `Frame::Retry`).
pub(crate) fn normalize(e: &Event) -> Event {
    let data = e.data().replace("\r\n", "\n").replace('\r', "\n");
    let mut out = Event::new(data).with_id(e.id().unwrap_or(""));
    if let Some(t) = e.event_type_text() {
        if !t.is_empty() {
            out = out.with_event_type(t.clone());
        }
    }
    out
}

#[cfg(test)]
mod self_tests {
    //! The oracle checks itself against a few spec examples, so that a wrong
    //! oracle cannot make everything "agree".

    use super::*;

    fn ev(data: &str, id: &str) -> Frame {
        Frame::Event(Event::new(data).with_id(id))
    }

    #[test]
    fn spec_examples() {
        // 9.2.6 examples: "data" lines, two events, id handling.
        let out = decode(b"data: YHOO\ndata: +2\ndata: 10\n\n");
        assert_eq!(out.frames, vec![ev("YHOO\n+2\n10", "")]);
        let out = decode(b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n");
        assert_eq!(
            out.frames,
            vec![ev("first event", "1"), ev("second event", "")]
        );
        assert!(out.incomplete);
        assert_eq!(out.last_event_id, "");
        let out = decode(b"data\n\ndata\ndata\n\ndata:\n");
        assert_eq!(out.frames, vec![ev("", ""), ev("\n", "")]);
        let out = decode(b"data:test\n\ndata: test\n\n");
        assert_eq!(out.frames, vec![ev("test", ""), ev("test", "")]);
    }

    #[test]
    fn lines_and_bom() {
        assert_eq!(split_lines("a\r\nb\rc\nd"), (vec!["a", "b", "c"], "d"));
        assert_eq!(split_lines("a\r"), (vec!["a"], ""));
        let out = decode(b"\xEF\xBB\xBF\xEF\xBB\xBFdata:1\n\ndata:2\r\r");
        assert_eq!(out.frames, vec![ev("2", "")]);
        assert!(!out.incomplete);
        assert!(!decode(b"retry: 1\n: c\nfoo\n").incomplete);
        assert!(decode(b"retry: 1\n: c\nfoo").incomplete);
        assert!(decode(b"id\n").incomplete);
        assert!(!decode(b"id:\0\n").incomplete);
    }

    #[test]
    fn retry_rule() {
        assert_eq!(parse_retry("03000"), Some(3000));
        assert_eq!(parse_retry(""), None);
        assert_eq!(parse_retry("1a"), None);
        assert_eq!(parse_retry(" 1"), None);
        assert_eq!(parse_retry("99999999999999999999999"), Some(u64::MAX));
    }
}
