// http_go.go - Go's net/http as a peer of bench-http (bench/http.py): the
// same two routes as bench/http/cio_http.c, "/" answering "Hello, World!"
// as text/plain and "/json" {"message":"Hello, World!"} built with
// encoding/json per request.  drive.py pins it to one core, so the
// runtime's GOMAXPROCS is 1.
//
//	http_go PORT
package main

import (
	"encoding/json"
	"net/http"
	"os"
)

type message struct {
	Message string `json:"message"`
}

func main() {
	hello := []byte("Hello, World!")
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Write(hello)
	})
	mux.HandleFunc("/json", func(w http.ResponseWriter, r *http.Request) {
		b, _ := json.Marshal(message{Message: "Hello, World!"})
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	})
	srv := &http.Server{Addr: "127.0.0.1:" + os.Args[1], Handler: mux}
	if err := srv.ListenAndServe(); err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
}
