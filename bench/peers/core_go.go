// core_go.go - Go's side of the core benchmarks (bench/core/cio_core.c).
//
//	core_go GROUP [N]
//
// prints "<bench> <value>" lines as cio's program does.  GOMAXPROCS(1) and
// taskset (bench/lib.py) keep it on one core, like cio's single loop.
// Goroutines stand for tasks, runtime.Gosched for cio_sleep(0), unbuffered
// channels for futures, time.AfterFunc for cio_call_later.
package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

var rng uint64 = 88172645463325252

func rnd01() float64 {
	rng ^= rng >> 12
	rng ^= rng << 25
	rng ^= rng >> 27
	return float64((rng*2685821657736338717)>>11) * (1.0 / 9007199254740992.0)
}

func vmRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if strings.HasPrefix(s.Text(), "VmRSS:") {
			fields := strings.Fields(s.Text())
			kb, _ := strconv.ParseInt(fields[1], 10, 64)
			return kb * 1024
		}
	}
	return -1
}

func yieldRoundtrip(n int) {
	run := func(n int) {
		var wg sync.WaitGroup
		wg.Add(2)
		for k := 0; k < 2; k++ {
			go func() {
				for i := 0; i < n; i++ {
					runtime.Gosched()
				}
				wg.Done()
			}()
		}
		wg.Wait()
	}
	run(1000)
	t0 := time.Now()
	run(n)
	fmt.Printf("yield_roundtrip %.3f\n", float64(time.Since(t0).Nanoseconds())/float64(n))
}

func spawnJoin(n int) {
	run := func(n int) {
		for i := 0; i < n; i++ {
			done := make(chan struct{})
			go func() { close(done) }()
			<-done
		}
	}
	run(1000)
	t0 := time.Now()
	run(n)
	fmt.Printf("spawn_join %.3f\n", float64(time.Since(t0).Nanoseconds())/float64(n))
}

// Each side waits on a fresh channel that the other side sends on, as
// cio's side awaits a fresh future.
func pingpong(n int) {
	// Two goroutines, each waiting on a fresh channel per exchange that
	// it hands over through a shared variable (one core, and the hand-over
	// happens before the send that wakes the reader).
	exchange := func(n int) {
		var toA, toB chan struct{}
		toB = make(chan struct{})
		fin := make(chan struct{})
		go func() {
			for i := 0; i < n; i++ {
				mine := toB
				<-mine
				toB = make(chan struct{})
				toA <- struct{}{}
			}
			close(fin)
		}()
		for i := 0; i < n; i++ {
			mine := make(chan struct{})
			toA = mine
			toB <- struct{}{}
			<-mine
		}
		<-fin
	}
	exchange(1000)
	t0 := time.Now()
	exchange(n)
	fmt.Printf("pingpong_future %.3f\n", float64(time.Since(t0).Nanoseconds())/(2*float64(n)))
}

// Go fires timers by itself while the program runs, so deadlines start
// 1 s out (starting takes well under that) plus a random 1 ms; fire is
// timed from the first deadline to the last callback.
func timers(n int) {
	delay := make([]time.Duration, n)
	for i := range delay {
		delay[i] = time.Duration(rnd01() * 1e6)
	}
	var fired int
	all := make(chan struct{})
	cb := func() {
		fired++ // GOMAXPROCS(1): callbacks never overlap
		if fired == n {
			close(all)
		}
	}
	base := 500 * time.Millisecond
	t0 := time.Now()
	for i := 0; i < n; i++ {
		time.AfterFunc(base+delay[i], cb)
	}
	t1 := time.Now()
	if t1.Sub(t0) > base {
		fmt.Fprintln(os.Stderr, "core_go: starting the timers took longer than the base delay")
		os.Exit(1)
	}
	<-all
	t3 := time.Now()
	fire := t3.Sub(t0.Add(base))

	ts := make([]*time.Timer, n)
	for i := 0; i < n; i++ {
		ts[i] = time.AfterFunc(10*time.Second+delay[i], cb)
	}
	t4 := time.Now()
	for i := 0; i < n; i++ {
		ts[i].Stop()
	}
	t5 := time.Now()
	fmt.Printf("timers_1m_start %.3f\n", float64(t1.Sub(t0).Nanoseconds())/float64(n))
	fmt.Printf("timers_1m_fire %.3f\n", float64(fire.Nanoseconds())/float64(n))
	fmt.Printf("timers_1m_cancel %.3f\n", float64(t5.Sub(t4).Nanoseconds())/float64(n))
}

func sleep100k(n int) {
	delay := make([]time.Duration, n)
	for i := range delay {
		delay[i] = time.Duration(rnd01() * 0.1 * 1e9)
	}
	t0 := time.Now()
	var wg sync.WaitGroup
	wg.Add(n)
	for i := 0; i < n; i++ {
		d := delay[i]
		go func() {
			time.Sleep(d)
			wg.Done()
		}()
	}
	wg.Wait()
	fmt.Printf("sleep_100k %.4f\n", time.Since(t0).Seconds())
}

func tasksRSS(n int) {
	before := vmRSS()
	started := 0
	for i := 0; i < n; i++ {
		go func() {
			started++ // GOMAXPROCS(1)
			time.Sleep(time.Hour)
		}()
	}
	for started < n {
		runtime.Gosched()
	}
	after := vmRSS()
	fmt.Printf("tasks_1m_rss %.1f\n", float64(after-before)/float64(n))
	os.Stdout.Sync()
	os.Exit(0)
}

func main() {
	runtime.GOMAXPROCS(1)
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: core_go GROUP [N]")
		os.Exit(2)
	}
	count := func(d int) int {
		if len(os.Args) > 2 {
			if v, err := strconv.Atoi(os.Args[2]); err == nil && v > 0 {
				return v
			}
		}
		return d
	}
	switch os.Args[1] {
	case "yield_roundtrip":
		yieldRoundtrip(count(2000000))
	case "spawn_join":
		spawnJoin(count(1000000))
	case "pingpong_future":
		pingpong(count(1000000))
	case "timers":
		timers(count(1000000))
	case "sleep_100k":
		sleep100k(count(100000))
	case "tasks_1m_rss":
		tasksRSS(count(1000000))
	default:
		fmt.Fprintln(os.Stderr, "core_go: unknown group", os.Args[1])
		os.Exit(2)
	}
}
