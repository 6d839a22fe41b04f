//! A concurrent file hasher: Go's worker-pool pattern as a small service.
//!
//! ```text
//! cargo run --release --example file_hasher [DIR] [WORKERS]
//! RUST_LOG=debug cargo run --release --example file_hasher crates
//! ```
//!
//! A generator goroutine walks `DIR` (default: the current directory) and
//! sends every file's path; a `gokio_patterns` worker pool hashes them on
//! `WORKERS` goroutines (default: twice `gomaxprocs()`); main prints one
//! line per file (`<hash>  <path>`, in completion order), draws a progress
//! bar on standard error from the pool's counters, and ends with a summary.
//! Ctrl-C cancels the pool's token: the workers stop taking files, the
//! hashes in progress are dropped, and the summary says how many. `RUST_LOG=debug` shows each
//! worker's span and each job's start and finish.
//!
//! The hash is 64-bit FNV-1a: a fingerprint for the demo, not a
//! cryptographic hash.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use gokio::{select, Sender};
use gokio_patterns::{generate, Progress, WorkerPool};
use tokio_util::sync::CancellationToken;

/// 64-bit FNV-1a.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// Sends every regular file under `root` (depth first, sorted per
/// directory); stops early if the consumer is gone.
async fn walk(root: PathBuf, files: Sender<PathBuf>) {
    let mut dirs = vec![root];
    while let Some(dir) = dirs.pop() {
        let Ok(mut entries) = tokio::fs::read_dir(&dir).await else {
            continue;
        };
        let mut found = Vec::new();
        while let Ok(Some(entry)) = entries.next_entry().await {
            found.push(entry.path());
        }
        found.sort();
        for path in found.into_iter().rev() {
            match tokio::fs::symlink_metadata(&path).await {
                Ok(meta) if meta.is_dir() => dirs.push(path),
                Ok(meta) if meta.is_file() && files.send(path).await.is_err() => {
                    return; // nobody hashes any more
                }
                _ => {}
            }
        }
    }
}

/// One job: read and hash a file.
async fn hash_file(path: PathBuf) -> (PathBuf, std::io::Result<(u64, usize)>) {
    let result = tokio::fs::read(&path)
        .await
        .map(|bytes| (fnv1a(&bytes), bytes.len()));
    (path, result)
}

fn draw(progress: &Progress, started: Instant) {
    let total = progress.done + progress.in_flight + progress.queued;
    let width = 30;
    let filled = (progress.done * width).checked_div(total).unwrap_or(0);
    eprint!(
        "\r[{}{}] {} done, {} hashing, {} queued, {:.1?}   ",
        "#".repeat(filled),
        ".".repeat(width - filled),
        progress.done,
        progress.in_flight,
        progress.queued,
        started.elapsed()
    );
    let _ = std::io::stderr().flush();
}

#[gokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = PathBuf::from(args.first().map_or(".", String::as_str));
    let workers = args
        .get(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(2 * gokio::gomaxprocs());

    // Ctrl-C cancels the pool, as a Go program would cancel its context.
    let cancel = CancellationToken::new();
    let on_interrupt = cancel.clone();
    gokio::go_named("ctrl-c", async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\ninterrupted: stopping the pool");
            on_interrupt.cancel();
        }
    });

    let started = Instant::now();
    let paths = generate(64, move |tx| walk(root, tx));
    let pool = WorkerPool::new(workers)
        .name("hash")
        .cancel(cancel.clone())
        .run(paths, hash_file);
    let ticker = gokio::tick(Duration::from_millis(100));
    let (mut files, mut bytes, mut errors) = (0usize, 0usize, 0usize);
    loop {
        select! {
            recv(pool.results()) -> result => match result {
                Some((path, Ok((hash, len)))) => {
                    files += 1;
                    bytes += len;
                    println!("{hash:016x}  {}", path.display());
                }
                Some((path, Err(err))) => {
                    errors += 1;
                    tracing::warn!(path = %path.display(), %err, "cannot read");
                }
                None => break,
            },
            recv(&ticker) -> _ => draw(&pool.progress(), started),
        }
    }
    let progress = pool.progress();
    draw(&progress, started);
    eprintln!();
    let skipped = if cancel.is_cancelled() {
        format!(
            ", stopped early by Ctrl-C ({} in progress dropped)",
            progress.cancelled
        )
    } else {
        String::new()
    };
    println!(
        "hashed {files} files ({bytes} bytes) with {workers} workers in {:.1?}, {errors} unreadable{skipped}",
        started.elapsed()
    );
}
