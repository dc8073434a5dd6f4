package serial

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/vagt-dk/vagt"
)

func TestCRC16CheckValue(t *testing.T) {
	if got := CRC16([]byte("123456789")); got != 0x29B1 {
		t.Fatalf("CRC-16/CCITT-FALSE check value %04X, want 29B1", got)
	}
}

// TestFramesFile parses every line of testdata/serial/frames.txt, which docs/serial.md
// quotes from: good frames parse, bad ones fail with the reason the file names.
func TestFramesFile(t *testing.T) {
	f, err := os.Open("../../testdata/serial/frames.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		line, about, _ := strings.Cut(line, "   # ")
		expect, frame, _ := strings.Cut(line, " ")
		n++
		got, err := ParseFrame([]byte(frame))
		switch {
		case expect == "ok" && err != nil:
			t.Errorf("%s (%s): %v", frame, about, err)
		case expect != "ok" && err == nil:
			t.Errorf("%s (%s): parsed as %+v, want %s", frame, about, got, expect)
		case expect != "ok" && Reason(err) != expect:
			t.Errorf("%s (%s): reason %s (%v), want %s", frame, about, Reason(err), err, expect)
		}
	}
	if n < 20 {
		t.Fatalf("only %d frames in the file", n)
	}
}

func TestParseFields(t *testing.T) {
	for _, tt := range []struct {
		body string
		want Frame
	}{
		{"bu-17,4,R,temp-1,temperature,21.37", Frame{Unit: "bu-17", Seq: 4, Type: 'R', Device: "temp-1", Kind: vagt.KindTemperature, Value: 21.37}},
		{"bu-17,5,A,btn,panic", Frame{Unit: "bu-17", Seq: 5, Type: 'A', Device: "btn", Alarm: vagt.AlarmPanic}},
		{"bu-17,8,H,3600,1,98", Frame{Unit: "bu-17", Seq: 8, Type: 'H', Uptime: 3600, Mains: true, Battery: 98}},
		{"bu-17,9,K", Frame{Unit: "bu-17", Seq: 9, Type: 'K'}},
	} {
		line := fmt.Sprintf("$%s*%04X", tt.body, CRC16([]byte(tt.body)))
		got, err := ParseFrame([]byte(line))
		if err != nil || got != tt.want {
			t.Errorf("%s: %+v %v, want %+v", line, got, err, tt.want)
		}
	}
	if f, _ := ParseFrame(AckFrame("bu-17", 42)[:len(AckFrame("bu-17", 42))-2]); f.Type != TypeAck || f.Seq != 42 {
		t.Errorf("AckFrame does not parse back: %+v", f)
	}
	if id := (&Frame{Unit: "bu-17", Device: "btn"}).DeviceID(); id != "bu-17:btn" {
		t.Errorf("device id %s", id)
	}
}

// TestScannerResyncs feeds a capture of a noisy line (noise, torn frames, bit flips) in
// chunks of every size: the same good frames come out, in order, and the rest is counted.
func TestScannerResyncs(t *testing.T) {
	data, err := os.ReadFile("../../testdata/serial/noisy-line.bin")
	if err != nil {
		t.Fatal(err)
	}
	wantRaw, err := os.ReadFile("../../testdata/serial/noisy-line.want")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, l := range strings.Split(string(wantRaw), "\n") {
		if !strings.HasPrefix(l, "#") {
			want = append(want, strings.Fields(l)...)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, chunk := range []int{1, 2, 7, 64, len(data), 0} {
		s := NewScanner()
		var got []string
		var bad []string
		for rest := data; len(rest) > 0; {
			n := chunk
			if n == 0 {
				n = 1 + rng.IntN(40)
			}
			n = min(n, len(rest))
			s.Feed(rest[:n], func(f Frame) { got = append(got, strconv.Itoa(int(f.Seq))) }, func(err error) { bad = append(bad, Reason(err)) })
			rest = rest[n:]
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("chunk %d: frames\n%v\nwant\n%v", chunk, got, want)
		}
		st := s.Stats()
		if st.Rejected["bad_crc"] != 3 || st.Rejected["torn"] != 4 || st.Rejected["noise"] != 6 || st.NoiseBytes == 0 || st.Frames != uint64(len(want)) {
			t.Fatalf("chunk %d: stats %+v (bad: %v)", chunk, st, bad)
		}
	}
}

func TestScannerTooLong(t *testing.T) {
	s := NewScanner()
	var bad []string
	var good int
	in := "$" + strings.Repeat("x", 300) + "\n" + string(AckFrame("bu-1", 1))
	s.Feed([]byte(in), func(Frame) { good++ }, func(err error) { bad = append(bad, Reason(err)) })
	if good != 1 || len(bad) == 0 || bad[0] != "too_long" {
		t.Fatalf("good %d, bad %v", good, bad)
	}
}

func FuzzScanner(f *testing.F) {
	data, _ := os.ReadFile("../../testdata/serial/noisy-line.bin")
	f.Add(data)
	f.Add([]byte("$bu-17,1,R,pir-2,motion,1*D706\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s := NewScanner()
		s.Feed(b, func(fr Frame) {
			if fr.Unit == "" {
				t.Fatalf("a frame without a unit: %+v", fr)
			}
		}, func(error) {})
	})
}
