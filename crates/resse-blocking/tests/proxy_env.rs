//! The proxy environment variables (`HTTP_PROXY`, `HTTPS_PROXY`,
//! `ALL_PROXY`, `NO_PROXY`). The environment is process-wide: every case
//! runs in this one test, in sequence, and the variables are only set
//! while a client is being built (that is when they are read).

mod support;

use std::time::Duration;

use resse_blocking::{Client, ClientBuilder, Connect, HttpConnector, Proxy};
use resse_testkit::connect_proxy::ConnectProxy;
use resse_testkit::within;
use support::server::TestServer;
use support::tls::TlsServer;

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

/// Runs `build` with exactly the variables `vars` set, and clears them
/// again.
#[allow(unsafe_code)]
fn with_env<T>(vars: &[(&str, &str)], build: impl FnOnce() -> T) -> T {
    // SAFETY: this binary has one test; its other threads (the servers and
    // the proxies) never touch the environment, and no client is running
    // while the variables change.
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

/// The data of the first two events.
fn two<C: Connect + Send + 'static>(client: Client<C>) -> Vec<String>
where
    C::Body: Send,
{
    within(LIMIT, move || {
        let mut client = client;
        (0..2)
            .map(|_| client.next_event().expect("no failure").expect("an event"))
            .map(|e| e.data().to_owned())
            .collect()
    })
}

#[test]
fn proxy_environment_variables() {
    let plain = TestServer::start();
    plain.publish(2);
    let tls = TlsServer::start();
    let http_url = plain.url("/events");
    let https_url = tls.url();
    let trusting = || HttpConnector::with_root_certificates([tls.cert.as_ref()]);
    let http_events = ["event 1", "event 2"];
    let https_events = ["one", "two"];
    let connect_to = |addr: std::net::SocketAddr| format!("CONNECT {addr} HTTP/1.1");

    // HTTP_PROXY: http:// through the proxy.
    let proxy = ConnectProxy::start();
    let c = with_env(&[("HTTP_PROXY", &proxy.url())], || {
        client(&http_url, IDLE, 1).build().unwrap()
    });
    assert_eq!(two(c), http_events);
    let seen = proxy.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].request_line, connect_to(plain.addr()));

    // https_proxy (lower case): https:// through the proxy, with the
    // credentials of the URL.
    let proxy = ConnectProxy::start();
    let c = with_env(
        &[("https_proxy", &proxy.url_with_credentials("u", "p"))],
        || client(&https_url, IDLE, 2).build_with(trusting()).unwrap(),
    );
    assert_eq!(two(c), https_events);
    let seen = proxy.seen();
    assert_eq!(seen[0].request_line, connect_to(tls.addr));
    assert_eq!(seen[0].authorization.as_deref(), Some("Basic dTpw"));

    // HTTPS_PROXY is not for http:// URLs.
    let proxy = ConnectProxy::start();
    let c = with_env(&[("HTTPS_PROXY", &proxy.url())], || {
        client(&http_url, IDLE, 3).build().unwrap()
    });
    assert_eq!(two(c), http_events);
    assert!(proxy.seen().is_empty(), "{:?}", proxy.seen());

    // ALL_PROXY: both schemes.
    let proxy = ConnectProxy::start();
    let (c1, c2) = with_env(&[("ALL_PROXY", &proxy.url())], || {
        (
            client(&http_url, IDLE, 4).build().unwrap(),
            client(&https_url, IDLE, 5).build_with(trusting()).unwrap(),
        )
    });
    assert_eq!(two(c1), http_events);
    assert_eq!(two(c2), https_events);
    let seen = proxy.seen();
    assert_eq!(seen[0].request_line, connect_to(plain.addr()));
    assert_eq!(seen[1].request_line, connect_to(tls.addr));

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
                client(&https_url, IDLE, 7).build_with(trusting()).unwrap(),
            )
        },
    );
    assert_eq!(two(c1), http_events);
    assert_eq!(two(c2), https_events);
    assert!(proxy.seen().is_empty(), "{:?}", proxy.seen());

    // proxy_from_env(false): the variables are not used.
    let proxy = ConnectProxy::start();
    let (c1, c2) = with_env(&[("ALL_PROXY", &proxy.url())], || {
        (
            client(&http_url, IDLE, 8)
                .proxy_from_env(false)
                .build()
                .unwrap(),
            client(&https_url, IDLE, 9)
                .build_with(trusting().proxy_from_env(false))
                .unwrap(),
        )
    });
    assert_eq!(two(c1), http_events);
    assert_eq!(two(c2), https_events);
    assert!(proxy.seen().is_empty(), "{:?}", proxy.seen());

    // An explicit proxy wins over the environment.
    let env_proxy = ConnectProxy::start();
    let explicit = ConnectProxy::start();
    let c = with_env(&[("ALL_PROXY", &env_proxy.url())], || {
        ClientBuilder::new(&http_url)
            .reconnect(resse_testkit::fast_reconnect(10))
            .seed(10)
            .idle_timeout(Some(IDLE))
            .proxy(Proxy::new(&explicit.url()).unwrap())
            .build()
            .unwrap()
    });
    assert_eq!(two(c), http_events);
    assert!(env_proxy.seen().is_empty());
    assert_eq!(explicit.seen().len(), 1);

    // A SOCKS proxy from the environment cannot be used: the request fails
    // with a message rather than going around it.
    let c = with_env(&[("ALL_PROXY", "socks5://127.0.0.1:1080")], || {
        client(&http_url, IDLE, 11)
            .reconnect(resse_testkit::fast_reconnect(11).max_attempts(Some(1)))
            .build()
            .unwrap()
    });
    let text = within(LIMIT, move || {
        let mut c = c;
        while c.next_session_event().is_some() {}
        c.last_error().expect("a failure").to_string()
    });
    assert!(text.contains("only http:// proxies"), "{text}");
    assert!(text.contains("proxy_from_env(false)"), "{text}");
    assert_eq!(
        plain.hits().len(),
        6,
        "the SOCKS case never reached the server"
    );
}
