//! The response body: the server span ends when the body does.

use std::{
    pin::Pin,
    task::{Context, Poll, ready},
};

use http_body::{Body, Frame, SizeHint};
use pin_project::pin_project;
use trace_core::{Span, Status};

/// The response body of [`TraceContextService`](crate::TraceContextService).
///
/// The server span ends when the last frame has been sent, with the status
/// the response had; when the body fails, as an error; and when the body is
/// dropped before its end (the client went away), as `cancelled`.
#[pin_project]
pub struct ResponseBody<B> {
    #[pin]
    inner: B,
    span: Option<(Span, Status)>,
}

impl<B: Body> ResponseBody<B> {
    pub(crate) fn new(inner: B, span: Span, status: Status) -> Self {
        let mut body = Self {
            inner,
            span: Some((span, status)),
        };
        // A body with nothing to send may never be polled: end now.
        if body.inner.is_end_stream() {
            body.end(None);
        }
        body
    }

    fn end(&mut self, error: Option<Status>) {
        if let Some((span, status)) = self.span.take() {
            span.end(error.unwrap_or(status), Vec::new());
        }
    }
}

impl<B> ResponseBody<B> {
    /// The wrapped body.
    pub fn get_ref(&self) -> &B {
        &self.inner
    }
}

impl<B: Body> Body for ResponseBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let mut this = self.project();
        let frame = ready!(this.inner.as_mut().poll_frame(cx));
        let end = match &frame {
            None => Some(None),
            Some(Err(_)) => Some(Some(Status::error(std::any::type_name::<B::Error>()))),
            // The last frame: hyper may drop the body without polling again.
            Some(Ok(_)) if this.inner.is_end_stream() => Some(None),
            Some(Ok(_)) => None,
        };
        if let Some(error) = end
            && let Some((span, status)) = this.span.take()
        {
            span.end(error.unwrap_or(status), Vec::new());
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

impl<B> std::fmt::Debug for ResponseBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseBody")
            .field(
                "recording",
                &self.span.as_ref().is_some_and(|(s, _)| s.is_recording()),
            )
            .finish_non_exhaustive()
    }
}
