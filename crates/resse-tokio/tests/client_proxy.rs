//! The default connector through an explicit HTTP proxy on loopback:
//! `http://` in absolute form, `https://` through a `CONNECT` tunnel, and
//! the proxy's `no_proxy` list.
#![cfg(feature = "rustls")]

mod support;

use std::sync::Arc;
use std::time::Duration;

use http::Response;
use resse_testkit::connect_proxy::ConnectProxy;
use resse_tokio::client::{HyperConnector, Proxy};
use support::server::{BoxBody, Handler, TestServer, full};
use support::tls::TestCert;
use support::{client, collect, data};

const LIMIT: Duration = Duration::from_secs(20);
const IDLE: Duration = Duration::from_secs(5);

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
async fn http_goes_to_the_proxy_in_absolute_form_with_its_credentials() {
    let server = TestServer::start(handler()).await;
    let proxy = ConnectProxy::start();
    let url = server.url("/events");
    let mut client = client(&url, IDLE, 1)
        .proxy(Proxy::new(&proxy.url_with_credentials("user", "pw")).unwrap())
        .build()
        .unwrap();
    let events = collect(&mut client, LIMIT).await;
    assert_eq!(data(&events), ["one", "two"]);
    let seen = proxy.seen();
    assert_eq!(seen.len(), 2, "both requests went through the proxy");
    assert_eq!(seen[0].request_line, format!("GET {url} HTTP/1.1"));
    // base64("user:pw")
    assert_eq!(seen[0].authorization.as_deref(), Some("Basic dXNlcjpwdw=="));
    let reached = server.seen();
    assert_eq!(reached.len(), 2);
    assert!(
        !reached[0].headers.contains_key("proxy-authorization"),
        "the proxy's credentials stop at the proxy"
    );
}

#[tokio::test]
async fn https_goes_through_a_connect_tunnel() {
    let cert = TestCert::generate();
    let server = TestServer::start_tls(handler(), cert.server_config()).await;
    let proxy = ConnectProxy::start();
    let connector = HyperConnector::builder()
        .tls_config(cert.client_config())
        .proxy(Proxy::new(&proxy.url_with_credentials("user", "pw")).unwrap())
        .build();
    let mut client = client(&server.https_url("/events"), IDLE, 2)
        .build_with(connector)
        .unwrap();
    let events = collect(&mut client, LIMIT).await;
    assert_eq!(data(&events), ["one", "two"]);
    let seen = proxy.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(
        seen[0].request_line,
        format!("CONNECT {} HTTP/1.1", server.addr)
    );
    assert_eq!(seen[0].authorization.as_deref(), Some("Basic dXNlcjpwdw=="));
    assert_eq!(server.seen().len(), 2);
}

#[tokio::test]
async fn http2_only_tunnels_http_too() {
    let server = TestServer::start(handler()).await;
    let proxy = ConnectProxy::start();
    let connector = HyperConnector::builder()
        .http2_only(true)
        .proxy(Proxy::new(&proxy.url()).unwrap())
        .build();
    let mut client = client(&server.url("/events"), IDLE, 3)
        .build_with(connector)
        .unwrap();
    let events = collect(&mut client, LIMIT).await;
    assert_eq!(data(&events), ["one", "two"]);
    let seen = proxy.seen();
    assert_eq!(
        seen[0].request_line,
        format!("CONNECT {} HTTP/1.1", server.addr)
    );
    assert_eq!(seen[0].authorization, None);
}

#[tokio::test]
async fn hosts_on_the_no_proxy_list_are_reached_directly() {
    let server = TestServer::start(handler()).await;
    let proxy = ConnectProxy::start();
    let mut client = client(&server.url("/events"), IDLE, 4)
        .proxy(
            Proxy::new(&proxy.url())
                .unwrap()
                .no_proxy("example.com, 127.0.0.0/8"),
        )
        .build()
        .unwrap();
    let events = collect(&mut client, LIMIT).await;
    assert_eq!(data(&events), ["one", "two"]);
    assert!(proxy.seen().is_empty(), "{:?}", proxy.seen());
    assert_eq!(server.seen().len(), 2);
}
