package server_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/apitest"
	"github.com/vagt-dk/vagt/api/auth"
	"github.com/vagt-dk/vagt/api/server"
	"github.com/vagt-dk/vagt/api/stats"
)

// TestPopulationFile: --population65 loads FOLK1A and the api answers with its figures
// and its source; a file that cannot be used whole stops the start.
func TestPopulationFile(t *testing.T) {
	folk1a := filepath.Join("..", "stats", "testdata", "folk1a-2026K1.csv")
	f, err := os.Open(folk1a)
	if err != nil {
		t.Fatal(err)
	}
	want, err := stats.ReadPopulation(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	srv := apitest.Start(t, server.Config{Listen: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "vagt.db"), Population65: folk1a}, server.Deps{})
	tok, hash, _ := auth.NewToken()
	if _, err := srv.Store.IssueToken(t.Context(), api.Principal{Name: "mads", Role: api.RoleManager, Municipality: 766}, hash, nil, t0); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "http://"+srv.Addr()+"/api/v1/municipalities", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Municipalities []struct {
			Code         int `json:"code"`
			Population65 int `json:"population_65plus"`
		}
		Population stats.PopulationInfo `json:"population_65plus"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || len(body.Municipalities) != 98 {
		t.Fatalf("%v %d municipalities", err, len(body.Municipalities))
	}
	for _, m := range body.Municipalities {
		if m.Code == 766 && m.Population65 != want.Of(766) {
			t.Errorf("Hedensted: %d aged 65+, the file says %d", m.Population65, want.Of(766))
		}
	}
	if body.Population.Illustrative || body.Population.Period != "2026K1" {
		t.Errorf("source %+v", body.Population)
	}

	bad := filepath.Join(t.TempDir(), "folk1a.csv")
	if err := os.WriteFile(bad, []byte("OMRÅDE;ALDER;TID;INDHOLD\n766;70;2026K1;100\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := server.New(t.Context(), server.Config{Listen: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "vagt.db"), Population65: bad}, server.Deps{}); !errors.Is(err, stats.ErrPopulation) {
		t.Errorf("a table of one municipality: %v, want ErrPopulation", err)
	}
}
