//! `resse decode`: read an SSE byte stream, print every frame as soon as it is decoded.
//!
//! Bytes are read from a file or stdin in reads of up to 64 KiB (or
//! `--chunk-size`) into the memory of a [`resse_codec::ChunkDecoder`]
//! (`read_buf`): events within a read are slices of it, and a large event
//! that spans reads is not copied again after its read. After each read the output is flushed, so
//! `tail -f stream.sse | resse decode` shows events as they arrive. At end of
//! input what the decoder holds is drained and a final end-of-stream
//! record tells the last event id and whether an unterminated event was
//! discarded.
//!
//! Limit errors (`--max-line-len`, `--max-event-len`) do not stop decoding:
//! the decoder runs in its default skip mode, so the offending event is
//! dropped and decoding resumes after the next blank line. The first error
//! of each limit is printed to stderr when it happens, with the byte offset
//! of the offending line or event ([`Positions`]) and every flag that must
//! be raised to accept it; later ones are counted and summarised in one line
//! at the end. The exit status is then 3 (1 is for I/O errors).

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use resse_codec::{
    ChunkDecoder, DEFAULT_MAX_EVENT_LEN, DEFAULT_MAX_LINE_LEN, DecodeError, DecoderConfig,
};

use crate::error::CliError;
use crate::position::{Limit, Positions};
use crate::render::{Format, Renderer};

/// Size of one read from the input.
const READ_LEN: usize = 64 * 1024;

/// The exit status when events were skipped for a limit.
const LIMIT_EXCEEDED: u8 = 3;

/// Arguments of `resse decode`.
#[derive(Debug, Args)]
#[command(after_help = "\
Output: one line per frame (an event, a `retry:` value, a comment with --comments), then an \
end-of-stream line with the last event id and whether an unterminated event was discarded. \
With --json every line is one JSON object:
  {\"event\":TYPE,\"data\":DATA,\"id\":LAST_EVENT_ID}
  {\"retry\":MILLISECONDS}
  {\"comment\":TEXT}
  {\"eof\":{\"last_event_id\":ID,\"incomplete\":BOOL}}
A `retry:` value is printed as soon as its line is read, before the event of its block; values \
beyond u64::MAX milliseconds saturate to it. Comments (only with --comments) are printed in \
stream order, also before the event of their block, with one leading space removed.

The readable form escapes what could drive or reorder a terminal, as \\u{1b}: C0 controls but \
tab (each data line is printed on its own line), DEL, C1 (U+0080-U+009F), bidi controls \
(U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069), U+2028 and U+2029. --json is exact; \
it also writes DEL, C1, bidi controls, U+2028 and U+2029 as \\uXXXX escapes.

Limits: an event over --max-line-len or --max-event-len is skipped and decoding goes on after \
the next blank line. The first skip of each limit is reported on stderr with the byte offset \
(0-based) of the offending line or event and the flags to raise to accept it (one line longer \
than --max-event-len needs both flags raised); further skips are counted and summarised in one \
line at the end.

Exit status: 0 on success; 1 on an I/O error; 2 on bad arguments; 3 when events were skipped \
for a limit (the rest of the input was decoded).")]
pub(crate) struct DecodeArgs {
    /// Print one JSON object per line instead of the readable form.
    #[arg(long)]
    json: bool,

    /// Also print comment lines (`: ...`), such as keep-alives.
    #[arg(long)]
    comments: bool,

    /// Feed the decoder at most N bytes at a time (default: whatever one read returns, up to 64 KiB).
    #[arg(long, value_name = "N", value_parser = parse_positive)]
    chunk_size: Option<usize>,

    /// Longest line accepted, in bytes (line terminator excluded; at least 1).
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_LINE_LEN, value_parser = parse_positive)]
    max_line_len: usize,

    /// Most raw bytes one event may span before it is dispatched (field names and line ends
    /// included; at least 1).
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_EVENT_LEN, value_parser = parse_positive)]
    max_event_len: usize,

    /// The stream to read; stdin when absent or `-`.
    #[arg(value_name = "FILE")]
    file: Option<PathBuf>,
}

