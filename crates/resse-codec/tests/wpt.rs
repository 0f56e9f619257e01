//! web-platform-tests `eventsource/format-*` conformance cases, ported to byte
//! fixtures in `tests/fixtures/wpt/` (see the README there). Every fixture runs
//! whole, byte by byte, split at every byte boundary and at pseudo-random
//! boundaries, with comments on and off, against its expectation and against
//! the naive oracle.

mod support;

use resse_codec::{Decoder, DecoderConfig, Event, Frame};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;
use support::oracle::{self, OracleConfig};

/// The expectation for one part (connection) of a fixture.
#[derive(Debug)]
struct Part {
    input: Vec<u8>,
    frames: Vec<Frame>,
    last_event_id: String,
    incomplete: bool,
}

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/wpt")
}

fn str_field<'a>(v: &'a Value, key: &str, line: &str) -> &'a str {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("missing string {key:?} in {line}"))
}

/// Reads `NAME.sse`, `NAME.2.sse`, ... and `NAME.expected`.
fn load(name: &str) -> Vec<Part> {
    let dir = fixture_dir();
    let expected = std::fs::read_to_string(dir.join(format!("{name}.expected")))
        .unwrap_or_else(|e| panic!("{name}.expected: {e}"));
    assert!(
        expected.starts_with("# source: web-platform-tests/wpt eventsource/"),
        "{name}.expected must start with its WPT source"
    );
    let mut parts = Vec::new();
    let mut frames = Vec::new();
    for line in expected.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{name}: {e}: {line}"));
        if let Some(ms) = v.get("retry") {
            let ms = ms.as_u64().unwrap_or_else(|| panic!("bad retry in {line}"));
            frames.push(Frame::Retry(Duration::from_millis(ms)));
        } else if v.get("comment").is_some() {
            frames.push(Frame::Comment(str_field(&v, "comment", line).into()));
        } else if let Some(eof) = v.get("eof") {
            let n = parts.len() + 1;
            let file = if n == 1 {
                format!("{name}.sse")
            } else {
                format!("{name}.{n}.sse")
            };
            let input = std::fs::read(dir.join(&file)).unwrap_or_else(|e| panic!("{file}: {e}"));
            parts.push(Part {
                input,
                frames: std::mem::take(&mut frames),
                last_event_id: str_field(eof, "last_event_id", line).to_owned(),
                incomplete: eof
                    .get("incomplete")
                    .and_then(Value::as_bool)
                    .unwrap_or_else(|| panic!("missing incomplete in {line}")),
            });
        } else {
            let mut e = Event::new(str_field(&v, "data", line)).with_id(str_field(&v, "id", line));
            match v.get("event") {
                Some(Value::Null) => {}
                Some(Value::String(t)) => e = e.with_event_type(t.as_str()),
                _ => panic!("bad event type in {line}"),
            }
            frames.push(Frame::Event(e));
        }
    }
    assert!(frames.is_empty(), "{name}: frames after the last eof line");
    assert!(!parts.is_empty(), "{name}: no eof line");
    let extra = dir.join(format!("{name}.{}.sse", parts.len() + 1));
    assert!(
        !extra.exists(),
        "{name}: {} has no eof line",
        extra.display()
    );
    parts
}

fn without_comments(frames: &[Frame]) -> Vec<Frame> {
    frames
        .iter()
        .filter(|f| !matches!(f, Frame::Comment(_)))
        .cloned()
        .collect()
}

