// sync_go.go - Go's side of the sync benchmarks (bench/sync/cio_sync.c).
//
//	sync_go [-buffered] GROUP [N]
//
// prints "<bench> <value>" lines as cio's program does.  GOMAXPROCS(1) and
// taskset (bench/lib.py) keep it on one core, like cio's single loop.
// Goroutines stand for tasks.  bench/sync.py runs it twice for the queue
// groups: as "go-unbuffered" (an unbuffered channel) and, with -buffered,
// as "go-buffered" (a channel of capacity 1 for queue_handoff, as cio's
// queue of maxsize 1; of capacity 1024 for queue_unbounded, since Go has no
// unbounded channel).  The other groups ignore -buffered:
//
//	lock_handoff  a channel of capacity 1 used as a lock (send acquires,
//	              receive releases).  A receive from the full channel moves
//	              a blocked sender's token into it, so the lock passes
//	              straight to the waiting goroutine, FIFO, as cio_lock's
//	              release does.  sync.Mutex is not used: on GOMAXPROCS(1)
//	              Unlock only readies the waiter and the unlocking
//	              goroutine takes the mutex straight back (barging), so
//	              no handoff happens until its 1 ms starvation mode starts.
//	gather_10k    10,000 goroutines, each storing its index in its slot of
//	              a result slice, and a WaitGroup: spawn, wait, and the
//	              goroutines' exit are all counted, as cio's create, gather
//	              and release.
//	cache_hit     a map[string]int lookup under a sync.Mutex (Lock, lookup,
//	              Unlock), the same 1,000 keys cycled.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

func perOp(t0 time.Time, ops int) float64 {
	return float64(time.Since(t0).Nanoseconds()) / float64(ops)
}

func lockHandoff(n int) {
	lock := make(chan struct{}, 1)
	done := make(chan struct{})
	side := func() {
		lock <- struct{}{} // both queue up behind main
		for i := 0; i < n; i++ {
			<-lock             // release: the other side's token moves in
			lock <- struct{}{} // acquire: wait for the other to release
		}
		<-lock
		done <- struct{}{}
	}
	lock <- struct{}{}
	go side()
	go side()
	runtime.Gosched() // both block in their first acquire
	t0 := time.Now()
	<-lock
	<-done
	<-done
	// each side releases n times into the other's wait: 2n handoffs
	fmt.Printf("lock_handoff %.2f\n", perOp(t0, 2*n))
}

func queueRun(name string, capacity, n int) {
	ch := make(chan int, capacity)
	done := make(chan bool)
	t0 := time.Now()
	go func() {
		ok := true
		for i := 0; i < n; i++ {
			if <-ch != i {
				ok = false
			}
		}
		done <- ok
	}()
	go func() {
		for i := 0; i < n; i++ {
			ch <- i
		}
	}()
	if !<-done {
		fmt.Fprintln(os.Stderr, "sync_go: items out of order")
		os.Exit(1)
	}
	fmt.Printf("%s %.2f\n", name, perOp(t0, n))
}

func gather10k(n int) {
	const k = 10000
	res := make([]int, k)
	run := func(rounds int) {
		for r := 0; r < rounds; r++ {
			var wg sync.WaitGroup
			wg.Add(k)
			for i := 0; i < k; i++ {
				go func(i int) { res[i] = i; wg.Done() }(i)
			}
			wg.Wait()
		}
	}
	rounds := n / k
	if rounds < 1 {
		rounds = 1
	}
	run(1)
	t0 := time.Now()
	run(rounds)
	if res[k-1] != k-1 {
		os.Exit(1)
	}
	fmt.Printf("gather_10k %.3f\n", perOp(t0, rounds*k))
}

func cacheHit(n int) {
	const k = 1000
	var mu sync.Mutex
	m := make(map[string]int)
	keys := make([]string, k)
	for i := range keys {
		keys[i] = "key:" + strconv.Itoa(i)
		m[keys[i]] = i
	}
	lookup := func(key string) (int, bool) {
		mu.Lock()
		v, ok := m[key]
		mu.Unlock()
		return v, ok
	}
	sum := 0
	t0 := time.Now()
	for i, j := 0, 0; i < n; i++ {
		v, ok := lookup(keys[j])
		if !ok {
			os.Exit(1)
		}
		sum += v
		if j++; j == k {
			j = 0
		}
	}
	ns := perOp(t0, n)
	if sum < 0 {
		os.Exit(1)
	}
	fmt.Printf("cache_hit %.2f\n", ns)
}

func main() {
	runtime.GOMAXPROCS(1)
	args := os.Args[1:]
	buffered := len(args) > 0 && args[0] == "-buffered"
	if buffered {
		args = args[1:]
	}
	if len(args) < 1 {
		fmt.Fprintln(os.Stderr, "usage: sync_go [-buffered] GROUP [N]")
		os.Exit(2)
	}
	count := func(d int) int {
		if len(args) > 1 {
			if v, err := strconv.Atoi(args[1]); err == nil && v > 0 {
				return v
			}
		}
		return d
	}
	switch args[0] {
	case "lock_handoff":
		lockHandoff(count(10000000))
	case "queue_handoff":
		c := 0
		if buffered {
			c = 1
		}
		queueRun("queue_handoff", c, count(10000000))
	case "queue_unbounded":
		c := 0
		if buffered {
			c = 1024
		}
		queueRun("queue_unbounded", c, count(10000000))
	case "gather_10k":
		gather10k(count(1000000))
	case "cache_hit":
		cacheHit(count(20000000))
	default:
		fmt.Fprintln(os.Stderr, "sync_go: unknown group", args[0])
		os.Exit(2)
	}
}
