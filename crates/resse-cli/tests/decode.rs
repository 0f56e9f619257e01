//! End-to-end tests of `resse decode`: run the built binary on fixture inputs
//! and compare its exact output. Every stream case runs at chunk sizes 1, 2, 3,
//! 7, 4096 and the default (whole reads) and must print the same bytes each time.
//!
//! Expected outputs are written by hand from the WHATWG event stream rules.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// `--chunk-size` values to try; `None` = no flag (feed whole reads).
const CHUNKINGS: [Option<&str>; 6] = [
    Some("1"),
    Some("2"),
    Some("3"),
    Some("7"),
    Some("4096"),
    None,
];

/// The sample stream used by the README quick start.
const CHAT_SSE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../samples/chat.sse");

/// What `resse decode --json` prints for `samples/chat.sse`.
const CHAT_JSON: &str = r#"{"retry":3000}
{"event":"join","data":"ada","id":"1"}
{"event":"message","data":"hello, everyone","id":"2"}
{"event":"join","data":"grace","id":"3"}
{"event":"typing","data":"{\"user\":\"grace\",\"typing\":true}","id":"3"}
{"event":"message","data":"here is a poem:\n  roses are red,\n  streams have no end","id":"4"}
{"event":"leave","data":"ada","id":"5"}
{"eof":{"last_event_id":"5","incomplete":false}}
"#;

/// Runs `resse` with `args`, writing `stdin` to its standard input.
fn resse(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_resse"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start resse");
    let mut pipe = child.stdin.take().expect("stdin is piped");
    let input = stdin.to_vec();
    // A separate writer thread: the child may fill its stdout pipe before reading all input.
    // A write error means the child exited early, which the status check below reports.
    let writer = thread::spawn(move || drop(pipe.write_all(&input)));
    let output = child.wait_with_output().expect("wait for resse");
    writer.join().expect("stdin writer thread");
    output
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("resse prints UTF-8")
}

/// Runs `resse decode <args> [--chunk-size N]` on `input` (via stdin) at every
/// chunking and checks exit code, stdout and stderr exactly.
fn check(args: &[&str], input: &[u8], code: i32, stdout: &str, stderr: &str) {
    for chunking in CHUNKINGS {
        let mut argv = vec!["decode"];
        argv.extend_from_slice(args);
        if let Some(n) = chunking {
            argv.extend(["--chunk-size", n]);
        }
        let out = resse(&argv, input);
        let what = format!("`resse {}`", argv.join(" "));
        assert_eq!(text(&out.stdout), stdout, "stdout of {what}");
        assert_eq!(text(&out.stderr), stderr, "stderr of {what}");
        assert_eq!(out.status.code(), Some(code), "exit status of {what}");
    }
}

/// `check` for a successful `--json` run.
fn check_json(extra: &[&str], input: &[u8], expected: &str) {
    let mut args = vec!["--json"];
    args.extend_from_slice(extra);
    check(&args, input, 0, expected, "");
}

#[test]
fn events_carry_type_data_and_last_event_id() {
    check_json(
        &[],
        b"data: hello\n\nevent: update\nid: 7\ndata: a\ndata: b\n\ndata: after\n\n",
        r#"{"event":"message","data":"hello","id":""}
{"event":"update","data":"a\nb","id":"7"}
{"event":"message","data":"after","id":"7"}
{"eof":{"last_event_id":"7","incomplete":false}}
"#,
    );
}

#[test]
fn field_parsing_follows_the_spec() {
    let input: &[u8] = b"data:no space\n\n\
        data:  two spaces\n\n\
        data\n\n\
        event:\ndata: x\n\n\
        event: lonely\n\n\
        unknown: y\ndata: z\n\n\
        :only a comment\n\n\
        id: 5\n\n\
        data: w\n\n\
        id: a\0b\ndata: v\n\n\
        id\ndata: u\n\n";
    check_json(
        &[],
        input,
        // `data` alone dispatches an empty event; `event:` empty means "message"; an
        // event type without data dispatches nothing and does not leak into the next
        // block; unknown fields and comment-only blocks are ignored; an id-only block
        // sets the last event id; an id with NUL is ignored; an empty id resets it.
        r#"{"event":"message","data":"no space","id":""}
{"event":"message","data":" two spaces","id":""}
{"event":"message","data":"","id":""}
{"event":"message","data":"x","id":""}
{"event":"message","data":"z","id":""}
{"event":"message","data":"w","id":"5"}
{"event":"message","data":"v","id":"5"}
{"event":"message","data":"u","id":""}
{"eof":{"last_event_id":"","incomplete":false}}
"#,
    );
}

