package localstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresOptions configure a PostgreSQL server.
type PostgresOptions struct {
	// Database is created at the first start; default "vagt". The superuser
	// is always "vagt", with trust authentication on 127.0.0.1.
	Database string

	BaseDir      string        // parent of the temporary directory; default os.TempDir()
	StartTimeout time.Duration // default 60s
	StopTimeout  time.Duration // SIGINT (fast shutdown) to SIGKILL; default 10s
	Logger       *slog.Logger  // nil logs nothing
	// SynchronousCommit makes a commit wait until its WAL is written to the kernel, so
	// that Kill (a crash of the server, not of the machine) loses nothing committed.
	// Off by default: with synchronous_commit=off a commit is answered from shared
	// memory, and a kill -9 loses up to the last few hundred milliseconds of commits.
	SynchronousCommit bool
}

// Postgres is a running (or stopped) PostgreSQL server.
//
// PostgreSQL refuses to run as root, so when we are root the server runs as
// Debian's unprivileged "postgres" user on a temporary directory it owns.
// It runs with fsync, synchronous_commit and full_page_writes off: fast,
// and fine for tests, but a Kill can lose or corrupt recent commits in a
// way a real crash of a properly configured server would not
// (PostgresOptions.SynchronousCommit turns the commit wait back on, so a Kill
// loses nothing committed; fsync stays off: a Kill is no power cut).
type Postgres struct {
	*service
	Database string // created at the first start

	opts     PostgresOptions
	initdb   string
	postgres string
	port     int
	cred     *syscall.Credential // nil: run as ourselves
	prepared bool                // initdb ran and Database exists
}

const postgresSuperuser = "vagt"

// StartPostgres runs initdb in a temporary directory, starts the server on a
// free loopback port, waits until it accepts connections and creates the
// database. ctx bounds the start only; the server runs until Stop, Kill or
// Close.
func StartPostgres(ctx context.Context, opts PostgresOptions) (*Postgres, error) {
	initdb, err := FindBinary("initdb")
	if err != nil {
		return nil, err
	}
	// Take the server from initdb's own directory so both are one version
	// (/usr/local/bin/initdb may be a symlink into /usr/lib/postgresql/N/bin).
	if real, err := filepath.EvalSymlinks(initdb); err == nil {
		initdb = real
	}
	server := filepath.Join(filepath.Dir(initdb), "postgres")
	if !isExecutable(server) {
		return nil, &MissingBinaryError{Name: "postgres", Looked: []string{filepath.Dir(initdb)},
			Hint: installHints["postgres"]}
	}
	cred, err := postgresCredential()
	if err != nil {
		return nil, err
	}
	if opts.Database == "" {
		opts.Database = "vagt"
	}
	svc, err := newService(serviceConfig{
		name: "postgres", baseDir: opts.BaseDir, stopSignal: syscall.SIGINT,
		stopTimeout: opts.StopTimeout, logger: opts.Logger,
	})
	if err != nil {
		return nil, err
	}
	svc.proc.cred = cred
	svc.proc.env = postgresEnv()
	pg := &Postgres{service: svc, Database: opts.Database, opts: opts, initdb: initdb, postgres: server, cred: cred}
	pg.launch = pg.launchLocked
	if err := pg.prepareDir(); err != nil {
		return nil, errors.Join(err, pg.Close())
	}
	if pg.port, err = FreePort(); err != nil {
		return nil, errors.Join(err, pg.Close())
	}
	if err := pg.Start(ctx); err != nil {
		return nil, errors.Join(err, pg.Close())
	}
	return pg, nil
}

// postgresCredential is the user to run PostgreSQL as: Debian's postgres
// user when we are root, ourselves (nil) otherwise.
func postgresCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, &MissingBinaryError{Name: "system user postgres (PostgreSQL will not run as root)",
			Looked: []string{"/etc/passwd"}, Hint: "make tools (or: apt-get install postgresql)"}
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("localstack: user postgres: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// prepareDir makes the socket directory and, when the server runs as
// another user, hands the temporary directory to that user after checking
// that the user can reach it at all.
func (pg *Postgres) prepareDir() error {
	if err := os.Mkdir(filepath.Join(pg.dir, "sock"), 0o700); err != nil {
		return fmt.Errorf("localstack: postgres socket dir: %w", err)
	}
	if pg.cred == nil {
		return nil
	}
	if err := checkSearchable(filepath.Dir(pg.dir), int(pg.cred.Uid), int(pg.cred.Gid)); err != nil {
		return err
	}
	return filepath.WalkDir(pg.dir, func(path string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(path, int(pg.cred.Uid), int(pg.cred.Gid)); err != nil {
			return fmt.Errorf("localstack: hand %s to user postgres: %w", path, err)
		}
		return nil
	})
}

// checkSearchable fails when uid/gid (without supplementary groups, which
// the child does not get) cannot traverse dir and its parents. A directory
// from os.MkdirTemp is 0700, so a BaseDir inside one (t.TempDir()) fails.
func checkSearchable(dir string, uid, gid int) error {
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("localstack: %w", err)
		}
		perm := fi.Mode().Perm()
		ok := perm&0o001 != 0
		if st, isUnix := fi.Sys().(*syscall.Stat_t); isUnix {
			ok = ok || int(st.Uid) == uid && perm&0o100 != 0 || int(st.Gid) == gid && perm&0o010 != 0
		}
		if !ok {
			return fmt.Errorf("localstack: user postgres cannot enter %s (mode %v); choose another BaseDir", d, perm)
		}
		if parent := filepath.Dir(d); parent == d {
			return nil
		}
	}
}

