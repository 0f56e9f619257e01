//! The `tokio_util` codec and the `Stream` extension decode exactly what
//! resse-codec decodes, however the bytes are split, and end correctly.
#![cfg(feature = "client")]

mod support;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt, stream};
use http_body_util::BodyExt;
use resse_codec::{BufferedDecoder, Decoder, DecoderConfig, Event, Frame, Overflow};
use resse_tokio::codec::SseCodec;
use resse_tokio::{SseStreamExt, StreamError};
use support::server::{TestServer, ticking};
use tokio::io::AsyncWriteExt;
use tokio_util::codec::{FramedRead, FramedWrite};

const INPUT: &[u8] =
    b"\xEF\xBB\xBFretry: 250\r\n: note\r\nid: 1\revent: add\ndata: a\r\ndata: b\n\n\
data:no space\n\nid\ndata\n\ndata: cut off";

/// The frames resse-codec decodes from the whole input at once.
fn expected(config: DecoderConfig) -> Vec<Frame> {
    let mut decoder = BufferedDecoder::new(Decoder::with_config(config));
    decoder.feed(INPUT);
    let mut frames = Vec::new();
    while let Some(frame) = decoder.next_frame().unwrap() {
        frames.push(frame);
    }
    while let Some(frame) = decoder.finish().unwrap() {
        frames.push(frame);
    }
    frames
}

#[tokio::test]
async fn framed_read_over_a_byte_at_a_time_pipe_matches_the_codec() {
    let config = DecoderConfig::default().comments(true);
    let (mut tx, rx) = tokio::io::duplex(1);
    let writer = tokio::spawn(async move {
        for b in INPUT {
            tx.write_all(&[*b]).await.unwrap();
        }
    });
    let frames: Vec<Frame> = FramedRead::new(rx, SseCodec::with_config(config.clone()))
        .map(|f| f.unwrap())
        .collect()
        .await;
    writer.await.unwrap();
    assert_eq!(frames, expected(config));
    assert_eq!(
        frames.len(),
        5,
        "retry, comment and three events: {frames:?}"
    );
}

#[tokio::test]
async fn framed_write_then_read_round_trips_events() {
    let events = vec![
        Event::new("line one\nline two")
            .with_event_type("add")
            .with_id("7"),
        Event::new(""),
        Event::new("trailing newline\n").with_id("8"),
    ];
    let (tx, rx) = tokio::io::duplex(64);
    let mut sink = FramedWrite::new(tx, SseCodec::new());
    let to_send = events.clone();
    let writer = tokio::spawn(async move {
        for event in to_send {
            sink.send(event).await.unwrap();
        }
    });
    let read: Vec<Event> = FramedRead::new(rx, SseCodec::new())
        .filter_map(|f| async move {
            match f.unwrap() {
                Frame::Event(e) => Some(e),
                _ => None,
            }
        })
        .collect()
        .await;
    writer.await.unwrap();
    let data: Vec<&str> = read.iter().map(Event::data).collect();
    assert_eq!(data, ["line one\nline two", "", "trailing newline\n"]);
    assert_eq!(read[0].event_type(), "add");
    assert_eq!(read[1].last_event_id(), "7", "the last id carries over");
    assert_eq!(read[2].last_event_id(), "8");
}

#[tokio::test]
async fn framed_write_refuses_an_injection() {
    let (tx, _rx) = tokio::io::duplex(64);
    let mut sink = FramedWrite::new(tx, SseCodec::new());
    let error = sink
        .send(Event::new("x").with_id("1\n\ndata: injected"))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("cannot encode"), "{error}");
}

#[tokio::test]
async fn stream_ext_is_independent_of_chunking() {
    let config = DecoderConfig::default().comments(true);
    let whole = expected(config.clone());
    for split in 0..=INPUT.len() {
        for second in split..=INPUT.len() {
            let chunks = [&INPUT[..split], &INPUT[split..second], &INPUT[second..]]
                .map(|c| Ok::<_, std::io::Error>(Bytes::copy_from_slice(c)));
            let frames: Vec<Frame> = stream::iter(chunks)
                .sse_frames_with(config.clone())
                .map(|f| f.unwrap())
                .collect()
                .await;
            assert_eq!(frames, whole, "split at {split} and {second}");
        }
    }
}

#[tokio::test]
async fn a_body_error_ends_the_stream_without_dispatching_the_cut_event() {
    let chunks = vec![
        Ok(Bytes::from_static(b"data: whole\n\ndata: half")),
        Err("connection reset"),
        Ok(Bytes::from_static(b"\n\n")),
    ];
    let mut events = stream::iter(chunks).sse_events();
    assert_eq!(events.next().await.unwrap().unwrap().data(), "whole");
    assert!(matches!(
        events.next().await,
        Some(Err(StreamError::Body("connection reset")))
    ));
    assert!(events.next().await.is_none(), "nothing after the error");
}

#[tokio::test]
async fn overflow_stop_ends_the_stream_after_one_error() {
    let config = DecoderConfig::default()
        .max_line_len(8)
        .on_overflow(Overflow::Stop);
    let chunks = ["data: ok\n\n", "data: far too long\n\n", "data: later\n\n"]
        .map(|c| Ok::<_, std::io::Error>(Bytes::from(c)));
    let items: Vec<_> = stream::iter(chunks).sse_events_with(config).collect().await;
    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(items[0].as_ref().unwrap().data(), "ok");
    assert!(matches!(items[1], Err(StreamError::Decode(_))));
}

#[tokio::test]
async fn a_real_hyper_response_body_decodes_through_the_extension() {
    let server = TestServer::start(Arc::new(|r| ticking(&r, Duration::from_millis(1)))).await;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<Bytes>>();
    let response = client
        .get(server.url("/events").parse().unwrap())
        .await
        .unwrap();
    let events: Vec<Event> = response
        .into_body()
        .into_data_stream()
        .sse_events()
        .take(20)
        .map(|e| e.unwrap())
        .collect()
        .await;
    let ids: Vec<&str> = events.iter().map(Event::last_event_id).collect();
    let want: Vec<String> = (1..=20).map(|n| n.to_string()).collect();
    assert_eq!(ids, want);
}
