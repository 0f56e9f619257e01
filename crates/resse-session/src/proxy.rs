//! HTTP proxies, without the I/O: the [`Proxy`] setting, the `NO_PROXY`
//! rules ([`NoProxy`], curl's), and which proxy a request goes through
//! ([`ProxyConfig`]), from an explicit proxy or from the values of the
//! proxy environment variables (read by the adapter, not here).

use std::fmt;
use std::net::IpAddr;

use http::Uri;

/// An HTTP proxy to send every request through, given as a URL:
/// `http://[user:password@]host[:port]` (the port defaults to 80; a URL
/// without a scheme is taken as `http://`). User and password are
/// percent-decoded and sent as `Proxy-Authorization: Basic`.
///
/// Its `Debug` and the messages of [`InvalidProxy`] never show the
/// password. An adapter gives it to its HTTP library as a URL
/// ([`url`](Self::url)), or connects to [`authority`](Self::authority)
/// itself and sends [`basic_auth`](Self::basic_auth).
///
/// ```
/// use resse_session::Proxy;
///
/// let proxy = Proxy::new("http://user:secret@127.0.0.1:3128")?
///     .no_proxy("localhost, .internal.example, 10.0.0.0/8");
/// assert_eq!(proxy.authority(), "127.0.0.1:3128");
/// assert!(Proxy::new("socks5://127.0.0.1:1080").is_err());
/// # Ok::<(), resse_session::InvalidProxy>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    /// The URL, credentials included, normalized to `http://…`.
    url: String,
    /// `host:port`, for connecting and for messages.
    authority: String,
    /// `Basic …`, when the URL has credentials.
    basic_auth: Option<String>,
    /// The exceptions.
    no_proxy: NoProxy,
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the credentials.
        f.debug_struct("Proxy")
            .field("authority", &self.authority)
            .field("no_proxy", &self.no_proxy)
            .finish()
    }
}

impl Proxy {
    /// Parses a proxy URL.
    ///
    /// # Errors
    /// [`InvalidProxy`] when the URL does not parse, has no host, names
    /// a scheme other than `http` (`https://` and SOCKS proxies are not
    /// supported), or has a user or password that does not decode to
    /// UTF-8.
    pub fn new(url: &str) -> Result<Self, InvalidProxy> {
        let invalid = |reason, unsupported| InvalidProxy {
            url: redact(url),
            reason,
            unsupported,
        };
        let trimmed = url.trim();
        if trimmed.is_empty() {
            return Err(invalid("it is empty; give http://host:port", false));
        }
        let full = if trimmed.contains("://") {
            trimmed.to_owned()
        } else {
            format!("http://{trimmed}")
        };
        let uri: Uri = full
            .parse()
            .map_err(|_| invalid("it does not parse as a URL; give http://host:port", false))?;
        if !uri
            .scheme_str()
            .is_some_and(|s| s.eq_ignore_ascii_case("http"))
        {
            return Err(invalid(
                "only http:// proxies are supported (no https:// or SOCKS proxy)",
                true,
            ));
        }
        let authority = uri
            .authority()
            .filter(|a| !a.host().is_empty())
            .ok_or_else(|| invalid("it has no host; give http://host:port", false))?;
        let port = authority.port_u16().unwrap_or(80);
        let basic_auth = match authority.as_str().rsplit_once('@') {
            Some((userinfo, _)) => {
                let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
                let credentials = percent_decode(user)
                    .zip(percent_decode(password))
                    .ok_or_else(|| {
                        invalid(
                            "its user or password is not valid percent-encoded UTF-8",
                            false,
                        )
                    })?;
                let (user, password) = credentials;
                Some(format!(
                    "Basic {}",
                    base64(format!("{user}:{password}").as_bytes())
                ))
            }
            None => None,
        };
        Ok(Self {
            authority: format!("{}:{port}", authority.host()),
            url: full,
            basic_auth,
            no_proxy: NoProxy::default(),
        })
    }

