//! What `SseBody` hands to the HTTP server: ready items batched into one
//! frame, pre-encoded bytes passed on without a copy, and an event that
//! cannot be encoded ending the body with an error instead of being altered.
#![cfg(feature = "server")]

use std::future::poll_fn;
use std::pin::{Pin, pin};
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream;
use http_body::Body;
use resse_codec::{EncodeError, Event, Frame};
use resse_tokio::server::{BodyError, SseBody};

/// Every frame until the body ends, and the error it ended with, if any.
async fn drain<B>(mut body: Pin<&mut B>) -> (Vec<Bytes>, Option<BodyError>)
where
    B: Body<Data = Bytes, Error = BodyError>,
{
    let mut frames = Vec::new();
    while let Some(frame) = poll_fn(|cx| body.as_mut().poll_frame(cx)).await {
        match frame {
            Ok(frame) => frames.push(frame.into_data().expect("data frame")),
            Err(e) => {
                assert!(body.is_end_stream(), "an error ends the body");
                assert!(
                    poll_fn(|cx| body.as_mut().poll_frame(cx)).await.is_none(),
                    "nothing after the error"
                );
                return (frames, Some(e));
            }
        }
    }
    assert!(body.is_end_stream());
    (frames, None)
}

#[tokio::test]
async fn ready_events_go_out_together_in_one_frame() {
    let events = (1..=3).map(|n| Event::new(format!("e{n}")).with_id(n.to_string()));
    let mut body = pin!(SseBody::new(stream::iter(events)));
    let (frames, error) = drain(body.as_mut()).await;
    assert!(error.is_none());
    assert_eq!(
        frames,
        [Bytes::from_static(
            b"id: 1\ndata: e1\n\nid: 2\ndata: e2\n\nid: 3\ndata: e3\n\n"
        )]
    );
}

#[tokio::test]
async fn a_lone_pre_encoded_item_is_passed_on_without_a_copy() {
    let encoded = Bytes::from_static(b"id: 7\ndata: shared\n\n");
    let mut body = pin!(SseBody::new(stream::iter([encoded.clone()])));
    let (frames, _) = drain(body.as_mut()).await;
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].as_ptr(), encoded.as_ptr(), "same memory");
}

#[tokio::test]
async fn batches_stop_at_the_configured_length() {
    let items = (0..10).map(|n| Bytes::from(format!("data: {n:04}\n\n"))); // 12 bytes each
    let mut body = pin!(SseBody::new(stream::iter(items)).max_batch_len(30));
    let (frames, _) = drain(body.as_mut()).await;
    // 12 + 12 < 30, the third item makes 36: three items per frame at most.
    let lens: Vec<usize> = frames.iter().map(Bytes::len).collect();
    assert_eq!(lens, [36, 36, 36, 12]);
    let all: Vec<u8> = frames.concat();
    let expected: String = (0..10).map(|n| format!("data: {n:04}\n\n")).collect();
    assert_eq!(all, expected.as_bytes());
}

#[tokio::test]
async fn an_event_that_cannot_be_encoded_ends_the_body_with_an_error() {
    let cases = [
        (
            Event::new("x").with_id("1\ndata: injected"),
            EncodeError::IdHasNewline,
        ),
        (Event::new("x").with_id("1\r"), EncodeError::IdHasNewline),
        (Event::new("x").with_id("a\0b"), EncodeError::IdHasNul),
        (
            Event::new("x").with_event_type("update\nid: 999"),
            EncodeError::EventTypeHasNewline,
        ),
    ];
    for (bad, why) in cases {
        let items = [
            Event::new("before").with_id("1"),
            bad.clone(),
            Event::new("after").with_id("3"),
        ];
        let mut body = pin!(SseBody::new(stream::iter(items)));
        let (frames, error) = drain(body.as_mut()).await;
        // What came before is sent; the bad event and everything after are not.
        assert_eq!(frames.concat(), b"id: 1\ndata: before\n\n", "{bad:?}");
        match error {
            Some(BodyError::Encode(e)) => assert_eq!(e, why, "{bad:?}"),
            other => panic!("{bad:?}: expected an encode error, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn an_encode_error_says_what_happened_and_why() {
    let mut body = pin!(SseBody::new(stream::iter(
        [Event::new("x").with_id("1\n2")]
    )));
    let (frames, error) = drain(body.as_mut()).await;
    assert!(frames.is_empty());
    let error = error.expect("an error");
    let message = error.to_string();
    assert!(message.contains("cannot encode an event"), "{message}");
    assert!(message.contains("line break"), "{message}");
    assert!(std::error::Error::source(&error).is_some());
}

#[tokio::test]
async fn a_stream_error_ends_the_body_after_what_came_before() {
    let items: Vec<Result<Event, std::io::Error>> = vec![
        Ok(Event::new("one")),
        Err(std::io::Error::other("database went away")),
        Ok(Event::new("never")),
    ];
    let mut body = pin!(SseBody::new(stream::iter(items)));
    let (frames, error) = drain(body.as_mut()).await;
    assert_eq!(frames.concat(), b"data: one\n\n");
    match error {
        Some(BodyError::Stream(e)) => assert_eq!(e.to_string(), "database went away"),
        other => panic!("expected a stream error, got {other:?}"),
    }
}

#[tokio::test]
async fn decoded_frames_are_written_back_as_they_were() {
    let items = [
        Frame::Retry(Duration::from_millis(2500)),
        Frame::Comment("hello".into()),
        Frame::Event(Event::new("a\nb").with_event_type("update").with_id("9")),
    ];
    let mut body = pin!(SseBody::new(stream::iter(items)).without_keep_alive());
    let (frames, error) = drain(body.as_mut()).await;
    assert!(error.is_none());
    assert_eq!(
        frames.concat(),
        b"retry: 2500\n: hello\nevent: update\nid: 9\ndata: a\ndata: b\n\n"
    );
}

#[tokio::test]
async fn the_response_head_is_an_event_stream_that_must_not_be_cached_or_buffered() {
    let response = SseBody::new(stream::iter([Event::new("x")])).into_response();
    assert_eq!(response.status(), http::StatusCode::OK);
    let h = response.headers();
    assert_eq!(h["content-type"], "text/event-stream");
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["x-accel-buffering"], "no");
    assert!(h.get("content-encoding").is_none());
    assert!(h.get("content-length").is_none(), "a stream has no length");
    assert_eq!(h, &resse_tokio::server::headers());
    let built = resse_tokio::server::response_builder()
        .body(())
        .expect("valid");
    assert_eq!(built.headers(), h);
}