#[test]
fn valid_retry_fields_are_printed_before_their_event() {
    check_json(
        &[],
        b"retry: 3000\n\ndata: x\n\nretry: 12a\nretry: -1\nretry: 1.5\nretry:  5\ndata: y\nretry: 0\n\n",
        r#"{"retry":3000}
{"event":"message","data":"x","id":""}
{"retry":0}
{"event":"message","data":"y","id":""}
{"eof":{"last_event_id":"","incomplete":false}}
"#,
    );
}

#[test]
fn comments_only_with_the_flag() {
    let input: &[u8] = b": hi\ndata: x\n:no space\n:\n:\ttabbed \"q\"\n\n";
    check_json(
        &["--comments"],
        input,
        r#"{"comment":"hi"}
{"comment":"no space"}
{"comment":""}
{"comment":"\ttabbed \"q\""}
{"event":"message","data":"x","id":""}
{"eof":{"last_event_id":"","incomplete":false}}
"#,
    );
    check_json(
        &[],
        input,
        r#"{"event":"message","data":"x","id":""}
{"eof":{"last_event_id":"","incomplete":false}}
"#,
    );
}

#[test]
fn cr_crlf_and_lf_all_end_lines() {
    check_json(
        &[],
        b"data: a\r\ndata: b\r\n\r\nid: 3\rdata: c\r\rdata: d\n\r\ndata: e\r\n\ndata: f\r\r",
        r#"{"event":"message","data":"a\nb","id":""}
{"event":"message","data":"c","id":"3"}
{"event":"message","data":"d","id":"3"}
{"event":"message","data":"e","id":"3"}
{"event":"message","data":"f","id":"3"}
{"eof":{"last_event_id":"3","incomplete":false}}
"#,
    );
}

#[test]
fn only_a_leading_bom_is_stripped() {
    check_json(
        &[],
        // The second BOM makes the field name "\u{feff}data", an unknown field.
        b"\xEF\xBB\xBFdata: bom\n\n\xEF\xBB\xBFdata: not stripped\n\ndata: end\n\n",
        r#"{"event":"message","data":"bom","id":""}
{"event":"message","data":"end","id":""}
{"eof":{"last_event_id":"","incomplete":false}}
"#,
    );
}

#[test]
fn invalid_utf8_becomes_replacement_characters() {
    let expected = r#"{"event":"message","data":"a<R>b","id":""}
{"event":"t<R>","data":"q","id":"<R>"}
{"event":"message","data":"café € 😀","id":"<R>"}
{"eof":{"last_event_id":"<R>","incomplete":false}}
"#
    .replace("<R>", "\u{FFFD}");
    check_json(
        &[],
        b"data: a\xFFb\n\nevent: t\xC3\nid: \xE2\x82\ndata: q\n\n\
          data: caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\n\n",
        &expected,
    );
}

#[test]
fn json_strings_are_escaped() {
    check_json(
        &[],
        b"event: a\"b\nid: \\\ndata: \"quoted\" back\\slash\ttab \x01 \x1b[31m \xE2\x80\xA8\n\n",
        "{\"event\":\"a\\\"b\",\"data\":\"\\\"quoted\\\" back\\\\slash\\ttab \\u0001 \\u001b[31m \\u2028\",\"id\":\"\\\\\"}\n\
         {\"eof\":{\"last_event_id\":\"\\\\\",\"incomplete\":false}}\n",
    );
}

