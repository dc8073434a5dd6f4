package baseunit

import (
	"strconv"
	"sync"
	"time"
)

// What the gateway tells the unit besides K (docs/serial.md): S frames say what became of
// an alarm frame (received, acknowledged, on_the_way, arrived, resolved), L frames whether
// the gateway reaches the platform. A real unit shows them to the citizen ("help is
// coming") and, while the link is down, raises its alarms over its own telephone line.

// helpRank orders the states: the unit never steps back to an earlier one.
var helpRank = map[string]int{"received": 1, "acknowledged": 2, "on_the_way": 3, "arrived": 4, "resolved": 5}

// helpText is what the unit's display says, in Danish as the citizen reads it.
var helpText = map[string]string{
	"received":     "Alarmen er modtaget",
	"acknowledged": "Hjælpen er på vej",
	"on_the_way":   "Hjælpen er på vej",
	"arrived":      "Hjælpen er fremme",
	"resolved":     "",
}

// News is one S frame as the unit took it.
type News struct {
	Seq   uint16 // the unit's alarm frame
	State string
	Event uint64 // the gateway's event seq
	At    time.Time
}

type board struct {
	mu       sync.Mutex
	help     map[uint16]News
	last     uint16 // the alarm frame the display is about
	linkDown bool
	downFor  time.Duration
	news     chan News
}

func (b *board) init() {
	b.help = map[uint16]News{}
	b.news = make(chan News, 256)
}

// take applies a frame from the gateway that is not a K; false if it is none of ours.
func (b *board) take(f []string) bool {
	switch {
	case len(f) == 5 && f[2] == "S":
		seq, err1 := strconv.ParseUint(f[1], 10, 16)
		event, err2 := strconv.ParseUint(f[4], 10, 64)
		rank, ok := helpRank[f[3]]
		if err1 != nil || err2 != nil || !ok {
			return false
		}
		n := News{Seq: uint16(seq), State: f[3], Event: event, At: time.Now()}
		b.mu.Lock()
		old, seen := b.help[n.Seq]
		if seen && helpRank[old.State] >= rank {
			b.mu.Unlock()
			return true // a repeat, or news older than what the display shows
		}
		b.help[n.Seq], b.last = n, n.Seq
		b.mu.Unlock()
		select {
		case b.news <- n:
		default:
		}
		return true
	case len(f) == 5 && f[2] == "L" && (f[3] == "up" || f[3] == "down"):
		s, err := strconv.ParseUint(f[4], 10, 32)
		if err != nil {
			return false
		}
		b.mu.Lock()
		b.linkDown, b.downFor = f[3] == "down", time.Duration(s)*time.Second
		b.mu.Unlock()
		return true
	}
	return false
}

// Help returns what the gateway last told about the alarm frame seq: its state name and the
// gateway's event seq; ok false if nothing yet.
func (u *Unit) Help(seq uint16) (state string, event uint64, ok bool) {
	u.board.mu.Lock()
	defer u.board.mu.Unlock()
	n, ok := u.board.help[seq]
	return n.State, n.Event, ok
}

// HelpNews receives each S frame that moved an alarm forward (the benchmark times them).
func (u *Unit) HelpNews() <-chan News { return u.board.news }

// LinkDown reports whether the gateway said it cannot reach the platform, and for how long
// it had not then. A real unit then sends its alarms over its own telephone line.
func (u *Unit) LinkDown() (bool, time.Duration) {
	u.board.mu.Lock()
	defer u.board.mu.Unlock()
	return u.board.linkDown, u.board.downFor
}

// Display is what the unit's screen says now: the link warning first, then the news of
// the latest alarm.
func (u *Unit) Display() string {
	u.board.mu.Lock()
	defer u.board.mu.Unlock()
	if u.board.linkDown {
		return "Ingen forbindelse til vagtcentralen – alarmer går via telefon"
	}
	if n, ok := u.board.help[u.board.last]; ok {
		return helpText[n.State]
	}
	return ""
}
