package localstack

import (
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// MosquittoOptions configure a Mosquitto broker. The zero value is a broker
// without persistence that lets anybody in.
type MosquittoOptions struct {
	// Persistence keeps sessions and queued messages in the data directory,
	// written on a clean stop (and every autosave_interval, which Extra can
	// set). Mosquitto's default is off.
	Persistence bool
	// Users are user names and plaintext passwords; they are hashed into the
	// password file together with PasswordFile.
	Users map[string]string
	// PasswordFile is password file content in mosquitto_passwd format.
	PasswordFile string
	// ACL is acl_file content, e.g. "pattern write vagt/v1/gw/%u/#".
	ACL string
	// AllowAnonymous lets clients in without a user name. Without Users and
	// PasswordFile anonymous clients are always allowed.
	AllowAnonymous bool
	// TLS adds a second listener that speaks TLS (see TLSURL).
	TLS *MosquittoTLS
	// MaxQueuedMessages per disconnected persistent client; Mosquitto's
	// default of 1000 drops silently beyond it. Default 100000.
	MaxQueuedMessages int
	// MaxInflightMessages per client for QoS 1 and 2. Default 100.
	MaxInflightMessages int
	// Extra lines are appended to the configuration, after the plain
	// listener, so listener settings in it apply to that listener.
	Extra string

	BaseDir      string        // parent of the temporary directory; default os.TempDir()
	StartTimeout time.Duration // default 60s
	StopTimeout  time.Duration // SIGTERM to SIGKILL; default 10s
	Logger       *slog.Logger  // nil logs nothing
}

// MosquittoTLS configures the TLS listener; the files are PEM paths.
type MosquittoTLS struct {
	CertFile, KeyFile, CAFile string
	RequireCertificate        bool // clients must present a certificate signed by CAFile
	UseIdentityAsUsername     bool // the certificate's CN becomes the MQTT user name
}

// Mosquitto is a running (or stopped) Mosquitto broker.
type Mosquitto struct {
	*service
	opts    MosquittoOptions
	path    string
	port    int
	tlsPort int
}

// StartMosquitto starts a broker on a free loopback port and waits until it
// answers an MQTT CONNECT. ctx bounds the start only; the broker runs until
// Stop, Kill or Close.
func StartMosquitto(ctx context.Context, opts MosquittoOptions) (*Mosquitto, error) {
	path, err := FindBinary("mosquitto")
	if err != nil {
		return nil, err
	}
	if opts.MaxQueuedMessages == 0 {
		opts.MaxQueuedMessages = 100000
	}
	if opts.MaxInflightMessages == 0 {
		opts.MaxInflightMessages = 100
	}
	svc, err := newService(serviceConfig{
		name: "mosquitto", baseDir: opts.BaseDir, stopSignal: syscall.SIGTERM,
		stopTimeout: opts.StopTimeout, logger: opts.Logger,
	})
	if err != nil {
		return nil, err
	}
	m := &Mosquitto{service: svc, opts: opts, path: path}
	m.launch = m.launchLocked
	if err := m.writeAuthFiles(); err != nil {
		return nil, errors.Join(err, m.Close())
	}
	if err := m.pickPorts(); err != nil {
		return nil, errors.Join(err, m.Close())
	}
	if err := m.Start(ctx); err != nil {
		return nil, errors.Join(err, m.Close())
	}
	return m, nil
}

// Addr is host:port of the plain MQTT listener.
func (m *Mosquitto) Addr() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(m.port))
}

// URL is the broker URL for paho: tcp://127.0.0.1:port.
func (m *Mosquitto) URL() string { return "tcp://" + m.Addr() }

// TLSAddr is host:port of the TLS listener, "" without TLS.
func (m *Mosquitto) TLSAddr() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.opts.TLS == nil {
		return ""
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(m.tlsPort))
}

// TLSURL is the TLS listener's URL for paho (ssl://127.0.0.1:port), ""
// without TLS.
func (m *Mosquitto) TLSURL() string {
	if a := m.TLSAddr(); a != "" {
		return "ssl://" + a
	}
	return ""
}

func (m *Mosquitto) pickPorts() error {
	var err error
	if m.port, err = FreePort(); err != nil {
		return err
	}
	if m.opts.TLS != nil {
		if m.tlsPort, err = FreePort(); err != nil {
			return err
		}
	}
	return nil
}

func (m *Mosquitto) launchLocked(ctx context.Context) error {
	ctx, cancel := withStartTimeout(ctx, m.opts.StartTimeout)
	defer cancel()
	repick := m.pickPorts
	if m.proc.run != nil {
		repick = nil // a restart keeps its port: clients reconnect to it
	}
	return m.startRetrying(ctx, repick, func(ctx context.Context) error {
		conf := filepath.Join(m.dir, "mosquitto.conf")
		if err := os.WriteFile(conf, []byte(m.config()), 0o600); err != nil {
			return fmt.Errorf("localstack: write mosquitto config: %w", err)
		}
		if err := m.proc.start(m.path, "-c", conf); err != nil {
			return err
		}
		return m.proc.waitReady(ctx, m.answers)
	})
}

