package httpapi_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/httpapi"
)

// BenchmarkStreamMemory measures what one open live stream costs the server: heap and
// goroutine stacks and goroutines per stream, with 500 streams open, for the old 1024-event buffer and today's
// default. The clients are bare TCP connections that read only the response head, so
// nearly all that is measured is the server's (handler goroutine, connection buffers,
// subscription). Run: go test ./api/httpapi -run '^$' -bench StreamMemory -benchtime 3x
func BenchmarkStreamMemory(b *testing.B) {
	for _, buffer := range []int{1024, alerts.DefaultBuffer} {
		b.Run(fmt.Sprintf("buffer=%d", buffer), func(b *testing.B) {
			f := newFixtureBuffer(b, buffer)
			srv := httptest.NewServer(httpapi.NewHandler(httpapi.Config{Alerts: f.store, Auth: f.store, Feed: f.feed,
				Clock: api.NewManualClock(t0), StreamWriteTimeout: time.Second, MaxStreams: 10000, MaxStreamsPerPrincipal: 10000}))
			defer srv.Close()
			addr := strings.TrimPrefix(srv.URL, "http://")
			const streams = 500
			var heap, stack, goroutines float64
			for b.Loop() {
				before, s0 := memAfterGC()
				g0 := runtime.NumGoroutine()
				conns := make([]net.Conn, 0, streams)
				for range streams {
					c, err := net.Dial("tcp", addr)
					if err != nil {
						b.Fatal(err)
					}
					fmt.Fprintf(c, "GET /api/v1/alerts/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", f.tokens["anna"])
					resp, err := http.ReadResponse(bufio.NewReaderSize(c, 64), nil)
					if err != nil || resp.StatusCode != http.StatusOK {
						b.Fatalf("stream: %v %v", err, resp)
					}
					conns = append(conns, c)
				}
				for f.gauge(b, "vagt_api_stream_clients") != streams {
					time.Sleep(time.Millisecond)
				}
				after, s1 := memAfterGC()
				g1 := runtime.NumGoroutine()
				heap += float64(after-before) / streams
				stack += float64(s1-s0) / streams
				goroutines += float64(g1-g0) / streams
				for _, c := range conns {
					c.Close()
				}
				for f.gauge(b, "vagt_api_stream_clients") != 0 {
					time.Sleep(time.Millisecond)
				}
			}
			b.ReportMetric(heap/float64(b.N), "heap-B/stream")
			b.ReportMetric(stack/float64(b.N), "stack-B/stream")
			b.ReportMetric(goroutines/float64(b.N), "goroutines/stream")
		})
	}
}

// memAfterGC returns the live heap and the goroutine stacks in use.
func memAfterGC() (heap, stack int64) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc), int64(m.StackInuse)
}