/// Parses `--chunk-size` and the limits: a positive number of bytes.
fn parse_positive(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_owned()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

/// Runs `resse decode`. Returns the exit status once the input is exhausted, or
/// the error that stopped it early.
pub(crate) fn run(args: &DecodeArgs) -> Result<ExitCode, CliError> {
    let (name, mut input): (String, Box<dyn Read>) = match &args.file {
        Some(path) if path.as_os_str() != "-" => {
            let name = path.display().to_string();
            match File::open(path) {
                Ok(file) => (name, Box::new(file)),
                Err(source) => return Err(CliError::Input { name, source }),
            }
        }
        _ => ("-".to_owned(), Box::new(io::stdin().lock())),
    };

    let config = DecoderConfig::default()
        .max_line_len(args.max_line_len)
        .max_event_len(args.max_event_len)
        .comments(args.comments);
    let format = if args.json {
        Format::Json
    } else {
        Format::Human
    };
    let mut run = Run {
        chunks: ChunkDecoder::with_config(config),
        out: Renderer::new(BufWriter::new(io::stdout().lock()), format),
        positions: Positions::new(args.max_line_len, args.max_event_len),
        skipped_line: 0,
        skipped_event: 0,
    };

    // Each read goes into the decoder's memory, at most
    // `--chunk-size` bytes at a time.
    let read_len = args.chunk_size.unwrap_or(READ_LEN).clamp(1, READ_LEN);
    loop {
        let buf = run.chunks.read_buf(read_len);
        let n = match input.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(source) => {
                // Show what was decoded before the failure, then report it.
                run.out.flush().map_err(CliError::Output)?;
                return Err(CliError::Input { name, source });
            }
        };
        run.positions.feed(buf.get(..n).unwrap_or(buf));
        run.chunks.filled(n);
        run.drain()?;
        run.out.flush().map_err(CliError::Output)?;
    }

    run.chunks.end();
    run.drain()?;
    run.out
        .end_of_stream(
            run.chunks.decoder().last_event_id(),
            run.chunks.incomplete_at_eof(),
        )
        .and_then(|()| run.out.flush())
        .map_err(CliError::Output)?;

    run.summary();
    Ok(if run.skipped_line + run.skipped_event == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(LIMIT_EXCEEDED)
    })
}

/// The state of one `decode` run.
struct Run<W: Write> {
    /// The decoder, fed each piece of input as it is read.
    chunks: ChunkDecoder,
    out: Renderer<W>,
    /// Where the decoder's limit errors are.
    positions: Positions,
    /// How many events were skipped for `--max-line-len`.
    skipped_line: u64,
    /// How many events were skipped for `--max-event-len`.
    skipped_event: u64,
}

impl<W: Write> Run<W> {
    /// Prints every frame the decoder has until it needs more input.
    fn drain(&mut self) -> Result<(), CliError> {
        while let Some(result) = self.chunks.next_frame() {
            match result {
                Ok(frame) => self.out.frame(&frame).map_err(CliError::Output)?,
                // Returned once per offending event; the decoder (in skip mode) has
                // already decided to drop it, so keep going.
                Err(e) => self.limit_error(&e)?,
            }
        }
        Ok(())
    }

    /// Reports a limit error on stderr, after the frames decoded before it:
    /// the first of each limit in full, later ones only in [`summary`](Self::summary).
    fn limit_error(&mut self, e: &DecodeError) -> Result<(), CliError> {
        self.out.flush().map_err(CliError::Output)?;
        let config = self.chunks.decoder().config();
        let (max_line, max_event) = (config.get_max_line_len(), config.get_max_event_len());
        match e {
            DecodeError::LineTooLong { limit } => {
                let at = self.positions.claim(Limit::Line);
                self.skipped_line += 1;
                if self.skipped_line == 1 {
                    let advice = if max_event <= max_line {
                        // The event holding the line is longer than the line.
                        "raise both --max-line-len and --max-event-len: \
                         the line alone is over the event limit too"
                    } else {
                        "raise --max-line-len"
                    };
                    eprintln!(
                        "resse: {} is longer than {limit} bytes; skipped the rest of its event \
                         (if the source is trusted, {advice})",
                        located("line", at)
                    );
                }
            }
            DecodeError::EventTooLong { limit } => {
                let at = self.positions.claim(Limit::Event);
                self.skipped_event += 1;
                if self.skipped_event == 1 {
                    eprintln!(
                        "resse: {} is larger than {limit} bytes; skipped it \
                         (if the source is trusted, raise --max-event-len)",
                        located("event", at)
                    );
                }
            }
            other => {
                self.skipped_event += 1;
                eprintln!("resse: {other}");
            }
        }
        Ok(())
    }

    /// One line for the skips not reported one by one.
    fn summary(&self) {
        let (line, event) = (self.skipped_line, self.skipped_event);
        if line > 1 || event > 1 {
            let mut parts = Vec::new();
            if line > 0 {
                parts.push(format!("{line} over --max-line-len"));
            }
            if event > 0 {
                parts.push(format!("{event} over --max-event-len"));
            }
            eprintln!(
                "resse: skipped {} events in all ({}); only the first of each limit is reported",
                line + event,
                parts.join(", ")
            );
        }
    }
}

/// `line at byte 12`, or `a line` when the offset is not known.
fn located(what: &str, at: Option<u64>) -> String {
    match at {
        Some(at) => format!("{what} at byte {at}"),
        None => format!("a {what}"),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_positive;

    #[test]
    fn sizes_must_be_positive() {
        assert_eq!(parse_positive("1"), Ok(1));
        assert_eq!(parse_positive("4096"), Ok(4096));
        assert!(parse_positive("0").is_err());
        assert!(parse_positive("-1").is_err());
        assert!(parse_positive("lots").is_err());
    }
}
