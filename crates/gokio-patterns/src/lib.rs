//! Go concurrency patterns built only on gokio's public API.
//!
//! This crate is a placeholder until the worker pool, fan-in, fan-out,
//! broadcast, generator and errgroup patterns land; see the project's
//! issue tracker.
#![forbid(unsafe_code)]
#![warn(missing_docs, rust_2018_idioms)]
