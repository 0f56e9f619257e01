//! An event stream server on plain hyper 1: a `Broadcaster` fed by a ticking
//! publisher, served through `SseBody`, resuming clients from their
//! `Last-Event-ID`.
//!
//! ```text
//! cargo run --example sse_hyper_server        # port 8080
//! cargo run --example sse_hyper_server -- 9000
//! curl -N http://127.0.0.1:8080/events
//! curl -N -H 'Last-Event-ID: <an id you saw>' http://127.0.0.1:8080/events
//! curl -N 'http://127.0.0.1:8080/events?client=alice'   # one connection per client
//! ```
//!
//! The port can also come from the `PORT` environment variable. Ctrl-C
//! closes the broadcaster (every stream ends) and stops the server.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use resse_tokio::Event;
use resse_tokio::bytes::Bytes;
use resse_tokio::http::{Request, Response, StatusCode};
use resse_tokio::server::{Broadcaster, SseBody, Subscription, last_event_id};
use tokio::net::TcpListener;

type Body = Either<SseBody<Subscription>, Full<Bytes>>;

/// The port from the first argument, or `PORT`, or 8080.
fn port() -> u16 {
    std::env::args()
        .nth(1)
        .or_else(|| std::env::var("PORT").ok())
        .and_then(|p| p.parse().ok())
        .unwrap_or(8080)
}

fn handle(broadcaster: &Broadcaster, request: &Request<Incoming>) -> Response<Body> {
    if request.uri().path() != "/events" {
        let mut response = Response::new(Either::Right(Full::from("try GET /events\n")));
        *response.status_mut() = StatusCode::NOT_FOUND;
        return response;
    }
    // `?client=NAME`: a second connection of the same client replaces the first.
    let client = request
        .uri()
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("client=")));
    let last = last_event_id(request.headers());
    let subscription = match client {
        Some(name) => broadcaster.subscribe_as(name, last),
        None => broadcaster.subscribe(last),
    };
    if !subscription.replay().is_exact() {
        // The id is older than the replay log, or from before a restart:
        // this client missed events that are gone. A real application
        // might send it a "reload" event here.
        eprintln!("client resumed from {last:?}: {:?}", subscription.replay());
    }
    SseBody::new(subscription).into_response().map(Either::Left)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let broadcaster = Broadcaster::default();

    // The publisher: one event per second (a real server publishes from
    // wherever its events come from; `publish` is cheap and never waits).
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

    let addr = SocketAddr::from(([127, 0, 0, 1], port()));
    let listener = TcpListener::bind(addr).await?;
    println!("serving events on http://{addr}/events  (curl -N http://{addr}/events)");

    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => accepted?,
            _ = tokio::signal::ctrl_c() => {
                broadcaster.close(); // every stream ends; clients reconnect elsewhere
                return Ok(());
            }
        };
        let broadcaster = broadcaster.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<Incoming>| {
                let response = handle(&broadcaster, &request);
                async move { Ok::<_, Infallible>(response) }
            });
            // No timeout around the connection: an event stream is a response
            // that lasts for hours. hyper's header_read_timeout only bounds
            // reading request heads, so it is safe to keep.
            let served = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
            // A client closing its event stream is the normal way it ends.
            match served {
                Err(e) if !e.is_incomplete_message() => eprintln!("connection failed: {e}"),
                _ => {}
            }
        });
    }
}
