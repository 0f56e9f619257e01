//! HTTP proxies: the [`Proxy`] setting and which proxy a request goes
//! through come from `resse-session` ([`ProxyConfig`], curl's rules); the
//! proxy environment variables are read here, and the chosen proxy is
//! handed to ureq.

use std::sync::Arc;

use http::Uri;
use resse_session::{ConnectError, ConnectErrorKind, ProxyConfig};
pub use resse_session::{InvalidProxy, Proxy};

/// The proxy environment variables, as curl reads them (see
/// [`ProxyConfig::from_env_with`]).
pub(crate) fn from_env() -> ProxyConfig {
    ProxyConfig::from_env_with(|name| std::env::var(name).ok())
}

/// The ureq proxy for a request to `uri` (`None`: directly), or why the
/// one configured for it cannot be used.
pub(crate) fn for_uri(
    config: &ProxyConfig,
    uri: &Uri,
    target: &str,
) -> Result<Option<(ureq::Proxy, String)>, ConnectError> {
    let unusable = |detail: String, source: Arc<dyn std::error::Error + Send + Sync>| {
        ConnectError::new(ConnectErrorKind::Proxy, target, detail, source)
    };
    match config.for_uri(uri) {
        None => Ok(None),
        Some(Ok(proxy)) => match ureq::Proxy::new(proxy.url()) {
            Ok(ureq) => Ok(Some((ureq, proxy.authority().to_owned()))),
            Err(e) => Err(unusable(
                format!("the proxy {} cannot be used: {e}", proxy.authority()),
                Arc::new(e),
            )),
        },
        Some(Err(invalid)) => Err(unusable(
            format!(
                "the proxy from the environment cannot be used ({invalid}); set one with \
                 `proxy` or turn the lookup off with `proxy_from_env(false)`"
            ),
            Arc::new(invalid.clone()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_proxy_goes_to_ureq_with_its_credentials() {
        let p = Proxy::new("user:p%40ss@127.0.0.1:3128")
            .unwrap()
            .no_proxy("localhost, 10.0.0.0/8, *.ignored");
        let config = ProxyConfig::explicit(p);
        let uri = |s: &str| s.parse::<Uri>().unwrap();
        let (ureq, authority) = for_uri(&config, &uri("https://example.com/"), "example.com:443")
            .unwrap()
            .unwrap();
        assert_eq!(authority, "127.0.0.1:3128");
        assert_eq!(ureq.username(), Some("user"));
        assert_eq!(ureq.password(), Some("p@ss"));
        assert_eq!(ureq.port(), 3128);
        // The exceptions, curl's rules, through this path too.
        let cases = [
            ("http://localhost/", true),
            ("http://a.localhost/", true),
            ("http://10.9.8.7:8080/", true),
            ("http://11.9.8.7/", false),
            ("https://[::1]/", false),
            ("http://notlocalhost/", false),
        ];
        for (url, direct) in cases {
            let chosen = for_uri(&config, &uri(url), "x:80").unwrap();
            assert_eq!(chosen.is_none(), direct, "{url}");
        }
        let everything = ProxyConfig::explicit(Proxy::new("127.0.0.1:3128").unwrap().no_proxy("*"));
        let chosen = for_uri(&everything, &uri("http://127.0.0.1:8080/"), "x:80").unwrap();
        assert!(chosen.is_none(), "`*` covers addresses too");
    }

    #[test]
    fn an_unusable_proxy_from_the_environment_fails_the_request() {
        let config = ProxyConfig::from_env_with(|name| {
            (name == "ALL_PROXY").then(|| "socks5://127.0.0.1:1080".to_owned())
        });
        let uri: Uri = "http://example.com/".parse().unwrap();
        let e = for_uri(&config, &uri, "example.com:80").unwrap_err();
        assert_eq!(e.kind(), ConnectErrorKind::Proxy);
        let text = e.to_string();
        assert!(text.contains("only http:// proxies"), "{text}");
        assert!(text.contains("proxy_from_env(false)"), "{text}");
    }
}
