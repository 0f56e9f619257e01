//! `resse decode`: read an SSE byte stream, print every frame as soon as it is decoded.
//!
//! Bytes are read from a file or stdin in reads of up to 64 KiB, appended to a
//! buffer and run through [`resse_codec::Decoder`] (optionally in smaller
//! pieces, `--chunk-size`). After each read the output is flushed, so
//! `tail -f stream.sse | resse decode` shows events as they arrive. At end of
//! input the decoder's `decode_eof` is drained and a final end-of-stream
//! record tells the last event id and whether an unterminated event was
//! discarded.
//!
//! Limit errors (`--max-line-len`, `--max-event-len`) do not stop decoding:
//! the decoder runs in its default skip mode, so the offending event is
//! dropped and decoding resumes after the next blank line. Each such error is
//! printed to stderr when it happens and the exit status is 1 at the end.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use bytes::BytesMut;
use clap::Args;
use resse_codec::{
    DEFAULT_MAX_EVENT_LEN, DEFAULT_MAX_LINE_LEN, DecodeError, Decoder, DecoderConfig,
};

use crate::error::CliError;
use crate::render::{Format, Renderer};

/// Size of one read from the input.
const READ_LEN: usize = 64 * 1024;

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

The readable form escapes what could drive or reorder a terminal, as \\u{1b}: C0 controls but \
tab (each data line is printed on its own line), DEL, C1 (U+0080-U+009F), bidi controls \
(U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069), U+2028 and U+2029. --json is exact; \
it also writes DEL, C1, bidi controls, U+2028 and U+2029 as \\uXXXX escapes.

Exit status: 0 on success; 1 on an I/O error or when a limit was exceeded (the offending event \
is skipped, decoding goes on, and the error is printed to stderr); 2 on bad arguments.")]
pub(crate) struct DecodeArgs {
    /// Print one JSON object per line instead of the readable form.
    #[arg(long)]
    json: bool,

    /// Also print comment lines (`: ...`), such as keep-alives.
    #[arg(long)]
    comments: bool,

    /// Feed the decoder at most N bytes at a time (default: whatever one read returns, up to 64 KiB).
    #[arg(long, value_name = "N", value_parser = parse_chunk_size)]
    chunk_size: Option<usize>,

    /// Longest line accepted, in bytes (line terminator excluded).
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_LINE_LEN)]
    max_line_len: usize,

    /// Most raw bytes one event may span before it is dispatched (field names and line ends included).
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_EVENT_LEN)]
    max_event_len: usize,

    /// The stream to read; stdin when absent or `-`.
    #[arg(value_name = "FILE")]
    file: Option<PathBuf>,
}

/// Parses `--chunk-size`: a positive number of bytes.
fn parse_chunk_size(s: &str) -> Result<usize, String> {
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
        decoder: Decoder::with_config(config),
        buf: BytesMut::with_capacity(READ_LEN),
        out: Renderer::new(BufWriter::new(io::stdout().lock()), format),
        limit_errors: 0,
    };

    let mut chunk = vec![0_u8; READ_LEN];
    loop {
        let n = match input.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(source) => {
                // Show what was decoded before the failure, then report it.
                run.out.flush().map_err(CliError::Output)?;
                return Err(CliError::Input { name, source });
            }
        };
        let read = chunk.get(..n).unwrap_or(&chunk);
        for piece in read.chunks(args.chunk_size.unwrap_or(n)) {
            run.buf.extend_from_slice(piece);
            run.drain(Decoder::decode)?;
        }
        run.out.flush().map_err(CliError::Output)?;
    }

    run.drain(Decoder::decode_eof)?;
    run.out
        .end_of_stream(run.decoder.last_event_id(), run.decoder.incomplete_at_eof())
        .and_then(|()| run.out.flush())
        .map_err(CliError::Output)?;

    Ok(if run.limit_errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The state of one `decode` run.
struct Run<W: Write> {
    decoder: Decoder,
    /// Bytes read but not yet consumed by the decoder; only ever appended to.
    buf: BytesMut,
    out: Renderer<W>,
    /// How many limit errors the decoder reported.
    limit_errors: usize,
}

/// `Decoder::decode` or `Decoder::decode_eof`.
type Step = fn(&mut Decoder, &mut BytesMut) -> Result<Option<resse_codec::Frame>, DecodeError>;

impl<W: Write> Run<W> {
    /// Calls `step` until it needs more input, printing every frame it yields.
    fn drain(&mut self, step: Step) -> Result<(), CliError> {
        loop {
            match step(&mut self.decoder, &mut self.buf) {
                Ok(Some(frame)) => self.out.frame(&frame).map_err(CliError::Output)?,
                Ok(None) => return Ok(()),
                // Returned once per offending event; the decoder (in skip mode) has
                // already decided to drop it, so keep going.
                Err(e) => self.limit_error(&e)?,
            }
        }
    }

    /// Reports a limit error on stderr, after the frames decoded before it.
    fn limit_error(&mut self, e: &DecodeError) -> Result<(), CliError> {
        self.out.flush().map_err(CliError::Output)?;
        match e {
            DecodeError::LineTooLong { limit } => eprintln!(
                "resse: line longer than {limit} bytes; skipped the rest of its event \
                 (raise --max-line-len if the source is trusted)"
            ),
            DecodeError::EventTooLong { limit } => eprintln!(
                "resse: event larger than {limit} bytes; skipped it \
                 (raise --max-event-len if the source is trusted)"
            ),
            other => eprintln!("resse: {other}"),
        }
        self.limit_errors += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::parse_chunk_size;

    #[test]
    fn chunk_size_must_be_positive() {
        assert_eq!(parse_chunk_size("1"), Ok(1));
        assert_eq!(parse_chunk_size("4096"), Ok(4096));
        assert!(parse_chunk_size("0").is_err());
        assert!(parse_chunk_size("-1").is_err());
        assert!(parse_chunk_size("lots").is_err());
    }
}
