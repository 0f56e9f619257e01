//! One table case per rule of the WHATWG "event stream interpretation"
//! algorithm (and per resse decision beyond it), each fed whole, byte by byte,
//! split at every two-way boundary and, for short inputs, at every three-way
//! boundary; plus the limits at their exact boundaries.

mod support;

use bytes::BytesMut;
use resse_codec::{BufferedDecoder, Decoder, DecoderConfig, Event, Frame, Overflow, Text};
use std::time::Duration;
use support::Out;
use support::oracle::{self, OracleConfig};

/// Inputs up to this many bytes are also cut at every three-way boundary.
const THREE_WAY_MAX: usize = 40;

fn ev(data: &str) -> Frame {
    Frame::Event(Event::new(data).with_id(""))
}

fn ev_id(data: &str, id: &str) -> Frame {
    Frame::Event(Event::new(data).with_id(id))
}

fn ev_type(event_type: &str, data: &str, id: &str) -> Frame {
    Frame::Event(Event::new(data).with_event_type(event_type).with_id(id))
}

fn retry(ms: u64) -> Frame {
    Frame::Retry(Duration::from_millis(ms))
}

fn comment(text: &str) -> Frame {
    Frame::Comment(text.into())
}

/// What a table case expects (default: no frames, last event ID "", complete,
/// comments off).
#[derive(Debug, Default)]
struct Expect {
    frames: Vec<Frame>,
    last_id: String,
    incomplete: bool,
    comments: bool,
}

/// Runs `input` under every chunking and compares with `exp` and the oracle.
fn check(name: &str, input: &[u8], exp: &Expect) {
    let config = DecoderConfig::default().comments(exp.comments);
    let want = (exp.frames.clone(), exp.last_id.clone(), exp.incomplete);
    let oracle = oracle::decode_with(
        input,
        &OracleConfig {
            comments: exp.comments,
            last_event_id: String::new(),
        },
    );
    assert_eq!(
        (oracle.frames, oracle.last_event_id, oracle.incomplete),
        want,
        "{name}: the oracle disagrees with the table for {:?}",
        support::show(input)
    );
    for (label, cuts) in support::chunkings(input.len(), THREE_WAY_MAX) {
        let got = support::run_split(&config, input, &cuts).triple();
        assert_eq!(
            got,
            want,
            "{name} ({label}) input {:?}",
            support::show(input)
        );
    }
}

