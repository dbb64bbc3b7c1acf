//! Concurrent requests never see each other's context, however the runtime
//! moves their tasks between threads, and work they hand off keeps it.

use std::time::Duration;

use trace_core::{FutureExt, TraceContext};

fn assert_current(expected: &TraceContext, place: &str) {
    let current = TraceContext::current().unwrap_or_else(|| panic!("no context {place}"));
    assert_eq!(current.trace_id(), expected.trace_id(), "{place}");
    assert_eq!(current.span_id(), expected.span_id(), "{place}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_tasks_each_see_their_own_context() {
    let mut tasks = Vec::new();
    for i in 0..1000u32 {
        let cx = TraceContext::new_root(i % 2 == 0);
        let expected = cx.clone();
        let request = async move {
            for round in 0..5 {
                assert_current(&expected, "before a yield");
                // Yield and sleep so tasks interleave and migrate between workers.
                tokio::task::yield_now().await;
                if round % 2 == 0 {
                    tokio::time::sleep(Duration::from_micros(u64::from(i % 7))).await;
                }
                assert_current(&expected, "after a yield");
            }

            // A spawned task keeps the request's context with the combinator…
            let inner = expected.clone();
            let spawned = tokio::spawn(
                async move {
                    tokio::task::yield_now().await;
                    assert_current(&inner, "in a spawned task");
                }
                .in_current_context(),
            );
            spawned.await.unwrap();

            // …and blocking work with a guard.
            let current = TraceContext::current().unwrap();
            let inner = expected.clone();
            tokio::task::spawn_blocking(move || {
                let _guard = current.attach();
                assert_current(&inner, "in spawn_blocking");
            })
            .await
            .unwrap();

            // A child scope nests and restores.
            let child = expected.child();
            let seen = async { TraceContext::current().unwrap().span_id() }
                .with_trace_context(child.clone())
                .await;
            assert_eq!(seen, child.span_id());
            assert_current(&expected, "after the child scope");
            expected.trace_id()
        }
        .with_trace_context(cx);
        tasks.push(tokio::spawn(request));
    }
    let mut trace_ids = Vec::new();
    for task in tasks {
        trace_ids.push(task.await.expect("every task saw its own context"));
    }
    trace_ids.sort_unstable();
    trace_ids.dedup();
    assert_eq!(trace_ids.len(), 1000, "distinct traces");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spawned_task_without_the_combinator_sees_nothing() {
    // The negative case: it shows the test above is not passing by accident.
    async {
        let task = tokio::spawn(async { TraceContext::current().is_none() });
        assert!(task.await.unwrap());
    }
    .with_trace_context(TraceContext::new_root(true))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_context_leaks_onto_the_worker_threads() {
    let cx = TraceContext::new_root(true);
    async { tokio::task::yield_now().await }
        .with_trace_context(cx)
        .await;
    assert!(TraceContext::current().is_none());
    let leaked = tokio::spawn(async { TraceContext::current().is_some() });
    assert!(!leaked.await.unwrap());
}
