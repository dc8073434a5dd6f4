package serial

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
)

// TestDownlinkFramesFile encodes every frame of testdata/serial/downlink-frames.txt, which
// docs/serial.md shows, from its fields and wants the same bytes.
func TestDownlinkFramesFile(t *testing.T) {
	f, err := os.Open("../../testdata/serial/downlink-frames.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "   #")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		n++
		body, _, _ := strings.Cut(line[1:], "*")
		fields := strings.Split(body, ",")
		seq, _ := strconv.ParseUint(fields[1], 10, 16)
		var got []byte
		switch fields[2] {
		case "S":
			state, err := vagt.ParseHelpState(fields[3])
			if err != nil {
				t.Fatal(err)
			}
			event, _ := strconv.ParseUint(fields[4], 10, 64)
			got = HelpFrame(fields[0], uint16(seq), state, event)
		case "L":
			s, _ := strconv.Atoi(fields[4])
			got = LinkFrame(fields[0], fields[3] == "up", time.Duration(s)*time.Second)
		default:
			t.Fatalf("unknown type in %q", line)
		}
		if string(got) != line+"\r\n" {
			t.Errorf("encoded %q, file says %q", got, line)
		}
	}
	if n != 7 {
		t.Fatalf("%d frames in the file", n)
	}
}
