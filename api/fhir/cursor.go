package fhir

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
)

// Cursor is a position in one municipality's visits: every visit whose resolve event
// comes after Event. The event log's ids grow in commit order on both stores (on
// PostgreSQL writers take a lock, docs/alerts.md "Store"), so a visit committed later
// never lands behind a cursor a care record already holds: the same cursor gives the same
// page, and the pages do not overlap.
type Cursor struct {
	Municipality vagt.MunicipalityCode
	Event        int64
}

const cursorPrefix = "vagt-fhir-1/"

// String is the cursor as clients see it: opaque (base64url). It is not a secret and needs
// no signature: a forged one names a position and a municipality, and both are checked
// against the caller and the log.
func (c Cursor) String() string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%s%d/%d", cursorPrefix, uint16(c.Municipality), c.Event))
}

// ParseCursor reads a cursor that String made.
func ParseCursor(s string) (Cursor, error) {
	bad := fmt.Errorf("%w: cursor %q is not one this API gave out", api.ErrInvalid, clip(s))
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, bad
	}
	rest, ok := strings.CutPrefix(string(b), cursorPrefix)
	if !ok {
		return Cursor{}, bad
	}
	mun, ev, ok := strings.Cut(rest, "/")
	if !ok {
		return Cursor{}, bad
	}
	m, err1 := strconv.ParseUint(mun, 10, 16)
	e, err2 := strconv.ParseInt(ev, 10, 64)
	if err1 != nil || err2 != nil || e < 0 || strconv.FormatInt(e, 10) != ev || strconv.FormatUint(m, 10) != mun {
		return Cursor{}, bad
	}
	return Cursor{Municipality: vagt.MunicipalityCode(m), Event: e}, nil
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