    /// Hosts to reach directly, in the syntax of the `NO_PROXY` environment
    /// variable: comma-separated host names (each also matches its
    /// subdomains; a leading `.` is allowed), IP addresses, CIDR blocks
    /// (`10.0.0.0/8`), or `*` for every host. Replaces any earlier list.
    /// See [`NoProxy`].
    #[must_use]
    pub fn no_proxy(mut self, list: &str) -> Self {
        self.no_proxy = NoProxy::parse(list);
        self
    }

    /// The proxy's `host:port`.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// The URL, normalized to `http://…`, its credentials included: for an
    /// HTTP library that takes the proxy as a URL. Do not show it (the
    /// `Debug` of a `Proxy` leaves the password out).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The value of the `Proxy-Authorization` header for this proxy
    /// (`Basic`, of the percent-decoded `user:password`), when its URL has
    /// credentials.
    ///
    /// ```
    /// use resse_session::Proxy;
    ///
    /// let proxy = Proxy::new("http://Aladdin:opensesame@127.0.0.1:3128")?;
    /// assert_eq!(proxy.basic_auth(), Some("Basic QWxhZGRpbjpvcGVuc2VzYW1l"));
    /// assert_eq!(Proxy::new("127.0.0.1:3128")?.basic_auth(), None);
    /// # Ok::<(), resse_session::InvalidProxy>(())
    /// ```
    pub fn basic_auth(&self) -> Option<&str> {
        self.basic_auth.as_deref()
    }

    /// The hosts reached without this proxy (set by
    /// [`no_proxy`](Self::no_proxy)).
    pub fn no_proxy_rules(&self) -> &NoProxy {
        &self.no_proxy
    }
}

/// A proxy URL that cannot be used: what is wrong with it, and the URL
/// (its password hidden).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidProxy {
    url: String,
    reason: &'static str,
    /// A well-formed URL of a kind of proxy this crate cannot use.
    unsupported: bool,
}

impl InvalidProxy {
    /// Whether the URL is well-formed but names a kind of proxy that
    /// cannot be used (`https://`, SOCKS), rather than not parsing.
    pub fn is_unsupported(&self) -> bool {
        self.unsupported
    }
}

impl fmt::Display for InvalidProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid proxy URL `{}`: {}", self.url, self.reason)
    }
}

impl std::error::Error for InvalidProxy {}

/// `url` without its password, for messages.
fn redact(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (format!("{scheme}://"), rest),
        None => (String::new(), url),
    };
    let end = rest.find('/').unwrap_or(rest.len());
    match rest[..end].rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            format!("{scheme}{user}:***@{host}{}", &rest[end..])
        }
        None => url.to_owned(),
    }
}

/// `s` percent-decoded, if the result is UTF-8 (a `%` not followed by two
/// hex digits stays as it is).
fn percent_decode(s: &str) -> Option<String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(std::borrow::Cow::into_owned)
}

/// Standard base64, padded.
fn base64(input: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(input)
}

/// The hosts to reach without a proxy, in the syntax of the `NO_PROXY`
/// environment variable, matched as curl does: comma-separated entries,
/// each a host name (which also matches its subdomains; a leading `.` is
/// allowed; case does not matter), an IP address, a CIDR block
/// (`10.0.0.0/8`, `fd00::/8`), or `*` for every host.
///
/// ```
/// use resse_session::NoProxy;
///
/// let no = NoProxy::parse("example.com, 10.0.0.0/8, ::1");
/// assert!(no.matches("www.example.com"));
/// assert!(!no.matches("notexample.com"));
/// assert!(no.matches("10.1.2.3"));
/// assert!(no.matches("[::1]"));
/// assert!(NoProxy::parse("*").matches("127.0.0.1"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NoProxy {
    all: bool,
    /// Lower-case, without a leading dot.
    domains: Vec<String>,
    /// Addresses and networks: the address and the prefix length.
    nets: Vec<(IpAddr, u8)>,
}

