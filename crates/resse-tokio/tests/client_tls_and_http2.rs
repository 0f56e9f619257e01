//! The default connector over real TLS (a certificate made in the test with
//! rcgen) and over HTTP/2, with and without TLS.
#![cfg(feature = "rustls")]

mod support;

use std::sync::Arc;
use std::time::Duration;

use http::{Response, Version};
use resse_reconnect::Cause;
use resse_tokio::client::{HyperConnector, SessionEvent};
use support::server::{BoxBody, Handler, TestServer, full};
use support::tls::TestCert;
use support::{client, collect, data};

const LIMIT: Duration = Duration::from_secs(20);

/// Two events for a new client, then 204 once it resumes.
fn handler() -> Handler {
    Arc::new(|request| -> Response<BoxBody> {
        if request.headers().contains_key("last-event-id") {
            return Response::builder().status(204).body(full("")).unwrap();
        }
        Response::builder()
            .header("content-type", "text/event-stream")
            .body(full("id: 1\ndata: one\n\nid: 2\ndata: two\n\n"))
            .unwrap()
    })
}

#[tokio::test]
async fn https_with_a_trusted_self_signed_certificate() {
    let cert = TestCert::generate();
    let server = TestServer::start_tls(handler(), cert.server_config()).await;
    let connector = HyperConnector::builder()
        .tls_config(cert.client_config())
        .build();
    let mut client = client(&server.https_url("/events"), Duration::from_secs(5), 1)
        .build_with(connector)
        .unwrap();
    let events = collect(&mut client, LIMIT).await;
    assert_eq!(data(&events), ["one", "two"]);
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(
        seen[1].last_event_id.as_deref(),
        Some("2"),
        "resumed over TLS"
    );
    // ALPN chose HTTP/2: the server offers h2 first.
    assert_eq!(seen[0].version, Version::HTTP_2);
}

#[tokio::test]
async fn https_over_http1_when_the_server_only_speaks_it() {
    let cert = TestCert::generate();
    let mut config = cert.server_config();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let server = TestServer::start_tls(handler(), config).await;
    let connector = HyperConnector::builder()
        .tls_config(cert.client_config())
        .build();
    let mut client = client(&server.https_url("/events"), Duration::from_secs(5), 2)
        .build_with(connector)
        .unwrap();
    let events = collect(&mut client, LIMIT).await;
    assert_eq!(data(&events), ["one", "two"]);
    assert_eq!(server.seen()[0].version, Version::HTTP_11);
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_readable_connect_failure() {
    let cert = TestCert::generate();
    let server = TestServer::start_tls(handler(), cert.server_config()).await;
    // The default root store (Mozilla's) does not trust a self-signed cert.
    let policy = resse_testkit::fast_reconnect(3).max_attempts(Some(2));
    let mut client = client(&server.https_url("/events"), Duration::from_secs(5), 3)
        .reconnect(policy)
        .seed(3)
        .build()
        .unwrap();
    let events = collect(&mut client, LIMIT).await;
    assert!(events.iter().any(|e| matches!(
        e,
        SessionEvent::Reconnecting {
            cause: Cause::ConnectFailed,
            ..
        }
    )));
    assert!(matches!(events.last(), Some(SessionEvent::Closed { reason }) if reason.is_error()));
    let error = client.last_error().expect("the failure is kept");
    let mut chain = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        chain.push_str(": ");
        chain.push_str(&s.to_string());
        source = s.source();
    }
    assert!(chain.to_lowercase().contains("certificate"), "{chain}");
    assert!(
        server.seen().is_empty(),
        "no request crossed the failed handshake"
    );
}

#[tokio::test]
async fn http2_prior_knowledge_over_plain_tcp() {
    let server = TestServer::start(handler()).await;
    let connector = HyperConnector::builder().http2_only(true).build();
    let mut client = client(&server.url("/events"), Duration::from_secs(5), 4)
        .build_with(connector)
        .unwrap();
    let events = collect(&mut client, LIMIT).await;
    assert_eq!(data(&events), ["one", "two"]);
    let seen = server.seen();
    assert_eq!(seen[0].version, Version::HTTP_2);
    assert_eq!(seen[1].last_event_id.as_deref(), Some("2"));
}
