//! The trace viewer over a socket (viewer): its JSON API's filters, a
//! trace's tree, the dependency edges, the critical path of a trace whose
//! answer is known, and request data rendered as text.
#![cfg(feature = "viewer")]

use std::time::{Duration, SystemTime};

use axum::{Router, routing::get};
use serde_json::Value;
use trace_core::{
    InMemoryRecorder, Recorder as _, SpanKind, Status, TraceContext, TraceId,
    record::{SpanEnd, SpanStart},
};
use trace_tower::{
    TraceContextLayer,
    viewer::{Viewer, critical_path, self_times, traces},
};

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

async fn get_json(url: &str) -> (u16, Value) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_str(&response.text().await.unwrap()).unwrap(),
    )
}

/// A page's HTML.
async fn page(url: &str) -> String {
    reqwest::get(url).await.unwrap().text().await.unwrap()
}

async fn ids(url: &str) -> Vec<String> {
    let (status, body) = get_json(url).await;
    assert_eq!(status, 200, "{url}: {body}");
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["traceID"].as_str().unwrap().to_owned())
        .collect()
}

const T0: u64 = 1_000_000;

/// Records one span of `service` from `from` to `to` milliseconds after T0.
fn span(
    store: &InMemoryRecorder,
    service: &str,
    cx: &TraceContext,
    name: &str,
    kind: SpanKind,
    (from, to): (u64, u64),
    status: Status,
) {
    let at = |ms: u64| SystemTime::UNIX_EPOCH + Duration::from_millis(T0 + ms);
    let mut start = SpanStart::new(cx, name, kind);
    start.start_time = at(from);
    let recording = store.service(service).start(start).unwrap();
    let mut end = SpanEnd::new(status);
    end.end_time = at(to);
    recording.end(end);
}

/// gateway -> users, at `offset` ms, lasting `millis`, failing or not.
fn checkout(
    store: &InMemoryRecorder,
    offset: u64,
    millis: u64,
    fail: bool,
    request: &str,
) -> TraceId {
    let server = TraceContext::new_root(true).with_correlation_id(request.parse().unwrap());
    let client = server.child();
    let users = client.child();
    let status = || {
        if fail {
            Status::error("500")
        } else {
            Status::Unset
        }
    };
    let (o, m) = (offset, millis);
    span(
        store,
        "users",
        &users,
        "GET /users/{id}",
        SpanKind::Server,
        (o + 2, o + m - 2),
        status(),
    );
    span(
        store,
        "gateway",
        &client,
        "GET",
        SpanKind::Client,
        (o + 1, o + m - 1),
        status(),
    );
    span(
        store,
        "gateway",
        &server,
        "GET /checkout",
        SpanKind::Server,
        (o, o + m),
        Status::Unset,
    );
    server.trace_id()
}

#[tokio::test]
async fn the_api_filters_as_jaeger_s_does() {
    let store = InMemoryRecorder::new(1_000);
    let fast = checkout(&store, 0, 10, false, "req-fast").to_string();
    let slow = checkout(&store, 100, 500, true, "req-slow").to_string();
    let lone = TraceContext::new_root(true);
    span(
        &store,
        "batch",
        &lone,
        "nightly",
        SpanKind::Internal,
        (1_000, 1_050),
        Status::Unset,
    );
    let lone = lone.trace_id().to_string();
    let (fast, slow, lone) = (fast.as_str(), slow.as_str(), lone.as_str());
    let base = serve(Viewer::new(store).router()).await;

    let api = |query: &str| format!("{base}/api/traces{query}");
    assert_eq!(ids(&api("")).await, [lone, slow, fast], "newest first");
    assert_eq!(ids(&api("?service=users")).await, [slow, fast]);
    assert_eq!(ids(&api("?service=batch")).await, [lone]);
    assert_eq!(ids(&api("?minDuration=300ms")).await, [slow]);
    assert_eq!(ids(&api("?maxDuration=20ms")).await, [fast]);
    assert_eq!(
        ids(&api("?minDuration=20ms&maxDuration=100ms")).await,
        [lone]
    );
    assert_eq!(ids(&api("?errors=true")).await, [slow]);
    assert_eq!(
        ids(&api("?service=gateway&tags=%7B%22error%22%3A%22true%22%7D")).await,
        [slow],
        "Jaeger's form"
    );
    assert_eq!(
        ids(&api("?service=users&operation=GET%20/users/%7Bid%7D")).await,
        [slow, fast]
    );
    assert!(
        ids(&api("?service=gateway&operation=nightly"))
            .await
            .is_empty(),
        "of that service"
    );
    assert_eq!(
        ids(&api(&format!("?lookup={fast}"))).await,
        [fast],
        "by trace id"
    );
    assert_eq!(
        ids(&api("?lookup=req-slow")).await,
        [slow],
        "by correlation id"
    );
    assert_eq!(ids(&api("?limit=1")).await, [lone]);

    let (status, body) = get_json(&api("?minDuration=soon")).await;
    assert_eq!(status, 400);
    assert!(
        body["errors"][0]["msg"]
            .as_str()
            .unwrap()
            .contains("minDuration"),
        "{body}"
    );
    let (status, _) = get_json(&format!("{base}/api/traces/{}", "0".repeat(32))).await;
    assert_eq!(status, 404);

    let (_, services) = get_json(&format!("{base}/api/services")).await;
    assert_eq!(
        services["data"],
        serde_json::json!(["batch", "gateway", "users"])
    );

    // The list page filters the same way.
    let page = page(&format!("{base}/?errors=true")).await;
    assert!(
        page.contains(&format!("data-trace-id=\"{slow}\"")),
        "{page}"
    );
    assert!(!page.contains(&format!("data-trace-id=\"{fast}\"")));
    assert!(page.contains("1 of 3"), "counts");
}

