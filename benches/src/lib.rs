//! Benchmarks for gokio; the criterion benches live in `benches/` beside this file (`cargo bench -p gokio-benches`).
