//! A body that ends a span when it ends: shared by the server and client
//! adapters, so that a span lasts as long as the response it describes.

use std::{
    pin::Pin,
    task::{Context, Poll, ready},
};

use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use pin_project::pin_project;

use crate::record::{Attribute, Span, Status};

/// Reads a span's final status (and attributes) from the trailers of a
/// body, as gRPC sends its status, or (`None`) decides it for a body that
/// ended without trailers: see [`SpanBody::with_trailers`].
pub type TrailerClassifier = fn(Option<&HeaderMap>) -> (Status, Vec<Attribute<'static>>);

/// An HTTP body that ends a [`Span`] when the body ends.
///
/// The span ends when the last frame has been read, with the status given
/// at the start (the response's); when the body fails, as an error; and when
/// the body is dropped before its end (the other side went away), as
/// `cancelled`. A body with nothing to send ends the span at once, since it
/// may never be polled.
///
/// # Examples
///
/// ```
/// use http_body_util::BodyExt;
/// use trace_core::{InMemoryRecorder, Span, SpanKind, Status, TraceContext, record::{SpanBody, SpanStart}, sampling::Decision};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let recorder = InMemoryRecorder::new(4);
/// let cx = TraceContext::new_root(true);
/// let span = Span::start(&recorder, Decision::RecordAndSample, SpanStart::new(&cx, "GET", SpanKind::Client), Vec::new);
/// let body = SpanBody::new(String::from("hello"), span, Status::Unset);
/// assert!(recorder.finished().is_empty(), "not read yet");
/// assert_eq!(body.collect().await.unwrap().to_bytes(), "hello");
/// assert_eq!(recorder.finished().len(), 1, "ended with the body");
/// # }
/// ```
#[pin_project]
pub struct SpanBody<B> {
    #[pin]
    inner: B,
    span: Option<(Span, Status)>,
    trailers: Option<TrailerClassifier>,
    final_attributes: Vec<Attribute<'static>>,
    /// The request's measurement, ended with the body.
    #[cfg(feature = "metrics")]
    measurement: Option<Box<crate::metrics::Measurement>>,
}

impl<B: Body> SpanBody<B> {
    /// Wraps `inner`; `span` ends with `status` when the body ends.
    pub fn new(inner: B, span: Span, status: Status) -> Self {
        Self::with_classifier(inner, span, status, None)
    }

    /// As [`new`](Self::new), but the trailers decide the status:
    /// `classify` reads them (for gRPC, `grpc-status`), or is called with
    /// `None` when the body ends without any (for gRPC, an error: the
    /// status is missing).
    pub fn with_trailers(inner: B, span: Span, classify: TrailerClassifier) -> Self {
        Self::with_classifier(inner, span, Status::Unset, Some(classify))
    }

    fn with_classifier(
        inner: B,
        span: Span,
        status: Status,
        trailers: Option<TrailerClassifier>,
    ) -> Self {
        let mut body = Self {
            inner,
            span: Some((span, status)),
            trailers,
            final_attributes: Vec::new(),
            #[cfg(feature = "metrics")]
            measurement: None,
        };
        // A body with nothing to send may never be polled: end now.
        if body.inner.is_end_stream() {
            body.end(None);
        }
        body
    }

    /// Ends `measurement` with the body too (feature `metrics`): when the
    /// body ends, with its status and size; when it is dropped first, as
    /// abandoned.
    #[cfg(feature = "metrics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
    #[must_use]
    pub fn measured(self, measurement: Option<crate::metrics::Measurement>) -> Self {
        self.measured_boxed(measurement.map(Box::new))
    }

    #[cfg(feature = "metrics")]
    pub(crate) fn measured_boxed(
        mut self,
        measurement: Option<Box<crate::metrics::Measurement>>,
    ) -> Self {
        self.measurement = measurement;
        if self.inner.is_end_stream()
            && let Some(measurement) = self.measurement.take()
        {
            measurement.end(None);
        }
        self
    }

    fn end(&mut self, error: Option<Status>) {
        finish(
            &mut self.span,
            &mut self.trailers,
            &mut self.final_attributes,
            error,
        );
    }
}

/// Ends the span once: with `error` if the body failed, else with the
/// trailers' status (`classify(None)` when there were none) or the status
/// given at the start.
fn finish(
    span: &mut Option<(Span, Status)>,
    trailers: &mut Option<TrailerClassifier>,
    final_attributes: &mut Vec<Attribute<'static>>,
    error: Option<Status>,
) {
    if let Some((span, mut status)) = span.take() {
        if let Some(classify) = trailers.take() {
            (status, *final_attributes) = classify(None);
        }
        span.end(error.unwrap_or(status), std::mem::take(final_attributes));
    }
}

/// A frame of the body, for its measurement: its bytes, or its trailers.
#[cfg(feature = "metrics")]
fn measure<D: bytes::Buf, E>(
    measurement: &mut crate::metrics::Measurement,
    frame: &Option<Result<Frame<D>, E>>,
) {
    let Some(Ok(frame)) = frame else { return };
    if let Some(data) = frame.data_ref() {
        measurement.sent(data.remaining());
    } else if let Some(trailers) = frame.trailers_ref()
        && measurement.wants_trailers()
    {
        measurement.trailers(Some(trailers));
    }
}

impl<B> SpanBody<B> {
    /// The wrapped body.
    pub fn get_ref(&self) -> &B {
        &self.inner
    }
}

impl<B: Body> Body for SpanBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let mut this = self.project();
        // The body's own work (a stream the handler returned) runs with
        // the span current for the OpenTelemetry API, as the handler did.
        #[cfg(feature = "opentelemetry")]
        let _otel = this
            .span
            .as_ref()
            .and_then(|(span, _)| span.otel_context())
            .map(|otel| otel.clone().attach());
        let frame = ready!(this.inner.as_mut().poll_frame(cx));
        #[cfg(feature = "metrics")]
        if let Some(measurement) = this.measurement.as_mut() {
            measure(measurement, &frame);
        }
        if let Some(Ok(frame)) = &frame
            && let Some(trailers) = frame.trailers_ref()
            && let Some(classify) = this.trailers.take()
            && let Some((_, pending)) = this.span.as_mut()
        {
            (*pending, *this.final_attributes) = classify(Some(trailers));
        }
        let end = match &frame {
            None => Some(None),
            Some(Err(_)) => Some(Some(Status::error(std::any::type_name::<B::Error>()))),
            // The last frame: hyper may drop the body without polling again.
            Some(Ok(_)) if this.inner.is_end_stream() => Some(None),
            Some(Ok(_)) => None,
        };
        if let Some(error) = end {
            #[cfg(feature = "metrics")]
            if let Some(measurement) = this.measurement.take() {
                measurement.end(error.clone());
            }
            finish(this.span, this.trailers, this.final_attributes, error);
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B> std::fmt::Debug for SpanBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpanBody")
            .field(
                "recording",
                &self.span.as_ref().is_some_and(|(s, _)| s.is_recording()),
            )
            .finish_non_exhaustive()
    }
}