#[tokio::test]
async fn a_trace_is_its_tree_and_the_calls_are_the_edges() {
    let store = InMemoryRecorder::new(1_000);
    let failed = checkout(&store, 0, 10, true, "req-1").to_string();
    checkout(&store, 20, 10, false, "req-2");
    checkout(&store, 40, 10, false, "req-3");
    let base = serve(Viewer::new(store).router()).await;

    let (status, body) = get_json(&format!("{base}/api/traces/{failed}")).await;
    assert_eq!(status, 200);
    let trace = &body["data"][0];
    let spans = trace["spans"].as_array().unwrap();
    let names: Vec<&str> = spans
        .iter()
        .map(|s| s["operationName"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["GET /checkout", "GET", "GET /users/{id}"],
        "tree order"
    );
    for pair in spans.windows(2) {
        assert_eq!(pair[1]["references"][0]["refType"], "CHILD_OF");
        assert_eq!(
            pair[1]["references"][0]["spanID"], pair[0]["spanID"],
            "each the child of the one above"
        );
    }
    let process = |span: &Value| {
        trace["processes"][span["processID"].as_str().unwrap()]["serviceName"].clone()
    };
    assert_eq!(process(&spans[2]), "users");
    let tags = |span: &Value| -> Vec<(String, Value)> {
        span["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["key"].as_str().unwrap().to_owned(), t["value"].clone()))
            .collect()
    };
    assert!(tags(&spans[2]).contains(&("error".to_owned(), Value::Bool(true))));
    assert!(tags(&spans[2]).contains(&("otel.status_description".to_owned(), "500".into())));
    assert!(tags(&spans[2]).contains(&("span.kind".to_owned(), "server".into())));

    let (_, deps) = get_json(&format!("{base}/api/dependencies")).await;
    assert_eq!(
        deps["data"],
        serde_json::json!([{
            "parent": "gateway", "child": "users", "callCount": 3, "errorCount": 1, "protocol": "HTTP"
        }])
    );
    let page = page(&format!("{base}/dependencies")).await;
    assert!(
        page.contains(r#"data-parent="gateway" data-child="users" data-calls="3" data-errors="1""#),
        "{page}"
    );
    assert!(page.contains("<svg"));
}

#[tokio::test]
async fn the_critical_path_is_the_chain_that_set_the_duration() {
    // root 0-100 with children A 10-40, D 15-20 (inside A's time) and
    // B 30-90; B's child C 50-80. Back from the end: root 90-100, B (C
    // 50-80, B's own 80-90 and 30-50), then A 10-30 (A's end is covered
    // by B), then root 0-10. D never determined anything.
    let store = InMemoryRecorder::new(100);
    let root = TraceContext::new_root(true);
    let (a, b, d) = (root.child(), root.child(), root.child());
    let c = b.child();
    let ok = || Status::Unset;
    span(&store, "s", &root, "root", SpanKind::Server, (0, 100), ok());
    span(&store, "s", &a, "A", SpanKind::Internal, (10, 40), ok());
    span(&store, "s", &d, "D", SpanKind::Internal, (15, 20), ok());
    span(&store, "s", &b, "B", SpanKind::Internal, (30, 90), ok());
    span(&store, "s", &c, "C", SpanKind::Internal, (50, 80), ok());
    let trace = &traces(store.finished())[0];

    let name = |id| {
        trace
            .spans
            .iter()
            .find(|r| r.span.span_id == id)
            .unwrap()
            .span
            .name
            .clone()
    };
    let ms = |t: SystemTime| {
        let since = t
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_millis();
        u64::try_from(since).unwrap() - T0
    };
    let path: Vec<(String, u64, u64)> = critical_path(trace)
        .into_iter()
        .map(|s| (name(s.span_id), ms(s.start), ms(s.end)))
        .collect();
    let expected = [
        ("root", 0, 10),
        ("A", 10, 30),
        ("B", 30, 50),
        ("C", 50, 80),
        ("B", 80, 90),
        ("root", 90, 100),
    ];
    assert_eq!(path, expected.map(|(n, from, to)| (n.to_owned(), from, to)));
    let selves = self_times(trace);
    let own = |id| selves[&id].as_millis();
    assert_eq!(
        [
            own(root.span_id()),
            own(a.span_id()),
            own(b.span_id()),
            own(c.span_id()),
            own(d.span_id())
        ],
        [20, 30, 30, 30, 5]
    );

    // The page marks the same spans.
    let base = serve(Viewer::new(store.clone()).router()).await;
    let page = page(&format!("{base}/traces/{}", root.trace_id())).await;
    for (cx, critical) in [
        (&root, true),
        (&a, true),
        (&b, true),
        (&c, true),
        (&d, false),
    ] {
        let marker = format!("data-span-id=\"{}\"", cx.span_id());
        let row = page
            .split(&marker)
            .nth(1)
            .unwrap_or_else(|| panic!("{marker}: {page}"));
        let row = &row[..row.find('>').unwrap()];
        assert!(
            row.contains(&format!("data-critical=\"{critical}\"")),
            "{marker}{row}"
        );
    }
}

#[tokio::test]
async fn request_data_renders_as_text() {
    let store = InMemoryRecorder::new(1_000);
    let app = serve(
        Router::new()
            .route("/{*rest}", get(|| async { "ok" }))
            .layer(TraceContextLayer::new().recorder(store.clone())),
    )
    .await;
    let hostile = "<script>alert(1)</script>\"'&";
    let response = reqwest::Client::new()
        .get(format!("{app}/%3Cscript%3Ealert(2)%3C/script%3E"))
        .header("user-agent", hostile)
        .header("x-request-id", "<b>id</b>")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let viewer = serve(Viewer::new(store.clone()).router()).await;
    let id = store.finished()[0].trace_id;

    for page in [
        format!("{viewer}/traces/{id}"),
        format!("{viewer}/?lookup=%3Cb%3Eid%3C/b%3E"),
    ] {
        let response = reqwest::get(&page).await.unwrap();
        let policy = response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            policy.starts_with("default-src 'none'"),
            "no script may run: {policy}"
        );
        let body = response.text().await.unwrap();
        assert!(!body.contains("<script"), "{page}: {body}");
        assert!(!body.contains("<b>id"), "{page}");
    }
    let body = page(&format!("{viewer}/traces/{id}")).await;
    // As text, escaped: the user agent and the correlation ID.
    assert!(
        body.contains("&#60;script&#62;alert(1)&#60;/script&#62;")
            || body.contains("&lt;script&gt;alert(1)"),
        "{body}"
    );
    assert!(
        body.contains("&#60;b&#62;id&#60;/b&#62;") || body.contains("&lt;b&gt;id"),
        "{body}"
    );
}

#[tokio::test]
async fn nested_under_a_path_its_links_stay_inside() {
    let store = InMemoryRecorder::new(100);
    // A failure, so that the RED page links to its search too.
    let id = checkout(&store, 0, 10, true, "req-1");
    let app = Router::new().nest("/viewer", Viewer::new(store).at("/viewer").router());
    let base = serve(app).await;
    for path in [
        "/viewer",
        &format!("/viewer/traces/{id}"),
        "/viewer/dependencies",
        "/viewer/red",
    ] {
        let response = reqwest::get(format!("{base}{path}")).await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let body = response.text().await.unwrap();
        for link in body.split("href=\"").skip(1) {
            assert!(
                link.starts_with("/viewer/") || link.starts_with("/viewer\""),
                "{path}: {}",
                &link[..40.min(link.len())]
            );
        }
    }
}

/// The app's own attributes and events: events as marks on the bar and
/// lines in the details (an exception in red), Jaeger's `logs`, and the
/// search by attribute, one tag or several, in the API and the form.
#[tokio::test]
async fn events_show_and_attributes_find_their_traces() {
    use trace_core::{Attribute, ServerTracing, SpanRef};

    let store = InMemoryRecorder::new(1_000);
    let tracing = ServerTracing::new().recorder(store.service("orders"));
    let mut made = Vec::new();
    for (user, status) in [(7, 200), (8, 500), (7, 500)] {
        let started = tracing.start(&http::Request::new(()), Some("/orders"), None);
        let (_, context) = started.context.scope(|| {
            let span = SpanRef::current();
            span.set_attribute("user.id", i64::from(user));
            span.set_attribute("http.response.status_code", i64::from(status));
            span.add_event("cache.miss", [Attribute::new("cache.key", "orders:7")]);
            trace_core::span("db.query").in_scope(|_| ());
            if status == 500 {
                span.record_error(&std::io::Error::other("declined"));
            }
        });
        made.push(context.trace_id().to_string());
        tracing.failed::<std::io::Error>(started.span, &context);
    }
    let base = serve(Viewer::new(store).router()).await;
    let api = |query: &str| format!("{base}/api/traces{query}");

    assert_eq!(
        ids(&api("?tags=user.id%3D7")).await,
        [made[2].as_str(), made[0].as_str()]
    );
    assert_eq!(
        ids(&api("?tags=user.id%3D7%20http.response.status_code%3D500")).await,
        [made[2].as_str()],
        "several tags, on one span"
    );
    assert_eq!(
        ids(&api("?tags=%7B%22user.id%22%3A%228%22%7D")).await,
        [made[1].as_str()],
        "Jaeger's JSON form"
    );
    assert!(ids(&api("?tags=user.id%3D9")).await.is_empty());
    let (status, body) = get_json(&api("?tags=user.id")).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["errors"][0]["msg"].as_str().unwrap().contains("tags"));

    // Jaeger's logs.
    let (_, trace) = get_json(&format!("{base}/api/traces/{}", made[1])).await;
    let spans = trace["data"][0]["spans"].as_array().unwrap();
    let server = spans
        .iter()
        .find(|s| s["operationName"] == "GET /orders")
        .unwrap();
    let logs = server["logs"].as_array().unwrap();
    assert_eq!(logs.len(), 2, "{server}");
    assert_eq!(
        logs[0]["fields"][0],
        serde_json::json!({"key": "event", "type": "string", "value": "cache.miss"})
    );
    assert_eq!(logs[1]["fields"][0]["value"], "exception");
    assert!(
        logs[1]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["key"] == "exception.message" && f["value"] == "declined")
    );
    assert!(
        spans.iter().any(|s| s["operationName"] == "db.query"),
        "the internal span is in the trace"
    );

    // The page: marks and details.
    let html = page(&format!("{base}/traces/{}", made[1])).await;
    assert_eq!(html.matches("class=\"mark\"").count(), 1, "the cache miss");
    assert_eq!(
        html.matches("class=\"mark exception\"").count(),
        1,
        "the exception, in red"
    );
    assert!(html.contains("cache.key=orders:7"), "{html}");
    assert!(html.contains("exception.message=declined"));
    assert!(html.contains("db.query"));
    let form = page(&format!("{base}/?tags=user.id%3D8")).await;
    assert!(form.contains(&format!("data-trace-id=\"{}\"", made[1])));
    assert!(!form.contains(&format!("data-trace-id=\"{}\"", made[0])));
    assert!(
        form.contains("value=\"user.id=8\""),
        "the form keeps what was typed"
    );
}

