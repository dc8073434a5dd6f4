package stats

import (
	"bufio"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/vagt-dk/vagt"
)

// testdata/folk1a-2026K1.csv has the shape of statbank.dk's export of FOLK1A with codes
// (BOM, ';', CRLF, the whole country, the regions and Christiansø among the areas, ages
// 60-100 one a line); its counts are synthetic.
const folk1a = "testdata/folk1a-2026K1.csv"

// want65 sums the file's ages 65+ per area the simple way, to check the reader against.
func want65(t *testing.T) map[string]int {
	t.Helper()
	f, err := os.Open(folk1a)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		p := strings.Split(strings.TrimSpace(sc.Text()), ";")
		age, _ := strconv.Atoi(p[2])
		n, _ := strconv.Atoi(p[4])
		if age >= 65 {
			out[p[0]] += n
		}
	}
	return out
}

func TestReadPopulation(t *testing.T) {
	f, err := os.Open(folk1a)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := ReadPopulation(f)
	if err != nil {
		t.Fatal(err)
	}
	want := want65(t)
	for _, m := range vagt.Municipalities() {
		if got := p.Of(m.Code); got != want[strconv.Itoa(int(m.Code))] {
			t.Errorf("%d %s: %d, want %d", m.Code, m.Name, got, want[strconv.Itoa(int(m.Code))])
		}
	}
	if p.Of(411) != 0 || p.Of(0) != 0 || p.Of(81) != 0 {
		t.Error("Christiansø, the whole country or a region counted as a municipality")
	}
	if info := p.Info(); info.Illustrative || info.Period != "2026K1" || !strings.Contains(info.Source, "FOLK1A") {
		t.Errorf("info %+v", info)
	}
	if d := DefaultPopulation().Info(); !d.Illustrative || DefaultPopulation().Of(766) == 0 {
		t.Errorf("the shipped table: %+v", d)
	}
}

// A table that cannot be used whole is refused with the line and the reason: a half-read
// table must not become a denominator.
func TestReadPopulationRefuses(t *testing.T) {
	all := func(row func(code string) string) string {
		var b strings.Builder
		b.WriteString("OMRÅDE;ALDER;TID;INDHOLD\n")
		for _, m := range vagt.Municipalities() {
			b.WriteString(row(strconv.Itoa(int(m.Code))) + "\n")
		}
		return b.String()
	}
	good := all(func(c string) string { return c + ";70;2026K1;100" })
	if _, err := ReadPopulation(strings.NewReader(good)); err != nil {
		t.Fatalf("the good table: %v", err)
	}
	for _, c := range []struct{ name, csv, says string }{
		{"no rows", "OMRÅDE;ALDER;TID;INDHOLD\n", "no rows"},
		{"no count column", "OMRÅDE;ALDER;TID\n101;70;2026K1\n", "no column INDHOLD"},
		{"a band across 65", good + "101;60-69;2026K1;10\n", "spans 65"},
		{"a total age", good + "101;IALT;2026K1;10\n", "IALT"},
		{"two quarters", good + "101;70;2026K2;10\n", "quarter 2026K2"},
		{"by sex", strings.Replace(all(func(c string) string { return c + ";M;70;2026K1;100" }), "OMRÅDE;", "OMRÅDE;KØN;", 1) + "101;K;70;2026K1;10\n", "export its total"},
		{"an unknown area", good + "999;70;2026K1;10\n", "not one of the 98"},
		{"names, not codes", good + "Hedensted;70;2026K1;10\n", "valuePresentation=Code"},
		{"a bad count", good + "101;70;2026K1;..\n", "count"},
		{"a negative count", good + "101;70;2026K1;-1\n", "count"},
		{"a municipality missing", strings.Replace(good, "766;70;2026K1;100\n", "", 1), "(766)"},
		{"a short line", good + "101;70\n", "fields"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadPopulation(strings.NewReader(c.csv))
			if !errors.Is(err, ErrPopulation) || !strings.Contains(err.Error(), c.says) {
				t.Errorf("%v, want ErrPopulation saying %q", err, c.says)
			}
		})
	}
}