// Addr is host:port of the server.
func (pg *Postgres) Addr() string {
	pg.mu.Lock()
	defer pg.mu.Unlock()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(pg.port))
}

// DSN is the connection URL of Database:
// postgres://vagt@127.0.0.1:port/vagt?sslmode=disable.
func (pg *Postgres) DSN() string { return pg.DSNFor(pg.Database) }

// DSNFor is the connection URL of another database on this server.
func (pg *Postgres) DSNFor(database string) string {
	return fmt.Sprintf("postgres://%s@%s/%s?sslmode=disable", postgresSuperuser, pg.Addr(), database)
}

// CreateDatabase creates an empty database, so tests that share one server
// can each have their own, and returns its DSN.
func (pg *Postgres) CreateDatabase(ctx context.Context, name string) (string, error) {
	if err := pg.exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", err
	}
	return pg.DSNFor(name), nil
}

// DropDatabase deletes a database, disconnecting whoever still uses it.
func (pg *Postgres) DropDatabase(ctx context.Context, name string) error {
	return pg.exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
}

// exec runs one statement in the maintenance database "postgres".
func (pg *Postgres) exec(ctx context.Context, sql string) error {
	return execPostgres(ctx, pg.DSNFor("postgres"), sql)
}

func execPostgres(ctx context.Context, dsn, sql string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("localstack: connect to postgres: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("localstack: postgres %q: %w", sql, err)
	}
	return nil
}

func (pg *Postgres) launchLocked(ctx context.Context) error {
	ctx, cancel := withStartTimeout(ctx, pg.opts.StartTimeout)
	defer cancel()
	data := filepath.Join(pg.dir, "data")
	if !pg.prepared {
		if err := pg.runInitdb(ctx, data); err != nil {
			return err
		}
	}
	repick := func() (err error) { pg.port, err = FreePort(); return err }
	if pg.prepared {
		repick = nil // a restart keeps its port: clients reconnect to it
	}
	syncCommit := "synchronous_commit=off"
	if pg.opts.SynchronousCommit {
		syncCommit = "synchronous_commit=on"
	}
	return pg.startRetrying(ctx, repick, func(ctx context.Context) error {
		err := pg.proc.start(pg.postgres,
			"-D", data,
			"-p", strconv.Itoa(pg.port),
			"-k", filepath.Join(pg.dir, "sock"),
			"-c", "listen_addresses=127.0.0.1",
			// Durability off: tests and demos only (see Postgres).
			"-c", "fsync=off",
			"-c", syncCommit,
			"-c", "full_page_writes=off",
		)
		if err != nil {
			return err
		}
		maintenance := fmt.Sprintf("postgres://%s@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=2",
			postgresSuperuser, pg.port)
		err = pg.proc.waitReady(ctx, func(ctx context.Context) error {
			return execPostgres(ctx, maintenance, "SELECT 1")
		})
		if err != nil || pg.prepared {
			return err
		}
		if err := execPostgres(ctx, maintenance, "CREATE DATABASE "+pgx.Identifier{pg.Database}.Sanitize()); err != nil {
			return err
		}
		pg.prepared = true
		return nil
	})
}

// runInitdb creates the cluster once; a retried start after a failed one
// finds PG_VERSION and skips it.
func (pg *Postgres) runInitdb(ctx context.Context, data string) error {
	if _, err := os.Stat(filepath.Join(data, "PG_VERSION")); err == nil {
		return nil
	}
	logFile, err := os.OpenFile(pg.proc.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("localstack: open postgres log: %w", err)
	}
	defer logFile.Close()
	fmt.Fprintf(logFile, "--- localstack %s: %s\n", time.Now().Format(time.RFC3339Nano), pg.initdb)
	cmd := exec.CommandContext(ctx, pg.initdb,
		"-D", data, "-U", postgresSuperuser, "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync")
	cmd.Dir = pg.dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.Env = postgresEnv()
	cmd.SysProcAttr = sysProcAttr(pg.cred)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("localstack: initdb: %w; log tail:\n%s", err, pg.proc.logTail())
	}
	return nil
}

// postgresEnv drops PG* variables that could point the programs elsewhere
// and fixes the locale, so messages (which we match) are in English.
func postgresEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") || strings.HasPrefix(kv, "LC_") || strings.HasPrefix(kv, "LANG") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "LC_ALL=C")
}
