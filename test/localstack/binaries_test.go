package localstack

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFindBinaryHonoursVAGTBinDir(t *testing.T) {
	dir := t.TempDir()
	prog := filepath.Join(dir, "vagt-test-prog")
	if err := os.WriteFile(prog, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("VAGT_BIN_DIR", dir)
	got, err := FindBinary("vagt-test-prog")
	if err != nil || got != prog {
		t.Fatalf("FindBinary = %q, %v; want %q", got, err, prog)
	}
}

func TestFindBinaryMissingSaysHowToInstall(t *testing.T) {
	t.Setenv("VAGT_BIN_DIR", t.TempDir())
	t.Setenv("PATH", t.TempDir())
	_, err := FindBinary("influxd-that-does-not-exist")
	if !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("err = %v; want ErrNotInstalled", err)
	}
	var missing *MissingBinaryError
	if !errors.As(err, &missing) || !strings.Contains(err.Error(), "make tools") {
		t.Fatalf("err = %v; want a MissingBinaryError that names make tools", err)
	}
}

func TestCheckSearchable(t *testing.T) {
	private := filepath.Join(t.TempDir(), "private")
	if err := os.Mkdir(private, 0o700); err != nil {
		t.Fatal(err)
	}
	const stranger = 54321 // neither the owner nor in the group
	if err := checkSearchable(filepath.Join(private, "x"), stranger, stranger); err != nil {
		// The leaf need not exist yet; only its parents matter.
		if !strings.Contains(err.Error(), "no such file") {
			t.Fatal(err)
		}
	}
	if err := checkSearchable(private, stranger, stranger); err == nil {
		t.Fatalf("a 0700 directory is searchable by uid %d", stranger)
	}
	if err := checkSearchable(os.TempDir(), stranger, stranger); err != nil {
		t.Fatalf("the temp dir: %v", err)
	}
}
