//! axum extractors for the request's context (feature `axum`).
//!
//! The server layer (`trace_tower::TraceContextLayer`) puts the request's
//! [`TraceContext`] into its extensions; these impls read it. A malformed
//! incoming header never rejects a request (W3C Trace Context says to
//! restart the trace, and the layer did): the only rejection is a missing
//! layer, which is a server bug, hence a 500.

use axum_core::{
    extract::{FromRequestParts, OptionalFromRequestParts},
    response::{IntoResponse, Response},
};
use http::{StatusCode, request::Parts};

use crate::{
    codec::{Baggage, CorrelationId},
    context::TraceContext,
};

/// The rejection when the trace layer is missing: a 500, because the server
/// is misconfigured, not the request.
///
/// # Examples
///
/// ```
/// use axum_core::response::IntoResponse;
/// use trace_core::MissingTraceLayer;
///
/// let rejection = MissingTraceLayer::default();
/// assert_eq!(rejection.status(), http::StatusCode::INTERNAL_SERVER_ERROR);
/// assert!(rejection.body_text().contains("TraceContextLayer"));
/// assert_eq!(rejection.into_response().status(), 500);
/// ```
#[derive(Debug, Default, Clone, Copy)]
#[non_exhaustive]
pub struct MissingTraceLayer;

impl MissingTraceLayer {
    /// The response status: 500.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        StatusCode::INTERNAL_SERVER_ERROR
    }

    /// The response body.
    #[must_use]
    pub fn body_text(&self) -> &'static str {
        "No trace context found for this request: add `trace_tower::TraceContextLayer` to the router \
         (`Router::layer`) so that it runs before this handler"
    }
}

impl std::fmt::Display for MissingTraceLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.body_text())
    }
}

impl std::error::Error for MissingTraceLayer {}

impl IntoResponse for MissingTraceLayer {
    fn into_response(self) -> Response {
        (self.status(), self.body_text()).into_response()
    }
}

fn context(parts: &Parts) -> Option<&TraceContext> {
    parts.extensions.get::<TraceContext>()
}

impl<S: Send + Sync> FromRequestParts<S> for TraceContext {
    type Rejection = MissingTraceLayer;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        context(parts).cloned().ok_or(MissingTraceLayer)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for TraceContext {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(context(parts).cloned())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CorrelationId {
    type Rejection = MissingTraceLayer;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        context(parts)
            .and_then(TraceContext::correlation_id)
            .cloned()
            .ok_or(MissingTraceLayer)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for CorrelationId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(context(parts)
            .and_then(TraceContext::correlation_id)
            .cloned())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Baggage {
    type Rejection = MissingTraceLayer;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        context(parts)
            .map(|cx| cx.baggage().clone())
            .ok_or(MissingTraceLayer)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Baggage {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(context(parts).map(|cx| cx.baggage().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(with_context: bool) -> Parts {
        let (mut parts, ()) = http::Request::new(()).into_parts();
        if with_context {
            let cx = TraceContext::new_root(true)
                .with_correlation_id("req-1".parse().unwrap())
                .with_baggage("k=v".parse().unwrap());
            parts.extensions.insert(cx);
        }
        parts
    }

    #[tokio::test]
    async fn extract_from_the_layers_extension() {
        let mut p = parts(true);
        let id = <CorrelationId as FromRequestParts<()>>::from_request_parts(&mut p, &())
            .await
            .unwrap();
        assert_eq!(id, "req-1");
        let baggage = <Baggage as FromRequestParts<()>>::from_request_parts(&mut p, &())
            .await
            .unwrap();
        assert_eq!(baggage.get("k").as_deref(), Some("v"));
        let cx = <TraceContext as FromRequestParts<()>>::from_request_parts(&mut p, &())
            .await
            .unwrap();
        assert!(cx.is_sampled());
    }

    #[tokio::test]
    async fn missing_layer_is_a_500_or_none() {
        let mut p = parts(false);
        let err = <TraceContext as FromRequestParts<()>>::from_request_parts(&mut p, &())
            .await
            .unwrap_err();
        assert_eq!(
            err.into_response().status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        let none = <TraceContext as OptionalFromRequestParts<()>>::from_request_parts(&mut p, &())
            .await
            .unwrap();
        assert!(none.is_none());
        let none = <CorrelationId as OptionalFromRequestParts<()>>::from_request_parts(&mut p, &())
            .await
            .unwrap();
        assert!(none.is_none());
    }
}
