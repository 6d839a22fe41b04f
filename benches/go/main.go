// Command gokiobench runs one of the gokio benchmark workloads written in
// idiomatic Go, so that benches/compare.sh can put Go, gokio and raw
// tokio + async-channel side by side.
//
// Usage:
//
//	gobench <workload>   prints exactly one line: "<workload> go <value> <unit>"
//	gobench --list       prints the workload names, one per line
//
// Every element count is multiplied by the environment variable
// GOKIO_BENCH_SCALE (a float, default 1.0). GOMAXPROCS is taken from the
// environment by the Go runtime itself; compare.sh sets it to 2.
//
// The workload definitions match the Rust runner (benches, bin "workload"):
//
//	spawn     1M goroutines, each does wg.Done(); main wg.Wait().    ns per goroutine
//	park      100k goroutines parked on a receive from one unbuffered
//	          channel. Bytes per goroutine = growth of runtime.MemStats.Sys
//	          (memory obtained from the OS: stacks, heap, runtime metadata)
//	          between before spawning and once all are parked.     B/goroutine
//	pingpong  two unbuffered channels, 500k round trips.              ns per round trip
//	spsc      one producer, one consumer, cap 128, 5M ints.           ns per message
//	mpmc      4 producers x 4 consumers, one channel cap 128, 4M total. ns per message
//	mpmc0     4 producers x 4 consumers, unbuffered, 1M total.        ns per message
//	select    4 producers each on its own cap-128 channel, 1 consumer
//	          selecting over the 4, 2M total.                        ns per message
//	pool      8 workers read 1M jobs x from a jobs channel (cap 128),
//	          write x*2 to a results channel (cap 128); a producer
//	          goroutine feeds jobs, main sums the results.           ns per job
//	fanin     8 producers each on its own channel (cap 128); one
//	          forwarding goroutine per source copies into one merged
//	          channel (cap 128); main receives 2M.                   ns per message
//	pipeline  3 stages, like the seed's squares pipeline: a generator,
//	          a doubling stage, and main summing; two unbuffered
//	          channels, 1M items.                                   ns per item
//	wg        8 goroutines each do 100k wg.Add(1)/wg.Done() pairs on one
//	          shared WaitGroup.                                      ns per pair
//	mutex     8 goroutines each do 100k Lock/counter++/Unlock on one
//	          sync.Mutex.                                            ns per lock
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

// capBuffered is the capacity of every buffered channel in the workloads.
const capBuffered = 128

type workload struct {
	name string
	run  func() (float64, string)
}

var workloads = []workload{
	{"spawn", spawn},
	{"park", park},
	{"pingpong", pingpong},
	{"spsc", spsc},
	{"mpmc", func() (float64, string) { return mpmc(4_000_000, capBuffered) }},
	{"mpmc0", func() (float64, string) { return mpmc(1_000_000, 0) }},
	{"select", selectBench},
	{"pool", pool},
	{"fanin", fanin},
	// gokio's pattern-library versions of pool and fanin; the Go programs
	// are the same.
	{"pool-patterns", pool},
	{"fanin-patterns", fanin},
	{"pipeline", pipeline},
	{"wg", wgBench},
	{"mutex", mutexBench},
}

// scale is GOKIO_BENCH_SCALE, read once in main.
var scale = 1.0

// count scales a base element count, never below 1.
func count(base int) int {
	n := int(float64(base) * scale)
	if n < 1 {
		n = 1
	}
	return n
}

// perOp returns nanoseconds per operation.
func perOp(d time.Duration, ops int) (float64, string) {
	return float64(d.Nanoseconds()) / float64(ops), "ns/op"
}

// sink keeps results observable so the compiler cannot drop the work.
var sink int64

func spawn() (float64, string) {
	n := count(1_000_000)
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func() { wg.Done() }()
	}
	wg.Wait()
	return perOp(time.Since(start), n)
}

func park() (float64, string) {
	n := count(100_000)
	ch := make(chan struct{})
	var ready, done sync.WaitGroup
	ready.Add(n)
	done.Add(n)

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)

	for i := 0; i < n; i++ {
		go func() {
			ready.Done()
			<-ch
			done.Done()
		}()
	}
	ready.Wait()
	// Done() runs just before the receive; yield a little so every
	// goroutine actually reaches the receive and parks.
	for i := 0; i < 100; i++ {
		runtime.Gosched()
	}
	runtime.ReadMemStats(&after)

	close(ch)
	done.Wait()
	grown := float64(after.Sys) - float64(before.Sys)
	return grown / float64(n), "B/goroutine"
}

func pingpong() (float64, string) {
	n := count(500_000)
	ping := make(chan int)
	pong := make(chan int)
	go func() {
		for v := range ping {
			pong <- v
		}
	}()
	start := time.Now()
	for i := 0; i < n; i++ {
		ping <- i
		sink += int64(<-pong)
	}
	d := time.Since(start)
	close(ping)
	return perOp(d, n)
}

func spsc() (float64, string) {
	n := count(5_000_000)
	ch := make(chan int, capBuffered)
	start := time.Now()
	go func() {
		for i := 0; i < n; i++ {
			ch <- i
		}
		close(ch)
	}()
	var sum int64
	for v := range ch {
		sum += int64(v)
	}
	d := time.Since(start)
	sink += sum
	return perOp(d, n)
}

