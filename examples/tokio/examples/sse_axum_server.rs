//! An event stream server on axum: a `Broadcaster` in the router state, fed
//! by a ticking publisher; the handler returns `SseBody` as it is (an
//! `http::Response<SseBody<_>>` is an axum response) and resumes clients
//! from their `Last-Event-ID`.
//!
//! ```text
//! cargo run --example sse_axum_server        # port 8080
//! cargo run --example sse_axum_server -- 9000
//! curl -N http://127.0.0.1:8080/events
//! curl -N -H 'Last-Event-ID: <an id you saw>' http://127.0.0.1:8080/events
//! curl -N 'http://127.0.0.1:8080/events?client=alice'   # one connection per client
//! cargo run --example tail -- http://127.0.0.1:8080/events
//! ```
//!
//! The port can also come from the `PORT` environment variable. Ctrl-C
//! closes the broadcaster, so that the graceful shutdown does not wait for
//! streams that never end.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use resse_tokio::Event;
use resse_tokio::http::{HeaderMap, Response, Uri};
use resse_tokio::server::{Broadcaster, SseBody, Subscription, last_event_id};

/// The port from the first argument, or `PORT`, or 8080.
fn port() -> u16 {
    std::env::args()
        .nth(1)
        .or_else(|| std::env::var("PORT").ok())
        .and_then(|p| p.parse().ok())
        .unwrap_or(8080)
}

async fn events(
    State(broadcaster): State<Broadcaster>,
    uri: Uri,
    headers: HeaderMap,
) -> Response<SseBody<Subscription>> {
    // `?client=NAME`: a second connection of the same client replaces the first.
    let client = uri
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("client=")));
    let last = last_event_id(&headers);
    let subscription = match client {
        Some(name) => broadcaster.subscribe_as(name, last),
        None => broadcaster.subscribe(last),
    };
    if !subscription.replay().is_exact() {
        // The id is older than the replay log, or from before a restart.
        eprintln!("client resumed from {last:?}: {:?}", subscription.replay());
    }
    SseBody::new(subscription).into_response()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let broadcaster = Broadcaster::default();

    let publisher = broadcaster.clone();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(Duration::from_secs(1));
        for n in 1u64.. {
            ticks.tick().await;
            let event = Event::new(format!("{{\"tick\":{n}}}")).with_event_type("tick");
            if publisher.publish(event).is_err() {
                break; // closed
            }
        }
    });

    // No TimeoutLayer on the event route: it would cut every stream when it
    // fires. Compression layers must skip text/event-stream (tower-http's
    // default predicate does).
    let app = Router::new()
        .route("/events", get(events))
        .with_state(broadcaster.clone());

    let addr = SocketAddr::from(([127, 0, 0, 1], port()));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("serving events on http://{addr}/events  (curl -N http://{addr}/events)");
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = tokio::signal::ctrl_c().await;
            broadcaster.close(); // streams end, so the shutdown can finish
        })
        .await?;
    Ok(())
}