/// Runs all parts through one decoder, part `i` cut at `cuts[i]`, and checks
/// every part's frames, last event ID and incomplete flag.
fn check(name: &str, parts: &[Part], comments: bool, cuts: &[Vec<usize>], label: &str) {
    let config = DecoderConfig::default().comments(comments);
    let mut dec = Decoder::with_config(config);
    let mut oracle_id = String::new();
    for (i, (part, cuts)) in parts.iter().zip(cuts).enumerate() {
        let ctx = format!("{name} part {} ({label}, comments {comments})", i + 1);
        let run = support::run_decoder(&mut dec, support::split_at(&part.input, cuts));
        let expected = if comments {
            part.frames.clone()
        } else {
            without_comments(&part.frames)
        };
        assert_eq!(run.frames(), expected, "{ctx}: frames");
        assert_eq!(
            run.last_event_id, part.last_event_id,
            "{ctx}: last event id"
        );
        assert_eq!(run.incomplete, part.incomplete, "{ctx}: incomplete_at_eof");
        assert!(!run.stopped, "{ctx}: stopped");

        let want = oracle::decode_with(
            &part.input,
            &OracleConfig {
                comments,
                last_event_id: oracle_id.clone(),
            },
        );
        assert_eq!(
            (run.frames(), &run.last_event_id, run.incomplete),
            (want.frames, &want.last_event_id, want.incomplete),
            "{ctx}: decoder vs oracle"
        );
        oracle_id = want.last_event_id;
        // `incomplete_at_eof` is sticky until `reset` (a new connection);
        // `decode_eof` alone already readied the decoder for the next part.
        dec.reset();
    }
}

fn run_fixture(name: &str) {
    let parts = load(name);
    let whole: Vec<Vec<usize>> = parts.iter().map(|_| Vec::new()).collect();
    for comments in [false, true] {
        check(name, &parts, comments, &whole, "whole");
        let bytewise: Vec<Vec<usize>> =
            parts.iter().map(|p| (1..p.input.len()).collect()).collect();
        check(name, &parts, comments, &bytewise, "byte by byte");
        for (p, part) in parts.iter().enumerate() {
            for at in 0..=part.input.len() {
                let mut cuts = whole.clone();
                cuts[p] = vec![at];
                check(
                    name,
                    &parts,
                    comments,
                    &cuts,
                    &format!("part {} split at {at}", p + 1),
                );
            }
        }
        let mut rng = support::Rng::new(0x5EED ^ name.len() as u64);
        for _ in 0..64 {
            let cuts: Vec<Vec<usize>> = parts.iter().map(|p| rng.cuts(p.input.len())).collect();
            check(
                name,
                &parts,
                comments,
                &cuts,
                &format!("random cuts {cuts:?}"),
            );
        }
    }
}

macro_rules! wpt {
    ($($test:ident => $name:literal,)*) => {
        $(
            #[test]
            fn $test() {
                run_fixture($name);
            }
        )*

        /// Every fixture on disk has a test above, and vice versa.
        #[test]
        fn every_fixture_is_listed() {
            let listed = [$($name),*];
            let mut on_disk: Vec<String> = std::fs::read_dir(fixture_dir())
                .expect("fixture dir")
                .filter_map(|e| {
                    let name = e.expect("dir entry").file_name().into_string().expect("utf-8 name");
                    name.strip_suffix(".expected").map(str::to_owned)
                })
                .collect();
            on_disk.sort();
            let mut listed: Vec<String> = listed.iter().map(|s| (*s).to_owned()).collect();
            listed.sort();
            assert_eq!(on_disk, listed);
        }
    };
}

wpt! {
    event_data => "event-data",
    format_bom => "format-bom",
    format_bom_2 => "format-bom-2",
    format_comments => "format-comments",
    format_data_before_final_empty_line => "format-data-before-final-empty-line",
    format_field_data => "format-field-data",
    format_field_event => "format-field-event",
    format_field_event_empty => "format-field-event-empty",
    format_field_id => "format-field-id",
    format_field_id_2 => "format-field-id-2",
    format_field_id_3_persists => "format-field-id-3-persists",
    format_field_id_3_resets => "format-field-id-3-resets",
    format_field_id_3_resets_no_colon => "format-field-id-3-resets-no-colon",
    format_field_id_null_1 => "format-field-id-null-1",
    format_field_id_null_2 => "format-field-id-null-2",
    format_field_id_null_3 => "format-field-id-null-3",
    format_field_id_null_4 => "format-field-id-null-4",
    format_field_id_null_5 => "format-field-id-null-5",
    format_field_parsing => "format-field-parsing",
    format_field_retry => "format-field-retry",
    format_field_retry_bogus => "format-field-retry-bogus",
    format_field_retry_empty => "format-field-retry-empty",
    format_field_unknown => "format-field-unknown",
    format_leading_space => "format-leading-space",
    format_newlines => "format-newlines",
    format_null_character => "format-null-character",
    format_utf_8 => "format-utf-8",
}
