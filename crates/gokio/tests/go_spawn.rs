//! `go f()`: spawning goroutines, their handles and their ids.

use std::collections::HashSet;

use gokio::{chan, go, Goroutine};

#[tokio::test]
async fn ids_are_unique_and_increasing() {
    let goroutines: Vec<Goroutine<usize>> = (0..20).map(|i| go(async move { i })).collect();
    let ids: Vec<u64> = goroutines.iter().map(Goroutine::id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    assert!(ids[0] >= 2, "id 1 belongs to main, as in Go");
    for (g, id) in goroutines.iter().zip(&ids) {
        assert!(format!("{g:?}").contains(&format!("id: {id}")));
    }
    for (i, g) in goroutines.into_iter().enumerate() {
        let id = g.id();
        assert_eq!(g.await.unwrap(), i, "goroutine {id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ids_are_unique_across_threads() {
    let spawners: Vec<_> = (0..8)
        .map(|_| {
            go(async {
                let ids: Vec<u64> = (0..50).map(|_| go(async {}).id()).collect();
                assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
                ids
            })
        })
        .collect();
    let mut all = HashSet::new();
    for s in spawners {
        for id in s.await.unwrap() {
            assert!(all.insert(id), "id {id} handed out twice");
        }
    }
    assert_eq!(all.len(), 400);
}

#[tokio::test]
async fn awaiting_gives_the_output() {
    assert_eq!(go(async { "out".to_string() }).await.unwrap(), "out");

    let ch = chan::<u32>(0);
    let tx = ch.sender();
    let g = go(async move {
        tx.send(1).await.unwrap();
        tx.send(2).await.unwrap();
        "sent"
    });
    assert_eq!(ch.recv().await, Some(1));
    assert_eq!(ch.recv().await, Some(2));
    assert_eq!(g.await.unwrap(), "sent");
}

#[tokio::test]
async fn is_finished_once_the_goroutine_returns() {
    let (gate, done) = (chan::<()>(0), chan::<()>(1));
    let (gate_rx, done_tx) = (gate.receiver(), done.sender());
    let g = go(async move {
        gate_rx.recv().await;
        done_tx.send(()).await.unwrap();
    });
    assert!(!g.is_finished(), "it waits at the gate");
    gate.send(()).await.unwrap();
    done.recv().await.unwrap();
    // On this one-thread runtime the goroutine ran to its end before the
    // receive above returned.
    assert!(g.is_finished());
    g.await.unwrap();
}

#[tokio::test]
async fn a_panicking_goroutine_reports_the_panic() {
    let g = go(async {
        panic!("boom");
    });
    let err = g.await.unwrap_err();
    assert!(err.is_panic());
    assert!(!err.is_cancelled());
    let payload = err.into_panic();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
    // Only that goroutine ended.
    assert_eq!(go(async { 1 }).await.unwrap(), 1);
}

#[tokio::test]
async fn abort_cancels_the_goroutine() {
    let ch = chan::<u32>(0);
    let tx = ch.sender();
    let rx = ch.receiver();
    drop(ch);
    let mut g = go(async move {
        // Holds the channel's only sender while it waits forever.
        let _tx = tx;
        std::future::pending::<()>().await;
    });
    assert!(!g.is_finished());
    g.abort();
    let err = (&mut g).await.unwrap_err();
    assert!(err.is_cancelled());
    assert!(!err.is_panic());
    assert!(g.is_finished());
    // The aborted goroutine's future was dropped, and with it the sender.
    assert_eq!(rx.recv().await, None);

    // Aborting a finished goroutine changes nothing.
    let mut g = go(async { 5 });
    assert_eq!((&mut g).await.unwrap(), 5);
    g.abort();
    assert!(g.is_finished());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_handle_detaches() {
    let (gate, done) = (chan::<()>(0), chan::<u32>(0));
    let (gate_rx, done_tx) = (gate.receiver(), done.sender());
    drop(go(async move {
        gate_rx.recv().await.unwrap();
        done_tx.send(42).await.unwrap();
    }));
    // The goroutine is alive: it takes the rendezvous, then reports.
    gate.send(()).await.unwrap();
    assert_eq!(done.recv().await, Some(42));
}

#[test]
fn go_outside_a_runtime_panics_naming_gokio_run() {
    let err = std::panic::catch_unwind(|| {
        drop(go(async {}));
    })
    .expect_err("go outside a runtime must panic");
    let msg = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .expect("a text panic message");
    assert!(msg.contains("gokio::run"), "{msg}");
    assert!(msg.contains("#[gokio::main]"), "{msg}");
    assert!(msg.contains("#[tokio::main]"), "{msg}");
}

/// A minimal `tracing` subscriber that records which span each event was
/// emitted in (gokio depends on `tracing`; no subscriber crate is needed).
mod capture {
    use std::fmt::Debug;
    use std::sync::{Arc, Mutex};

    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Metadata, Subscriber};

    /// A span: its name and its `id` field.
    pub type SpanInfo = (&'static str, Option<u64>);

    #[derive(Default)]
    struct State {
        spans: Vec<SpanInfo>,
        stack: Vec<u64>,
        events: Vec<(String, Option<SpanInfo>)>,
    }

    #[derive(Clone, Default)]
    pub struct Capture(Arc<Mutex<State>>);

    impl Capture {
        /// Every event's message and the span it was emitted in.
        pub fn events(&self) -> Vec<(String, Option<SpanInfo>)> {
            self.0.lock().unwrap().events.clone()
        }
    }

    #[derive(Default)]
    struct Fields {
        id: Option<u64>,
        message: String,
    }

    impl Visit for Fields {
        fn record_u64(&mut self, field: &Field, value: u64) {
            if field.name() == "id" {
                self.id = Some(value);
            }
        }

        fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
            if field.name() == "message" {
                self.message = format!("{value:?}");
            }
        }
    }

    impl Subscriber for Capture {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }

        fn new_span(&self, attrs: &Attributes<'_>) -> Id {
            let mut fields = Fields::default();
            attrs.record(&mut fields);
            let mut state = self.0.lock().unwrap();
            state.spans.push((attrs.metadata().name(), fields.id));
            Id::from_u64(state.spans.len() as u64)
        }

        fn record(&self, _: &Id, _: &Record<'_>) {}

        fn record_follows_from(&self, _: &Id, _: &Id) {}

        fn event(&self, event: &Event<'_>) {
            let mut fields = Fields::default();
            event.record(&mut fields);
            let mut state = self.0.lock().unwrap();
            let current = state.stack.last().map(|&id| state.spans[id as usize - 1]);
            state.events.push((fields.message, current));
        }

        fn enter(&self, span: &Id) {
            self.0.lock().unwrap().stack.push(span.into_u64());
        }

        fn exit(&self, span: &Id) {
            let mut state = self.0.lock().unwrap();
            if let Some(i) = state.stack.iter().rposition(|&id| id == span.into_u64()) {
                state.stack.remove(i);
            }
        }
    }
}

/// Set in the child process that runs the span check alone.
const SPAN_CHILD: &str = "GOKIO_TEST_GO_SPAN_CHILD";

#[test]
fn goroutines_run_inside_a_goroutine_span_with_their_id() {
    // `tracing` caches each callsite's interest process-wide. A goroutine
    // spawned by another test of this binary while `set_default` below runs
    // can leave the `goroutine` span cached as disabled, so the check runs
    // alone, in a child process of this test binary.
    if std::env::var_os(SPAN_CHILD).is_none() {
        let name = "goroutines_run_inside_a_goroutine_span_with_their_id";
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", name, "--test-threads=1"])
            .env(SPAN_CHILD, "1")
            .output()
            .expect("run the test binary");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stdout}{stderr}");
        assert!(
            stdout.contains("1 passed"),
            "the child ran no test: {stdout}"
        );
        return;
    }
    let capture = capture::Capture::default();
    // Thread-local: the one-thread runtime below polls every task here.
    let _guard = tracing::subscriber::set_default(capture.clone());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (a, b) = rt.block_on(async {
        tracing::info!("outside");
        let a = go(async {
            tracing::info!("in a");
            tokio::task::yield_now().await;
            tracing::info!("in a, after a yield");
        });
        let b = go(async { tracing::info!("in b") });
        let ids = (a.id(), b.id());
        a.await.unwrap();
        b.await.unwrap();
        ids
    });
    let events = capture.events();
    let span_of = |msg: &str| {
        events
            .iter()
            .find(|(m, _)| m == msg)
            .unwrap_or_else(|| panic!("no event {msg:?} in {events:?}"))
            .1
    };
    assert_eq!(span_of("outside"), None);
    assert_eq!(span_of("in a"), Some(("goroutine", Some(a))));
    assert_eq!(span_of("in a, after a yield"), Some(("goroutine", Some(a))));
    assert_eq!(span_of("in b"), Some(("goroutine", Some(b))));
}
