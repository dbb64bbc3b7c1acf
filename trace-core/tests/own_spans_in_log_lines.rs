//! With the feature `tracing` (ids in every log line), a line logged
//! inside a span of the app's own (`trace_core::span`) carries that span's
//! id, in a `tracing` span nested in the request's; the request's lines
//! keep the request's id. Propagation only: nothing is recorded.
#![cfg(feature = "tracing")]

use std::{
    io,
    sync::{Arc, Mutex},
};

use http::Request;
use trace_core::{ServerTracing, TraceContext};
use tracing_subscriber::{fmt::MakeWriter, layer::SubscriberExt as _};

#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl io::Write for Lines {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Lines {
    type Writer = Self;

    fn make_writer(&'a self) -> Self {
        self.clone()
    }
}

#[test]
fn a_line_in_an_own_span_carries_its_id() {
    let lines = Lines::default();
    let subscriber = tracing_subscriber::registry().with(
        tracing_subscriber::fmt::layer()
            .json()
            .with_ansi(false)
            .with_writer(lines.clone()),
    );
    let _default = tracing::subscriber::set_default(subscriber);

    let tracing = ServerTracing::new();
    let started = tracing.start(&Request::new(()), Some("/orders"), None);
    let request_span = started.tracing_span.clone().expect("a tracing span");
    let server = started.context.span_id();
    let (own, _) = request_span.in_scope(|| {
        started.context.clone().scope(|| {
            tracing::info!("in the request");
            trace_core::span("db.query").in_scope(|_| {
                tracing::info!("in my span");
                TraceContext::current().unwrap().span_id()
            })
        })
    });
    let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
    let line = |message: &str| {
        text.lines()
            .find(|l| l.contains(message))
            .unwrap_or_else(|| panic!("{message}: {text}"))
            .to_owned()
    };
    let mine = line("in my span");
    // The innermost span (`span`) is ours, with its own id; the request's
    // is its parent in `spans`.
    let innermost = &mine[mine.find("\"span\":").unwrap()..mine.find("\"spans\":").unwrap()];
    assert!(
        innermost.contains(&format!("\"span_id\":\"{own}\"")),
        "{mine}"
    );
    assert!(innermost.contains("\"otel.name\":\"db.query\""), "{mine}");
    assert!(
        mine.contains(&format!("\"span_id\":\"{server}\"")),
        "the request's span around it: {mine}"
    );
    let theirs = line("in the request");
    assert!(
        theirs.contains(&format!("\"span_id\":\"{server}\"")),
        "{theirs}"
    );
    assert!(!theirs.contains(&own.to_string()));
}
