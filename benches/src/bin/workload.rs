//! Runs one benchmark workload once and prints one line:
//! `<name> <variant> <value> <unit>`, e.g. `spsc gokio 37.2 ns/op` or
//! `park gokio 812 B/goroutine`.
//!
//! Usage: `workload <name> <gokio|raw>`, or `workload --list` for the
//! workload names, one per line. The runtime is a fresh multi-thread Tokio
//! runtime with `GOMAXPROCS` worker threads (default 2), the same for both
//! variants; `GOKIO_BENCH_SCALE` (default 1.0) multiplies every count.
//! The workloads are documented in `gokio_benches` (`benches/src/lib.rs`).

use std::process::ExitCode;

use gokio_benches::{find, runtime, scale, Unit, Variant, WORKLOADS};

fn usage() -> String {
    let names: Vec<_> = WORKLOADS.iter().map(|w| w.name).collect();
    format!(
        "usage: workload <name> <gokio|raw> | workload --list\nnames: {}",
        names.join(" ")
    )
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [list] if list == "--list" => {
            for w in WORKLOADS {
                println!("{}", w.name);
            }
            ExitCode::SUCCESS
        }
        [name, variant] => {
            let Some(workload) = find(name) else {
                eprintln!("workload: unknown workload {name:?}\n{}", usage());
                return ExitCode::from(2);
            };
            let Some(variant) = Variant::parse(variant) else {
                eprintln!("workload: unknown variant {variant:?}\n{}", usage());
                return ExitCode::from(2);
            };
            let scale = scale();
            let rt = runtime();
            let m = workload.run(variant, &rt, scale);
            drop(rt);
            let value = match m.unit {
                Unit::NsPerOp => format!("{:.1}", m.value),
                Unit::BytesPerGoroutine => format!("{:.0}", m.value),
            };
            println!("{} {} {} {}", workload.name, variant.name(), value, m.unit);
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{}", usage());
            ExitCode::from(2)
        }
    }
}
