//! Encode a few events into SSE wire bytes, then decode them back.
//!
//! Run with `cargo run --example encode_decode`.

use std::time::Duration;

use resse_codec::bytes::BytesMut;
use resse_codec::{Decoder, Encoder, Event, Frame};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A server side: build events and encode them into one buffer.
    let events = [
        Event::new("hello").with_id("1"),
        Event::new("line one\nline two")
            .with_event_type("update")
            .with_id("2"),
        Event::new("slow down").with_retry(Duration::from_secs(5)),
    ];
    let mut encoder = Encoder::new();
    let mut wire = BytesMut::new();
    encoder.comment("keep-alive", &mut wire);
    for event in &events {
        // Refuses (and writes nothing for) an event type or id that would break framing.
        encoder.encode(event, &mut wire)?;
    }
    print!("wire bytes:\n{}", String::from_utf8_lossy(&wire));

    // A client side: decode frames until the decoder needs more bytes. Here all
    // bytes are already in `wire`; a real client appends each network read to it.
    let mut decoder = Decoder::new();
    while let Some(frame) = decoder.decode(&mut wire)? {
        match frame {
            Frame::Event(e) => println!(
                "event {:?} (last event id {:?}): {:?}",
                e.event_type(),
                e.last_event_id(),
                e.data()
            ),
            Frame::Retry(delay) => println!("server asks to reconnect after {delay:?}"),
            // Comments are only produced with DecoderConfig::comments(true).
            other => println!("other frame: {other:?}"),
        }
    }
    println!(
        "a reconnecting client would send Last-Event-ID: {:?}",
        decoder.last_event_id().as_str()
    );
    Ok(())
}
