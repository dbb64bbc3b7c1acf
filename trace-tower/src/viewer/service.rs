//! The viewer as an axum router: the pages and the JSON API.

use std::{collections::HashMap, sync::Arc};

use askama::Template;
use axum::{
    Router,
    extract::{Path, Query, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use trace_core::{FinishedSpan, InMemoryRecorder};

use super::{
    jaeger::{dependencies_json, traces_json},
    model::{Trace, dependencies, traces},
    pages::{DependenciesPage, ListPage, Palette, RedPage, TracePage},
    query::Filter,
    red::red,
};

/// Where the viewer reads finished spans: an
/// [`InMemoryRecorder`](trace_core::InMemoryRecorder), or a store of yours.
///
/// # Examples
///
/// ```
/// use trace_core::FinishedSpan;
/// use trace_tower::viewer::SpanSource;
///
/// /// Spans read back from a file, a database…
/// struct Loaded(Vec<FinishedSpan>);
///
/// impl SpanSource for Loaded {
///     fn finished_spans(&self) -> Vec<FinishedSpan> {
///         self.0.clone()
///     }
/// }
/// ```
pub trait SpanSource: Send + Sync + 'static {
    /// Every finished span the store holds.
    fn finished_spans(&self) -> Vec<FinishedSpan>;
}

impl SpanSource for InMemoryRecorder {
    fn finished_spans(&self) -> Vec<FinishedSpan> {
        self.finished()
    }
}

/// The trace viewer: an axum router with the trace list, each trace's
/// waterfall with its critical path, the services' dependency graph, and
/// a JSON API in the shape of Jaeger's (`/api/traces`,
/// `/api/traces/{trace_id}`, `/api/dependencies`, `/api/services`).
///
/// Mount it on an internal port, or under a path with
/// [`at`](Self::at): the pages show request data (paths, user agents,
/// everything the spans hold), so only to those who may see it. Every
/// value is escaped, and the pages run no script (their
/// `Content-Security-Policy` allows none).
///
/// # Examples
///
/// ```no_run
/// use axum::{Router, routing::get};
/// use trace_core::InMemoryRecorder;
/// use trace_tower::{TraceContextLayer, viewer::Viewer};
///
/// # async fn run() -> std::io::Result<()> {
/// let store = InMemoryRecorder::new(10_000);
/// let app = Router::new()
///     .route("/", get(|| async { "hello" }))
///     .layer(TraceContextLayer::new().recorder(store.clone()));
/// // The viewer on a port of its own, for the team only.
/// let viewer = Viewer::new(store).router();
/// let internal = tokio::net::TcpListener::bind("127.0.0.1:9999").await?;
/// tokio::spawn(async move { axum::serve(internal, viewer).await });
/// let public = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
/// axum::serve(public, app).await
/// # }
/// ```
#[derive(Clone)]
pub struct Viewer {
    source: Arc<dyn SpanSource>,
    base: Arc<str>,
}

impl std::fmt::Debug for Viewer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Viewer")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Viewer {
    /// A viewer over `source`, mounted at the root.
    pub fn new(source: impl SpanSource) -> Self {
        Self {
            source: Arc::new(source),
            base: Arc::from(""),
        }
    }

    /// The path it is nested under (`/traces` for
    /// `Router::new().nest("/traces", viewer.router())`), for its links.
    #[must_use]
    pub fn at(mut self, path: &str) -> Self {
        self.base = Arc::from(path.trim_end_matches('/'));
        self
    }

    /// The router: `/` (the list), `/traces/{trace_id}`, `/red` (rate,
    /// errors and duration per operation), `/dependencies`, and `/api/...`
    /// (`/api/red` is the RED page as JSON). Its responses carry
    /// [`Unrecorded`](trace_core::instrument::Unrecorded): nested under a
    /// traced router, the viewer's page views are not kept in the in-memory
    /// store it shows.
    pub fn router(self) -> Router {
        Router::new()
            .route("/", get(list))
            .route("/traces/{trace_id}", get(trace))
            .route("/red", get(red_page))
            .route("/dependencies", get(graph))
            .route("/api/services", get(api_services))
            .route("/api/traces", get(api_traces))
            .route("/api/traces/{trace_id}", get(api_trace))
            .route("/api/dependencies", get(api_dependencies))
            .route("/api/red", get(api_red))
            // Its own 404s, under its own path, so that a mounted viewer's
            // do not fall through to the app's (traced) fallback.
            .fallback(|| async { (StatusCode::NOT_FOUND, "no such page in the trace viewer\n") })
            // Every response of its own, 404s too, marked unrecorded: nested
            // under a traced router, the viewer does not show itself.
            .layer(axum::middleware::map_response(unrecorded))
            .with_state(self)
    }

    /// Mounts the viewer on `app` at `path` (`/viewer`): its pages answer
    /// at `/viewer` and `/viewer/` alike, and link inside it. Call it
    /// after `app`'s layers: routes added after a `.layer(..)` are not
    /// wrapped by it, so the viewer's own page views are not traced into
    /// the store it shows.
    ///
    /// # Examples
    ///
    /// ```
    /// use axum::{Router, routing::get};
    /// use trace_core::InMemoryRecorder;
    /// use trace_tower::{TraceContextLayer, viewer::Viewer};
    ///
    /// let store = InMemoryRecorder::new(1_000);
    /// let app = Router::new()
    ///     .route("/", get(|| async { "hello" }))
    ///     .layer(TraceContextLayer::new().recorder(store.clone()));
    /// let app = Viewer::new(store).mount(app, "/viewer");
    /// # let _: Router = app;
    /// ```
    pub fn mount(self, app: Router, path: &str) -> Router {
        let path = format!("/{}", path.trim_matches('/'));
        if path == "/" {
            return app.merge(self.router());
        }
        let slashed = format!("{path}/");
        let home = path.clone();
        app.nest(&path, self.at(&home).router()).route(
            &slashed,
            get(move || {
                let home = home.clone();
                async move { axum::response::Redirect::permanent(&home) }
            }),
        )
    }

    /// Every trace, newest first.
    fn traces(&self) -> Vec<Trace> {
        let mut all = traces(self.source.finished_spans());
        all.reverse();
        all
    }
}

