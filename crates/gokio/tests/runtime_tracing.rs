//! Every goroutine runs in a `tracing` span `goroutine` with fields `id` and
//! (for `go_named`) `name`, entered on every poll, so events inside it are
//! attributed to it. The span is checked with a recording subscriber layer,
//! installed globally because goroutines run on the runtime's threads.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// A span's name and recorded fields.
type SpanInfo = (String, HashMap<String, String>);

#[derive(Default)]
struct Seen {
    /// Span id -> its name and fields.
    spans: HashMap<u64, SpanInfo>,
    /// Span id -> times entered.
    enters: HashMap<u64, usize>,
    /// Event message -> fields of the span current at the event.
    events: Vec<(String, Option<SpanInfo>)>,
}

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Seen>>);

#[derive(Default)]
struct Fields(HashMap<String, String>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Recorder {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        let name = attrs.metadata().name().to_string();
        self.0
            .lock()
            .unwrap()
            .spans
            .insert(id.into_u64(), (name, fields.0));
    }

    fn on_enter(&self, id: &Id, _: Context<'_, S>) {
        *self
            .0
            .lock()
            .unwrap()
            .enters
            .entry(id.into_u64())
            .or_default() += 1;
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let message = fields.0.remove("message").unwrap_or_default();
        let mut seen = self.0.lock().unwrap();
        let current = ctx
            .lookup_current()
            .and_then(|span| seen.spans.get(&span.id().into_u64()).cloned());
        seen.events.push((message, current));
    }
}

#[test]
fn goroutines_run_in_spans_entered_on_every_poll() {
    let recorder = Recorder::default();
    let subscriber = tracing_subscriber::registry().with(recorder.clone());
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");

    let (worker_id, rounds) = gokio::run(async {
        tracing::info!("in main");
        let (ping, pong) = (gokio::chan::<u32>(0), gokio::chan::<u32>(0));
        let (ping_rx, pong_tx) = (ping.receiver(), pong.sender());
        let worker = gokio::go_named("echo", async move {
            tracing::info!("echo starts");
            let mut rounds = 0;
            while let Some(v) = ping_rx.recv().await {
                pong_tx.send(v).await.unwrap();
                rounds += 1;
            }
            tracing::info!("echo ends");
            rounds
        });
        let worker_id = worker.id();
        for i in 0..5 {
            ping.send(i).await.unwrap();
            assert_eq!(pong.recv().await, Some(i));
        }
        drop(ping);
        (worker_id, worker.await.unwrap())
    });
    assert_eq!(rounds, 5);

    let seen = recorder.0.lock().unwrap();
    let span_of = |message: &str| {
        seen.events
            .iter()
            .find(|(m, _)| m == message)
            .and_then(|(_, span)| span.clone())
            .unwrap_or_else(|| panic!("no span current at {message:?}"))
    };
    let (name, fields) = span_of("in main");
    assert_eq!(name, "goroutine");
    assert_eq!(fields.get("id").map(String::as_str), Some("1"));

    for message in ["echo starts", "echo ends"] {
        let (name, fields) = span_of(message);
        assert_eq!(name, "goroutine");
        assert_eq!(fields.get("id"), Some(&worker_id.to_string()));
        assert_eq!(fields.get("name").map(String::as_str), Some("echo"));
    }

    // The echo goroutine waited at least once per round, so its span was
    // entered on many polls, not just once.
    let (echo_span, _) = seen
        .spans
        .iter()
        .find(|(_, (_, f))| f.get("name").map(String::as_str) == Some("echo"))
        .expect("the echo goroutine's span");
    let enters = seen.enters.get(echo_span).copied().unwrap_or(0);
    assert!(enters > 5, "entered {enters} times");
}
