//! Shared by the example tests: every example is built once per test
//! binary, with one `cargo build --examples`, and then run directly.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Once;

static BUILD: Once = Once::new();

fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"),
    }
}

fn build_examples() {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let status = Command::new(env!("CARGO"))
        .args([
            "build",
            "--examples",
            "-p",
            "gokio-examples",
            "--manifest-path",
        ])
        .arg(&manifest)
        .env("CARGO_TARGET_DIR", target_dir())
        .status()
        .expect("cargo runs");
    assert!(status.success(), "cargo build --examples failed");
}

/// A command that runs the example `name` (built first, once).
pub fn example(name: &str) -> Command {
    BUILD.call_once(build_examples);
    Command::new(target_dir().join("debug/examples").join(name))
}
