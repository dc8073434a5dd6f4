package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vagt-dk/vagt/api/auth"
	"github.com/vagt-dk/vagt/api/sqlstore"
)

func TestTokenCreate(t *testing.T) {
	db := filepath.Join(t.TempDir(), "vagt.db")
	env := func(k string) string { return map[string]string{"VAGT_DB": db}[k] }
	var out, errOut bytes.Buffer
	err := commands.Run(context.Background(), "vagt", []string{"token", "create", "--name", "anna", "--role", "staff", "--municipality", "766"}, env, &out, &errOut)
	if err != nil {
		t.Fatalf("%v: %s", err, errOut.String())
	}
	token := strings.TrimSpace(out.String())
	if !strings.HasPrefix(token, auth.TokenPrefix) {
		t.Fatalf("token %q", token)
	}
	s, err := sqlstore.Open(t.Context(), db, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p, err := s.Principal(t.Context(), auth.HashToken(token), time.Now())
	if err != nil || p.Name != "anna" || p.Role != auth.RoleStaff || p.Municipality != 766 {
		t.Fatalf("principal %v %+v", err, p)
	}
	log, err := s.AuditLog(t.Context(), "", 0, 10)
	if err != nil || len(log) != 1 || log[0].Action != "token.create" {
		t.Fatalf("audit %v %+v", err, log)
	}
	// Staff need a municipality; the store keeps nothing of a refused token.
	err = commands.Run(context.Background(), "vagt", []string{"token", "create", "--name", "bo", "--role", "staff"}, env, &out, &errOut)
	if err == nil {
		t.Fatal("a staff token without a municipality was created")
	}
}
