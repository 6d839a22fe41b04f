//! Runnable gokio programs; they live beside this file as Cargo examples (`cargo run --example tour`).
