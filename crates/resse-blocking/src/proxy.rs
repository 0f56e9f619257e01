//! HTTP proxies: the [`Proxy`] setting, the proxy environment variables,
//! and the `NO_PROXY` rules (curl's, as reqwest and hyper-util apply
//! them).

use std::fmt;
use std::net::IpAddr;

use http::Uri;

/// An HTTP proxy to send every request through, given as a URL:
/// `http://[user:password@]host[:port]` (the port defaults to 80; a URL
/// without a scheme is taken as `http://`). User and password are
/// percent-decoded and sent as `Proxy-Authorization: Basic`.
///
/// Set it with [`ClientBuilder::proxy`](crate::ClientBuilder::proxy) or
/// [`HttpConnector::proxy`](crate::HttpConnector::proxy). Without one, the
/// client reads the proxy from the environment, as curl does: see
/// [`HttpConnector`](crate::HttpConnector#proxies).
///
/// ```
/// use resse_blocking::Proxy;
///
/// let proxy = Proxy::new("http://user:secret@127.0.0.1:3128")?
///     .no_proxy("localhost, .internal.example, 10.0.0.0/8");
/// assert_eq!(proxy.authority(), "127.0.0.1:3128");
/// assert!(Proxy::new("socks5://127.0.0.1:1080").is_err());
/// # Ok::<(), resse_blocking::InvalidProxy>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    /// ureq's form of it (the URL, credentials included).
    pub(crate) ureq: ureq::Proxy,
    /// `host:port`, for messages.
    authority: String,
    /// The exceptions.
    pub(crate) no_proxy: NoProxy,
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
    /// [`InvalidProxy`] when the URL does not parse, has no host, or names
    /// a scheme other than `http` (`https://` and SOCKS proxies are not
    /// supported).
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
        let authority = format!("{}:{port}", authority.host());
        let ureq = ureq::Proxy::new(&full).map_err(|_| {
            invalid(
                "its user or password is not valid percent-encoded UTF-8",
                false,
            )
        })?;
        Ok(Self {
            ureq,
            authority,
            no_proxy: NoProxy::default(),
        })
    }

    /// Hosts to reach directly, in the syntax of the `NO_PROXY` environment
    /// variable: comma-separated host names (each also matches its
    /// subdomains; a leading `.` is allowed), IP addresses, CIDR blocks
    /// (`10.0.0.0/8`), or `*` for every host. Replaces any earlier list.
    pub fn no_proxy(mut self, list: &str) -> Self {
        self.no_proxy = NoProxy::parse(list);
        self
    }

    /// The proxy's `host:port`.
    pub fn authority(&self) -> &str {
        &self.authority
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

/// The hosts to reach without the proxy: curl's `NO_PROXY` rules.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct NoProxy {
    all: bool,
    /// Lower-case, without a leading dot.
    domains: Vec<String>,
    /// Addresses and networks: the address and the prefix length.
    nets: Vec<(IpAddr, u8)>,
}

