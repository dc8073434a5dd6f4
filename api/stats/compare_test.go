package stats

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
)

// compareFixture: Hedensted (766) has 20 citizens with a medicine dispenser; of its five
// nearest peers by size in Region Midtjylland only Favrskov (710) has any, 3 — an aggregate
// of 3 could only be suppressed, so the group is widened to Holstebro (661, 4 more).
// Aarhus (751), outside the group, has 12.
func compareFixture() *facts {
	f := &facts{readings: map[vagt.DeviceID][]time.Time{}}
	add := func(m vagt.MunicipalityCode, n int, registered, installed time.Time) {
		for range n {
			id := int64(len(f.citizens) + 1)
			f.citizens = append(f.citizens, CitizenFact{ID: id, Municipality: m, RegisteredAt: registered})
			dev := vagt.DeviceID(fmt.Sprintf("dev-%d", id))
			f.devices = append(f.devices, DeviceFact{Device: dev, Municipality: m, Technology: vagt.TechMedicineDispenser, Citizen: id, InstalledAt: installed})
			f.readings[dev] = []time.Time{installed.Add(time.Hour)}
		}
	}
	dk := func(m time.Month, d int) time.Time { return time.Date(2026, m, d, 12, 0, 0, 0, vagt.Copenhagen) }
	add(766, 10, dk(1, 2), dk(1, 12)) // 10 days from registration to installation
	add(766, 10, dk(1, 2), dk(2, 1))  // 30 days
	add(710, 3, dk(1, 2), dk(1, 20))
	add(661, 4, dk(1, 2), dk(1, 20))
	add(751, 12, dk(1, 2), dk(1, 20))
	return f
}

