//! `SseBody` sends a keep-alive comment after the configured quiet interval,
//! never before, and real traffic postpones it. Runs under tokio's paused
//! clock, so the timings are exact.
#![cfg(feature = "server")]

use std::future::poll_fn;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use futures_util::stream;
use http_body::{Body, Frame};
use resse_codec::Event;
use resse_heartbeat::{KeepAliveConfig, KeepAliveMessage};
use resse_tokio::server::{BodyError, SseBody};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// A stream fed by a channel: quiet until the test sends.
fn channel() -> (
    mpsc::UnboundedSender<Event>,
    impl Stream<Item = Event> + Send,
) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    (tx, stream::poll_fn(move |cx| rx.poll_recv(cx)))
}

/// Polls once: the frame's bytes if one is ready.
fn poll_once<B>(body: Pin<&mut B>) -> Option<Option<Bytes>>
where
    B: Body<Data = Bytes, Error = BodyError>,
{
    match body.poll_frame(&mut Context::from_waker(Waker::noop())) {
        Poll::Pending => None,
        Poll::Ready(frame) => Some(frame.map(|f| data(f.expect("no body error")))),
    }
}

fn data(frame: Frame<Bytes>) -> Bytes {
    frame.into_data().expect("a data frame")
}

/// Waits for the next frame (the paused clock jumps to the next timer).
async fn next_frame<B>(mut body: Pin<&mut B>) -> Option<Bytes>
where
    B: Body<Data = Bytes, Error = BodyError>,
{
    poll_fn(|cx| body.as_mut().poll_frame(cx))
        .await
        .map(|f| data(f.expect("no body error")))
}

#[tokio::test(start_paused = true)]
async fn quiet_stream_gets_a_keep_alive_after_the_interval_and_not_before() {
    let (_tx, events) = channel();
    let start = Instant::now();
    let mut body = pin!(SseBody::new(events));

    assert_eq!(poll_once(body.as_mut()), None, "nothing to send at first");
    tokio::time::advance(KeepAliveConfig::DEFAULT_INTERVAL - Duration::from_millis(1)).await;
    assert_eq!(poll_once(body.as_mut()), None, "1 ms early: nothing");

    let frame = next_frame(body.as_mut()).await;
    assert_eq!(frame.as_deref(), Some(&b": keep-alive\n"[..]));
    assert_eq!(start.elapsed(), KeepAliveConfig::DEFAULT_INTERVAL);

    // And again after each further quiet interval, exactly.
    for n in 2..=4u32 {
        let frame = next_frame(body.as_mut()).await;
        assert_eq!(frame.as_deref(), Some(&b": keep-alive\n"[..]));
        assert_eq!(start.elapsed(), KeepAliveConfig::DEFAULT_INTERVAL * n);
    }
}

#[tokio::test(start_paused = true)]
async fn real_traffic_postpones_the_keep_alive() {
    let s = Duration::from_secs;
    let (tx, events) = channel();
    let start = Instant::now();
    let mut body = pin!(SseBody::new(events).keep_alive(KeepAliveConfig::new(s(15))));

    // An event at 10 s...
    let sender = tokio::spawn(async move {
        tokio::time::sleep(s(10)).await;
        tx.send(Event::new("tick").with_id("1"))
            .expect("body alive");
        tx
    });
    let frame = next_frame(body.as_mut()).await;
    assert_eq!(frame.as_deref(), Some(&b"id: 1\ndata: tick\n\n"[..]));
    assert_eq!(start.elapsed(), s(10));
    let _tx = sender.await.expect("sender");

    // ...moves the keep-alive from 15 s to 25 s.
    tokio::time::advance(s(15) - Duration::from_millis(1)).await;
    assert_eq!(poll_once(body.as_mut()), None, "no keep-alive at 24.999 s");
    let frame = next_frame(body.as_mut()).await;
    assert_eq!(frame.as_deref(), Some(&b": keep-alive\n"[..]));
    assert_eq!(start.elapsed(), s(25));
}

#[tokio::test(start_paused = true)]
async fn a_busy_stream_never_gets_a_keep_alive() {
    let s = Duration::from_secs;
    let (tx, events) = channel();
    let mut body = pin!(SseBody::new(events).keep_alive(KeepAliveConfig::new(s(15))));
    let sender = tokio::spawn(async move {
        for n in 0..20 {
            tokio::time::sleep(s(14)).await;
            tx.send(Event::new(format!("{n}"))).expect("body alive");
        }
    });
    for n in 0..20 {
        let frame = next_frame(body.as_mut()).await.expect("a frame");
        assert_eq!(
            frame,
            Bytes::from(format!("data: {n}\n\n")),
            "no keep-alive in between"
        );
    }
    sender.await.expect("sender");
}

#[tokio::test(start_paused = true)]
async fn keep_alive_can_be_an_event_or_turned_off() {
    let s = Duration::from_secs;
    let (_tx, events) = channel();
    let config = KeepAliveConfig::new(s(5)).message(KeepAliveMessage::event("ping", ""));
    let mut body = pin!(SseBody::new(events).keep_alive(config));
    let start = Instant::now();
    let frame = next_frame(body.as_mut()).await;
    assert_eq!(frame.as_deref(), Some(&b"event: ping\ndata: \n\n"[..]));
    assert_eq!(start.elapsed(), s(5));

    let (_tx, events) = channel();
    let mut body = pin!(SseBody::new(events).without_keep_alive());
    tokio::time::advance(s(3600)).await;
    assert_eq!(poll_once(body.as_mut()), None, "silent for an hour");
}

#[tokio::test(start_paused = true)]
async fn a_keep_alive_event_that_cannot_be_encoded_ends_the_body() {
    let (_tx, events) = channel();
    let config = KeepAliveConfig::new(Duration::from_secs(1))
        .message(KeepAliveMessage::event("ping\ndata: injected", ""));
    let mut body = pin!(SseBody::new(events).keep_alive(config));
    let result = poll_fn(|cx| body.as_mut().poll_frame(cx)).await;
    assert!(
        matches!(result, Some(Err(BodyError::Encode(_)))),
        "{result:?}"
    );
    assert!(body.is_end_stream());
}