impl NoProxy {
    pub(crate) fn parse(list: &str) -> Self {
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

    /// Whether `host` (of a URL: IPv6 in brackets) is to be reached
    /// directly.
    pub(crate) fn matches(&self, host: &str) -> bool {
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

/// Which proxy each request goes through.
#[derive(Clone, Debug, Default)]
pub(crate) struct Proxies {
    http: Option<Result<Proxy, InvalidProxy>>,
    https: Option<Result<Proxy, InvalidProxy>>,
    no: NoProxy,
}

impl Proxies {
    /// Every request through `proxy`, but for its exceptions.
    pub(crate) fn explicit(proxy: Proxy) -> Self {
        Self {
            no: proxy.no_proxy.clone(),
            http: Some(Ok(proxy.clone())),
            https: Some(Ok(proxy)),
        }
    }

    /// The proxy environment variables, as curl reads them: `HTTP_PROXY`
    /// for `http://`, `HTTPS_PROXY` for `https://`, `ALL_PROXY` for both
    /// when the specific one is unset or unusable, lower case too,
    /// `NO_PROXY`. Nothing in a CGI script (`REQUEST_METHOD` set), where
    /// `HTTP_PROXY` can come from a request header.
    pub(crate) fn from_env() -> Self {
        if std::env::var_os("REQUEST_METHOD").is_some() {
            return Self::default();
        }
        let var = |names: [&str; 2]| {
            names
                .iter()
                .find_map(|n| std::env::var(n).ok())
                .unwrap_or_default()
        };
        // A value that does not parse is ignored (as curl and reqwest do);
        // one of a kind of proxy this crate cannot use is kept, to fail
        // the requests it is for with a message rather than to bypass it.
        let parse = |value: String| match Proxy::new(&value) {
            Ok(proxy) => Some(Ok(proxy)),
            Err(e) if e.unsupported => Some(Err(e)),
            Err(_) => None,
        };
        let all = parse(var(["ALL_PROXY", "all_proxy"]));
        Self {
            http: parse(var(["HTTP_PROXY", "http_proxy"])).or_else(|| all.clone()),
            https: parse(var(["HTTPS_PROXY", "https_proxy"])).or(all),
            no: NoProxy::parse(&var(["NO_PROXY", "no_proxy"])),
        }
    }

    /// The proxy for a request to `uri`, if any.
    pub(crate) fn for_uri(&self, uri: &Uri) -> Option<&Result<Proxy, InvalidProxy>> {
        if self.no.matches(uri.host()?) {
            return None;
        }
        match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("https") => self.https.as_ref(),
            Some(s) if s.eq_ignore_ascii_case("http") => self.http.as_ref(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_urls_are_checked_and_normalized() {
        let p = Proxy::new("user:pw@127.0.0.1:3128").unwrap();
        assert_eq!(p.authority(), "127.0.0.1:3128");
        assert_eq!(p.ureq.username(), Some("user"));
        assert!(!format!("{p:?}").contains("pw"));
        assert_eq!(Proxy::new("http://proxy").unwrap().authority(), "proxy:80");
        let e = Proxy::new("socks5://u:secret@127.0.0.1:1080").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("only http:// proxies"), "{msg}");
        assert!(!msg.contains("secret"), "{msg}");
        assert!(Proxy::new("").is_err());
        assert!(Proxy::new("http://").is_err());
        assert!(Proxy::new("http://a b:1").is_err());
    }

    #[test]
    fn no_proxy_follows_curl() {
        let no = NoProxy::parse(" example.com, .corp.test ,10.0.0.0/8, ::1, 192.168.1.7");
        assert!(no.matches("example.com"));
        assert!(no.matches("www.Example.com"));
        assert!(!no.matches("notexample.com"));
        assert!(no.matches("corp.test"));
        assert!(no.matches("a.b.corp.test"));
        assert!(no.matches("10.1.2.3"));
        assert!(!no.matches("11.1.2.3"));
        assert!(no.matches("[::1]"));
        assert!(no.matches("192.168.1.7"));
        assert!(!no.matches("192.168.1.8"));
        assert!(NoProxy::parse("*").matches("anything"));
        assert!(!NoProxy::parse("").matches("anything"));
        assert!(NoProxy::parse("0.0.0.0/0").matches("1.2.3.4"));
    }

    #[test]
    fn each_scheme_has_its_proxy_and_exceptions_win() {
        let p = Proxy::new("http://127.0.0.1:3128")
            .unwrap()
            .no_proxy("localhost");
        let proxies = Proxies::explicit(p);
        let uri = |s: &str| s.parse::<Uri>().unwrap();
        assert!(proxies.for_uri(&uri("https://example.com/")).is_some());
        assert!(proxies.for_uri(&uri("http://example.com/")).is_some());
        assert!(proxies.for_uri(&uri("http://localhost:8080/")).is_none());
    }
}
