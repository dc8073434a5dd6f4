package serial

import "fmt"

// Stats count what came over the line.
type Stats struct {
	Frames     uint64            // good frames
	Rejected   map[string]uint64 // bad frames by Reason
	NoiseBytes uint64            // bytes outside any frame
	Reopens    uint64            // times the port was (re)opened
	Duplicates uint64            // alarm frames repeated by a unit after it was acked
	Acks       uint64            // K frames written to the unit
}

// Scanner splits a byte stream into frames. It resynchronises on the next '$': bytes
// before it are noise, a '$' inside a frame tears the frame it interrupts, and a frame
// longer than MaxFrame is dropped. It never fails; it counts.
type Scanner struct {
	buf   []byte
	in    bool // inside a frame (after its '$')
	noise int  // bytes of the noise run before the next '$'
	stats Stats
}

// NewScanner returns a Scanner waiting for a '$'.
func NewScanner() *Scanner {
	return &Scanner{buf: make([]byte, 0, MaxFrame), stats: Stats{Rejected: map[string]uint64{}}}
}

// Feed scans p, calling frame for each good frame and bad for each rejected one.
func (s *Scanner) Feed(p []byte, frame func(Frame), bad func(error)) {
	for _, c := range p {
		switch {
		case !s.in && c == '$':
			if s.noise > 0 {
				s.reject(bad, fmt.Errorf("%w: %d bytes", ErrNoise, s.noise))
				s.noise = 0
			}
			s.in, s.buf = true, append(s.buf[:0], c)
		case !s.in && (c == '\r' || c == '\n'):
			// Blank lines between frames are no noise.
		case !s.in:
			s.stats.NoiseBytes++
			s.noise++
		case c == '$':
			s.reject(bad, fmt.Errorf("%w: %q interrupted by a new '$'", ErrTorn, s.buf))
			s.in, s.buf = true, append(s.buf[:0], c)
		case c == '\n':
			line := s.buf
			if n := len(line); n > 0 && line[n-1] == '\r' {
				line = line[:n-1]
			}
			s.in = false
			f, err := ParseFrame(line)
			if err != nil {
				s.reject(bad, err)
				continue
			}
			s.stats.Frames++
			frame(f)
		case len(s.buf) >= MaxFrame-1:
			s.in = false
			s.reject(bad, fmt.Errorf("%w: no end within %d bytes", ErrTooLong, MaxFrame))
		default:
			s.buf = append(s.buf, c)
		}
	}
}

func (s *Scanner) reject(bad func(error), err error) {
	s.stats.Rejected[Reason(err)]++
	bad(err)
}

// Stats returns a copy of the counters.
func (s *Scanner) Stats() Stats {
	st := s.stats
	st.Rejected = make(map[string]uint64, len(s.stats.Rejected))
	for k, v := range s.stats.Rejected {
		st.Rejected[k] = v
	}
	return st
}
