//! A trace viewer over the spans an application recorded (feature
//! `viewer`): the traces grouped and queried, the calls between services,
//! and the JSON of Jaeger's query API.
//!
//! The spans come from an [`InMemoryRecorder`](trace_core::InMemoryRecorder)
//! (or any list of [`FinishedSpan`](trace_core::FinishedSpan)s):
//!
//! ```
//! use trace_core::InMemoryRecorder;
//! use trace_tower::viewer::{TraceQuery, dependencies, traces, traces_json};
//!
//! let store = InMemoryRecorder::new(10_000);
//! // ... the application records into `store` ...
//! let all = traces(store.finished());
//! let failed: Vec<_> = all
//!     .into_iter()
//!     .filter(|t| TraceQuery { errors: true, ..TraceQuery::default() }.matches(t))
//!     .collect();
//! let json = traces_json(&failed);
//! assert_eq!(json["data"].as_array().map(Vec::len), Some(0));
//! # let _ = dependencies(&failed);
//! ```
//!
//! Span data comes from requests (paths, user agents): show it only to
//! those who may see it.

mod analysis;
mod jaeger;
mod model;
mod pages;
mod query;
mod red;
mod service;

pub use self::{
    analysis::{Operation, Segment, critical_path, self_times, slowest_operations},
    jaeger::{dependencies_json, traces_json},
    model::{Dependency, Row, Trace, TraceQuery, dependencies, traces},
    pages::human,
    query::parse_duration,
    red::{MIN_WINDOW, Red, RedOperation, red},
    service::{SpanSource, Viewer},
};
