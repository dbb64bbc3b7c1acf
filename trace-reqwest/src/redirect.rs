//! Redirects followed by the middleware, so the destination policy decides
//! at every hop.
//!
//! reqwest follows redirects below the middleware and, on a cross-host
//! hop, removes only credentials and cookies: everything the policy let
//! the first host have would reach the next one. So when the policy
//! depends on the host, the client is built with
//! `reqwest::redirect::Policy::none()` and the middleware follows the
//! redirects itself, each hop a call of its own (its own client span and
//! span id, `http.request.resend_count`, the fields the policy allows for
//! that host and no other).
//!
//! The rules are reqwest's (which are tower-http's `FollowRedirect`):
//! 301 and 302 turn a POST into a GET without a body, 303 turns anything
//! but HEAD into a GET without a body, 307 and 308 resend the method and
//! body (a streaming body cannot be resent: the 3xx is returned), and a
//! hop to another scheme, host or port drops `Authorization`, `Cookie`,
//! `Cookie2`, `Proxy-Authorization` and `WWW-Authenticate`. reqwest's
//! implementation is private to it, so this is written here; it does not
//! add the `Referer` header reqwest adds.

use std::{fmt, time::Duration};

use http::{HeaderMap, Method, StatusCode, Version, header};
use reqwest::{Request, Response, Url};

/// What is needed to send a request again to where a redirect points.
pub(crate) struct Resend {
    method: Method,
    url: Url,
    headers: HeaderMap,
    version: Version,
    timeout: Option<Duration>,
    /// The whole request, when its body can be sent again (307, 308).
    with_body: Option<Request>,
}

impl Resend {
    /// Saves what `req` needs to be sent again, before it is sent.
    pub(crate) fn save(req: &Request) -> Self {
        Self {
            method: req.method().clone(),
            url: req.url().clone(),
            headers: req.headers().clone(),
            version: req.version(),
            timeout: req.timeout().copied(),
            with_body: req.try_clone(),
        }
    }

    /// The URL the saved request went to.
    pub(crate) fn url(&self) -> &Url {
        &self.url
    }

    /// The request to send next if `response` is a redirect this follows;
    /// `None` hands `response` to the caller as it is.
    pub(crate) fn follow(self, response: &Response) -> Option<Request> {
        let status = response.status();
        let keeps_body = match status {
            StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND => self.method != Method::POST,
            StatusCode::SEE_OTHER => self.method == Method::HEAD,
            StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT => true,
            _ => return None,
        };
        let location = response.headers().get(header::LOCATION)?.to_str().ok()?;
        let next = self.url.join(location).ok()?;
        if !matches!(next.scheme(), "http" | "https") {
            return None;
        }
        let mut req = if keeps_body {
            // 307/308 with a body that cannot be sent again: reqwest's
            // answer too is to hand the redirect back.
            let mut req = match self.with_body {
                Some(req) => req,
                None if self.method == Method::GET || self.method == Method::HEAD => {
                    self.without_body(self.method.clone())
                }
                None => return None,
            };
            *req.url_mut() = next;
            req
        } else {
            let method = if self.method == Method::HEAD {
                Method::HEAD
            } else {
                Method::GET
            };
            let mut req = self.without_body(method);
            for name in [
                header::CONTENT_TYPE,
                header::CONTENT_LENGTH,
                header::CONTENT_ENCODING,
                header::TRANSFER_ENCODING,
            ] {
                req.headers_mut().remove(name);
            }
            *req.url_mut() = next;
            req
        };
        let (previous, next) = (&self.url, req.url());
        let cross_origin = next.scheme() != previous.scheme()
            || next.host_str() != previous.host_str()
            || next.port_or_known_default() != previous.port_or_known_default();
        if cross_origin {
            let headers = req.headers_mut();
            for name in [
                header::AUTHORIZATION,
                header::COOKIE,
                header::PROXY_AUTHORIZATION,
                header::WWW_AUTHENTICATE,
            ] {
                headers.remove(name);
            }
            headers.remove("cookie2");
        }
        Some(req)
    }

    fn without_body(&self, method: Method) -> Request {
        let mut req = Request::new(method, self.url.clone());
        *req.headers_mut() = self.headers.clone();
        *req.version_mut() = self.version;
        *req.timeout_mut() = self.timeout;
        req
    }
}

/// More redirects than [`TraceMiddleware::max_redirects`] allows.
///
/// [`TraceMiddleware::max_redirects`]: crate::TraceMiddleware::max_redirects
#[derive(Debug)]
pub(crate) struct TooManyRedirects(pub(crate) usize);

impl fmt::Display for TooManyRedirects {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "too many redirects (more than {})", self.0)
    }
}

impl std::error::Error for TooManyRedirects {}

/// The client followed a redirect itself, to a host the destination
/// policy allows fewer fields than the first: they have been sent.
#[derive(Debug)]
pub(crate) struct ClientFollowedRedirect {
    pub(crate) to: Url,
}

impl fmt::Display for ClientFollowedRedirect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the reqwest client followed a redirect to {} itself, with trace headers that the \
             destination policy does not allow there: build the client with \
             `reqwest::redirect::Policy::none()` so that TraceMiddleware follows redirects and \
             applies the policy at every hop",
            self.to.origin().ascii_serialization()
        )
    }
}

impl std::error::Error for ClientFollowedRedirect {}