/// A stream that tries to drive the terminal: escape sequences (CSI, OSC),
/// BEL, backspace, CR, DEL, C1 (8-bit CSI, NEL), bidi overrides and isolates,
/// marks, and the Unicode line and paragraph separators, in every field.
const HOSTILE: &[u8] = "event: e\u{1b}[2J\u{202e}x\nid: i\u{7}\u{2066}d\n\
    data: \u{1b}]0;title\u{7}\u{9b}31m\u{7f} \u{85} \u{2028} \u{2029} \u{200e}\u{200f} \u{61c} \u{202a}\u{202b}\u{202c}\u{202d} \u{2067}\u{2068}\u{2069} end\r\
    data: fake\u{8}\u{8}\n: \u{1b}[1A\u{202e}\n\n"
    .as_bytes();

/// Whether `c` could drive or reorder a terminal (line feed aside).
fn unsafe_char(c: char) -> bool {
    (c.is_control() && c != '\n')
        || matches!(c, '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[test]
fn hostile_stream_is_escaped_for_people() {
    check(
        &["--comments"],
        HOSTILE,
        0,
        ": \\u{1b}[1A\\u{202e}
event: e\\u{1b}[2J\\u{202e}x  id: i\\u{7}\\u{2066}d
  \\u{1b}]0;title\\u{7}\\u{9b}31m\\u{7f} \\u{85} \\u{2028} \\u{2029} \\u{200e}\\u{200f} \\u{61c} \\u{202a}\\u{202b}\\u{202c}\\u{202d} \\u{2067}\\u{2068}\\u{2069} end
  fake\\u{8}\\u{8}
-- end of stream (last event id \"i\\u{7}\\u{2066}d\")
",
        "",
    );
    let output = resse(&["decode", "--comments"], HOSTILE);
    assert!(!text(&output.stdout).contains(unsafe_char));
}

#[test]
fn hostile_stream_is_escaped_in_json() {
    check_json(
        &["--comments"],
        HOSTILE,
        r#"{"comment":"\u001b[1A\u202e"}
{"event":"e\u001b[2J\u202ex","data":"\u001b]0;title\u0007\u009b31m\u007f \u0085 \u2028 \u2029 \u200e\u200f \u061c \u202a\u202b\u202c\u202d \u2067\u2068\u2069 end\nfake\b\b","id":"i\u0007\u2066d"}
{"eof":{"last_event_id":"i\u0007\u2066d","incomplete":false}}
"#,
    );
    let output = resse(&["decode", "--json", "--comments"], HOSTILE);
    let stdout = text(&output.stdout);
    assert!(stdout.is_ascii());
    // Still the same strings for a JSON reader.
    let event: serde_json::Value =
        serde_json::from_str(stdout.lines().nth(1).expect("the event line")).expect("JSON");
    assert_eq!(event["event"], "e\u{1b}[2J\u{202e}x");
    assert!(
        event["data"]
            .as_str()
            .expect("a string")
            .contains("\u{85} \u{2028} \u{2029}")
    );
}

#[test]
fn hostile_file_name_in_an_error_is_escaped() {
    let output = resse(&["decode", "no-such-\u{1b}[2J-\u{202e}file"], b"");
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("no-such-\\u{1b}[2J-\\u{202e}file"),
        "{stderr}"
    );
    assert!(!stderr.trim_end().contains(unsafe_char), "{stderr}");
}

#[test]
fn unterminated_final_event_is_discarded() {
    check_json(
        &[],
        b"id: 1\ndata: done\n\nid: 2\ndata: partial",
        r#"{"event":"message","data":"done","id":"1"}
{"eof":{"last_event_id":"1","incomplete":true}}
"#,
    );
    // The last line is complete (a lone CR at the end is a line end) but no blank line follows.
    check_json(
        &[],
        b"data: x\n\ndata: y\r",
        r#"{"event":"message","data":"x","id":""}
{"eof":{"last_event_id":"","incomplete":true}}
"#,
    );
}

#[test]
fn empty_input_prints_only_the_eof_line() {
    check_json(
        &[],
        b"",
        "{\"eof\":{\"last_event_id\":\"\",\"incomplete\":false}}\n",
    );
}

#[test]
fn line_limit_error_skips_the_event_and_fails_at_the_end() {
    check(
        &["--json", "--max-line-len", "10"],
        b"data: ok\n\ndata: 0123456789abcdef\ndata: more\n\ndata: aft\n\n",
        3,
        r#"{"event":"message","data":"ok","id":""}
{"event":"message","data":"aft","id":""}
{"eof":{"last_event_id":"","incomplete":false}}
"#,
        "resse: line at byte 10 is longer than 10 bytes; skipped the rest of its event \
         (if the source is trusted, raise --max-line-len)\n",
    );
}

#[test]
fn event_limit_error_skips_the_event_and_fails_at_the_end() {
    check(
        &["--json", "--max-event-len", "20"],
        b"data: short\n\ndata: 0123456789\ndata: 0123456789\n\ndata: end\n\n",
        3,
        r#"{"event":"message","data":"short","id":""}
{"event":"message","data":"end","id":""}
{"eof":{"last_event_id":"","incomplete":false}}
"#,
        "resse: event at byte 13 is larger than 20 bytes; skipped it \
         (if the source is trusted, raise --max-event-len)\n",
    );
}

#[test]
fn one_oversized_line_names_both_limits() {
    // A line over the line limit is over an event limit that is not larger.
    check(
        &["--json", "--max-line-len", "16", "--max-event-len", "16"],
        b"data: fine\n\n\xEF\xBB\xBFdata: 0123456789abcdef\n\ndata: after\n\n",
        3,
        r#"{"event":"message","data":"fine","id":""}
{"event":"message","data":"after","id":""}
{"eof":{"last_event_id":"","incomplete":false}}
"#,
        "resse: line at byte 12 is longer than 16 bytes; skipped the rest of its event \
         (if the source is trusted, raise both --max-line-len and --max-event-len: \
         the line alone is over the event limit too)\n",
    );
}

#[test]
fn repeated_skips_are_summarised() {
    let mut input = Vec::new();
    for i in 0..50 {
        // Events with a long line, too big events and good ones, in turn.
        match i % 3 {
            0 => input.extend_from_slice(b"id: x\ndata: 0123456789abcdefghij\n\n"),
            1 => {
                input.extend_from_slice(b"data: 0123456789\ndata: 0123456789\ndata: 0123456789\n\n")
            }
            _ => input.extend_from_slice(format!("data: {i}\n\n").as_bytes()),
        }
    }
    let mut expected = String::new();
    for i in (2..50).step_by(3) {
        expected.push_str(&format!(
            "{{\"event\":\"message\",\"data\":\"{i}\",\"id\":\"\"}}\n"
        ));
    }
    expected.push_str("{\"eof\":{\"last_event_id\":\"\",\"incomplete\":false}}\n");
    check(
        &["--json", "--max-line-len", "20", "--max-event-len", "40"],
        &input,
        3,
        &expected,
        "resse: line at byte 6 is longer than 20 bytes; skipped the rest of its event \
         (if the source is trusted, raise --max-line-len)\n\
         resse: event at byte 34 is larger than 40 bytes; skipped it \
         (if the source is trusted, raise --max-event-len)\n\
         resse: skipped 34 events in all (17 over --max-line-len, 17 over --max-event-len); \
         only the first of each limit is reported\n",
    );
}

#[test]
fn zero_limits_are_refused() {
    for flag in ["--max-line-len", "--max-event-len"] {
        let output = resse(&["decode", flag, "0"], b"data: x\n\n");
        assert_eq!(output.status.code(), Some(2), "{flag}");
        let stderr = text(&output.stderr);
        assert!(
            stderr.starts_with("resse: invalid value '0' for"),
            "{stderr}"
        );
        assert!(
            stderr.contains(flag) && stderr.contains("must be at least 1"),
            "{stderr}"
        );
        assert_eq!(text(&output.stdout), "");
    }
}

#[test]
fn reads_a_file_stdin_or_dash() {
    let sample = std::fs::read(CHAT_SSE).expect("read samples/chat.sse");
    for args in [
        &["decode", "--json", CHAT_SSE][..],
        &["decode", "--json", "-"][..],
        &["decode", "--json"][..],
    ] {
        // stdin gets the sample too; with a FILE argument it must be ignored.
        let out = resse(args, &sample);
        assert_eq!(text(&out.stdout), CHAT_JSON, "stdout of {args:?}");
        assert_eq!(text(&out.stderr), "", "stderr of {args:?}");
        assert!(out.status.success(), "status of {args:?}");
    }
}

#[test]
fn sample_stream_at_every_chunking() {
    let sample = std::fs::read(CHAT_SSE).expect("read samples/chat.sse");
    check_json(&[], &sample, CHAT_JSON);
}

#[test]
fn readable_output_for_people() {
    let sample = std::fs::read(CHAT_SSE).expect("read samples/chat.sse");
    check(
        &[],
        &sample,
        0,
        "retry: 3000ms
event: join  id: 1
  ada
event: message  id: 2
  hello, everyone
event: join  id: 3
  grace
event: typing  id: 3
  {\"user\":\"grace\",\"typing\":true}
event: message  id: 4
  here is a poem:
    roses are red,
    streams have no end
event: leave  id: 5
  ada
-- end of stream (last event id \"5\")
",
        "",
    );
    // Comments, escaped control characters, no id, an unterminated event.
    check(
        &["--comments"],
        b": ping\ndata: \x1b[2Jclear?\ndata:\n\nid: \"q\"\ndata: cut",
        0,
        ": ping
event: message
  \\u{1b}[2Jclear?
  
-- end of stream (no last event id; an unterminated event was discarded)
",
        "",
    );
}

#[test]
fn many_events_across_many_reads() {
    let count = 20_000;
    let mut input = Vec::new();
    let mut expected = String::new();
    for i in 0..count {
        input.extend_from_slice(format!("id: {i}\ndata: event number {i}\n\n").as_bytes());
        expected.push_str(&format!(
            "{{\"event\":\"message\",\"data\":\"event number {i}\",\"id\":\"{i}\"}}\n"
        ));
    }
    let last = count - 1;
    expected.push_str(&format!(
        "{{\"eof\":{{\"last_event_id\":\"{last}\",\"incomplete\":false}}}}\n"
    ));
    for args in [
        &["decode", "--json"][..],
        &["decode", "--json", "--chunk-size", "7"][..],
    ] {
        let out = resse(args, &input);
        assert!(out.status.success(), "status of {args:?}");
        assert!(text(&out.stdout) == expected, "stdout of {args:?} differs");
    }
}

#[test]
fn output_is_live_before_input_ends() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_resse"))
        .args(["decode", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start resse");
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let stdout = child.stdout.take().expect("stdout is piped");
    let (lines_tx, lines_rx) = mpsc::channel();
    let reader = thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if lines_tx.send(line.expect("read a line")).is_err() {
                break;
            }
        }
    });
    let wait = Duration::from_secs(20);

    // The first event must come out while stdin is still open.
    stdin
        .write_all(b"id: 1\ndata: first\n\ndata: sec")
        .expect("write");
    stdin.flush().expect("flush");
    let first = lines_rx
        .recv_timeout(wait)
        .expect("first event printed before EOF");
    assert_eq!(first, r#"{"event":"message","data":"first","id":"1"}"#);

    stdin.write_all(b"ond\n\n").expect("write");
    stdin.flush().expect("flush");
    let second = lines_rx
        .recv_timeout(wait)
        .expect("second event printed before EOF");
    assert_eq!(second, r#"{"event":"message","data":"second","id":"1"}"#);

    drop(stdin);
    let eof = lines_rx.recv_timeout(wait).expect("eof line");
    assert_eq!(eof, r#"{"eof":{"last_event_id":"1","incomplete":false}}"#);
    assert!(child.wait().expect("wait").success());
    reader.join().expect("reader thread");
}

#[test]
fn zero_chunk_size_is_a_usage_error() {
    let out = resse(&["decode", "--chunk-size", "0"], b"data: x\n\n");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(
        stderr.starts_with("resse: invalid value '0' for '--chunk-size <N>': must be at least 1"),
        "{stderr}"
    );
}

#[test]
fn missing_file_is_an_error() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/no-such-file.sse");
    let out = resse(&["decode", "--json", path], b"");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(stderr.starts_with(&format!("resse: {path}: ")), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}
