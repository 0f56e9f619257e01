//! Tails an event stream with the reconnecting tokio client: prints each
//! event as one line, and each reconnection on stderr. Ctrl-C closes it.
//!
//! ```text
//! cargo run --example sse_axum_server &   # a server to tail
//! cargo run --example tail -- http://127.0.0.1:8080/events
//! ```

use std::time::Duration;

use futures_util::StreamExt;
use resse_tokio::client::{ClientBuilder, SessionEvent};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://127.0.0.1:8080/events".to_owned());
    let mut client = ClientBuilder::new(url)
        // A server that sends keep-alives every 15 s is alive if it says
        // anything within 45 s.
        .idle_timeout(Some(Duration::from_secs(45)))
        .build()?;
    let close = client.close_handle();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            close.close();
        }
    });
    while let Some(item) = client.next().await {
        match item {
            SessionEvent::Event(event) => println!(
                "{} [{}] {}",
                event.last_event_id(),
                event.event_type(),
                event.data()
            ),
            SessionEvent::Open => eprintln!("connected"),
            SessionEvent::Reconnecting { cause, delay, .. } => {
                eprintln!("{cause}; reconnecting in {delay:?}");
            }
            SessionEvent::Closed { reason } => {
                eprintln!("closed: {reason}");
                if reason.is_error() {
                    if let Some(error) = client.last_error() {
                        eprintln!("last error: {error}");
                    }
                    std::process::exit(1);
                }
            }
            _ => {}
        }
    }
    Ok(())
}