// mpmc: 4 producers and 4 consumers on one channel of the given capacity.
func mpmc(base, capacity int) (float64, string) {
	const producers, consumers = 4, 4
	per := count(base) / producers
	if per < 1 {
		per = 1
	}
	total := per * producers
	ch := make(chan int, capacity)
	var prodWG, consWG sync.WaitGroup
	sums := make([]int64, consumers)
	start := time.Now()
	prodWG.Add(producers)
	for p := 0; p < producers; p++ {
		go func() {
			defer prodWG.Done()
			for i := 0; i < per; i++ {
				ch <- i
			}
		}()
	}
	consWG.Add(consumers)
	for c := 0; c < consumers; c++ {
		c := c
		go func() {
			defer consWG.Done()
			var s int64
			for v := range ch {
				s += int64(v)
			}
			sums[c] = s
		}()
	}
	prodWG.Wait()
	close(ch)
	consWG.Wait()
	d := time.Since(start)
	for _, s := range sums {
		sink += s
	}
	return perOp(d, total)
}

func selectBench() (float64, string) {
	const producers = 4
	per := count(2_000_000) / producers
	if per < 1 {
		per = 1
	}
	total := per * producers
	chs := make([]chan int, producers)
	for i := range chs {
		chs[i] = make(chan int, capBuffered)
	}
	start := time.Now()
	for _, ch := range chs {
		ch := ch
		go func() {
			for i := 0; i < per; i++ {
				ch <- i
			}
		}()
	}
	c0, c1, c2, c3 := chs[0], chs[1], chs[2], chs[3]
	var sum int64
	for got := 0; got < total; got++ {
		select {
		case v := <-c0:
			sum += int64(v)
		case v := <-c1:
			sum += int64(v)
		case v := <-c2:
			sum += int64(v)
		case v := <-c3:
			sum += int64(v)
		}
	}
	d := time.Since(start)
	sink += sum
	return perOp(d, total)
}

func pool() (float64, string) {
	const workers = 8
	n := count(1_000_000)
	jobs := make(chan int, capBuffered)
	results := make(chan int, capBuffered)
	start := time.Now()
	go func() {
		for i := 0; i < n; i++ {
			jobs <- i
		}
		close(jobs)
	}()
	var wg sync.WaitGroup
	wg.Add(workers)
	for w := 0; w < workers; w++ {
		go func() {
			defer wg.Done()
			for x := range jobs {
				results <- x * 2
			}
		}()
	}
	go func() {
		wg.Wait()
		close(results)
	}()
	var sum int64
	for r := range results {
		sum += int64(r)
	}
	d := time.Since(start)
	sink += sum
	return perOp(d, n)
}

func fanin() (float64, string) {
	const producers = 8
	per := count(2_000_000) / producers
	if per < 1 {
		per = 1
	}
	total := per * producers
	merged := make(chan int, capBuffered)
	var fwd sync.WaitGroup
	start := time.Now()
	fwd.Add(producers)
	for p := 0; p < producers; p++ {
		src := make(chan int, capBuffered)
		go func() {
			for i := 0; i < per; i++ {
				src <- i
			}
			close(src)
		}()
		go func() {
			defer fwd.Done()
			for v := range src {
				merged <- v
			}
		}()
	}
	go func() {
		fwd.Wait()
		close(merged)
	}()
	var sum int64
	got := 0
	for v := range merged {
		sum += int64(v)
		got++
	}
	d := time.Since(start)
	sink += sum
	if got != total {
		panic("fanin: lost messages")
	}
	return perOp(d, total)
}

// stage forwards f(x) from in to out and closes out when in is closed.
func stage(in <-chan int, out chan<- int, f func(int) int) {
	for v := range in {
		out <- f(v)
	}
	close(out)
}

func pipeline() (float64, string) {
	n := count(1_000_000)
	c1, c2 := make(chan int), make(chan int)
	start := time.Now()
	go func() {
		for i := 0; i < n; i++ {
			c1 <- i
		}
		close(c1)
	}()
	go stage(c1, c2, func(x int) int { return x * 2 })
	var sum int64
	for v := range c2 {
		sum += int64(v)
	}
	d := time.Since(start)
	sink += sum
	return perOp(d, n)
}

func wgBench() (float64, string) {
	const goroutines = 8
	per := count(100_000)
	var shared, done sync.WaitGroup
	start := time.Now()
	done.Add(goroutines)
	for g := 0; g < goroutines; g++ {
		go func() {
			defer done.Done()
			for i := 0; i < per; i++ {
				shared.Add(1)
				shared.Done()
			}
		}()
	}
	done.Wait()
	shared.Wait()
	return perOp(time.Since(start), goroutines*per)
}

func mutexBench() (float64, string) {
	const goroutines = 8
	per := count(100_000)
	var mu sync.Mutex
	var counter int64
	var done sync.WaitGroup
	start := time.Now()
	done.Add(goroutines)
	for g := 0; g < goroutines; g++ {
		go func() {
			defer done.Done()
			for i := 0; i < per; i++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
		}()
	}
	done.Wait()
	d := time.Since(start)
	if counter != int64(goroutines*per) {
		panic("mutex: lost increments")
	}
	sink += counter
	return perOp(d, goroutines*per)
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: gobench <workload> | --list")
	os.Exit(2)
}

func main() {
	if len(os.Args) != 2 {
		usage()
	}
	arg := os.Args[1]
	if arg == "--list" {
		for _, w := range workloads {
			fmt.Println(w.name)
		}
		return
	}
	if s := os.Getenv("GOKIO_BENCH_SCALE"); s != "" {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || v <= 0 {
			fmt.Fprintf(os.Stderr, "GOKIO_BENCH_SCALE must be a positive number, got %q\n", s)
			os.Exit(2)
		}
		scale = v
	}
	for _, w := range workloads {
		if w.name == arg {
			value, unit := w.run()
			fmt.Printf("%s go %s %s\n", w.name, format(value), unit)
			return
		}
	}
	fmt.Fprintf(os.Stderr, "unknown workload %q; try --list\n", arg)
	os.Exit(2)
}

// format prints one decimal for small values and none for large ones.
func format(v float64) string {
	if v >= 1000 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}
