//! One connection per identity, end to end: when a second client connects
//! with the same identity, the first gets the `superseded` event and resse's
//! client stops on it (a readable reason, not an error) instead of
//! reconnecting and superseding the second in turn: no flapping.
#![cfg(all(feature = "server", feature = "client"))]

#[path = "support/server_http.rs"]
mod server_http;

use std::time::Duration;

use resse_codec::Event;
use resse_tokio::client::{ClientBuilder, CloseReason, ReconnectConfig, SessionEvent};
use resse_tokio::server::{BroadcastConfig, Broadcaster};
use server_http::{SseServer, within};

#[tokio::test]
async fn two_clients_with_the_same_identity_do_not_flap() {
    within(Duration::from_secs(20), async {
        let broadcaster = Broadcaster::new(BroadcastConfig::default().id_prefix(""));
        let server = SseServer::start(broadcaster.clone()).await;
        let url = format!("http://{}/events?client=alice", server.addr);
        let client = || {
            ClientBuilder::new(url.clone())
                .reconnect(
                    ReconnectConfig::default()
                        .initial_delay(Duration::from_millis(10))
                        .max_delay(Duration::from_millis(20)),
                )
                .build()
                .expect("client")
        };
        let mut first = client();
        // The first client is live.
        let b = broadcaster.clone();
        let publisher = tokio::spawn(async move {
            loop {
                let _ = b.publish(Event::new("tick"));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        assert_eq!(
            first
                .next_event()
                .await
                .expect("event")
                .expect("live")
                .data(),
            "tick"
        );
        let mut second = client();
        assert_eq!(
            second
                .next_event()
                .await
                .expect("event")
                .expect("live")
                .data(),
            "tick"
        );
        // The first one stops, with the server's reason.
        let reason = loop {
            match first
                .next_session_event()
                .await
                .expect("a close is reported")
            {
                SessionEvent::Closed { reason } => break reason,
                SessionEvent::Reconnecting { cause, .. } => panic!("reconnects: {cause:?}"),
                _ => {}
            }
        };
        assert!(
            matches!(first.next_event().await, Ok(None)),
            "a stop, not an error"
        );
        match &reason {
            CloseReason::ServerStop { event_type, reason } => {
                assert_eq!(event_type.as_str(), "superseded");
                assert!(reason.contains("newer connection"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        assert!(!reason.is_error());
        // The second one stays: no flapping for a while.
        for _ in 0..20 {
            assert_eq!(
                second
                    .next_event()
                    .await
                    .expect("event")
                    .expect("live")
                    .data(),
                "tick"
            );
        }
        let stats = broadcaster.stats();
        assert_eq!(stats.replaced, 1, "{stats:?}");
        assert_eq!(stats.subscribers, 1, "{stats:?}");
        publisher.abort();
    })
    .await;
}
