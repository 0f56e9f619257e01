//! URLs: the configured one is checked with the [`url`] crate (the WHATWG
//! URL standard, which browsers use for `EventSource`), redirect locations
//! are resolved against the request URL with it, and origins are compared
//! to decide whether credentials may follow a redirect.

use std::fmt;

use url::Url;

/// Why a configured URL cannot be used: what
/// [`ConfigError::Url`](crate::ConfigError::Url) holds.
///
/// Only absolute `http://` and `https://` URLs with a host are accepted.
/// `Display` names the URL, what is wrong with it and what is accepted.
///
/// ```
/// use resse_session::{ClientSession, ConfigError, SessionConfig};
///
/// let err = ClientSession::new(std::time::Instant::now(), SessionConfig::new("example.com/events"))
///     .unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "invalid URL \"example.com/events\": it has no scheme; \
///      use an absolute URL that starts with http:// or https://"
/// );
/// assert!(matches!(err, ConfigError::Url(_)));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidUrl {
    url: String,
    problem: Problem,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Problem {
    NoScheme,
    Scheme(String),
    NoHost,
    Syntax(url::ParseError),
}

impl InvalidUrl {
    /// The URL as configured.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl fmt::Display for InvalidUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = &self.url;
        match &self.problem {
            Problem::NoScheme => write!(
                f,
                "invalid URL {url:?}: it has no scheme; \
                 use an absolute URL that starts with http:// or https://"
            ),
            Problem::Scheme(scheme) => write!(
                f,
                "invalid URL {url:?}: the scheme {scheme:?} is not supported; \
                 use http:// or https://"
            ),
            Problem::NoHost => write!(
                f,
                "invalid URL {url:?}: it has no host; \
                 use http://HOST[:PORT]/PATH or https://HOST[:PORT]/PATH"
            ),
            Problem::Syntax(e) => write!(
                f,
                "invalid URL {url:?}: {e}; use an absolute http:// or https:// URL"
            ),
        }
    }
}

impl std::error::Error for InvalidUrl {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.problem {
            Problem::Syntax(e) => Some(e),
            _ => None,
        }
    }
}

/// Parses a configured endpoint URL: absolute, `http` or `https`, with a
/// host. The fragment is dropped (it is never sent).
pub(crate) fn parse_endpoint(url: &str) -> Result<Url, InvalidUrl> {
    let invalid = |problem| InvalidUrl {
        url: url.to_owned(),
        problem,
    };
    let mut parsed = match Url::parse(url) {
        Ok(u) => u,
        Err(url::ParseError::RelativeUrlWithoutBase) => return Err(invalid(Problem::NoScheme)),
        Err(url::ParseError::EmptyHost) => return Err(invalid(Problem::NoHost)),
        Err(e) => return Err(invalid(Problem::Syntax(e))),
    };
    if !is_http(&parsed) {
        // `localhost:8080/events` parses with the scheme "localhost".
        let problem = if url.contains("://") {
            Problem::Scheme(parsed.scheme().to_owned())
        } else {
            Problem::NoScheme
        };
        return Err(invalid(problem));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid(Problem::NoHost));
    }
    parsed.set_fragment(None);
    Ok(parsed)
}

fn is_http(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https")
}

/// Resolves `location` (a `Location` value) against `base` (the URL of the
/// request that was redirected) as the WHATWG URL parser does, as fetch
/// does for a redirect. `None` when it is not a valid `http` or `https`
/// URL (fetch's redirect to another scheme is a network error). The
/// fragment is dropped: it is never sent in a request.
pub(crate) fn resolve(base: &Url, location: &str) -> Option<Url> {
    let mut next = base.join(location).ok()?;
    if !is_http(&next) || next.host_str().is_none_or(str::is_empty) {
        return None;
    }
    next.set_fragment(None);
    Some(next)
}

