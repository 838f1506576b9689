//! Where the CLI sends requests, and how: a URL it can trust with the admin token.
//!
//! `--url` is parsed by a URL parser (the same WHATWG rules a browser applies), so that
//! `http://127.0.0.1:1@evil.example` is the host `evil.example` with a user name, not
//! loopback. It must be an origin, with no user name or password; plain `http` only to a
//! loopback host (the core's rule, [`is_loopback_host`]). Requests follow no redirect (a
//! redirect would carry the token elsewhere) and, to loopback, go through no proxy (a proxy
//! would see the token in clear).

use std::{io::ErrorKind, time::Duration};

use edge_token::core::config::is_loopback_host;
use ureq::http;
use url::Url;

use crate::failure::Failure;

/// How long one request may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// A checked origin to send requests to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    origin: String,
    loopback: bool,
}

/// An answer: status, `Location` (redirects are not followed) and body.
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The `Location` header of a redirect.
    pub location: Option<String>,
    /// The body, as text.
    pub text: String,
}

/// Why `text` cannot be used as the origin: the rule it breaks. Never echoes a user name or
/// password.
fn refusal(text: &str) -> Option<String> {
    let Ok(url) = Url::parse(text.trim()) else {
        return Some(format!(
            "{text:?} is not a URL such as https://token.example.com"
        ));
    };
    let loopback = url.host_str().is_some_and(is_loopback_host);
    if !url.username().is_empty() || url.password().is_some() {
        return Some("must not carry a user name or password (a part before @)".into());
    }
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => return Some(format!("must be https, or http on loopback only (127.0.0.1, localhost, [::1]), so that the admin token never travels in clear: {}", url.origin().ascii_serialization())),
        _ => return Some(format!("must be an https URL: {text:?}")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Some(format!("must name a host: {text:?}"));
    }
    if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
        return Some(format!(
            "must be an origin only, such as https://token.example.com (no path, query or fragment): {text:?}"
        ));
    }
    None
}

impl Endpoint {
    /// Checks `text`, the value of `--url`.
    pub fn parse(text: &str) -> Result<Self, Failure> {
        if let Some(rule) = refusal(text) {
            return Err(Failure::usage(format!("--url {rule}")));
        }
        let url = Url::parse(text.trim()).map_err(|e| Failure::usage(e.to_string()))?;
        Ok(Self {
            origin: url.origin().ascii_serialization(),
            loopback: url.host_str().is_some_and(is_loopback_host),
        })
    }

    /// The origin, e.g. `https://token.example.com` (no trailing slash).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Whether it is this machine (plain http allowed, no proxy).
    pub fn is_loopback(&self) -> bool {
        self.loopback
    }

    fn agent(&self) -> ureq::Agent {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(TIMEOUT));
        let config = if self.loopback {
            config.proxy(None)
        } else {
            config
        };
        config.build().into()
    }

    /// Sends `method` to `path` (absolute, from the origin) with these headers and, for a
    /// POST or PATCH, a JSON body; the answer whatever its status.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        json: Option<String>,
    ) -> Result<Answer, Failure> {
        let body = json.map(|json| ("application/json", json));
        self.send_body(method, path, headers, body)
    }

    /// Sends `method` to `path` with these headers and a body of the given `Content-Type`
    /// (the Analytics Engine SQL API takes its query as plain text); the answer whatever its
    /// status.
    pub fn send_body(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<(&str, String)>,
    ) -> Result<Answer, Failure> {
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.origin));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let bad = |e: http::Error| Failure::new(format!("cannot build the request: {e}"));
        let sent = match body {
            Some((content_type, body)) => self.agent().run(
                request
                    .header("Content-Type", content_type)
                    .body(body)
                    .map_err(bad)?,
            ),
            None => self.agent().run(request.body(()).map_err(bad)?),
        };
        let mut response = sent.map_err(|e| self.unreachable(&e))?;
        let location = response
            .headers()
            .get("Location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| Failure::new(format!("unreadable answer from {}: {e}", self.origin)))?;
        Ok(Answer {
            status: response.status().as_u16(),
            location,
            text,
        })
    }

    /// The failure for a request that got no answer; on loopback, a refused connection means
    /// the local Worker is not running.
    fn unreachable(&self, error: &ureq::Error) -> Failure {
        let refused = match error {
            ureq::Error::Io(e) => e.kind() == ErrorKind::ConnectionRefused,
            ureq::Error::ConnectionFailed => true,
            _ => false,
        };
        let hint = if refused && self.loopback {
            ": nothing listens there. Start the local Worker with `npm start` (in the edge-token checkout), or pass --url"
        } else {
            ""
        };
        Failure::coded(
            "unreachable",
            format!("could not reach {}: {error}{hint}", self.origin),
        )
    }

    /// The failure for a redirect, which is never followed.
    pub fn redirected(&self, answer: &Answer) -> Failure {
        Failure::coded(
            "redirect",
            format!(
                "{} answered {} with a redirect to {}, which is not followed (it would carry the request elsewhere): pass the final origin as --url",
                self.origin,
                answer.status,
                answer.location.as_deref().unwrap_or("(no Location)")
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_name_before_the_host_is_refused_and_is_not_loopback() {
        let url = Url::parse("http://127.0.0.1:1@evil.example").unwrap();
        assert_eq!(url.host_str(), Some("evil.example"));
        let failure = Endpoint::parse("http://127.0.0.1:1@evil.example").unwrap_err();
        assert_eq!(failure.code, 2);
        assert!(failure.message.contains("user name or password"));
        assert!(Endpoint::parse("https://admin:pw@token.example.com").is_err());
        let message = Endpoint::parse("https://user:hunter2@x.example").unwrap_err();
        assert!(
            !message.message.contains("hunter2"),
            "the password is not echoed"
        );
    }

    #[test]
    fn only_loopback_may_use_plain_http() {
        for local in [
            "http://127.0.0.1:8787",
            "http://localhost",
            "http://[::1]:1/",
            "HTTP://LocalHost:8787",
        ] {
            let endpoint = Endpoint::parse(local).unwrap();
            assert!(endpoint.is_loopback(), "{local}");
        }
        for remote in [
            "http://127.0.0.1.example.com",
            "http://example.com",
            "http://localhost.evil.example",
            "http://[::2]:8787",
        ] {
            assert!(Endpoint::parse(remote).is_err(), "{remote}");
        }
        let https = Endpoint::parse("https://token.example.com/").unwrap();
        assert!(!https.is_loopback());
        assert_eq!(https.origin(), "https://token.example.com");
    }

    #[test]
    fn the_url_is_an_origin_without_path_query_or_fragment() {
        assert_eq!(
            Endpoint::parse("http://127.0.0.1:8787/").unwrap().origin(),
            "http://127.0.0.1:8787"
        );
        for bad in [
            "https://token.example.com/admin",
            "https://token.example.com?x=1",
            "https://token.example.com#@127.0.0.1",
            "ftp://token.example.com",
            "token.example.com",
            "",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }
}
