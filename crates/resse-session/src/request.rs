//! [`Request`]: what [`Action::Connect`](crate::Action::Connect) asks an
//! adapter to send, and how redirects derive the next one.

use bytes::Bytes;
use http::header::{
    ACCEPT, AUTHORIZATION, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LANGUAGE, CONTENT_LOCATION,
    CONTENT_TYPE, COOKIE, HeaderName, HeaderValue, PROXY_AUTHORIZATION,
};
use http::{HeaderMap, Method, StatusCode};
use resse_codec::Text;
use url::Url;

use crate::SessionConfig;

/// The `Last-Event-ID` request header name.
pub const LAST_EVENT_ID: HeaderName = HeaderName::from_static("last-event-id");

/// A request to open: method, URL, headers and optional body.
///
/// The headers always hold `Accept: text/event-stream` and `Cache-Control:
/// no-store` (unless the user configured other values for them), the user's
/// headers, and `Last-Event-ID` when the session has a non-empty last event
/// id that is a valid header value.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Request {
    /// The method (`GET` unless configured otherwise; a `303`, or a `301` or
    /// `302` after a `POST`, turns it into `GET` as fetch does).
    pub method: Method,
    /// The absolute URL to request, as configured or as resolved from a
    /// redirect's `Location`.
    pub url: String,
    /// The request headers.
    pub headers: HeaderMap,
    /// The body to send, if any (the same bytes on every reconnection).
    pub body: Option<Bytes>,
    /// The last event id the request resumes from (empty: none). It is in
    /// [`headers`](Self::headers) as `Last-Event-ID` unless empty or not a
    /// valid HTTP header value (an id holding a control character other
    /// than tab, which the `http` crate refuses); an adapter with another
    /// HTTP stack may send it from here.
    pub last_event_id: Text,
}

/// Method, URL, headers and body of the next request, without
/// `Last-Event-ID` (added when the request is issued).
#[derive(Clone, Debug)]
pub(crate) struct Template {
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Option<Bytes>,
}

impl Template {
    /// The request the configuration describes, to `url` (the configured
    /// URL, checked).
    pub(crate) fn from_config(config: &SessionConfig, url: Url) -> Self {
        let mut headers = HeaderMap::with_capacity(config.headers.len() + 3);
        headers.insert(ACCEPT, HeaderValue::from_static("text/event-stream"));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        for name in config.headers.keys() {
            if *name == LAST_EVENT_ID {
                continue;
            }
            headers.remove(name);
            for value in config.headers.get_all(name) {
                headers.append(name.clone(), value.clone());
            }
        }
        Self {
            method: config.method.clone(),
            url,
            headers,
            body: config.body.clone(),
        }
    }

    /// The request to send, resuming from `last_event_id`.
    pub(crate) fn to_request(&self, last_event_id: &Text) -> Request {
        let mut headers = self.headers.clone();
        if !last_event_id.is_empty() {
            if let Ok(value) = HeaderValue::from_bytes(last_event_id.as_bytes()) {
                headers.insert(LAST_EVENT_ID, value);
            }
        }
        Request {
            method: self.method.clone(),
            url: self.url.as_str().to_owned(),
            headers,
            body: self.body.clone(),
            last_event_id: last_event_id.clone(),
        }
    }

    /// The request that follows a redirect of this one to `location`, as
    /// fetch's "HTTP-redirect fetch" derives it: the URL resolved against
    /// this one (WHATWG URL parsing); `GET` without a body (and without the
    /// body's headers) after a `303`, or a `301`/`302` of a `POST`;
    /// credentials dropped when the origin changes. `None` when the location
    /// is not a valid `http`/`https` URL.
    pub(crate) fn redirect(&self, status: StatusCode, location: &str) -> Option<Self> {
        let url = crate::url::resolve(&self.url, location)?;
        let mut next = Self {
            method: self.method.clone(),
            url,
            headers: self.headers.clone(),
            body: self.body.clone(),
        };
        let to_get = match status.as_u16() {
            301 | 302 => self.method == Method::POST,
            303 => self.method != Method::GET && self.method != Method::HEAD,
            _ => false,
        };
        if to_get {
            next.method = Method::GET;
            next.body = None;
            for name in [
                CONTENT_ENCODING,
                CONTENT_LANGUAGE,
                CONTENT_LOCATION,
                CONTENT_TYPE,
            ] {
                next.headers.remove(name);
            }
        }
        if !crate::url::same_origin(&self.url, &next.url) {
            for name in [AUTHORIZATION, COOKIE, PROXY_AUTHORIZATION] {
                next.headers.remove(name);
            }
        }
        Some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> SessionConfig {
        SessionConfig::new("https://a.example/events?x=1")
            .method(Method::POST)
            .body("{}")
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(AUTHORIZATION, HeaderValue::from_static("Bearer t"))
            .header(ACCEPT, HeaderValue::from_static("text/event-stream, */*"))
            .header(LAST_EVENT_ID, HeaderValue::from_static("ignored"))
    }

    fn template() -> Template {
        let config = config();
        let url = crate::url::parse_endpoint(config.get_url()).expect("a valid URL");
        Template::from_config(&config, url)
    }

    #[test]
    fn defaults_user_headers_and_last_event_id() {
        let t = template();
        let r = t.to_request(&Text::from("42"));
        assert_eq!(r.headers[ACCEPT], "text/event-stream, */*");
        assert_eq!(r.headers.get_all(ACCEPT).iter().count(), 1);
        assert_eq!(r.headers[CACHE_CONTROL], "no-store");
        assert_eq!(r.headers[LAST_EVENT_ID], "42");
        assert_eq!(r.headers.get_all(LAST_EVENT_ID).iter().count(), 1);
        assert_eq!(r.body.as_deref(), Some(&b"{}"[..]));
        let r = t.to_request(&Text::new());
        assert!(!r.headers.contains_key(LAST_EVENT_ID));
        // A control character cannot be a header value: omitted, still reported.
        let r = t.to_request(&Text::from("a\u{1}b"));
        assert!(!r.headers.contains_key(LAST_EVENT_ID));
        assert_eq!(r.last_event_id, "a\u{1}b");
    }

    #[test]
    fn redirects_follow_fetch() {
        let t = template();
        let same = t
            .redirect(StatusCode::TEMPORARY_REDIRECT, "/other")
            .expect("valid");
        assert_eq!(same.url.as_str(), "https://a.example/other");
        assert_eq!(same.method, Method::POST);
        assert!(same.body.is_some());
        assert!(same.headers.contains_key(AUTHORIZATION));

        let see_other = t.redirect(StatusCode::SEE_OTHER, "b").expect("valid");
        assert_eq!(see_other.url.as_str(), "https://a.example/b");
        assert_eq!(see_other.method, Method::GET);
        assert!(see_other.body.is_none());
        assert!(!see_other.headers.contains_key(CONTENT_TYPE));

        let found = t
            .redirect(StatusCode::FOUND, "https://b.example/e")
            .expect("valid");
        assert_eq!(found.method, Method::GET);
        assert!(!found.headers.contains_key(AUTHORIZATION));
        assert_eq!(found.headers[CACHE_CONTROL], "no-store");

        assert!(t.redirect(StatusCode::FOUND, "ftp://a.example/").is_none());

        let permanent = t
            .redirect(StatusCode::PERMANENT_REDIRECT, "//a.example:443/p")
            .expect("valid");
        assert_eq!(permanent.method, Method::POST);
        assert!(permanent.headers.contains_key(AUTHORIZATION));
    }
}