// answers checks that the plain listener completes an MQTT handshake and the
// TLS listener, if any, accepts connections.
func (m *Mosquitto) answers(ctx context.Context) error {
	if err := mqttHandshake(ctx, net.JoinHostPort("127.0.0.1", strconv.Itoa(m.port))); err != nil {
		return err
	}
	if m.opts.TLS == nil {
		return nil
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(m.tlsPort)))
	if err != nil {
		return fmt.Errorf("dial TLS listener: %w", err)
	}
	return c.Close()
}

func (m *Mosquitto) config() string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	line("# written by vagt test/localstack")
	if os.Geteuid() == 0 {
		// Otherwise Mosquitto drops to user mosquitto and cannot write our
		// root-owned temporary directory.
		line("user root")
	}
	line("log_dest file %s", m.proc.logPath)
	line("log_type error")
	line("log_type warning")
	line("log_type notice")
	line("log_type information")
	line("connection_messages true")
	line("log_timestamp_format %%Y-%%m-%%dT%%H:%%M:%%S")
	line("max_queued_messages %d", m.opts.MaxQueuedMessages)
	line("max_inflight_messages %d", m.opts.MaxInflightMessages)
	if m.opts.Persistence {
		line("persistence true")
		// The trailing slash matters: Mosquitto appends the file name to it.
		line("persistence_location %s/", filepath.Join(m.dir, "data"))
	}
	auth := len(m.opts.Users) > 0 || m.opts.PasswordFile != ""
	line("allow_anonymous %t", m.opts.AllowAnonymous || !auth)
	if auth {
		line("password_file %s", filepath.Join(m.dir, "passwd"))
	}
	if m.opts.ACL != "" {
		line("acl_file %s", filepath.Join(m.dir, "acl"))
	}
	if t := m.opts.TLS; t != nil {
		line("listener %d 127.0.0.1", m.tlsPort)
		line("certfile %s", t.CertFile)
		line("keyfile %s", t.KeyFile)
		if t.CAFile != "" {
			line("cafile %s", t.CAFile)
		}
		line("require_certificate %t", t.RequireCertificate)
		line("use_identity_as_username %t", t.UseIdentityAsUsername)
	}
	line("listener %d 127.0.0.1", m.port)
	if m.opts.Extra != "" {
		line("%s", m.opts.Extra)
	}
	return b.String()
}

func (m *Mosquitto) writeAuthFiles() error {
	if err := os.MkdirAll(filepath.Join(m.dir, "data"), 0o700); err != nil {
		return fmt.Errorf("localstack: mosquitto data dir: %w", err)
	}
	if len(m.opts.Users) > 0 || m.opts.PasswordFile != "" {
		var b strings.Builder
		b.WriteString(m.opts.PasswordFile)
		if s := b.String(); s != "" && !strings.HasSuffix(s, "\n") {
			b.WriteByte('\n')
		}
		users := make([]string, 0, len(m.opts.Users))
		for u := range m.opts.Users {
			users = append(users, u)
		}
		sort.Strings(users)
		for _, u := range users {
			hash, err := HashMosquittoPassword(m.opts.Users[u])
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, "%s:%s\n", u, hash)
		}
		if err := os.WriteFile(filepath.Join(m.dir, "passwd"), []byte(b.String()), 0o600); err != nil {
			return fmt.Errorf("localstack: write mosquitto password file: %w", err)
		}
	}
	if m.opts.ACL != "" {
		if err := os.WriteFile(filepath.Join(m.dir, "acl"), []byte(m.opts.ACL+"\n"), 0o600); err != nil {
			return fmt.Errorf("localstack: write mosquitto ACL file: %w", err)
		}
	}
	return nil
}

// HashMosquittoPassword hashes a password the way mosquitto_passwd of
// Mosquitto 2.0 does ($7$: PBKDF2-HMAC-SHA512, 101 iterations, 12-byte
// salt), for the part after "user:" in a password file.
func HashMosquittoPassword(password string) (string, error) {
	const iterations = 101
	salt := make([]byte, 12)
	if _, err := io.ReadFull(rand.Reader, salt); err != nil {
		return "", fmt.Errorf("localstack: password salt: %w", err)
	}
	key, err := pbkdf2.Key(sha512.New, password, salt, iterations, sha512.Size)
	if err != nil {
		return "", fmt.Errorf("localstack: hash password: %w", err)
	}
	return fmt.Sprintf("$7$%d$%s$%s", iterations,
		base64.StdEncoding.EncodeToString(salt), base64.StdEncoding.EncodeToString(key)), nil
}

// mqttHandshake sends an MQTT 3.1.1 CONNECT and expects a CONNACK. Any
// return code counts (a broker that refuses an anonymous client answers
// too), so readiness does not depend on the auth configuration.
func mqttHandshake(ctx context.Context, addr string) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	const clientID = "vagt-localstack-probe"
	variable := []byte{0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 10, 0, byte(len(clientID))}
	packet := append([]byte{0x10, byte(len(variable) + len(clientID))}, variable...)
	packet = append(packet, clientID...)
	if _, err := c.Write(packet); err != nil {
		return fmt.Errorf("send CONNECT: %w", err)
	}
	ack := make([]byte, 4)
	if _, err := io.ReadFull(c, ack); err != nil {
		return fmt.Errorf("read CONNACK: %w", err)
	}
	if ack[0] != 0x20 || ack[1] != 2 {
		return fmt.Errorf("not a CONNACK: % x", ack)
	}
	_, _ = c.Write([]byte{0xE0, 0}) // DISCONNECT, so the broker logs no error
	return nil
}