impl NoProxy {
    /// Parses a list; an empty one matches no host.
    pub fn parse(list: &str) -> Self {
        let mut rules = Self::default();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if entry == "*" {
                rules.all = true;
            } else if let Some(net) = parse_net(entry) {
                rules.nets.push(net);
            } else {
                let domain = entry.strip_prefix('.').unwrap_or(entry);
                rules.domains.push(domain.to_ascii_lowercase());
            }
        }
        rules
    }

    /// Whether `host` (the host of a URL: an IPv6 address in brackets or
    /// not) is to be reached directly.
    pub fn matches(&self, host: &str) -> bool {
        if self.all {
            return true;
        }
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return self.nets.iter().any(|&(net, len)| in_net(ip, net, len));
        }
        let host = host.to_ascii_lowercase();
        self.domains.iter().any(|d| {
            host == *d
                || host
                    .strip_suffix(d.as_str())
                    .is_some_and(|prefix| prefix.ends_with('.'))
        })
    }
}

/// `addr` or `addr/len`.
fn parse_net(entry: &str) -> Option<(IpAddr, u8)> {
    let (addr, len) = match entry.split_once('/') {
        Some((addr, len)) => (addr, Some(len.parse::<u8>().ok()?)),
        None => (entry, None),
    };
    let addr: IpAddr = addr.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len = len.unwrap_or(max);
    (len <= max).then_some((addr, len))
}

fn in_net(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

/// Which proxy each request goes through: one [`Proxy`] for every
/// request but its [`no_proxy`](Proxy::no_proxy) hosts
/// ([`explicit`](Self::explicit)), or a proxy per scheme from the proxy
/// environment variables ([`from_env_with`](Self::from_env_with)). The
/// default sends every request directly.
///
/// ```
/// use resse_session::ProxyConfig;
///
/// let env = [("HTTPS_PROXY", "http://127.0.0.1:3128"), ("NO_PROXY", "localhost")];
/// let config = ProxyConfig::from_env_with(|name| {
///     env.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string())
/// });
/// let uri = |s: &str| s.parse::<http::Uri>().unwrap();
/// let proxy = config.for_uri(&uri("https://example.com/")).unwrap().unwrap();
/// assert_eq!(proxy.authority(), "127.0.0.1:3128");
/// assert!(config.for_uri(&uri("http://example.com/")).is_none());
/// assert!(config.for_uri(&uri("https://localhost/")).is_none());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProxyConfig {
    http: Option<Result<Proxy, InvalidProxy>>,
    https: Option<Result<Proxy, InvalidProxy>>,
    no: NoProxy,
}

impl ProxyConfig {
    /// Every request through `proxy`, but for its
    /// [`no_proxy`](Proxy::no_proxy) hosts.
    pub fn explicit(proxy: Proxy) -> Self {
        Self {
            no: proxy.no_proxy.clone(),
            http: Some(Ok(proxy.clone())),
            https: Some(Ok(proxy)),
        }
    }

    /// The proxy environment variables as curl reads them, their values
    /// looked up with `var` (the adapter passes
    /// `|name| std::env::var(name).ok()`): `HTTP_PROXY` for `http://`,
    /// `HTTPS_PROXY` for `https://`, `ALL_PROXY` for both when the
    /// specific one is unset or does not parse, each also in lower case
    /// (upper case first), and `NO_PROXY`. Nothing in a CGI script
    /// (`REQUEST_METHOD` set), where `HTTP_PROXY` can come from a request
    /// header.
    ///
    /// A value that does not parse is ignored (as curl does); one of a
    /// kind of proxy that cannot be used (`https://`, SOCKS) is kept, so
    /// that the requests it is for fail with a message rather than go
    /// around it: [`for_uri`](Self::for_uri) gives it as an
    /// [`InvalidProxy`].
    pub fn from_env_with(mut var: impl FnMut(&str) -> Option<String>) -> Self {
        if var("REQUEST_METHOD").is_some() {
            return Self::default();
        }
        let mut first = |names: [&str; 2]| names.iter().find_map(|n| var(n)).unwrap_or_default();
        let parse = |value: String| match Proxy::new(&value) {
            Ok(proxy) => Some(Ok(proxy)),
            Err(e) if e.unsupported => Some(Err(e)),
            Err(_) => None,
        };
        let all = parse(first(["ALL_PROXY", "all_proxy"]));
        let http = parse(first(["HTTP_PROXY", "http_proxy"])).or_else(|| all.clone());
        let https = parse(first(["HTTPS_PROXY", "https_proxy"])).or(all);
        Self {
            http,
            https,
            no: NoProxy::parse(&first(["NO_PROXY", "no_proxy"])),
        }
    }