/// `spec!(name, input, [frames], key = value, ...)`: a table case; keys are
/// the fields of [`Expect`] (`last_id`, `incomplete`, `comments`).
macro_rules! spec {
    ($(#[$meta:meta])* $name:ident, $input:expr, [$($frame:expr),* $(,)?] $(, $key:ident = $val:expr)* $(,)?) => {
        $(#[$meta])*
        #[test]
        fn $name() {
            #[allow(unused_mut)]
            let mut exp = Expect { frames: vec![$($frame),*], ..Expect::default() };
            $(exp.$key = $val.into();)*
            check(stringify!($name), $input, &exp);
        }
    };
}

// --- BOM -------------------------------------------------------------------

spec!(bom_stripped, b"\xEF\xBB\xBFdata: a\n\n", [ev("a")]);
spec!(bom_only_input, b"\xEF\xBB\xBF", []);
spec!(
    bom_then_blank_line,
    b"\xEF\xBB\xBF\n\ndata: a\n\n",
    [ev("a")]
);
spec!(
    /// A second BOM is not stripped: it becomes part of the field name.
    second_bom_is_field_name_bytes,
    b"\xEF\xBB\xBF\xEF\xBB\xBFdata: a\n\ndata: b\n\n",
    [ev("b")]
);
spec!(
    /// A BOM anywhere but byte 0 is ordinary text.
    bom_after_first_byte_not_stripped,
    b"data: a\n\n\xEF\xBB\xBFdata: b\n\n",
    [ev("a")]
);
spec!(
    bom_inside_value_kept,
    b"data: \xEF\xBB\xBFx\n\n",
    [ev("\u{FEFF}x")]
);
spec!(
    /// The first bytes of a BOM and then end of input: an unterminated line.
    partial_bom_then_eof,
    b"\xEF\xBB",
    [],
    incomplete = true
);
spec!(
    partial_bom_then_line_end,
    b"\xEF\xBB\n\ndata: a\n\n",
    [ev("a")]
);
spec!(
    /// `EF BB` not followed by `BF` is invalid UTF-8 in a field name.
    partial_bom_is_replacement_char,
    b"\xEF\xBBdata: x\n\n\xEF\xBB: y\n\n",
    []
);
spec!(
    comment_after_bom,
    b"\xEF\xBB\xBF: hi\n",
    [comment("hi")],
    comments = true
);

// --- line ends -------------------------------------------------------------

spec!(lf, b"data: a\ndata: b\n\n", [ev("a\nb")]);
spec!(crlf, b"data: a\r\ndata: b\r\n\r\n", [ev("a\nb")]);
spec!(lone_cr, b"data: a\rdata: b\r\r", [ev("a\nb")]);
spec!(
    mixed_line_ends,
    b"data: a\rdata: b\ndata: c\r\n\r",
    [ev("a\nb\nc")]
);
spec!(
    /// CR LF is one line end, never two (a blank line would dispatch early).
    crlf_is_one_line_end,
    b"data: a\r\ndata: b\r\n\r\ndata: c\r\n\r\n",
    [ev("a\nb"), ev("c")]
);
spec!(
    /// CR, then CR LF (one line end): a blank line right after the line.
    cr_cr_lf,
    b"data: a\r\r\ndata: b\n\n",
    [ev("a"), ev("b")]
);
spec!(
    lf_then_cr_is_blank_line,
    b"data: a\n\rdata: b\r\n\n",
    [ev("a"), ev("b")]
);
spec!(
    /// A lone CR at the very end of input ends the line (and dispatches).
    lone_cr_at_end_dispatches,
    b"data: a\r\r",
    [ev("a")]
);
spec!(
    lone_cr_at_end_ends_line_only,
    b"data: a\r",
    [],
    incomplete = true
);
spec!(only_blank_lines, b"\n\r\n\r\r\n\n", []);
spec!(empty_input, b"", []);

// --- comments --------------------------------------------------------------

spec!(comment_ignored, b": hi\ndata: a\n\n", [ev("a")]);
spec!(
    comment_reported_on_request,
    b": hi\ndata: a\n\n",
    [comment("hi"), ev("a")],
    comments = true
);
spec!(
    comment_one_space_removed,
    b":  two\n:x\n:\n: \n",
    [comment(" two"), comment("x"), comment(""), comment("")],
    comments = true
);
spec!(
    comment_inside_block,
    b"data: a\n: c\ndata: b\n\n",
    [comment("c"), ev("a\nb")],
    comments = true
);
spec!(
    comment_containing_colon_and_field,
    b":data: x\n\n",
    [comment("data: x")],
    comments = true
);
spec!(
    comment_invalid_utf8,
    b": \xFFok\n",
    [comment("\u{FFFD}ok")],
    comments = true
);
spec!(
    /// Comments lose nothing at end of input: not "incomplete".
    comment_only_block_at_eof,
    b": keep-alive\n: again\n",
    []
);
spec!(
    comment_in_block_cut_by_eof,
    b"data: a\n: c\n",
    [comment("c")],
    comments = true,
    incomplete = true
);

// --- field parsing ---------------------------------------------------------

spec!(
    name_before_first_colon,
    b"data:a:b\ndata: c: d\n\n",
    [ev("a:b\nc: d")]
);
spec!(one_leading_space_removed, b"data:  a\n\n", [ev(" a")]);
spec!(no_space_after_colon, b"data:a\n\n", [ev("a")]);
spec!(tab_is_not_removed, b"data:\ta\n\n", [ev("\ta")]);
spec!(trailing_space_kept, b"data: a \n\n", [ev("a ")]);
spec!(line_without_colon_is_empty_value, b"data\n\n", [ev("")]);
spec!(
    unknown_fields_ignored,
    b"foo: bar\nfoo\ndata: x\nbar:\n\n",
    [ev("x")]
);
spec!(name_is_case_sensitive, b"Data: x\nDATA: y\n\n", []);
spec!(name_with_trailing_space_is_unknown, b"data : x\n\n", []);
spec!(name_with_leading_space_is_unknown, b" data: x\n\n", []);
spec!(name_with_nul_is_unknown, b"data\0: x\n\n", []);
spec!(empty_name_is_comment, b":data\n\n", []);

// --- data ------------------------------------------------------------------

spec!(
    data_lines_joined_with_lf,
    b"data: a\ndata:\ndata: b\n\n",
    [ev("a\n\nb")]
);
spec!(
    /// The buffer is "a\n\n": only one trailing LF is removed.
    one_trailing_lf_removed,
    b"data: a\ndata\n\n",
    [ev("a\n")]
);
spec!(two_bare_data_lines, b"data\ndata\n\n", [ev("\n")]);
spec!(
    bare_data_line_is_empty_event,
    b"data\n\ndata:\n\n",
    [ev(""), ev("")]
);
spec!(nul_in_data_kept, b"data: a\0b\n\n", [ev("a\0b")]);
spec!(
    multiple_events,
    b"data: 1\n\ndata: 2\n\n\n\ndata: 3\n\n",
    [ev("1"), ev("2"), ev("3")]
);
spec!(
    field_order_in_block_irrelevant,
    b"data: x\nid: 5\nevent: t\n\n",
    [ev_type("t", "x", "5")],
    last_id = "5"
);

// --- event type ------------------------------------------------------------

spec!(
    event_sets_type,
    b"event: add\ndata: 1\n\n",
    [ev_type("add", "1", "")]
);
spec!(
    event_type_resets_after_dispatch,
    b"event: add\ndata: 1\n\ndata: 2\n\n",
    [ev_type("add", "1", ""), ev("2")]
);
spec!(empty_event_is_message, b"event:\ndata: 1\n\n", [ev("1")]);
spec!(
    event_without_colon_is_message,
    b"event\ndata: 1\n\n",
    [ev("1")]
);
spec!(
    last_event_line_wins,
    b"event: a\nevent:\ndata: 1\n\nevent:\nevent: b\ndata: 2\n\n",
    [ev("1"), ev_type("b", "2", "")]
);
spec!(
    /// A block without data resets the event type too.
    event_type_dropped_with_empty_data,
    b"event: add\n\ndata: x\n\n",
    [ev("x")]
);
spec!(
    event_type_keeps_extra_space,
    b"event:  add\ndata: x\n\n",
    [ev_type(" add", "x", "")]
);
spec!(
    event_type_invalid_utf8,
    b"event: a\xFFb\ndata: x\n\n",
    [ev_type("a\u{FFFD}b", "x", "")]
);

// --- id --------------------------------------------------------------------

spec!(
    id_sets_last_event_id,
    b"id: 1\ndata: a\n\n",
    [ev_id("a", "1")],
    last_id = "1"
);
spec!(
    id_persists_across_events,
    b"id: 1\ndata: a\n\ndata: b\n\n",
    [ev_id("a", "1"), ev_id("b", "1")],
    last_id = "1"
);
spec!(id_with_nul_ignored, b"id: a\0b\ndata: x\n\n", [ev("x")]);
spec!(
    id_with_nul_keeps_previous,
    b"id: 1\ndata: a\n\nid: 2\0\ndata: b\n\n",
    [ev_id("a", "1"), ev_id("b", "1")],
    last_id = "1"
);
spec!(
    id_with_nul_keeps_earlier_id_of_block,
    b"id: 3\nid: \0\ndata: a\n\n",
    [ev_id("a", "3")],
    last_id = "3"
);
spec!(
    /// An id-only block commits the id at its blank line (no event).
    id_only_block_commits,
    b"id: 7\n\ndata: a\n\n",
    [ev_id("a", "7")],
    last_id = "7"
);
spec!(
    id_in_block_cut_by_eof_not_committed,
    b"id: 1\ndata: a\n\nid: 2\ndata: b\n",
    [ev_id("a", "1")],
    last_id = "1",
    incomplete = true
);
spec!(id_only_block_cut_by_eof, b"id: 9\n", [], incomplete = true);
spec!(empty_id_resets, b"id: 1\n\nid:\ndata: x\n\n", [ev("x")]);
spec!(
    id_without_colon_resets,
    b"id: 1\ndata: a\n\nid\ndata: b\n\n",
    [ev_id("a", "1"), ev("b")]
);
spec!(
    id_after_data_in_block_applies,
    b"data: x\nid: 5\n\n",
    [ev_id("x", "5")],
    last_id = "5"
);
spec!(
    id_keeps_extra_space,
    b"id:  5\ndata: x\n\n",
    [ev_id("x", " 5")],
    last_id = " 5"
);
spec!(
    id_invalid_utf8,
    b"id: \xC0\ndata: x\n\n",
    [ev_id("x", "\u{FFFD}")],
    last_id = "\u{FFFD}"
);

// --- retry -----------------------------------------------------------------

spec!(retry_digits, b"retry: 100\n", [retry(100)]);
spec!(retry_zero, b"retry: 0\n", [retry(0)]);
spec!(retry_leading_zeros_decimal, b"retry:007\n", [retry(7)]);
spec!(retry_empty_ignored, b"retry:\nretry\nretry: \n", []);
spec!(
    retry_trailing_garbage_ignored,
    b"retry: 1a\nretry: 100 \n",
    []
);
spec!(
    retry_signs_and_dots_ignored,
    b"retry: -1\nretry: +1\nretry: 1.5\nretry: 1e3\n",
    []
);
spec!(
    /// One space is removed, so " 100" counts; "  100" keeps a space: ignored.
    retry_space_rule,
    b"retry: 100\nretry:  200\n",
    [retry(100)]
);
spec!(
    retry_non_ascii_digits_ignored,
    "retry: \u{0661}\u{0662}\nretry: \u{FF11}\n".as_bytes(),
    []
);
spec!(
    retry_u64_max,
    b"retry: 18446744073709551615\n",
    [retry(u64::MAX)]
);
spec!(
    /// resse saturates values beyond u64::MAX milliseconds.
    retry_huge_saturates,
    b"retry: 18446744073709551616\nretry: 99999999999999999999999999999999\n",
    [retry(u64::MAX), retry(u64::MAX)]
);
spec!(
    /// Retry takes effect when its line is read: before the block's event.
    retry_before_event_of_same_block,
    b"data: a\nretry: 5\n\n",
    [retry(5), ev("a")]
);
spec!(
    retry_several_in_block,
    b"retry: 5\ndata: a\nretry: 6\n\n",
    [retry(5), retry(6), ev("a")]
);
spec!(
    retry_in_block_cut_by_eof_still_counts,
    b"data: a\nretry: 5\n",
    [retry(5)],
    incomplete = true
);
spec!(
    retry_unterminated_line_discarded,
    b"retry: 5",
    [],
    incomplete = true
);
spec!(
    retry_and_comment_order,
    b": a\nretry: 1\n: b\ndata: x\n\n",
    [comment("a"), retry(1), comment("b"), ev("x")],
    comments = true
);

// --- dispatch and end of input --------------------------------------------

spec!(empty_data_dispatches_nothing, b"event: x\n\nfoo\n\n\n", []);
spec!(
    unterminated_final_block_discarded,
    b"data: a\n\ndata: b",
    [ev("a")],
    incomplete = true
);
spec!(
    final_block_without_blank_line_discarded,
    b"data: a\n\ndata: b\n",
    [ev("a")],
    incomplete = true
);
spec!(
    event_only_block_cut_by_eof,
    b"event: x\n",
    [],
    incomplete = true
);
spec!(unknown_field_block_at_eof_loses_nothing, b"foo: bar\n", []);

// --- invalid UTF-8 ---------------------------------------------------------

spec!(
    /// A truncated 4-byte sequence is one maximal subpart: one U+FFFD.
    utf8_truncated_sequence_one_replacement,
    b"data: \xF0\x9F\x98\n\n",
    [ev("\u{FFFD}")]
);
spec!(
    /// C0 is never valid: each byte is replaced.
    utf8_overlong_two_replacements,
    b"data: \xC0\x80\n\n",
    [ev("\u{FFFD}\u{FFFD}")]
);
spec!(
    /// A surrogate (ED A0..) is ill-formed at its second byte: three U+FFFD.
    utf8_surrogate_three_replacements,
    b"data: \xED\xA0\x80\n\n",
    [ev("\u{FFFD}\u{FFFD}\u{FFFD}")]
);
spec!(
    utf8_valid_four_byte,
    b"data: \xF0\x9F\x98\x80\n\n",
    [ev("\u{1F600}")]
);
spec!(
    utf8_truncated_then_ascii,
    b"data: a\xF0\x9F\x98b\xFFc\n\n",
    [ev("a\u{FFFD}b\u{FFFD}c")]
);
spec!(
    utf8_invalid_in_multiline_data,
    b"data: \xE2\x82\ndata: \xE2\x82\xAC\n\n",
    [ev("\u{FFFD}\n\u{20AC}")]
);
spec!(
    utf8_lone_continuation_bytes,
    b"data: \x80\xBF\n\n",
    [ev("\u{FFFD}\u{FFFD}")]
);
spec!(
    utf8_too_large_code_point,
    b"data: \xF4\x90\x80\x80\n\n",
    [ev("\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}")]
);

// --- short and long event types and ids ------------------------------------
// The decoder keeps event types and ids of up to 23 bytes inside the `Text`
// and shares or joins longer ones: each side of that boundary, with one and
// with several data lines, and with non-ASCII and invalid bytes right at it.

spec!(
    type_and_id_of_23_bytes_one_line,
    b"event: ttttttttttttttttttttttt\nid: iiiiiiiiiiiiiiiiiiiiiii\ndata: a\n\n",
    [ev_type(
        "ttttttttttttttttttttttt",
        "a",
        "iiiiiiiiiiiiiiiiiiiiiii"
    )],
    last_id = "iiiiiiiiiiiiiiiiiiiiiii"
);
spec!(
    type_and_id_of_24_bytes_one_line,
    b"event: tttttttttttttttttttttttt\nid: iiiiiiiiiiiiiiiiiiiiiiii\ndata: a\n\n",
    [ev_type(
        "tttttttttttttttttttttttt",
        "a",
        "iiiiiiiiiiiiiiiiiiiiiiii"
    )],
    last_id = "iiiiiiiiiiiiiiiiiiiiiiii"
);
spec!(
    type_and_id_of_23_bytes_two_lines,
    b"event: ttttttttttttttttttttttt\nid: iiiiiiiiiiiiiiiiiiiiiii\ndata: a\ndata: b\n\n",
    [ev_type(
        "ttttttttttttttttttttttt",
        "a\nb",
        "iiiiiiiiiiiiiiiiiiiiiii"
    )],
    last_id = "iiiiiiiiiiiiiiiiiiiiiii"
);
spec!(
    type_and_id_of_24_bytes_two_lines,
    b"event: tttttttttttttttttttttttt\nid: iiiiiiiiiiiiiiiiiiiiiiii\ndata: a\ndata: b\n\n",
    [ev_type(
        "tttttttttttttttttttttttt",
        "a\nb",
        "iiiiiiiiiiiiiiiiiiiiiiii"
    )],
    last_id = "iiiiiiiiiiiiiiiiiiiiiiii"
);
spec!(
    /// A short id replaces a long one and the reverse, across events.
    ids_alternate_between_short_and_long,
    b"id: 1\ndata: a\n\nid: 123456789012345678901234\ndata: b\ndata: c\n\nid: 2\ndata: d\n\n",
    [
        ev_id("a", "1"),
        ev_id("b\nc", "123456789012345678901234"),
        ev_id("d", "2")
    ],
    last_id = "2"
);
spec!(
    /// The last of several `event:` lines counts, short or long.
    short_type_after_long_type_two_lines,
    b"event: tttttttttttttttttttttttttttt\nevent: u\ndata: a\ndata: b\n\n",
    [ev_type("u", "a\nb", "")]
);
spec!(
    non_ascii_short_type_and_id,
    "event: \u{e9}v\u{e9}nement\nid: \u{1F600}\ndata: a\ndata: b\n\n".as_bytes(),
    [ev_type("\u{e9}v\u{e9}nement", "a\nb", "\u{1F600}")],
    last_id = "\u{1F600}"
);
spec!(
    /// Invalid UTF-8 in a short type or id is replaced, as everywhere.
    invalid_utf8_in_short_type_and_id,
    b"event: a\xFFb\nid: \xC0\ndata: x\ndata: y\n\n",
    [ev_type("a\u{FFFD}b", "x\ny", "\u{FFFD}")],
    last_id = "\u{FFFD}"
);
spec!(
    /// A short id at the very end of the input: nothing past it to read.
    short_id_only_block_at_end,
    b"id: 42\n\n",
    [],
    last_id = "42"
);

// --- non-table behaviour ---------------------------------------------------

/// `decode_eof` alone (no `decode` call first) yields every pending frame.
#[test]
fn decode_eof_without_decode_returns_everything() {
    let mut dec = Decoder::new();
    let mut buf = BytesMut::from(&b"data: a\n\nretry: 3\ndata: b\r\rdata: c"[..]);
    let mut frames = Vec::new();
    while let Some(f) = dec.decode_eof(&mut buf).expect("no limit hit") {
        frames.push(f);
    }
    assert_eq!(frames, vec![ev("a"), retry(3), ev("b")]);
    assert!(dec.incomplete_at_eof());
    assert!(buf.is_empty());
}

/// After `decode_eof` the decoder is ready for a new stream: a BOM is stripped
/// again, the partial block is gone, the committed id stays.
#[test]
fn new_stream_after_eof() {
    let mut dec = Decoder::new();
    let first = support::run_decoder(
        &mut dec,
        [&b"\xEF\xBB\xBFid: 1\ndata: a\n\nid: 2\ndata: lost"[..]],
    );
    assert_eq!(
        first.triple(),
        (vec![ev_id("a", "1")], "1".to_owned(), true)
    );
    dec.reset();
    assert!(!dec.incomplete_at_eof());
    let second = support::run_decoder(&mut dec, [&b"\xEF\xBB"[..], b"\xBFdata: b\n\n"]);
    assert_eq!(
        second.triple(),
        (vec![ev_id("b", "1")], "1".to_owned(), false)
    );
}

/// `decode_eof` alone (without `reset`) readies the decoder for the next
/// stream: a BOM is stripped again and the committed id carries over.
#[test]
fn decode_eof_alone_starts_new_stream() {
    let mut dec = Decoder::new();
    let first = support::run_decoder(&mut dec, [&b"\xEF\xBB\xBFid: 1\ndata: a\n\n"[..]]);
    assert_eq!(
        first.triple(),
        (vec![ev_id("a", "1")], "1".to_owned(), false)
    );
    let second = support::run_decoder(&mut dec, [&b"\xEF\xBB\xBFdata: b\n\n"[..]]);
    assert_eq!(
        second.triple(),
        (vec![ev_id("b", "1")], "1".to_owned(), false)
    );
}

/// CR at the end of one chunk and LF at the start of the next: one line end,
/// never two (a second one would be a blank line and dispatch early).
#[test]
fn crlf_split_across_chunks_is_one_line_end() {
    let chunks: [&[u8]; 5] = [b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n", b"data: c\n\n"];
    let run = support::run(&DecoderConfig::default(), chunks);
    assert_eq!(run.frames(), vec![ev("a\nb"), ev("c")]);
}

/// A lone CR ending one stream does not swallow an LF starting the next.
#[test]
fn cr_at_end_of_stream_does_not_leak_into_next() {
    let mut dec = Decoder::new();
    let first = support::run_decoder(&mut dec, [&b"data: a\r"[..]]);
    assert_eq!(first.frames(), vec![]);
    dec.reset();
    // The first LF of the new stream is a blank line of its own: nothing to
    // dispatch (the old block is gone), and "data: b" follows.
    let second = support::run_decoder(&mut dec, [&b"\ndata: b\n\n"[..]]);
    assert_eq!(second.frames(), vec![ev("b")]);
}

#[test]
fn set_last_event_id_is_used_by_events() {
    let mut dec = Decoder::new();
    dec.set_last_event_id(Text::from("start"));
    let run = support::run_decoder(&mut dec, [&b"data: a\n\nid\ndata: b\n\n"[..]]);
    assert_eq!(
        run.triple(),
        (vec![ev_id("a", "start"), ev("b")], String::new(), false)
    );
}

#[test]
fn buffered_decoder_matches_decoder() {
    let input = b"event: t\ndata: a\n\n: c\nretry: 9\ndata: b\n\ndata: tail";
    let mut bd = BufferedDecoder::new(Decoder::with_config(
        DecoderConfig::default().comments(true),
    ));
    let mut frames = Vec::new();
    for chunk in input.chunks(3) {
        bd.feed(chunk);
        while let Some(f) = bd.next_frame().expect("no limit") {
            frames.push(f);
        }
    }
    while let Some(f) = bd.finish().expect("no limit") {
        frames.push(f);
    }
    let run = support::run(&DecoderConfig::default().comments(true), [&input[..]]);
    assert_eq!(frames, run.frames());
    assert_eq!(bd.decoder().incomplete_at_eof(), run.incomplete);
    assert!(bd.buffered().is_empty());
}

// --- limits ----------------------------------------------------------------

fn line_too_long(limit: usize) -> Out {
    Out::LineTooLong(limit)
}

fn event_too_long(limit: usize) -> Out {
    Out::EventTooLong(limit)
}

fn f(frame: Frame) -> Out {
    Out::Frame(frame)
}

/// Runs `input` under every two-way chunking (and byte by byte) and expects
/// exactly `want` (frames and errors in order) and the stopped flag.
fn check_limits(name: &str, config: &DecoderConfig, input: &[u8], want: &[Out], stopped: bool) {
    for (label, cuts) in support::chunkings(input.len(), 0) {
        let run = support::run_split(config, input, &cuts);
        assert_eq!(
            run.outs,
            want,
            "{name} ({label}) input {:?}",
            support::show(input)
        );
        assert_eq!(run.stopped, stopped, "{name} ({label}): is_stopped");
    }
}

const LINE_LIMIT: usize = 16;

/// "data: 0123456789" is exactly 16 bytes: it passes, with every line end.
#[test]
fn line_of_exactly_max_line_len_passes() {
    let config = DecoderConfig::default().max_line_len(LINE_LIMIT);
    for end in ["\n", "\r", "\r\n"] {
        let input = format!("data: 0123456789{end}{end}");
        assert_eq!(b"data: 0123456789".len(), LINE_LIMIT);
        check_limits(
            "exact line",
            &config,
            input.as_bytes(),
            &[f(ev("0123456789"))],
            false,
        );
    }
}

/// Comments and unknown fields are lines too.
#[test]
fn comment_line_of_max_line_len_passes_one_more_fails() {
    let config = DecoderConfig::default()
        .max_line_len(LINE_LIMIT)
        .comments(true);
    let ok = b": 34567890123456\n";
    check_limits(
        "comment ok",
        &config,
        ok,
        &[f(comment("34567890123456"))],
        false,
    );
    let long = b": 345678901234567\n\ndata: ok\n\n";
    check_limits(
        "comment long",
        &config,
        long,
        &[line_too_long(LINE_LIMIT), f(ev("ok"))],
        false,
    );
}

/// One byte over: `LineTooLong` once, the rest of the block is skipped (also
/// its other lines and its id), decoding resumes after the blank line.
#[test]
fn line_over_max_line_len_skip() {
    let config = DecoderConfig::default().max_line_len(LINE_LIMIT);
    for end in ["\n", "\r", "\r\n"] {
        let input =
            format!("id: 5{end}data: 01234567890{end}data: more{end}{end}data: ok{end}{end}");
        check_limits(
            "line +1 skip",
            &config,
            input.as_bytes(),
            &[line_too_long(LINE_LIMIT), f(ev("ok"))],
            false,
        );
    }
}

#[test]
fn line_over_max_line_len_stop() {
    let config = DecoderConfig::default()
        .max_line_len(LINE_LIMIT)
        .on_overflow(Overflow::Stop);
    let input = b"data: a\n\ndata: 01234567890\n\ndata: ok\n\n";
    check_limits(
        "line +1 stop",
        &config,
        input,
        &[f(ev("a")), line_too_long(LINE_LIMIT)],
        true,
    );
}

/// After a stop, further input is dropped and the buffer emptied; `reset`
/// resumes.
#[test]
fn stopped_decoder_ignores_input_until_reset() {
    let mut dec = Decoder::with_config(
        DecoderConfig::default()
            .max_line_len(LINE_LIMIT)
            .on_overflow(Overflow::Stop),
    );
    let mut buf = BytesMut::from(&b"data: 01234567890\n\n"[..]);
    assert!(matches!(
        dec.decode(&mut buf),
        Err(resse_codec::DecodeError::LineTooLong { limit: LINE_LIMIT })
    ));
    assert!(dec.is_stopped());
    buf.extend_from_slice(b"data: ok\n\n");
    assert_eq!(dec.decode(&mut buf).expect("stopped is not an error"), None);
    assert!(buf.is_empty());
    assert_eq!(
        dec.decode_eof(&mut buf).expect("stopped is not an error"),
        None
    );
    assert!(dec.is_stopped());
    dec.reset();
    assert!(!dec.is_stopped());
    buf.extend_from_slice(b"data: ok\n\n");
    assert_eq!(dec.decode(&mut buf).expect("fresh"), Some(ev("ok")));
}

/// `max_event_len` counts the raw bytes of the block up to the end of its
/// last line's content: field names, the space after the colon and the
/// terminators of all but the last line count; the last terminator and the
/// blank line do not. "data: abc\n" + "data: def" = 19 bytes.
#[test]
fn event_of_exactly_max_event_len_passes_one_less_fails() {
    let input = b"data: abc\ndata: def\n\ndata: ok\n\n";
    let exact = DecoderConfig::default().max_event_len(19);
    check_limits(
        "event exact",
        &exact,
        input,
        &[f(ev("abc\ndef")), f(ev("ok"))],
        false,
    );
    let under = DecoderConfig::default().max_event_len(18);
    check_limits(
        "event -1",
        &under,
        input,
        &[event_too_long(18), f(ev("ok"))],
        false,
    );
    let stop = DecoderConfig::default()
        .max_event_len(18)
        .on_overflow(Overflow::Stop);
    check_limits("event -1 stop", &stop, input, &[event_too_long(18)], true);
}

/// An event whose data holds invalid UTF-8 also counts its data after
/// U+FFFD replacement (3 bytes each) against `max_event_len`: that copy is
/// memory too. "data: a\n" + "data: \xFF\xFF\n" is 17 raw bytes before the
/// blank line; the replaced data "a\n\u{FFFD}\u{FFFD}" 8 more.
#[test]
fn replaced_data_counts_against_max_event_len() {
    let input = b"data: a\ndata: \xFF\xFF\n\ndata: ok\n\n";
    let replaced = ev("a\n\u{FFFD}\u{FFFD}");
    let exact = DecoderConfig::default().max_event_len(25);
    check_limits(
        "replaced exact",
        &exact,
        input,
        &[f(replaced), f(ev("ok"))],
        false,
    );
    let under = DecoderConfig::default().max_event_len(24);
    let want = [event_too_long(24), f(ev("ok"))];
    check_limits("replaced -1", &under, input, &want, false);
    let stop = under.clone().on_overflow(Overflow::Stop);
    check_limits(
        "replaced -1 stop",
        &stop,
        input,
        &[event_too_long(24)],
        true,
    );

    // One line: "data: \xFF\n" is 8 bytes, its replaced data 3.
    let input = b"data: \xFF\n\ndata: ok\n\n";
    let exact = DecoderConfig::default().max_event_len(11);
    check_limits(
        "one line exact",
        &exact,
        input,
        &[f(ev("\u{FFFD}")), f(ev("ok"))],
        false,
    );
    let under = DecoderConfig::default().max_event_len(10);
    let want = [event_too_long(10), f(ev("ok"))];
    check_limits("one line -1", &under, input, &want, false);

    // Valid UTF-8 is not copied, so it counts once.
    let input = "data: \u{e9}\u{e9}\n\n".as_bytes();
    let exact = DecoderConfig::default().max_event_len(10);
    check_limits("valid", &exact, input, &[f(ev("\u{e9}\u{e9}"))], false);
}

/// A reported comment whose replaced text exceeds `max_line_len` is a line
/// too long.
#[test]
fn replaced_comment_counts_against_max_line_len() {
    let input = b": \xFF\xFF\n\ndata:k\n\n";
    let exact = DecoderConfig::default().max_line_len(6).comments(true);
    let comment = Frame::Comment("\u{FFFD}\u{FFFD}".into());
    check_limits(
        "comment exact",
        &exact,
        input,
        &[f(comment), f(ev("k"))],
        false,
    );
    let under = DecoderConfig::default().max_line_len(5).comments(true);
    let input = b": \xFF\xFF\n\ndata\n\n";
    let want = [line_too_long(5), f(ev(""))];
    check_limits("comment -1", &under, input, &want, false);
}

/// Multi-line data read across chunks is joined in place in the buffer; a
/// long event type (kept out of line) may come before, between or after the
/// data lines, and other lines may sit among them.
#[test]
fn joined_in_place_with_a_long_event_type_anywhere() {
    let long = "an-event-type-longer-than-23-bytes";
    let cases = [
        format!("event: {long}\ndata: a\ndata:b\n\n"),
        format!("data: a\nevent: {long}\n: c\ndata:b\n\n"),
        format!("data: a\r\ndata:b\rretry: 5\nevent: {long}\n\n"),
        format!("event: x\ndata: a\nevent: {long}\nid: 7\ndata\ndata:b\n\n"),
    ];
    let config = DecoderConfig::default();
    for input in &cases {
        let oracle = oracle::decode(input.as_bytes());
        let want: Vec<Out> = oracle.frames.into_iter().map(f).collect();
        check_limits(input, &config, input.as_bytes(), &want, false);
    }
}

/// Keep-alive comment lines in any shape (with or without a blank line
/// after each, between or inside blocks, up to and past 8 bytes) are skipped
/// exactly as the spec says, however the input is chunked.
#[test]
fn comment_line_runs_in_any_shape() {
    let cases: [&[u8]; 5] = [
        b": ping\n: ping\n: ping\ndata: a\n\n: ping\n\n: ping\n\ndata: b\n\n",
        b"data: a\n: ping\n: ping\ndata: b\n: x\n: x\n\n:\n:\n\n",
        b":1234567\n:1234567\n:12345678\n:\r\n:\rdata: c\n\n",
        b"id: 1\n: ping\n: ping\n\n: ping\n: ping\n",
        b": ping\n: ping\n: pong\n\n\n\n: ping\n\ndata\n\n",
    ];
    let config = DecoderConfig::default();
    for input in cases {
        let oracle = oracle::decode(input);
        let want: Vec<Out> = oracle.frames.into_iter().map(f).collect();
        check_limits(&support::show(input), &config, input, &want, false);
    }
    // Comments inside a block count against the event limit; before its
    // first field they do not. "data: a\n: ping\n: ping" is 21 bytes.
    let input = b": ping\n: ping\ndata: a\n: ping\n: ping\n\ndata: b\n\n";
    let exact = DecoderConfig::default().max_event_len(21);
    check_limits(
        "comments exact",
        &exact,
        input,
        &[f(ev("a")), f(ev("b"))],
        false,
    );
    let under = DecoderConfig::default().max_event_len(20);
    let want = [event_too_long(20), f(ev("b"))];
    check_limits("comments -1", &under, input, &want, false);
    // And against the line limit, each: ": ping" is 6 bytes.
    let short = DecoderConfig::default().max_line_len(5);
    let input = b": ping\n: ping\n\ndata\n\n";
    check_limits(
        "comment line",
        &short,
        input,
        &[line_too_long(5), f(ev(""))],
        false,
    );
}

/// A one-line event with an `N`-byte payload needs `N + 6` bytes (the
/// decoder's single-line fast path and its general path agree).
#[test]
fn single_line_event_needs_payload_plus_six() {
    let input = b"data: 0123456789\n\ndata: ok\n\n";
    let exact = DecoderConfig::default().max_event_len(16);
    check_limits(
        "one line exact",
        &exact,
        input,
        &[f(ev("0123456789")), f(ev("ok"))],
        false,
    );
    let under = DecoderConfig::default().max_event_len(15);
    check_limits(
        "one line -1",
        &under,
        input,
        &[event_too_long(15), f(ev("ok"))],
        false,
    );
    let no_space = b"data:0123456789\n\n";
    let exact = DecoderConfig::default().max_event_len(15);
    check_limits(
        "no space exact",
        &exact,
        no_space,
        &[f(ev("0123456789"))],
        false,
    );
}

/// CRLF between lines costs two bytes: "data: abc\r\n" + "data: def" = 20,
/// also when the CR and the LF arrive in different chunks.
#[test]
fn event_limit_counts_crlf() {
    let input = b"data: abc\r\ndata: def\r\n\r\ndata: ok\r\n\r\n";
    let exact = DecoderConfig::default().max_event_len(20);
    check_limits(
        "crlf exact",
        &exact,
        input,
        &[f(ev("abc\ndef")), f(ev("ok"))],
        false,
    );
    let under = DecoderConfig::default().max_event_len(19);
    check_limits(
        "crlf -1",
        &under,
        input,
        &[event_too_long(19), f(ev("ok"))],
        false,
    );
}

/// Field names and the other fields of the block count too: "event: t\n" (9)
/// + "id: 1\n" (6) + ": c\n" (4) + "data: x" (7) = 26.
#[test]
fn event_limit_counts_all_lines_of_block() {
    let input = b"event: t\nid: 1\n: c\ndata: x\n\n";
    let exact = DecoderConfig::default().max_event_len(26);
    check_limits(
        "block exact",
        &exact,
        input,
        &[f(ev_type("t", "x", "1"))],
        false,
    );
    let under = DecoderConfig::default().max_event_len(25);
    check_limits("block -1", &under, input, &[event_too_long(25)], false);
}

/// Lines before the block's first `data`/`event`/`id` field (comments,
/// `retry`, unknown fields) are consumed at once and not held, so they do not
/// count: only "data: x" (7) does.
#[test]
fn event_limit_ignores_lines_before_first_field() {
    let input = b": a comment\nretry: 10\nfoo: bar\ndata: x\n\n";
    let config = DecoderConfig::default().max_event_len(7);
    check_limits(
        "leading lines",
        &config,
        input,
        &[f(retry(10)), f(ev("x"))],
        false,
    );
    let config = DecoderConfig::default().max_event_len(6);
    check_limits(
        "leading lines -1",
        &config,
        input,
        &[f(retry(10)), event_too_long(6)],
        false,
    );
}

/// When a line exceeds both limits, the one crossed first in the byte stream
/// is reported, whatever the chunking.
#[test]
fn first_crossed_limit_is_reported() {
    // Line 2 starts at byte 8: the event limit (12) is crossed at byte 13,
    // the line limit (10) at byte 8 + 11 = 19.
    let input = b"data: a\ndata: 0123456789\n\ndata:ok\n\n";
    let config = DecoderConfig::default().max_line_len(10).max_event_len(12);
    check_limits(
        "event first",
        &config,
        input,
        &[event_too_long(12), f(ev("ok"))],
        false,
    );
    // Line limit 7 (line 1 is exactly 7) is crossed at byte 8 + 8 = 16, the
    // event limit 20 at byte 21; line 2's content ends at 24.
    let config = DecoderConfig::default().max_line_len(7).max_event_len(20);
    check_limits(
        "line first",
        &config,
        input,
        &[line_too_long(7), f(ev("ok"))],
        false,
    );
}

/// An overflowed event loses its id: the next event keeps the older one.
#[test]
fn event_overflow_does_not_commit_id() {
    let input = b"id: 1\ndata: a\n\nid: 2\ndata: 0123456789\n\ndata: b\n\n";
    let config = DecoderConfig::default().max_event_len(20);
    check_limits(
        "id dropped",
        &config,
        input,
        &[f(ev_id("a", "1")), event_too_long(20), f(ev_id("b", "1"))],
        false,
    );
}

/// Block cut by end of input while discarding: incomplete.
#[test]
fn overflow_discarding_at_eof_is_incomplete() {
    let config = DecoderConfig::default().max_line_len(LINE_LIMIT);
    let run = support::run(&config, [&b"data: 01234567890123456789\ndata: x\n"[..]]);
    assert_eq!(run.outs, vec![line_too_long(LINE_LIMIT)]);
    assert!(run.incomplete);
}

/// A never-ending line fed in 1 KiB chunks: after each decode call the
/// buffer holds at most the limit plus one chunk, with both policies.
#[test]
fn memory_bounded_for_endless_line() {
    const CHUNK: usize = 1024;
    for overflow in [Overflow::Skip, Overflow::Stop] {
        let limit = 4 * CHUNK;
        let config = DecoderConfig::default()
            .max_line_len(limit)
            .max_event_len(limit)
            .on_overflow(overflow);
        let mut dec = Decoder::with_config(config);
        let mut buf = BytesMut::new();
        let mut outs = Vec::new();
        buf.extend_from_slice(b"data: ");
        let chunk = vec![b'x'; CHUNK];
        for _ in 0..1024 {
            buf.extend_from_slice(&chunk);
            support::drain(&mut dec, &mut buf, &mut outs);
            assert!(
                buf.len() <= limit + CHUNK,
                "{overflow:?}: buffer holds {} bytes",
                buf.len()
            );
        }
        assert_eq!(outs, vec![line_too_long(limit)], "{overflow:?}");
        // The line finally ends; with Skip the next event comes through.
        buf.extend_from_slice(b"\n\ndata: ok\n\n");
        support::drain(&mut dec, &mut buf, &mut outs);
        let expected_tail = match overflow {
            Overflow::Skip => vec![line_too_long(limit), f(ev("ok"))],
            _ => vec![line_too_long(limit)],
        };
        assert_eq!(outs, expected_tail, "{overflow:?}");
    }
}

/// A never-ending block of short lines (never a blank line) in 1 KiB chunks:
/// bounded by the event limit plus one chunk.
#[test]
fn memory_bounded_for_endless_block() {
    const CHUNK: usize = 1024;
    let limit = 4 * CHUNK;
    let config = DecoderConfig::default()
        .max_line_len(64)
        .max_event_len(limit);
    let mut dec = Decoder::with_config(config);
    let mut buf = BytesMut::new();
    let mut outs = Vec::new();
    // 64-byte lines (63 plus LF); 16 KiB of them repeat with line alignment.
    let line = format!("data: {}\n", "x".repeat(57));
    assert_eq!(line.len(), 64);
    let chunk: Vec<u8> = line.bytes().cycle().take(CHUNK * 16).collect();
    for piece in chunk.chunks(CHUNK).cycle().take(1024) {
        buf.extend_from_slice(piece);
        support::drain(&mut dec, &mut buf, &mut outs);
        assert!(
            buf.len() <= limit + CHUNK,
            "buffer holds {} bytes",
            buf.len()
        );
    }
    assert_eq!(outs, vec![event_too_long(limit)]);
}
