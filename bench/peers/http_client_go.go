// http_client_go.go - Go's net/http client as a peer of bench-http's
// client benchmark (bench/http/drive_client.py): N GETs of URL with C in
// flight (C goroutines sharing one http.Client, each taking the next
// request until N are done), after a warm-up of C requests that opens the
// connections.  Prints one JSON line like bench/http_client/cio_http_client.c:
// requests/s and the process's own CPU (getrusage) per request over the
// measured run.
//
//	http_client_go URL N C
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func cpuNow() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

func run(client *http.Client, url string, total, conc int64) int64 {
	var next, errors int64
	var wg sync.WaitGroup
	for i := int64(0); i < conc; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for atomic.AddInt64(&next, 1) <= total {
				resp, err := client.Get(url)
				if err != nil {
					atomic.AddInt64(&errors, 1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					atomic.AddInt64(&errors, 1)
				}
			}
		}()
	}
	wg.Wait()
	return errors
}

func main() {
	url := os.Args[1]
	total, _ := strconv.ParseInt(os.Args[2], 10, 64)
	conc, _ := strconv.ParseInt(os.Args[3], 10, 64)
	tr := &http.Transport{MaxIdleConns: int(conc), MaxIdleConnsPerHost: int(conc),
		MaxConnsPerHost: int(conc), DisableCompression: true}
	client := &http.Client{Transport: tr}
	run(client, url, conc, conc) // warm-up: open the connections
	w0, c0 := time.Now(), cpuNow()
	errors := run(client, url, total, conc)
	secs, cpu := time.Since(w0).Seconds(), cpuNow()-c0
	fmt.Printf("{\"bench\": \"http_client_get\", \"client\": \"go\", \"requests\": %d, "+
		"\"concurrency\": %d, \"rps\": %.0f, \"cpu_us_per_req\": %.2f, \"errors\": %d}\n",
		total, conc, float64(total)/secs, cpu*1e6/float64(total), errors)
}