/// Mounted on a traced router after its layers, the viewer answers with
/// and without the trailing slash, and its own page views are not traced
/// into the store it shows.
#[tokio::test]
async fn nested_under_a_traced_router_it_does_not_record_itself() {
    let store = InMemoryRecorder::new(100);
    // As the README used to show: nested, then the layer over everything.
    let app = Router::new()
        .route("/hello", get(|| async { "hello" }))
        .nest("/viewer", Viewer::new(store.clone()).at("/viewer").router())
        .layer(TraceContextLayer::new().recorder(store.clone()));
    let base = serve(app).await;
    assert_eq!(page(&format!("{base}/hello")).await, "hello");
    for path in [
        "/viewer",
        "/viewer/dependencies",
        "/viewer/red",
        "/viewer/api/traces",
        "/viewer/api/red",
        "/viewer/nothing-here",
    ] {
        let response = reqwest::get(format!("{base}{path}")).await.unwrap();
        assert!(
            response.headers().contains_key("x-request-id"),
            "{path}: still propagated"
        );
    }
    let names: Vec<_> = store.finished().iter().map(|s| s.name.clone()).collect();
    assert_eq!(
        names,
        ["GET /hello"],
        "the viewer's own requests are not in the store"
    );
}

#[tokio::test]
async fn mounted_after_the_layers_it_does_not_record_itself() {
    let store = InMemoryRecorder::new(100);
    let app = Router::new()
        .route("/hello", get(|| async { "hello" }))
        .layer(TraceContextLayer::new().recorder(store.clone()));
    let base = serve(Viewer::new(store.clone()).mount(app, "/viewer")).await;
    assert_eq!(page(&format!("{base}/hello")).await, "hello");
    let id = store.finished()[0].trace_id;
    for path in [
        "/viewer".to_owned(),
        "/viewer/".to_owned(),
        format!("/viewer/traces/{id}"),
        "/viewer/dependencies".to_owned(),
        "/viewer/red".to_owned(),
        "/viewer/api/traces".to_owned(),
        "/viewer/nothing-here".to_owned(),
    ] {
        let response = reqwest::get(format!("{base}{path}")).await.unwrap();
        let expected = if path.ends_with("nothing-here") {
            404
        } else {
            200
        };
        assert_eq!(response.status(), expected, "{path}");
    }
    let list = page(&format!("{base}/viewer/")).await;
    assert!(
        list.contains(&format!("data-trace-id=\"{id}\"")),
        "the list, under the slash too"
    );
    let names: Vec<_> = store.finished().iter().map(|s| s.name.clone()).collect();
    assert_eq!(
        names,
        ["GET /hello"],
        "the viewer's own requests are not in the store"
    );
}

