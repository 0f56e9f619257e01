//! The proxy environment variables (`HTTP_PROXY`, `HTTPS_PROXY`,
//! `ALL_PROXY`, `NO_PROXY`). The environment is process-wide: every case
//! runs in this one test, in sequence, and the variables are only set
//! while a client is being built (that is when they are read).
#![cfg(feature = "rustls")]

mod support;

use std::sync::Arc;
use std::time::Duration;

use http::Response;
use resse_testkit::connect_proxy::ConnectProxy;
use resse_tokio::client::{Client, ClientBuilder, HyperConnector, HyperConnectorBuilder};
use support::server::{BoxBody, Handler, TestServer, full};
use support::tls::TestCert;
use support::{collect, data};

/// The tests' client, with the proxy environment variables honoured (the
/// shared one ignores them).
fn client(url: &str, idle: Duration, seed: u64) -> ClientBuilder {
    support::client(url, idle, seed).proxy_from_env(true)
}

const LIMIT: Duration = Duration::from_secs(20);
const IDLE: Duration = Duration::from_secs(5);

const VARS: [&str; 8] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

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

/// Runs `build` with exactly the variables `vars` set, and clears them
/// again.
#[allow(unsafe_code)]
fn with_env<T>(vars: &[(&str, &str)], build: impl FnOnce() -> T) -> T {
    // SAFETY: this binary has one test, and it runs on a current-thread
    // runtime: no other thread reads or writes the environment meanwhile
    // (the resolver's blocking threads are idle between cases).
    unsafe {
        for var in VARS {
            std::env::remove_var(var);
        }
        for (k, v) in vars {
            std::env::set_var(k, v);
        }
    }
    let built = build();
    unsafe {
        for var in VARS {
            std::env::remove_var(var);
        }
    }
    built
}

async fn run<C: resse_tokio::client::Connect>(mut client: Client<C>) {
    let events = collect(&mut client, LIMIT).await;
    assert_eq!(data(&events), ["one", "two"]);
}

#[tokio::test]
async fn proxy_environment_variables() {
    let plain = TestServer::start(handler()).await;
    let cert = TestCert::generate();
    let tls = TestServer::start_tls(handler(), cert.server_config()).await;
    let http_url = plain.url("/events");
    let https_url = tls.https_url("/events");
    let tls_connector =
        |b: HyperConnectorBuilder| -> HyperConnector { b.tls_config(cert.client_config()).build() };

    // HTTP_PROXY: http:// in absolute form through the proxy.
    let proxy = ConnectProxy::start();
    let c = with_env(&[("HTTP_PROXY", &proxy.url())], || {
        client(&http_url, IDLE, 1).build().unwrap()
    });
    run(c).await;
    let seen = proxy.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0].request_line, format!("GET {http_url} HTTP/1.1"));

    // https_proxy (lower case): https:// through a CONNECT tunnel, with the
    // credentials of the URL.
    let proxy = ConnectProxy::start();
    let c = with_env(
        &[("https_proxy", &proxy.url_with_credentials("u", "p"))],
        || {
            let connector = tls_connector(HyperConnector::builder());
            client(&https_url, IDLE, 2).build_with(connector).unwrap()
        },
    );
    run(c).await;
    let seen = proxy.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(
        seen[0].request_line,
        format!("CONNECT {} HTTP/1.1", tls.addr)
    );
    assert_eq!(seen[0].authorization.as_deref(), Some("Basic dTpw"));

    // HTTPS_PROXY is not for http:// URLs.
    let proxy = ConnectProxy::start();
    let c = with_env(&[("HTTPS_PROXY", &proxy.url())], || {
        client(&http_url, IDLE, 3).build().unwrap()
    });
    run(c).await;
    assert!(proxy.seen().is_empty(), "{:?}", proxy.seen());

    // ALL_PROXY: both schemes.
    let proxy = ConnectProxy::start();
    let (c1, c2) = with_env(&[("ALL_PROXY", &proxy.url())], || {
        (
            client(&http_url, IDLE, 4).build().unwrap(),
            client(&https_url, IDLE, 5)
                .build_with(tls_connector(HyperConnector::builder()))
                .unwrap(),
        )
    });
    run(c1).await;
    run(c2).await;
    let seen = proxy.seen();
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert!(!seen[0].is_connect());
    assert!(seen[2].is_connect());

    // NO_PROXY: the listed hosts are reached directly.
    let proxy = ConnectProxy::start();
    let (c1, c2) = with_env(
        &[
            ("HTTP_PROXY", &proxy.url()),
            ("HTTPS_PROXY", &proxy.url()),
            ("NO_PROXY", "example.com,127.0.0.1"),
        ],
        || {
            (
                client(&http_url, IDLE, 6).build().unwrap(),
                client(&https_url, IDLE, 7)
                    .build_with(tls_connector(HyperConnector::builder()))
                    .unwrap(),
            )
        },
    );
    run(c1).await;
    run(c2).await;
    assert!(proxy.seen().is_empty(), "{:?}", proxy.seen());

    // proxy_from_env(false): the variables are not read.
    let proxy = ConnectProxy::start();
    let (c1, c2) = with_env(&[("ALL_PROXY", &proxy.url())], || {
        (
            client(&http_url, IDLE, 8)
                .proxy_from_env(false)
                .build()
                .unwrap(),
            client(&https_url, IDLE, 9)
                .build_with(tls_connector(
                    HyperConnector::builder().proxy_from_env(false),
                ))
                .unwrap(),
        )
    });
    run(c1).await;
    run(c2).await;
    assert!(proxy.seen().is_empty(), "{:?}", proxy.seen());

    // An explicit proxy wins over the environment.
    let env_proxy = ConnectProxy::start();
    let explicit = ConnectProxy::start();
    let c = with_env(&[("ALL_PROXY", &env_proxy.url())], || {
        ClientBuilder::new(&http_url)
            .reconnect(resse_testkit::fast_reconnect(10))
            .seed(10)
            .idle_timeout(Some(IDLE))
            .proxy(resse_tokio::client::Proxy::new(&explicit.url()).unwrap())
            .build()
            .unwrap()
    });
    run(c).await;
    assert!(env_proxy.seen().is_empty());
    assert_eq!(explicit.seen().len(), 2);

    // A SOCKS proxy from the environment cannot be used: the request fails
    // with a message rather than going around it.
    let seen_before = plain.seen().len();
    let mut c = with_env(&[("ALL_PROXY", "socks5://127.0.0.1:1080")], || {
        client(&http_url, IDLE, 11)
            .reconnect(resse_testkit::fast_reconnect(11).max_attempts(Some(1)))
            .build()
            .unwrap()
    });
    collect(&mut c, LIMIT).await;
    let text = c.last_error().expect("a failure").to_string();
    assert!(text.contains("not an http:// proxy"), "{text}");
    assert!(text.contains("proxy_from_env(false)"), "{text}");
    assert_eq!(plain.seen().len(), seen_before, "nothing went around it");
}
