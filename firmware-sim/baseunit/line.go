package baseunit

import (
	"fmt"
	"os"
	"sync"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// Line is the unit's serial cable, made of a pseudo-terminal: the gateway opens Path (a
// symlink to the pty's device end, as /dev/serial/by-id/... is to /dev/ttyUSB0), the
// unit speaks on the other end. Unplug removes both; Plug makes a new pty at the same path.
type Line struct {
	Path string

	mu   sync.Mutex
	ptmx *os.File // the unit's end
	tty  *os.File // held open so frames written while the gateway is away wait in the pty
}

// NewLine plugs a new line in at path.
func NewLine(path string) (*Line, error) {
	l := &Line{Path: path}
	if err := l.Plug(); err != nil {
		return nil, err
	}
	return l, nil
}

// Plug makes a new pty and points Path at it. It returns the unit's end.
func (l *Line) Plug() error {
	blocking, tty, err := pty.Open()
	if err != nil {
		return fmt.Errorf("baseunit: open pty: %w", err)
	}
	ptmx, err := pollable(blocking)
	if err != nil {
		tty.Close()
		return err
	}
	if err := makeRaw(tty); err != nil {
		ptmx.Close()
		tty.Close()
		return err
	}
	os.Remove(l.Path)
	if err := os.Symlink(tty.Name(), l.Path); err != nil {
		ptmx.Close()
		tty.Close()
		return fmt.Errorf("baseunit: link %s: %w", l.Path, err)
	}
	l.mu.Lock()
	l.ptmx, l.tty = ptmx, tty
	l.mu.Unlock()
	return nil
}

// End returns the unit's end of the line, nil while unplugged.
func (l *Line) End() *os.File {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ptmx
}

// Device returns the pty device the path points at.
func (l *Line) Device() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.tty == nil {
		return ""
	}
	return l.tty.Name()
}

// Unplug pulls the cable: the pty goes away, and the path with it.
func (l *Line) Unplug() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	os.Remove(l.Path)
	var err error
	if l.ptmx != nil {
		err = l.ptmx.Close()
		l.tty.Close()
		l.ptmx, l.tty = nil, nil
	}
	return err
}

// pollable returns the pty's end as a non-blocking file on Go's poller, so that closing it
// ends a Read blocked on it (a blocking *os.File would keep that goroutine for ever).
func pollable(f *os.File) (*os.File, error) {
	defer f.Close()
	// Close-on-exec: a child process (the gateway under test) that inherited the unit's end
	// would keep the line "plugged in" after Unplug.
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("baseunit: dup pty: %w", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("baseunit: pty non-blocking: %w", err)
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}

// makeRaw turns off echo and line editing, as on a real serial port: without it the pty
// echoes the unit's frames back to it and turns \n into \r\n.
func makeRaw(f *os.File) error {
	fd := int(f.Fd())
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return fmt.Errorf("baseunit: termios: %w", err)
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, t); err != nil {
		return fmt.Errorf("baseunit: raw mode: %w", err)
	}
	return nil
}
