//! A connection that cannot be opened is reported in words: the cause and
//! the address, with the underlying error as the source. Loopback only.
#![cfg(feature = "rustls")]

mod support;

use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use http::Response;
use resse_testkit::connect_proxy::ConnectProxy;
use resse_tokio::client::{
    Client, ClientBuilder, ConnectError, ConnectErrorKind, HyperConnector, Proxy,
};
use support::server::{BoxBody, Handler, TestServer, full};
use support::tls::TestCert;

const LIMIT: Duration = Duration::from_secs(20);

fn handler() -> Handler {
    Arc::new(|_| -> Response<BoxBody> {
        Response::builder()
            .header("content-type", "text/event-stream")
            .body(full("data: one\n\n"))
            .unwrap()
    })
}

/// A client that gives up after one failed attempt, without proxy
/// lookup in the environment.
fn one_attempt(url: &str) -> ClientBuilder {
    ClientBuilder::new(url)
        .reconnect(resse_testkit::fast_reconnect(1).max_attempts(Some(1)))
        .seed(1)
        .idle_timeout(Some(Duration::from_secs(10)))
        .connect_timeout(Duration::from_secs(5))
        .proxy_from_env(false)
}

/// Runs the client to its end and returns its last error, which must be a
/// [`ConnectError`] with a source.
async fn failure<C: resse_tokio::client::Connect>(mut client: Client<C>) -> ConnectError {
    support::collect(&mut client, LIMIT).await;
    let error = client.last_error().expect("the failure is kept");
    let connect = error
        .downcast_ref::<ConnectError>()
        .unwrap_or_else(|| panic!("not a ConnectError: {error:?}"));
    assert!(connect.source().is_some(), "{connect:?}");
    eprintln!("{connect}");
    connect.clone()
}

/// A port on 127.0.0.1 that nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn a_refused_connection_names_the_address() {
    let port = closed_port();
    let e = failure(
        one_attempt(&format!("http://127.0.0.1:{port}/events"))
            .build()
            .unwrap(),
    )
    .await;
    assert_eq!(e.kind(), ConnectErrorKind::Refused);
    let text = e.to_string();
    assert!(
        text.starts_with(&format!("connection refused by 127.0.0.1:{port}")),
        "{text}"
    );
}

#[tokio::test]
async fn a_host_that_does_not_resolve_is_named() {
    // RFC 6761: `.invalid` never resolves.
    let e = failure(one_attempt("http://nosuch.invalid/events").build().unwrap()).await;
    assert_eq!(e.kind(), ConnectErrorKind::Dns);
    let text = e.to_string();
    assert!(
        text.starts_with("could not resolve host nosuch.invalid: "),
        "{text}"
    );
}

#[tokio::test]
async fn an_untrusted_certificate_names_the_address_and_the_reason() {
    let cert = TestCert::generate();
    let server = TestServer::start_tls(handler(), cert.server_config()).await;
    // The default roots (Mozilla's) do not trust a self-signed certificate.
    let e = failure(one_attempt(&server.https_url("/events")).build().unwrap()).await;
    assert_eq!(e.kind(), ConnectErrorKind::Tls);
    assert_eq!(
        e.to_string(),
        format!(
            "TLS handshake with {} failed: invalid peer certificate: UnknownIssuer",
            server.addr
        )
    );
    assert!(server.seen().is_empty());
}

#[tokio::test]
async fn a_handshake_that_never_ends_times_out_at_the_connect_timeout() {
    // Accepts, then never says a word: the TLS handshake waits forever.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            open.push(tcp);
        }
    });
    let e = failure(
        one_attempt(&format!("https://{addr}/events"))
            .connect_timeout(Duration::from_millis(300))
            .build()
            .unwrap(),
    )
    .await;
    held.abort();
    assert_eq!(e.kind(), ConnectErrorKind::Timeout);
    assert_eq!(
        e.to_string(),
        format!("connect to {addr} timed out after 300ms")
    );
}

#[tokio::test]
async fn a_refusing_proxy_is_named_as_the_proxy() {
    let port = closed_port();
    let server = TestServer::start(handler()).await;
    let e = failure(
        one_attempt(&server.url("/events"))
            .proxy(Proxy::new(&format!("http://127.0.0.1:{port}")).unwrap())
            .build()
            .unwrap(),
    )
    .await;
    assert_eq!(e.kind(), ConnectErrorKind::Refused);
    assert_eq!(e.proxy(), Some(format!("127.0.0.1:{port}").as_str()));
    let text = e.to_string();
    assert!(
        text.starts_with(&format!("proxy 127.0.0.1:{port} refused the connection")),
        "{text}"
    );
}

#[tokio::test]
async fn a_proxy_that_never_answers_connect_times_out_through_it() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = listener.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            open.push(tcp);
        }
    });
    let connector = HyperConnector::builder()
        .connect_timeout(Duration::from_millis(300))
        .proxy(Proxy::new(&format!("http://{proxy}")).unwrap())
        .build();
    let e = failure(
        one_attempt("https://127.0.0.1:9/events")
            .build_with(connector)
            .unwrap(),
    )
    .await;
    held.abort();
    assert_eq!(e.kind(), ConnectErrorKind::Timeout);
    assert_eq!(
        e.to_string(),
        format!("connect to 127.0.0.1:9 through proxy {proxy} timed out after 300ms")
    );
}

#[tokio::test]
async fn a_proxy_that_wants_credentials_says_so() {
    let cert = TestCert::generate();
    let server = TestServer::start_tls(handler(), cert.server_config()).await;
    let proxy = ConnectProxy::start_requiring("Basic dXNlcjpwdw==");
    let connector = HyperConnector::builder()
        .tls_config(cert.client_config())
        .proxy(Proxy::new(&proxy.url()).unwrap())
        .build();
    let e = failure(
        one_attempt(&server.https_url("/events"))
            .build_with(connector)
            .unwrap(),
    )
    .await;
    assert_eq!(e.kind(), ConnectErrorKind::Proxy);
    let text = e.to_string();
    assert!(
        text.starts_with(&format!(
            "proxy {} did not open a tunnel to {}: ",
            proxy.addr, server.addr
        )),
        "{text}"
    );
    assert!(
        text.ends_with(
            "proxy authorization required (give the proxy's credentials in its URL: \
             http://user:password@host:port)"
        ),
        "{text}"
    );
    assert!(server.seen().is_empty());
}
