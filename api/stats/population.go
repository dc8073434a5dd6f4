package stats

import (
	_ "embed"
	"encoding/csv"
	"strconv"
	"strings"

	"github.com/vagt-dk/vagt"
)

// population65 is the number of citizens aged 65+ per municipality. The figures are
// ILLUSTRATIVE (see the file's header and docs/statistics.md), not Statistics Denmark's.
//
//go:embed data/population65.csv
var population65CSV string

var population65 = func() map[vagt.MunicipalityCode]int {
	out := map[vagt.MunicipalityCode]int{}
	var lines []string
	for _, l := range strings.Split(population65CSV, "\n") {
		if !strings.HasPrefix(l, "#") && strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	recs, err := csv.NewReader(strings.NewReader(strings.Join(lines, "\n"))).ReadAll()
	if err != nil {
		panic("stats: data/population65.csv: " + err.Error())
	}
	for _, r := range recs[1:] {
		code, err1 := strconv.Atoi(r[0])
		n, err2 := strconv.Atoi(r[1])
		if err1 != nil || err2 != nil {
			panic("stats: data/population65.csv: bad line " + strings.Join(r, ","))
		}
		out[vagt.MunicipalityCode(code)] = n
	}
	return out
}()

// Population65 returns the (illustrative) number of citizens aged 65+ in m; 0 if unknown.
func Population65(m vagt.MunicipalityCode) int { return population65[m] }
