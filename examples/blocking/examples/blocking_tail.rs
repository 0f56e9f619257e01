//! Tail an event stream without an async runtime: print each event of the
//! URL given as argument, reconnecting (with `Last-Event-ID`) as needed.
//!
//! ```text
//! cargo run --example blocking_tail -- http://127.0.0.1:8080/events
//! cargo run --example blocking_tail -- https://example.com/events
//! ```
//!
//! The one idea: `resse_blocking::Client` is a plain `Iterator`; a `for`
//! loop is the whole event loop, and the thread blocks in between. The
//! default connector speaks `http://` and `https://` (rustls, webpki roots).

use std::time::Duration;

use resse_blocking::ClientBuilder;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Some(url) = std::env::args().nth(1) else {
        eprintln!("usage: blocking_tail <http(s)://host:port/path>");
        std::process::exit(2);
    };
    // Drop a connection that stays silent for 60 s (no event, no keep-alive
    // comment) and reconnect; everything else keeps the defaults.
    let mut client = ClientBuilder::new(url)
        .idle_timeout(Some(Duration::from_secs(60)))
        .build()?;
    // Events arrive once and in order across reconnections. The loop ends
    // when the server answers 204 (`None`) or the client gives up (`Err`).
    while let Some(event) = client.next_event()? {
        println!(
            "[{}] {}: {}",
            event.last_event_id(),
            event.event_type(),
            event.data()
        );
    }
    Ok(())
}