/// Whether two URLs have the same origin (scheme, host, port; default ports
/// filled in). Opaque origins are never the same, so credentials are never
/// forwarded by mistake.
pub(crate) fn same_origin(a: &Url, b: &Url) -> bool {
    let (a, b) = (a.origin(), b.origin());
    a.is_tuple() && a == b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).expect("a valid URL")
    }

    fn resolved(base: &str, reference: &str) -> Option<String> {
        resolve(&url(base), reference).map(String::from)
    }

    #[test]
    fn rfc3986_normal_examples() {
        // RFC 3986 §5.4.1 (fragments dropped from the expected results). The
        // WHATWG parser agrees on every one but "g:h", a scheme the client
        // cannot follow, and "//g", whose empty path it writes as "/".
        let base = "http://a/b/c/d;p?q";
        let cases = [
            ("g:h", None),
            ("g", Some("http://a/b/c/g")),
            ("./g", Some("http://a/b/c/g")),
            ("g/", Some("http://a/b/c/g/")),
            ("/g", Some("http://a/g")),
            ("//g", Some("http://g/")),
            ("?y", Some("http://a/b/c/d;p?y")),
            ("g?y", Some("http://a/b/c/g?y")),
            ("#s", Some("http://a/b/c/d;p?q")),
            ("g#s", Some("http://a/b/c/g")),
            ("g?y#s", Some("http://a/b/c/g?y")),
            (";x", Some("http://a/b/c/;x")),
            ("g;x", Some("http://a/b/c/g;x")),
            ("g;x?y#s", Some("http://a/b/c/g;x?y")),
            ("", Some("http://a/b/c/d;p?q")),
            (".", Some("http://a/b/c/")),
            ("./", Some("http://a/b/c/")),
            ("..", Some("http://a/b/")),
            ("../", Some("http://a/b/")),
            ("../g", Some("http://a/b/g")),
            ("../..", Some("http://a/")),
            ("../../", Some("http://a/")),
            ("../../g", Some("http://a/g")),
        ];
        for (r, want) in cases {
            assert_eq!(resolved(base, r).as_deref(), want, "{r:?}");
        }
    }

    #[test]
    fn rfc3986_abnormal_examples() {
        // RFC 3986 §5.4.2. Where WHATWG differs from the RFC's strict mode,
        // the browser's answer is the one kept: "http:g" is relative when
        // the scheme is the base's.
        let base = "http://a/b/c/d;p?q";
        let cases = [
            ("../../../g", "http://a/g"),
            ("../../../../g", "http://a/g"),
            ("/./g", "http://a/g"),
            ("/../g", "http://a/g"),
            ("g.", "http://a/b/c/g."),
            (".g", "http://a/b/c/.g"),
            ("g..", "http://a/b/c/g.."),
            ("..g", "http://a/b/c/..g"),
            ("./../g", "http://a/b/g"),
            ("./g/.", "http://a/b/c/g/"),
            ("g/./h", "http://a/b/c/g/h"),
            ("g/../h", "http://a/b/c/h"),
            ("g;x=1/./y", "http://a/b/c/g;x=1/y"),
            ("g;x=1/../y", "http://a/b/c/y"),
            ("g?y/./x", "http://a/b/c/g?y/./x"),
            ("g?y/../x", "http://a/b/c/g?y/../x"),
            ("g#s/./x", "http://a/b/c/g"),
            ("http:g", "http://a/b/c/g"),
        ];
        for (r, want) in cases {
            assert_eq!(resolved(base, r).as_deref(), Some(want), "{r:?}");
        }
    }

    #[test]
    fn base_without_path() {
        assert_eq!(resolved("https://h", "x").as_deref(), Some("https://h/x"));
        assert_eq!(
            resolved("https://h:8443?a", "?b").as_deref(),
            Some("https://h:8443/?b")
        );
    }

    #[test]
    fn browser_rules_for_odd_locations() {
        let base = "https://a.example/v1/events";
        let cases = [
            // Backslashes are slashes in special schemes, spaces and tabs
            // around are trimmed, hosts are lowercased, default ports go.
            ("\\\\b.example\\x", Some("https://b.example/x")),
            ("  /x\t", Some("https://a.example/x")),
            ("HTTPS://B.Example:443/y", Some("https://b.example/y")),
            ("/a b", Some("https://a.example/a%20b")),
            (
                "https://bücher.example/",
                Some("https://xn--bcher-kva.example/"),
            ),
            // Schemes a client cannot follow, and unparsable hosts.
            ("ftp://a.example/x", None),
            ("javascript:alert(1)", None),
            ("data:text/event-stream,data:x", None),
            ("http://[::1", None),
            ("http://", None),
        ];
        for (r, want) in cases {
            assert_eq!(resolved(base, r).as_deref(), want, "{r:?}");
        }
    }

    #[test]
    fn origins() {
        let same = |a: &str, b: &str| same_origin(&url(a), &url(b));
        assert!(same("http://a.example/x", "HTTP://A.example:80/y"));
        assert!(same("https://u:p@h/x", "https://h:443/"));
        assert!(same("http://[::1]:8080/a", "http://[::1]:8080/b"));
        assert!(!same("http://a/x", "https://a/x"));
        assert!(!same("http://a/x", "http://b/x"));
        assert!(!same("http://a:81/x", "http://a/x"));
        assert!(!same("data:x", "data:x"));
    }

    #[test]
    fn endpoints() {
        for ok in [
            "http://127.0.0.1:8080/events",
            "https://example.com",
            "HTTP://Example.COM/e?x=1#frag",
            "http://[::1]:9/",
        ] {
            let u = parse_endpoint(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
            assert!(u.fragment().is_none());
        }
        let problem = |s: &str| parse_endpoint(s).map(|_| ()).map_err(|e| e.problem);
        assert_eq!(problem("example.com/events"), Err(Problem::NoScheme));
        assert_eq!(problem("/events"), Err(Problem::NoScheme));
        assert_eq!(problem(""), Err(Problem::NoScheme));
        assert_eq!(problem("localhost:8080/events"), Err(Problem::NoScheme));
        assert_eq!(
            problem("ftp://example.com/x"),
            Err(Problem::Scheme("ftp".into()))
        );
        assert_eq!(
            problem("ws://example.com/x"),
            Err(Problem::Scheme("ws".into()))
        );
        assert_eq!(problem("http://"), Err(Problem::NoHost));
        assert_eq!(problem("https://:443/x"), Err(Problem::NoHost));
        assert!(matches!(
            problem("http://[::1/x"),
            Err(Problem::Syntax(url::ParseError::InvalidIpv6Address))
        ));
        assert!(matches!(
            problem("http://h:99999/"),
            Err(Problem::Syntax(url::ParseError::InvalidPort))
        ));
    }

    #[test]
    fn messages_say_what_is_wrong_and_what_is_accepted() {
        let msg = |s: &str| parse_endpoint(s).map(|_| ()).unwrap_err().to_string();
        assert_eq!(
            msg("ftp://h/x"),
            "invalid URL \"ftp://h/x\": the scheme \"ftp\" is not supported; use http:// or https://"
        );
        assert_eq!(
            msg("http://"),
            "invalid URL \"http://\": it has no host; \
             use http://HOST[:PORT]/PATH or https://HOST[:PORT]/PATH"
        );
        assert_eq!(
            msg("http://h:99999/"),
            "invalid URL \"http://h:99999/\": invalid port number; \
             use an absolute http:// or https:// URL"
        );
    }

    #[test]
    fn odd_inputs_do_not_panic() {
        for s in [
            "",
            ":",
            "::",
            "//",
            "/..",
            "a:b:c",
            "?#",
            "[",
            "http://[",
            "é:/x",
            "http://h:/",
        ] {
            let _ = parse_endpoint(s);
            for t in ["", "..", "/../..", "//x/../..", "#", "é", "a:"] {
                let _ = resolve(&url("http://h/"), t);
                let _ = Url::parse(s).map(|u| resolve(&u, t));
            }
        }
    }
}
