//! The seed's squares pipeline (`004_48e1de2280589ec8.txt`), composed from
//! `gokio_patterns`: a generator sends 0..9, two squaring stages share the
//! work (fan-out: both read the same channel), and `fan_in` merges their
//! outputs.
//!
//! Compare `examples/seeds/seed004_squares.rs`, the line-for-line Go
//! version with one stage. Run with `cargo run --example pipeline`.

use gokio::{Receiver, Sender};
use gokio_patterns::{fan_in, fan_out, generate};

/// One stage: squares every value until its input closes, then closes its
/// output (by dropping the sender).
fn square(input: Receiver<i32>) -> Receiver<i32> {
    generate(0, move |out: Sender<i32>| async move {
        while let Some(i) = input.recv().await {
            if out.send(i * i).await.is_err() {
                return; // nobody reads any more
            }
        }
    })
}

#[gokio::main]
async fn main() {
    let numbers = generate(0, |tx| async move {
        for i in 0..10 {
            tx.send(i).await.unwrap();
        }
    });
    let stages: Vec<Receiver<i32>> = fan_out(numbers, 2).into_iter().map(square).collect();
    let squares = fan_in(stages);

    let mut all = Vec::new();
    while let Some(i2) = squares.recv().await {
        all.push(i2);
    }
    // Two stages run concurrently, so the merge order varies; the set does not.
    all.sort_unstable();
    for i2 in &all {
        println!("{i2}");
    }
    println!("sum = {}", all.iter().sum::<i32>());
}
