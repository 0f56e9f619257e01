//! The client's one timer under tokio's paused clock, with an in-memory
//! `Connect` (no sockets): the idle timeout fires exactly at the session's
//! deadline, and a reconnection waits exactly the delay it announced (to
//! the millisecond tokio's timer rounds deadlines up to).
#![cfg(feature = "client")]

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{StreamExt, stream};
use http_body_util::StreamBody;
use http_body_util::combinators::UnsyncBoxBody;
use resse_reconnect::{Cause, ReconnectConfig};
use resse_tokio::BoxError;
use resse_tokio::client::{ClientBuilder, Connect, Request, SessionEvent};
use tokio::time::Instant;

type Body = UnsyncBoxBody<Bytes, Infallible>;

/// What one connection attempt gets.
enum Answer {
    /// A stream: these chunks, then silence for ever.
    Stream(&'static [&'static str]),
    /// No response.
    Fail,
}

/// Answers attempts in order and records when each was made and with
/// which `Last-Event-ID`.
#[derive(Clone)]
struct Scripted {
    answers: Arc<Mutex<VecDeque<Answer>>>,
    seen: Arc<Mutex<Vec<(Instant, String)>>>,
}

impl Scripted {
    fn new(answers: impl IntoIterator<Item = Answer>) -> Self {
        Self {
            answers: Arc::new(Mutex::new(answers.into_iter().collect())),
            seen: Arc::default(),
        }
    }
}

impl Connect for Scripted {
    type Body = Body;

    fn connect(
        &self,
        request: Request,
    ) -> impl Future<Output = Result<http::Response<Body>, BoxError>> + Send + 'static {
        self.seen
            .lock()
            .unwrap()
            .push((Instant::now(), request.last_event_id.to_string()));
        let answer = self.answers.lock().unwrap().pop_front();
        async move {
            match answer {
                Some(Answer::Stream(chunks)) => {
                    let frames = stream::iter(chunks.iter().map(|c| {
                        Ok::<_, Infallible>(http_body::Frame::data(Bytes::from_static(
                            c.as_bytes(),
                        )))
                    }))
                    .chain(stream::pending());
                    Ok(http::Response::builder()
                        .header("content-type", "text/event-stream")
                        .body(UnsyncBoxBody::new(StreamBody::new(frames)))?)
                }
                Some(Answer::Fail) | None => Err("refused".into()),
            }
        }
    }
}

fn builder(idle: Duration) -> ClientBuilder {
    ClientBuilder::new("http://stream.test/events")
        .idle_timeout(Some(idle))
        .reconnect(
            ReconnectConfig::default()
                .initial_delay(Duration::from_millis(500))
                .max_attempts(Some(3)),
        )
        .seed(7)
}

#[tokio::test(start_paused = true)]
async fn the_idle_timeout_fires_exactly_at_the_deadline() {
    let idle = Duration::from_secs(30);
    let connector = Scripted::new([
        Answer::Stream(&["id: 1\ndata: a\n\n", ": keep-alive\n\n"]),
        Answer::Stream(&["id: 2\ndata: b\n\n"]),
    ]);
    let mut client = builder(idle).build_with(connector.clone()).unwrap();
    let mut last_byte = None;
    let mut timeline = Vec::new();
    while let Some(item) = client.next().await {
        let now = Instant::now();
        match item {
            SessionEvent::Event(e) => {
                last_byte = Some(now);
                timeline.push(format!("event {}", e.data()));
                if e.data() == "b" {
                    break;
                }
            }
            SessionEvent::Reconnecting { cause, delay, .. } => {
                assert_eq!(cause, Cause::IdleTimeout);
                assert_eq!(now - last_byte.unwrap(), idle, "exactly the idle timeout");
                timeline.push(format!("idle, retry in {delay:?}"));
            }
            _ => {}
        }
    }
    assert_eq!(timeline.len(), 3, "{timeline:?}");
    let seen = connector.seen.lock().unwrap().clone();
    assert_eq!(seen[1].1, "1", "resumed from the last event");
}

#[tokio::test(start_paused = true)]
async fn a_reconnection_waits_exactly_the_announced_delay() {
    let connector = Scripted::new([
        Answer::Fail,
        Answer::Fail,
        Answer::Stream(&["data: up\n\n"]),
    ]);
    let mut client = builder(Duration::from_secs(30))
        .build_with(connector.clone())
        .unwrap();
    let mut delays = Vec::new();
    while let Some(item) = client.next().await {
        match item {
            SessionEvent::Reconnecting { cause, delay, .. } => {
                assert_eq!(cause, Cause::ConnectFailed);
                delays.push(delay);
            }
            SessionEvent::Event(e) => {
                assert_eq!(e.data(), "up");
                break;
            }
            _ => {}
        }
    }
    let seen = connector.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    assert_eq!(delays.len(), 2);
    for (i, delay) in delays.iter().enumerate() {
        // tokio's timer rounds a deadline up to its next millisecond.
        let waited = seen[i + 1].0 - seen[i].0;
        assert!(
            waited >= *delay && waited < *delay + Duration::from_millis(1),
            "attempt {} waited {waited:?} for a delay of {delay:?}",
            i + 1
        );
    }
    assert!(delays.iter().all(|d| *d >= Duration::from_millis(100)));
}

#[test]
fn a_client_can_move_to_a_spawned_task() {
    fn is_send<T: Send + 'static>(_: &T) {}
    // Built outside any runtime: no timer is made until it is polled.
    let client = builder(Duration::from_secs(1))
        .build_with(Scripted::new([]))
        .unwrap();
    is_send(&client);
    is_send(&client.close_handle());
}
