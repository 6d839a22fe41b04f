//! Seed `004_48e1de2280589ec8.txt`, "GOMAXPROCS": the scheduler runs Go code
//! on `GOMAXPROCS` OS threads, by default the number of CPU cores. The seed
//! has no program; this prints `runtime.GOMAXPROCS(0)`.
//!
//! `gokio::run` starts that many Tokio worker threads; set the `GOMAXPROCS`
//! environment variable to change it, as in Go.

fn main() {
    gokio::run(async {
        println!("GOMAXPROCS = {}", gokio::gomaxprocs()); // runtime.GOMAXPROCS(0)
    })
}
