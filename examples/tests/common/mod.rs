//! Shared by the example tests: every example is built once per test
//! binary, with one `cargo build --workspace --examples`, and then run
//! directly. `--workspace` resolves features exactly as `cargo test
//! --workspace` does, so under CI the examples that run are the ones that
//! command already built (with `-p gokio-examples` Cargo would compile
//! gokio a second time, with another feature set, and link every example
//! again: time and disk a CI machine may not have).

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
        .args(["build", "--workspace", "--examples", "--manifest-path"])
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