/// Marks a response of the viewer's so that a traced router it is nested
/// under does not record it into the store it shows.
async fn unrecorded(mut response: axum::response::Response) -> axum::response::Response {
    response
        .extensions_mut()
        .insert(trace_core::instrument::Unrecorded);
    response
}

/// No script, no request elsewhere: what the pages need and nothing more.
const POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
                      form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

fn html(page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                ),
                (
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static(POLICY),
                ),
                (
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
            body,
        )
            .into_response(),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}

fn json(value: &serde_json::Value) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        value.to_string(),
    )
        .into_response()
}

/// An error in Jaeger's shape, `errors: [{code, msg}]`.
fn json_error(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({
        "data": null, "total": 0, "limit": 0, "offset": 0,
        "errors": [{ "code": status.as_u16(), "msg": message }],
    });
    (status, json(&body)).into_response()
}

async fn list(
    State(viewer): State<Viewer>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let filter = match Filter::parse(&params) {
        Ok(filter) => filter,
        Err(message) => return (StatusCode::BAD_REQUEST, message).into_response(),
    };
    let all = viewer.traces();
    let shown: Vec<&Trace> = all.iter().filter(|t| filter.matches(t)).collect();
    html(&ListPage::new(
        &viewer.base,
        &filter,
        &all,
        &shown,
        &Palette::of(&all),
    ))
}

async fn trace(State(viewer): State<Viewer>, Path(trace_id): Path<String>) -> Response {
    let all = viewer.traces();
    let stored = all.iter().map(|t| t.trace_id.to_string()).collect();
    match all
        .iter()
        .find(|t| t.trace_id.to_string().eq_ignore_ascii_case(&trace_id))
    {
        Some(found) => html(&TracePage::new(
            &viewer.base,
            found,
            &stored,
            &Palette::of(&all),
        )),
        None => (StatusCode::NOT_FOUND, "no such trace in the store").into_response(),
    }
}

async fn graph(State(viewer): State<Viewer>) -> Response {
    let all = viewer.traces();
    html(&DependenciesPage::new(
        &viewer.base,
        &dependencies(&all),
        &Palette::of(&all),
    ))
}

async fn api_services(State(viewer): State<Viewer>) -> Response {
    let services: std::collections::BTreeSet<String> = viewer
        .source
        .finished_spans()
        .into_iter()
        .filter_map(|s| s.service.map(|s| s.to_string()))
        .collect();
    let count = services.len();
    json(&serde_json::json!({
        "data": services, "total": count, "limit": 0, "offset": 0, "errors": null,
    }))
}

async fn api_traces(
    State(viewer): State<Viewer>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    match Filter::parse(&params) {
        Ok(filter) => {
            let shown: Vec<Trace> = viewer
                .traces()
                .into_iter()
                .filter(|t| filter.matches(t))
                .take(filter.limit)
                .collect();
            json(&traces_json(&shown))
        }
        Err(message) => json_error(StatusCode::BAD_REQUEST, &message),
    }
}

async fn api_trace(State(viewer): State<Viewer>, Path(trace_id): Path<String>) -> Response {
    let found: Vec<Trace> = viewer
        .traces()
        .into_iter()
        .filter(|t| t.trace_id.to_string().eq_ignore_ascii_case(&trace_id))
        .collect();
    if found.is_empty() {
        json_error(StatusCode::NOT_FOUND, "trace not found")
    } else {
        json(&traces_json(&found))
    }
}

async fn api_dependencies(State(viewer): State<Viewer>) -> Response {
    json(&dependencies_json(&dependencies(&viewer.traces())))
}

async fn red_page(State(viewer): State<Viewer>) -> Response {
    let all = viewer.traces();
    html(&RedPage::new(&viewer.base, &red(&all), &Palette::of(&all)))
}

async fn api_red(State(viewer): State<Viewer>) -> Response {
    let report = red(&viewer.traces());
    let data: Vec<serde_json::Value> = report
        .operations
        .iter()
        .map(|op| {
            serde_json::json!({
                "service": op.service,
                "kind": op.kind.as_str(),
                "operation": op.operation,
                "name": op.name,
                "peer": op.peer,
                "count": op.count,
                "errors": op.errors,
                "errorRatio": op.error_ratio(),
                "rate": op.rate,
                "p50": micros(op.p50),
                "p95": micros(op.p95),
                "p99": micros(op.p99),
                "slowestTraceID": op.slowest.to_string(),
                "failingTraceID": op.failing.map(|id| id.to_string()),
            })
        })
        .collect();
    let total = data.len();
    json(&serde_json::json!({
        "data": data, "windowMicros": micros(report.window), "total": total,
        "limit": 0, "offset": 0, "errors": null,
    }))
}

/// Microseconds, as Jaeger's JSON gives durations.
fn micros(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}