    /// The proxy for a request to `uri`: `None` to connect directly (no
    /// proxy for its scheme, a host on the `NO_PROXY` list, a URI without
    /// a host or with a scheme other than `http` and `https`), else the
    /// proxy, or why the one configured for it cannot be used.
    pub fn for_uri(&self, uri: &Uri) -> Option<Result<&Proxy, &InvalidProxy>> {
        if self.no.matches(uri.host()?) {
            return None;
        }
        let proxy = match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("https") => self.https.as_ref(),
            Some(s) if s.eq_ignore_ascii_case("http") => self.http.as_ref(),
            _ => None,
        };
        proxy.map(Result::as_ref)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &str) -> Uri {
        s.parse().unwrap()
    }

    #[test]
    fn proxy_urls_are_checked_and_normalized() {
        let p = Proxy::new("user:pw@127.0.0.1:3128").unwrap();
        assert_eq!(p.authority(), "127.0.0.1:3128");
        assert_eq!(p.url(), "http://user:pw@127.0.0.1:3128");
        assert!(!format!("{p:?}").contains("pw"));
        assert_eq!(Proxy::new("http://proxy").unwrap().authority(), "proxy:80");
        let e = Proxy::new("socks5://u:secret@127.0.0.1:1080").unwrap_err();
        assert!(e.is_unsupported());
        let msg = e.to_string();
        assert!(msg.contains("only http:// proxies"), "{msg}");
        assert!(!msg.contains("secret"), "{msg}");
        assert!(Proxy::new("").is_err());
        assert!(Proxy::new("http://").is_err());
        assert!(Proxy::new("http://a b:1").is_err());
        let e = Proxy::new("http://u:%ff@127.0.0.1:3128").unwrap_err();
        assert!(!e.is_unsupported());
        assert_eq!(
            e.to_string(),
            "invalid proxy URL `http://u:***@127.0.0.1:3128`: its user or password is not \
             valid percent-encoded UTF-8"
        );
    }

    #[test]
    fn credentials_are_percent_decoded_into_basic_auth() {
        let auth = |url: &str| Proxy::new(url).unwrap().basic_auth().map(str::to_owned);
        // "user:secret"
        assert_eq!(
            auth("http://user:secret@p:1").as_deref(),
            Some("Basic dXNlcjpzZWNyZXQ=")
        );
        // "us@r:p:w" (the first colon ends the user)
        assert_eq!(
            auth("http://us%40r:p%3Aw@p:1").as_deref(),
            Some("Basic dXNAcjpwOnc=")
        );
        // "user:" (no password)
        assert_eq!(auth("http://user@p:1").as_deref(), Some("Basic dXNlcjo="));
        assert_eq!(auth("http://p:1"), None);
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(percent_decode("a%2x%41+%").as_deref(), Some("a%2xA+%"));
    }

    /// `NO_PROXY` lists, hosts, and whether the host is reached directly:
    /// the cases both adapters answer the same way, through this type.
    const NO_PROXY_CASES: &[(&str, &str, bool)] = &[
        ("example.com", "example.com", true),
        ("example.com", "www.Example.com", true),
        ("example.com", "a.b.example.com", true),
        ("example.com", "notexample.com", false),
        ("example.com", "example.com.evil", false),
        (".corp.test", "corp.test", true),
        (".corp.test", "a.b.corp.test", true),
        ("EXAMPLE.com", "example.COM", true),
        (" example.com , other.test ", "other.test", true),
        ("10.0.0.0/8", "10.1.2.3", true),
        ("10.0.0.0/8", "11.1.2.3", false),
        ("192.168.1.7", "192.168.1.7", true),
        ("192.168.1.7", "192.168.1.8", false),
        ("0.0.0.0/0", "1.2.3.4", true),
        ("::1", "[::1]", true),
        ("::1", "::1", true),
        ("fd00::/8", "[fd12::1]", true),
        ("fd00::/8", "[fe80::1]", false),
        ("10.0.0.0/8", "[::ffff:10.0.0.1]", false),
        ("127.0.0.1", "localhost", false),
        ("*", "anything", true),
        ("*", "127.0.0.1", true),
        ("*", "[::1]", true),
        ("", "anything", false),
        (",,", "anything", false),
        ("example.com:8080", "example.com", false),
    ];

    #[test]
    fn no_proxy_follows_curl() {
        for &(list, host, direct) in NO_PROXY_CASES {
            assert_eq!(
                NoProxy::parse(list).matches(host),
                direct,
                "NO_PROXY={list:?}, host {host:?}"
            );
        }
    }

    #[test]
    fn each_scheme_has_its_proxy_and_exceptions_win() {
        let p = Proxy::new("http://127.0.0.1:3128")
            .unwrap()
            .no_proxy("localhost");
        let config = ProxyConfig::explicit(p);
        assert!(config.for_uri(&uri("https://example.com/")).is_some());
        assert!(config.for_uri(&uri("http://example.com/")).is_some());
        assert!(config.for_uri(&uri("http://localhost:8080/")).is_none());
        assert!(config.for_uri(&uri("ftp://example.com/")).is_none());
        assert!(
            ProxyConfig::default()
                .for_uri(&uri("http://example.com/"))
                .is_none()
        );
    }

    fn env(vars: &'static [(&'static str, &'static str)]) -> ProxyConfig {
        ProxyConfig::from_env_with(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    fn chosen(config: &ProxyConfig, url: &str) -> Option<String> {
        config
            .for_uri(&uri(url))
            .map(|p| p.map_or_else(|e| e.to_string(), |p| p.authority().to_owned()))
    }

    #[test]
    fn the_environment_is_read_per_scheme_as_curl_does() {
        let c = env(&[("HTTP_PROXY", "h:1"), ("HTTPS_PROXY", "s:2")]);
        assert_eq!(chosen(&c, "http://x/").as_deref(), Some("h:1"));
        assert_eq!(chosen(&c, "https://x/").as_deref(), Some("s:2"));

        // Lower case too; upper case first.
        let c = env(&[
            ("http_proxy", "l:1"),
            ("HTTPS_PROXY", "u:2"),
            ("https_proxy", "l:2"),
        ]);
        assert_eq!(chosen(&c, "http://x/").as_deref(), Some("l:1"));
        assert_eq!(chosen(&c, "https://x/").as_deref(), Some("u:2"));

        // ALL_PROXY when the specific one is unset or does not parse.
        let c = env(&[("ALL_PROXY", "a:3"), ("HTTPS_PROXY", "http://")]);
        assert_eq!(chosen(&c, "http://x/").as_deref(), Some("a:3"));
        assert_eq!(chosen(&c, "https://x/").as_deref(), Some("a:3"));

        // A kind of proxy that cannot be used is kept, to fail with it.
        let c = env(&[("ALL_PROXY", "socks5://127.0.0.1:1080")]);
        let e = chosen(&c, "http://x/").unwrap();
        assert!(e.contains("only http:// proxies"), "{e}");

        // NO_PROXY, and nothing at all in a CGI script.
        let c = env(&[("ALL_PROXY", "a:3"), ("no_proxy", "x")]);
        assert_eq!(chosen(&c, "http://x/"), None);
        assert_eq!(chosen(&c, "http://y/").as_deref(), Some("a:3"));
        let c = env(&[("HTTP_PROXY", "h:1"), ("REQUEST_METHOD", "GET")]);
        assert_eq!(c, ProxyConfig::default());
        assert_eq!(env(&[]), ProxyConfig::default());
    }
}
