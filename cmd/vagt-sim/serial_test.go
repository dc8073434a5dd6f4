package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSerialSubcommand runs `vagt-sim serial` and reads its frames from the pty path it
// prints, as the gateway would.
func TestSerialSubcommand(t *testing.T) {
	link := filepath.Join(t.TempDir(), "tty")
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- commands.Run(ctx, "vagt-sim", []string{"serial", "-link", link, "-every", "20ms", "-sensors", "1"}, func(string) string { return "" }, &out, &out)
	}()
	deadline := time.Now().Add(time.Minute)
	var f *os.File
	for {
		var err error
		if f, err = os.Open(link); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no pty at the link")
		}
		time.Sleep(10 * time.Millisecond)
	}
	r := bufio.NewReader(f)
	line, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "$bu-17,") || !strings.Contains(line, ",R,") {
		t.Fatalf("first frame %q, %v", line, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	f.Close()
	if !strings.Contains(out.String(), link) {
		t.Fatalf("output %q does not name the path", out.String())
	}
}
