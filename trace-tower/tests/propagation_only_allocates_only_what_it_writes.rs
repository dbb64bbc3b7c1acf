//! Propagation-only mode, counted: what the layer allocates per request,
//! over what the same service allocates without it.
//!
//! Its own test binary: `allocation-counter` installs a counting global
//! allocator in the binary that uses it (counts are per thread; the service
//! is driven on this thread).

use std::{convert::Infallible, future::Future, pin::pin, task::Poll};

use allocation_counter::measure;
use http::{HeaderValue, Request, Response};
use tower::{Layer, Service, service_fn};
use trace_core::SpanId;
use trace_tower::TraceContextLayer;

fn request(correlation_id: bool) -> Request<()> {
    let mut request = Request::new(());
    let headers = request.headers_mut();
    headers.insert(
        "traceparent",
        HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    );
    headers.insert("tracestate", HeaderValue::from_static("congo=t61rcWkgMzE"));
    headers.insert(
        "baggage",
        HeaderValue::from_static("userId=alice,isProduction=false"),
    );
    if correlation_id {
        headers.insert("x-request-id", HeaderValue::from_static("req-7f3a9c"));
    }
    // As under axum, which puts `ConnectInfo` and `MatchedPath` there, the
    // request's extension map exists already.
    request
        .extensions_mut()
        .insert(std::net::SocketAddr::from(([127, 0, 0, 1], 4000)));
    request
}

/// Runs a future that is ready without waiting (the handler never waits).
fn run<F: Future>(future: F) -> F::Output {
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    match pin!(future).poll(&mut cx) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the handler does not wait"),
    }
}

fn allocations<S>(service: &mut S, correlation_id: bool) -> u64
where
    S: Service<Request<()>>,
{
    // Warm up: the thread's id generator is made once per thread.
    let _ = SpanId::random();
    let _ = run(service.call(request(correlation_id)));
    let request = request(correlation_id);
    measure(|| {
        let _ = run(service.call(request));
    })
    .count_total
}

/// Like a real handler's response, it has a header already: the map that
/// holds headers exists before the layer writes to it.
fn handler() -> impl Service<Request<()>, Response = Response<String>, Error = Infallible> + Clone {
    service_fn(|_: Request<()>| async {
        let mut response = Response::new(String::new());
        response
            .headers_mut()
            .insert("content-type", HeaderValue::from_static("text/plain"));
        Ok::<_, Infallible>(response)
    })
}

#[test]
fn the_layer_allocates_only_the_extension_and_what_it_writes() {
    let bare = allocations(&mut handler(), true);
    let mut layered = TraceContextLayer::new().layer(handler());
    let with_id = allocations(&mut layered, true);
    let without_id = allocations(&mut layered, false);
    println!("bare: {bare}, layered with x-request-id: {with_id}, without: {without_id}");
    // With the caller's correlation ID: only the request's context, boxed
    // into its extensions (1). The echoed ID is the caller's header value,
    // shared (0); extracting, sampling and the new span id allocate nothing.
    assert_eq!(with_id - bare, 1);
    // Without one: the new ID's header value is the one thing written (1).
    assert_eq!(without_id - bare, 2);
}