#[tokio::test]
async fn the_red_page_counts_each_operation_and_links_to_its_traces() {
    let store = InMemoryRecorder::new(1_000);
    checkout(&store, 0, 10, false, "req-1");
    let slow = checkout(&store, 1_000, 500, true, "req-2").to_string();
    checkout(&store, 3_000, 20, false, "req-3");
    let base = serve(Viewer::new(store).router()).await;

    let (status, red) = get_json(&format!("{base}/api/red")).await;
    assert_eq!(status, 200);
    // From the first start (T0) to the last end (T0 + 3,020 ms).
    assert_eq!(red["windowMicros"], 3_020_000);
    let rows: Vec<(&str, &str, &str, u64, u64)> = red["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["service"].as_str().unwrap(),
                r["kind"].as_str().unwrap(),
                r["operation"].as_str().unwrap(),
                r["count"].as_u64().unwrap(),
                r["errors"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("gateway", "server", "GET /checkout", 3, 0),
            ("gateway", "client", "GET", 3, 1),
            ("users", "server", "GET /users/{id}", 3, 1),
        ]
    );
    let users = &red["data"][2];
    assert_eq!(users["slowestTraceID"], slow.as_str());
    assert_eq!(users["failingTraceID"], slow.as_str());
    assert_eq!(users["p50"], 16_000, "the middle of 6, 16 and 496 ms");
    assert_eq!(users["p99"], 496_000);
    let rate = users["rate"].as_f64().unwrap();
    assert!((rate - 3.0 / 3.02).abs() < 1e-9, "{rate}");

    let html = page(&format!("{base}/red")).await;
    assert!(
        html.contains("data-operation=\"GET /users/{id}\""),
        "{html}"
    );
    assert!(html.contains(&format!("href=\"/traces/{slow}\"")), "{html}");
    // The failing link is the list's search, and finds that trace alone.
    let failing = html
        .split("class=\"failing\" href=\"")
        .nth(2)
        .and_then(|rest| rest.split('"').next())
        .expect("the users row links its failures")
        .replace("&amp;", "&")
        .replace("&#38;", "&");
    assert!(failing.contains("service=users"), "{failing}");
    let listed = page(&format!("{base}{failing}")).await;
    assert!(listed.contains("1 of 3"), "{listed}");
    assert!(listed.contains(&format!("data-trace-id=\"{slow}\"")));
    // As in Jaeger's search, the span conditions hold for one span: the
    // gateway's checkout never failed, though a span of its trace did.
    let api =
        |query: &str| format!("{base}/api/traces?service=gateway&operation=GET%20/checkout{query}");
    assert!(ids(&api("&tags=error%3Dtrue")).await.is_empty());
    assert_eq!(ids(&api("&errors=true")).await, [slow.as_str()]);
    assert_eq!(ids(&api("&tags=error%3Dfalse")).await.len(), 3);
}
