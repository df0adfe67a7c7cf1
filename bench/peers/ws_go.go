// ws_go.go - bench-ws peer: a WebSocket server in Go with gorilla/websocket
// (Debian golang-github-gorilla-websocket-dev, built in GOPATH mode by
// bench/run.sh).  Echo on /echo (the reading goroutine writes back); on
// /bcast each message received goes to every /bcast connection as one
// PreparedMessage (encoded once), through a buffered channel and a writer
// goroutine per connection, as gorilla's chat example does; a connection
// whose channel is full is dropped (cio fails such a peer too).
// Compression off; GOMAXPROCS(1) so it runs on the one core it is
// pinned to.
//
//	ws_go PORT
package main

import (
	"net/http"
	"os"
	"runtime"
	"sync"

	"github.com/gorilla/websocket"
)

var upgrader = websocket.Upgrader{
	ReadBufferSize:  4096,
	WriteBufferSize: 4096,
	CheckOrigin:     func(r *http.Request) bool { return true },
}

type client struct {
	c    *websocket.Conn
	send chan *websocket.PreparedMessage
}

var (
	mu      sync.Mutex
	clients = map[*client]struct{}{}
)

func echo(w http.ResponseWriter, r *http.Request) {
	c, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	for {
		t, m, err := c.ReadMessage()
		if err != nil {
			return
		}
		if c.WriteMessage(t, m) != nil {
			return
		}
	}
}

func writer(cl *client) {
	for pm := range cl.send {
		if cl.c.WritePreparedMessage(pm) != nil {
			break
		}
	}
	cl.c.Close()
}

func bcast(w http.ResponseWriter, r *http.Request) {
	c, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	cl := &client{c: c, send: make(chan *websocket.PreparedMessage, 256)}
	mu.Lock()
	clients[cl] = struct{}{}
	mu.Unlock()
	go writer(cl)
	defer func() {
		mu.Lock()
		if _, ok := clients[cl]; ok {
			delete(clients, cl)
			close(cl.send)
		}
		mu.Unlock()
	}()
	for {
		t, m, err := c.ReadMessage()
		if err != nil {
			return
		}
		pm, err := websocket.NewPreparedMessage(t, m)
		if err != nil {
			return
		}
		mu.Lock()
		for o := range clients {
			select {
			case o.send <- pm:
			default: // too slow: dropped
				delete(clients, o)
				close(o.send)
			}
		}
		mu.Unlock()
	}
}

func main() {
	runtime.GOMAXPROCS(1)
	port := "9000"
	if len(os.Args) > 1 {
		port = os.Args[1]
	}
	http.HandleFunc("/echo", echo)
	http.HandleFunc("/bcast", bcast)
	if err := http.ListenAndServe("127.0.0.1:"+port, nil); err != nil {
		os.Exit(1)
	}
}
