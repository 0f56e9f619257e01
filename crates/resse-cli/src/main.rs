//! `resse`: command-line tools for Server-Sent Events.
//!
//! Subcommands live in their own modules; this file only parses arguments,
//! dispatches, and turns the outcome into an exit status:
//!
//! - `0`: success;
//! - `1`: a runtime error (I/O; `tail` gave up, see `tail`; `serve` could
//!   not bind its address or set up TLS; `demo` found an event lost,
//!   duplicated or out of order);
//! - `2`: bad command-line arguments (including a malformed URL or header);
//! - `3`: `decode` skipped events over a limit (and read its input to the end).
//!
//! Every error is printed to stderr as `resse: <message>`.

mod decode;
mod demo;
mod doctor;
mod error;
mod position;
mod render;
mod serve;
mod tail;
mod tls;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::error::CliError;

/// Command-line tools for Server-Sent Events (SSE).
#[derive(Debug, Parser)]
#[command(name = "resse", version, propagate_version = true)]
struct Cli {
    /// What to do.
    #[command(subcommand)]
    command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Decode an SSE stream (a file or stdin) and print its frames.
    Decode(decode::DecodeArgs),
    /// Follow an SSE stream over HTTP(S), reconnecting, and print its events.
    Tail(tail::TailArgs),
    /// Serve an SSE stream of stdin lines (or a ticker), with replay and a live page.
    Serve(serve::ServeArgs),
    /// Run a server, 50 clients and a fault-injecting proxy; check that nothing is lost.
    Demo(demo::DemoArgs),
    /// Diagnose an SSE endpoint: headers, compression, buffering, keep-alive, ids, resumption.
    Doctor(doctor::DoctorArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    let result = match cli.command {
        Command::Decode(args) => decode::run(&args),
        Command::Tail(args) => tail::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Doctor(args) => doctor::run(args),
    };
    match result {
        Ok(code) => code,
        // The reader of our output went away (`resse decode | head`): not an error of ours.
        Err(CliError::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("resse: {}", render::clean(&e.to_string()));
            ExitCode::from(e.exit_code())
        }
    }
}

/// Reports a clap error: help and version go to stdout as usual, real errors
/// to stderr in the `resse: <message>` shape.
fn usage_error(e: &clap::Error) -> ExitCode {
    if !e.use_stderr()
        || e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    {
        // --help / --version (exit 0), or plain `resse` (help on stderr, exit 2).
        e.exit();
    }
    let rendered = e.render().to_string();
    let message = rendered.strip_prefix("error: ").unwrap_or(&rendered);
    // The message quotes the arguments: escape them, line by line.
    let mut lines = message.lines();
    eprintln!("resse: {}", render::clean(lines.next().unwrap_or_default()));
    for line in lines {
        eprintln!("{}", render::clean(line));
    }
    ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2))
}