func TestCompare(t *testing.T) {
	f := compareFixture()
	svc := &Service{Store: f, Telemetry: f, Model: DefaultBenefitModel()}
	p, err := ParsePeriod("2026-01-01", "2026-04-01", "")
	if err != nil {
		t.Fatal(err)
	}
	techs := []vagt.Technology{vagt.TechPersonalAlarm, vagt.TechMedicineDispenser}

	// A manager: own exact, peers widened and protected, rank among the national view.
	c, err := svc.Compare(t.Context(), CompareQuery{Period: p, Technologies: techs, Own: 766})
	if err != nil {
		t.Fatal(err)
	}
	codes := func(ms []vagt.MunicipalityCode) (out []int) {
		for _, m := range ms {
			out = append(out, int(m))
		}
		return out
	}
	// The five nearest (Favrskov 710, Syddjurs 706, Norddjurs 707, Skive 779, Ikast-Brande
	// 756) hold 3; Skanderborg (746) none; Holstebro (661) 4 more.
	if g := c.PeerGroup; g == nil || fmt.Sprint(codes(g.Municipalities)) != "[661 706 707 710 746 756 779]" || !g.Widened || !strings.Contains(g.Note, "medicine_dispenser") {
		t.Fatalf("peer group %+v", c.PeerGroup)
	}
	var got []string
	for _, r := range c.Rows {
		got = append(got, fmt.Sprintf("%s %d %s n=%d cit=%s dev=%s new=%s days=%v rank=%s/%d base=%d", r.Entity, int(r.Municipality), r.Technology, r.Municipalities,
			str(r.Citizens), str(r.DevicesActive), str(r.NewInstallations), fp(r.DaysToInstallP50), str(r.Rank), r.RankOf, r.RoundingBase))
	}
	want := []string{
		"municipality 766 personal_alarm n=1 cit=0 dev=0 new=0 days=<nil> rank=1/98 base=1",     // tied with every other 0
		"municipality 766 medicine_dispenser n=1 cit=20 dev=20 new=20 days=10 rank=1/96 base=1", // of the 96 with a figure (Favrskov and Holstebro hidden); p50 nearest rank of ten 10s, ten 30s
		"municipality 766 all n=1 cit=20 dev=<nil> new=<nil> days=<nil> rank=<nil>/0 base=1",
		"peers 0 personal_alarm n=7 cit=0 dev=0 new=0 days=<nil> rank=<nil>/0 base=5",
		"peers 0 medicine_dispenser n=7 cit=5 dev=5 new=5 days=18 rank=<nil>/0 base=5", // 7 citizens
		"peers 0 all n=7 cit=5 dev=<nil> new=<nil> days=<nil> rank=<nil>/0 base=5",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("manager's comparison:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if c.Disclosure.Method != "exact" || len(c.Disclosure.Rules) < 2 || !c.Population65.Illustrative || c.Arrival != "recorded" {
		t.Errorf("disclosure %+v, population %+v, arrival %q", c.Disclosure, c.Population65, c.Arrival)
	}

	// The national view: every municipality protected, Hedensted 20 → 20, Aarhus 12 → 10,
	// Favrskov's 3 and Holstebro's 4 suppressed; the distribution leaves them out.
	nat, err := svc.Compare(t.Context(), CompareQuery{Period: p, Technologies: techs, Municipalities: allMunicipalities(), All: true, Suppress: true})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range nat.Rows {
		if r.Entity == "municipality" {
			n++
		}
		if r.Technology != "medicine_dispenser" {
			continue
		}
		switch r.Municipality {
		case 766, 751:
			if r.Citizens == nil || *r.Citizens != map[vagt.MunicipalityCode]int{766: 20, 751: 10}[r.Municipality] || r.Rank == nil {
				t.Errorf("national %d: %s rank %s", r.Municipality, str(r.Citizens), str(r.Rank))
			}
		case 710, 661:
			if r.Citizens != nil || !r.Suppressed || r.Rank != nil || r.DaysToInstallP50 != nil {
				t.Errorf("national %d is not suppressed: %s", r.Municipality, str(r.Citizens))
			}
		}
	}
	if n != 98*3 {
		t.Errorf("%d municipality rows, want 98 × 3", n)
	}
	i := slices.IndexFunc(nat.Distribution, func(d Distribution) bool { return d.Technology == vagt.TechMedicineDispenser })
	if d := nat.Distribution[i]; d.Municipalities != 98 || d.Hidden != 2 || d.Max == nil || *d.Max != round(20*1000.0/10600, 3) {
		t.Errorf("distribution %+v", d)
	}
}

func TestComparePeerGroupRefused(t *testing.T) {
	f := compareFixture()
	svc := &Service{Store: f, Telemetry: f, Model: DefaultBenefitModel()}
	p, _ := ParsePeriod("2026-01-01", "2026-04-01", "")
	for _, peers := range [][]vagt.MunicipalityCode{{710, 661, 751}, {710, 661, 751, 615, 766}} {
		_, err := svc.Compare(t.Context(), CompareQuery{Period: p, Technologies: []vagt.Technology{vagt.TechMedicineDispenser}, Own: 766, Peers: peers})
		if !errors.Is(err, ErrSmallPeerGroup) {
			t.Errorf("peers %v: %v, want a refusal", peers, err)
		}
	}
}

func TestPeriodCheckAt(t *testing.T) {
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		from, to  string
		retention time.Duration
		field     string // "": accepted
	}{
		{"2026-01-01", "2026-04-01", DefaultRetention, ""},
		{"2026-12-01", "2027-01-01", DefaultRetention, ""},     // the current month: its end is ahead
		{"2026-12-03", "2027-01-01", DefaultRetention, "from"}, // wholly in the future
		{"2015-01-01", "2015-04-01", DefaultRetention, "from"}, // before the retention (10 years)
		{"2026-09-01", "2026-12-01", 90 * 24 * time.Hour, "from"},
		// Starts within a retention of 90 days but is longer than it (it runs into the future).
		{"2026-11-01", "2027-03-01", 90 * 24 * time.Hour, "to"},
		{"2026-11-01", "2027-01-01", 90 * 24 * time.Hour, ""},
	} {
		p, err := ParsePeriod(c.from, c.to, "")
		if err != nil {
			t.Fatal(err)
		}
		err = p.CheckAt(now, c.retention)
		var fe *api.FieldError
		switch {
		case c.field == "" && err != nil:
			t.Errorf("%s..%s: %v", c.from, c.to, err)
		case c.field != "" && (!errors.As(err, &fe) || fe.Field != c.field || !errors.Is(err, api.ErrInvalid)):
			t.Errorf("%s..%s: %v, want a refusal of %s", c.from, c.to, err, c.field)
		}
	}
}

func fp(v *float64) string {
	if v == nil {
		return "<nil>"
	}
	return fmt.Sprint(*v)
}
