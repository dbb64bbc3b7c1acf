//! A real server on 127.0.0.1 for the tests, and a handler that reports
//! what it saw.

#![allow(dead_code, unreachable_pub)]

use std::{collections::HashMap, net::SocketAddr, time::Duration};

use axum::Router;
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use trace_core::{Baggage, CorrelationId, FinishedSpan, InMemoryRecorder, TraceContext};

/// A server that stops when dropped (graceful shutdown, then join).
pub struct Server {
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<()>>,
}

impl Server {
    pub async fn start(app: Router) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        Self {
            addr,
            shutdown: Some(tx),
            handle: Some(handle),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn stop(mut self) {
        let _ = self.shutdown.take().unwrap().send(());
        self.handle.take().unwrap().await.unwrap();
    }
}

/// What a handler saw, as `key=value` lines.
pub fn report(cx: &TraceContext) -> String {
    let current = TraceContext::current()
        .map(|c| c.span_id().to_string())
        .unwrap_or_default();
    let baggage: &Baggage = cx.baggage();
    let baggage: Vec<String> = baggage
        .iter()
        .map(|m| format!("{}:{}", m.key(), m.value()))
        .collect();
    format!(
        "trace_id={}\nspan_id={}\nparent={}\nsampled={}\nrandom={}\ntracestate={}\nbaggage={}\ncorrelation={}\ncurrent={current}\n",
        cx.trace_id(),
        cx.span_id(),
        cx.parent_span_id()
            .map(|p| p.to_string())
            .unwrap_or_default(),
        cx.is_sampled(),
        cx.flags().is_random(),
        cx.trace_state(),
        baggage.join(";"),
        cx.correlation_id()
            .map(CorrelationId::to_string)
            .unwrap_or_default(),
    )
}

pub async fn echo(cx: TraceContext) -> String {
    report(&cx)
}

pub fn parse_report(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Waits (bounded) until the recorder holds `n` spans.
pub async fn spans(recorder: &InMemoryRecorder, n: usize) -> Vec<FinishedSpan> {
    for _ in 0..500 {
        let spans = recorder.finished();
        if spans.len() >= n {
            return spans;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("expected {n} spans, have {:?}", recorder.finished());
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().build().unwrap()
}

/// What `/echo` saw of a request sent with `headers`.
pub async fn get_report(server: &Server, headers: &[(&str, &str)]) -> HashMap<String, String> {
    let mut request = client().get(server.url("/echo"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200, "the request is answered normally");
    parse_report(&response.text().await.unwrap())
}
