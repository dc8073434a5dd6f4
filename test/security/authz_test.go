package security

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/auth"
	"github.com/vagt-dk/vagt/api/careplan"
	"github.com/vagt-dk/vagt/api/httpapi"
	"github.com/vagt-dk/vagt/api/registry"
)

// principals are every role, inside and outside the objects' district and municipality:
// the objects (alert, citizen, home, gateway, devices) are in district Nord of
// municipality 766. staff-syd is care staff of the other district of 766, staff-away and
// manager-away work in 101; citizen is the citizen behind the objects, citizen-other a
// citizen login of 766 that belongs to nobody. "" is anonymous (no token).
var principals = [...]string{"", "staff-nord", "staff-syd", "staff-away", "manager", "manager-away", "national", "admin",
	"citizen", "citizen-other"}

// outcome is the status each principal gets, in the order of principals.
type outcome [len(principals)]int

// public routes answer everybody, token or not.
var public = outcome{200, 200, 200, 200, 200, 200, 200, 200, 200, 200}

// matrix has every route the api serves and the exact status each principal gets, as
// designed. A role with no business on a route gets 403 whatever the id; an object outside
// the caller's municipality or district gets 404, the same answer as an id that does not
// exist (issue 22, item 7). A route added without a line here fails TestEveryRouteIsInTheMatrix. A write
// is made on a fresh object of district Nord for every call (see household), so that one
// principal's erasure or acknowledgement cannot change what the next one gets; a request
// body, when the route reads one, is in bodies.
var matrix = map[string]outcome{
	//                                       anon staff:nord syd away  mgr  away national admin citizen other
	"GET /healthz":                  public,
	"GET /readyz":                   public,
	"GET /openapi.yaml":             public,
	"GET /favicon.ico":              public,
	"GET /":                         public,
	"GET /stats":                    public,
	"GET /stats/compare":            public,
	"GET /night":                    public,
	"GET /careplan":                 public,
	"GET /app":                      public,
	"GET /app/sw.js":                public,
	"GET /app/manifest.webmanifest": public,
	"GET /assets/{file}":            public,
	"GET /assets/lang/{file}":       public, // da.json
	"GET /auth/config":              public, // {"oidc": false} here
	// Sign-in is not configured in this world: both say so (404) to everyone. Configured, they
	// are tested against a real provider (api/httpapi TestSignIn*, TestSignInRefusals).
	"GET /auth/login":                              {404, 404, 404, 404, 404, 404, 404, 404, 404, 404},
	"GET /auth/callback":                           {404, 404, 404, 404, 404, 404, 404, 404, 404, 404},
	"GET /metrics":                                 {401, 401, 401, 401, 401, 401, 401, 401, 401, 401}, // the scraper's token only (TestMetricsBehindToken)
	"POST /api/v1/activate":                        {201, 201, 201, 201, 201, 201, 201, 201, 201, 201}, // a fresh activation code each: no token needed
	"GET /api/v1/me":                               {401, 200, 200, 200, 200, 200, 200, 200, 200, 200},
	"GET /api/v1/alerts":                           {401, 200, 200, 200, 200, 200, 403, 200, 403, 403},
	"GET /api/v1/alerts/stream":                    {401, 200, 200, 200, 200, 200, 403, 200, 403, 403},
	"GET /api/v1/alerts/{id}":                      {401, 200, 404, 404, 403, 403, 403, 403, 403, 403},
	"POST /api/v1/alerts/{id}/ack":                 {401, 200, 404, 404, 403, 403, 403, 403, 403, 403},
	"POST /api/v1/alerts/{id}/resolve":             {401, 200, 404, 404, 403, 403, 403, 403, 403, 403},
	"POST /api/v1/alerts/{id}/notes":               {401, 201, 404, 404, 403, 403, 403, 403, 403, 403},
	"POST /api/v1/alerts/{id}/take":                {401, 200, 404, 404, 403, 403, 403, 403, 403, 403},
	"POST /api/v1/alerts/{id}/enroute":             {401, 200, 404, 404, 403, 403, 403, 403, 403, 403},
	"POST /api/v1/alerts/{id}/arrived":             {401, 200, 404, 404, 403, 403, 403, 403, 403, 403},
	"POST /api/v1/alerts/{id}/release":             {401, 409, 404, 404, 403, 403, 403, 403, 403, 403}, // nobody took the fresh alert: a conflict, not a refusal
	"POST /api/v1/tokens":                          {401, 403, 403, 403, 403, 403, 403, 201, 403, 403},
	"GET /api/v1/audit":                            {401, 403, 403, 403, 403, 403, 403, 200, 403, 403},
	"GET /api/v1/municipalities":                   {401, 200, 200, 200, 200, 200, 200, 200, 200, 200},
	"GET /api/v1/districts":                        {401, 403, 403, 403, 200, 200, 403, 200, 403, 403},
	"POST /api/v1/districts":                       {401, 403, 403, 403, 201, 404, 403, 201, 403, 403},
	"GET /api/v1/citizens":                         {401, 403, 403, 403, 200, 200, 403, 200, 403, 403},
	"POST /api/v1/citizens":                        {401, 403, 403, 403, 201, 404, 403, 201, 403, 403},
	"GET /api/v1/citizens/{id}":                    {401, 403, 403, 403, 200, 404, 403, 200, 403, 403},
	"DELETE /api/v1/citizens/{id}":                 {401, 403, 403, 403, 403, 403, 403, 200, 403, 403},
	"POST /api/v1/citizens/{id}/activation":        {401, 403, 403, 403, 201, 404, 403, 201, 403, 403},
	"DELETE /api/v1/tokens/{id}":                   {401, 403, 403, 403, 403, 403, 403, 200, 403, 403},
	"GET /api/v1/users/{id}/tokens":                {401, 403, 403, 403, 403, 403, 403, 200, 403, 403},
	"DELETE /api/v1/users/{id}/tokens":             {401, 403, 403, 403, 403, 403, 403, 200, 403, 403},
	"GET /api/v1/gateways/{id}/password-file-line": {401, 403, 403, 403, 403, 403, 403, 200, 403, 403},
	"GET /api/v1/homes":                            {401, 403, 403, 403, 200, 200, 403, 200, 403, 403},
	"POST /api/v1/homes":                           {401, 403, 403, 403, 201, 404, 403, 201, 403, 403},
	"GET /api/v1/gateways":                         {401, 403, 403, 403, 200, 200, 403, 200, 403, 403},
	"POST /api/v1/gateways":                        {401, 403, 403, 403, 201, 404, 403, 201, 403, 403},
	"GET /api/v1/devices":                          {401, 403, 403, 403, 200, 200, 403, 200, 403, 403},
	"POST /api/v1/devices":                         {401, 403, 403, 403, 201, 404, 403, 201, 403, 403},
	"POST /api/v1/devices/{device}/accept":         {401, 403, 403, 403, 200, 404, 403, 200, 403, 403},
	"POST /api/v1/devices/{device}/remove":         {401, 403, 403, 403, 200, 404, 403, 200, 403, 403},
	"GET /api/v1/stats/adoption":                   {401, 403, 403, 403, 200, 200, 200, 200, 403, 403},
	"GET /api/v1/stats/alerts":                     {401, 403, 403, 403, 200, 200, 200, 200, 403, 403},
	"GET /api/v1/stats/benefits":                   {401, 403, 403, 403, 200, 200, 200, 200, 403, 403},
	"GET /api/v1/stats/night":                      {401, 403, 403, 403, 200, 200, 200, 200, 403, 403},
	"GET /api/v1/stats/compare":                    {401, 403, 403, 403, 200, 200, 200, 200, 403, 403},
	// Night supervision: the board and a check are the care staff's (like acting on an
	// alert); a home's recorded checks have the care plan's access.
	"GET /api/v1/night/board":               {401, 200, 200, 200, 403, 403, 403, 403, 403, 403},
	"POST /api/v1/homes/{id}/night-checks":  {401, 201, 404, 404, 403, 403, 403, 403, 403, 403},
	"GET /api/v1/homes/{id}/night-checks":   {401, 200, 404, 404, 200, 404, 403, 200, 403, 403},
	"GET /api/v1/me/data":                   {401, 403, 403, 403, 403, 403, 403, 403, 200, 403},
	"GET /api/v1/homes/{id}/config":         {401, 200, 404, 404, 200, 404, 403, 200, 403, 403},
	"PUT /api/v1/homes/{id}/config":         {401, 200, 404, 404, 200, 404, 403, 200, 403, 403},
	"GET /api/v1/homes/{id}/config/history": {401, 200, 404, 404, 200, 404, 403, 200, 403, 403},
	"PUT /api/v1/homes/{id}/absence":        {401, 200, 404, 404, 200, 404, 403, 200, 403, 403},
	"DELETE /api/v1/homes/{id}/absence":     {401, 200, 404, 404, 200, 404, 403, 200, 403, 403},
	"POST /api/v1/devices/{device}/test":    {401, 200, 404, 404, 200, 404, 403, 200, 403, 403},
	"DELETE /api/v1/devices/{device}/test":  {401, 200, 404, 404, 200, 404, 403, 200, 403, 403},
	"GET /api/v1/careplans":                 {401, 200, 200, 200, 200, 200, 403, 200, 403, 403},
	// GPS trackers (docs/gps.md): registering one and a home's safe zones have the care
	// plan's access; a tracker alert's track is the care staff's, like the alert. OsmAnd
	// positions come in with the tracker's key in the path, whoever's token is sent.
	"POST /api/v1/homes/{id}/trackers": {401, 201, 404, 404, 201, 404, 403, 201, 403, 403},
	"GET /api/v1/homes/{id}/safezones": {401, 200, 404, 404, 200, 404, 403, 200, 403, 403},
	"PUT /api/v1/homes/{id}/safezones": {401, 200, 404, 404, 200, 404, 403, 200, 403, 403},
	"GET /api/v1/alerts/{id}/track":    {401, 200, 404, 404, 403, 403, 403, 403, 403, 403},
	"GET /gps/osmand/{key}":            public,
	"POST /gps/osmand/{key}":           public,

	// The care record's pull: staff of the whole municipality or an admin (docs/fhir.md);
	// staff of a district, managers and citizens may not.
	"GET /api/v1/fhir/Encounter": {401, 403, 403, 403, 403, 403, 403, 200, 403, 403},
	"GET /api/v1/fhir/export":    {401, 403, 403, 403, 403, 403, 403, 200, 403, 403},

	// Registry changes and decommissioning: the municipality's managers and admins.
	"PATCH /api/v1/districts/{id}":           {401, 403, 403, 403, 200, 404, 403, 200, 403, 403},
	"DELETE /api/v1/districts/{id}":          {401, 403, 403, 403, 204, 404, 403, 204, 403, 403},
	"PATCH /api/v1/citizens/{id}":            {401, 403, 403, 403, 200, 404, 403, 200, 403, 403},
	"PATCH /api/v1/homes/{id}":               {401, 403, 403, 403, 200, 404, 403, 200, 403, 403},
	"DELETE /api/v1/homes/{id}":              {401, 403, 403, 403, 200, 404, 403, 200, 403, 403},
	"PATCH /api/v1/gateways/{id}":            {401, 403, 403, 403, 200, 404, 403, 200, 403, 403},
	"DELETE /api/v1/gateways/{id}":           {401, 403, 403, 403, 200, 404, 403, 200, 403, 403},
	"POST /api/v1/gateways/{id}/credentials": {401, 403, 403, 403, 200, 404, 403, 200, 403, 403},
	// Duty rosters (docs/alerts.md): the municipality's staff and managers read who is on
	// duty; its managers (the district leads) and admins write rosters.
	"GET /roster":                                       public,
	"GET /api/v1/districts/{id}/roster":                 {401, 200, 200, 404, 200, 404, 403, 200, 403, 403},
	"PUT /api/v1/districts/{id}/roster":                 {401, 403, 403, 403, 200, 404, 403, 200, 403, 403},
	"GET /api/v1/municipalities/{code}/central-on-call": {401, 200, 200, 404, 200, 404, 403, 200, 403, 403},
	"PUT /api/v1/municipalities/{code}/central-on-call": {401, 403, 403, 403, 200, 404, 403, 200, 403, 403},
	"GET /api/v1/duty":                                  {401, 200, 200, 404, 200, 404, 403, 200, 403, 403},
	// The citizen page (docs/citizen.md): the citizen's own, whose open alert refuses an
	// erasure request (409); no relative holds a grant in this world. The national login is
	// not configured here (404); configured, it is tested against a real provider
	// (api/httpapi TestNationalLogin*, TestRelativesByConsent). Recording a citizen's
	// identity and granting on the citizen's documented consent: managers and admins.
	"GET /mig":                                       public,
	"GET /auth/citizen/login":                        {404, 404, 404, 404, 404, 404, 404, 404, 404, 404},
	"GET /auth/citizen/callback":                     {404, 404, 404, 404, 404, 404, 404, 404, 404, 404},
	"GET /api/v1/me/overview":                        {401, 403, 403, 403, 403, 403, 403, 403, 200, 403},
	"POST /api/v1/me/erasure":                        {401, 403, 403, 403, 403, 403, 403, 403, 409, 403},
	"GET /api/v1/me/relatives":                       {401, 403, 403, 403, 403, 403, 403, 403, 200, 403},
	"POST /api/v1/me/relatives":                      {401, 403, 403, 403, 403, 403, 403, 403, 201, 403},
	"DELETE /api/v1/me/relatives/{grant}":            {401, 403, 403, 403, 403, 403, 403, 403, 200, 403},
	"GET /api/v1/relative/view":                      {401, 403, 403, 403, 403, 403, 403, 403, 403, 403},
	"PUT /api/v1/citizens/{id}/identity":             {401, 403, 403, 403, 204, 404, 403, 204, 403, 403},
	"POST /api/v1/citizens/{id}/relatives":           {401, 403, 403, 403, 201, 404, 403, 201, 403, 403},
	"DELETE /api/v1/citizens/{id}/relatives/{grant}": {401, 403, 403, 403, 200, 404, 403, 200, 403, 403},
}

// bodies are the request bodies of the routes that read one: valid, so that a refusal is
// authorisation's and not validation's, and naming a new object (n) where the route
// creates one, in district Nord of 766 or hanging off the fresh household h.
var bodies = map[string]func(w *world, h household, n string) string{
	"POST /api/v1/activate": func(w *world, h household, _ string) string { return `{"code":"` + h.code + `"}` },
	"POST /api/v1/alerts/{id}/resolve": func(*world, household, string) string {
		return `{"outcome":"visited_all_well","note":"matrix","seen":{"count":1}}`
	},
	"POST /api/v1/alerts/{id}/notes": func(*world, household, string) string { return `{"text":"matrix"}` },
	"POST /api/v1/tokens": func(w *world, _ household, n string) string {
		return `{"name":"staff-` + n + `","role":"staff","municipality":766,"districts":[` + itoa(w.north) + `]}`
	},
	"POST /api/v1/districts": func(_ *world, _ household, n string) string { return `{"municipality":766,"name":"` + n + `"}` },
	"POST /api/v1/citizens": func(_ *world, _ household, n string) string {
		return `{"municipality":766,"name":"` + n + `","address":"Bygaden 1, 8722 Hedensted"}`
	},
	"POST /api/v1/homes": func(w *world, _ household, n string) string {
		return `{"id":"home-` + n + `","district":` + itoa(w.north) + `}`
	},
	"POST /api/v1/gateways": func(_ *world, h household, n string) string {
		return `{"id":"gw-` + n + `","home":"` + string(h.home) + `"}`
	},
	"POST /api/v1/devices": func(_ *world, h household, n string) string {
		return `{"id":"` + string(h.gateway) + `:new","gateway":"` + string(h.gateway) + `","technology":"personal_alarm"}`
	},
	"PUT /api/v1/homes/{id}/config": func(_ *world, h household, _ string) string {
		// Every registered device listed: a plan that leaves one out is refused (issue 22).
		return `{"devices":[{"device":"` + string(h.pending) + `","technology":"personal_alarm"},` +
			`{"device":"` + string(h.installed) + `","technology":"personal_alarm"}],"rules":{}}`
	},
	"PUT /api/v1/homes/{id}/absence": func(*world, household, string) string {
		return `{"until":"` + time.Now().AddDate(0, 0, 30).UTC().Format(time.RFC3339) + `","reason":"hospital"}`
	},
	"POST /api/v1/homes/{id}/night-checks": func(*world, household, string) string {
		return `{"due_at":"` + time.Now().Truncate(time.Hour).UTC().Format(time.RFC3339) + `","decision":"all_well"}`
	},
	"POST /api/v1/homes/{id}/trackers": func(_ *world, _ household, n string) string { return `{"id":"gps.` + n + `"}` },
	"PUT /api/v1/homes/{id}/safezones": func(*world, household, string) string {
		return `{"zones":[{"name":"Hjem","center":[55.86,9.85],"radius_m":300}]}`
	},
	"PATCH /api/v1/districts/{id}": func(_ *world, _ household, n string) string { return `{"name":"` + n + `"}` },
	"PUT /api/v1/districts/{id}/roster": func(*world, household, string) string {
		return `{"shifts":[{"kind":"night","weekdays":["mon"],"start":"22:00","end":"07:00","staff":[],"backup":{}}]}`
	},
	"PUT /api/v1/municipalities/{code}/central-on-call": func(*world, household, string) string { return `{"users":[]}` },
	"PATCH /api/v1/citizens/{id}":                       func(*world, household, string) string { return `{"address":"Ny Vej 2, 8722 Hedensted"}` },
	"PATCH /api/v1/homes/{id}":                          func(_ *world, h household, _ string) string { return `{"district":` + itoa(h.district) + `}` },
	"PATCH /api/v1/gateways/{id}":                       func(_ *world, h household, _ string) string { return `{"home":"` + string(h.home) + `"}` },
	"PUT /api/v1/citizens/{id}/identity":                func(*world, household, string) string { return `{"identity":"610150-1234"}` },
	"POST /api/v1/me/relatives":                         func(*world, household, string) string { return grantBody("") },
	"POST /api/v1/citizens/{id}/relatives":              func(*world, household, string) string { return grantBody("oral consent at the visit, journal 7") },
}

// grantBody is a valid grant to the citizen's son on record.
func grantBody(consent string) string {
	return `{"relative_name":"Peter Jensen","identity":"610175-4321","parts":["alarms"],"until":"` +
		time.Now().AddDate(0, 1, 0).UTC().Format(time.RFC3339) + `","consent":"` + consent + `"}`
}

// queries are the query strings of routes that need one to answer 2xx.
var queries = map[string]string{
	"GET /api/v1/stats/adoption": "from=2026-01-01T00:00:00Z&to=2026-04-01T00:00:00Z",
	"GET /api/v1/stats/alerts":   "from=2026-01-01T00:00:00Z&to=2026-04-01T00:00:00Z",
	"GET /api/v1/stats/benefits": "from=2026-01-01T00:00:00Z&to=2026-04-01T00:00:00Z",
	"GET /api/v1/stats/night":    "from=2026-01-01T00:00:00Z&to=2026-04-01T00:00:00Z",
	"GET /api/v1/stats/compare":  "from=2026-01-01T00:00:00Z&to=2026-04-01T00:00:00Z",
	"GET /api/v1/me/data":        "from=2026-01-01T00:00:00Z&to=2026-01-08T00:00:00Z",
	"GET /api/v1/duty":           "municipality=766",
	"GET /api/v1/fhir/Encounter": "municipality=766",
	"GET /api/v1/fhir/export":    "municipality=766",
}

// household is a fresh set of objects in district Nord of 766, made for one write: a
// citizen in a home with a gateway, a device it reported (pending), an installed device,
// an open alert, and an empty district of 766.
type household struct {
	district  int64
	citizen   int64
	home      vagt.HomeID
	gateway   vagt.GatewayID
	pending   vagt.DeviceID
	installed vagt.DeviceID
	alert     int64
	code      string // an activation code of the citizen
	token     int64  // a token of user
	user      int64  // a user with a token
}

func (w *world) household(t testing.TB) household {
	t.Helper()
	w.seq++
	n := fmt.Sprintf("mx-%d", w.seq)
	ctx, s, now := t.Context(), w.srv.Store, time.Now()
	h := household{home: vagt.HomeID("home-" + n), gateway: vagt.GatewayID("gw-" + n)}
	h.pending, h.installed = vagt.DeviceID(string(h.gateway)+":pending"), vagt.DeviceID(string(h.gateway)+":btn")
	var err error
	h.district, err = s.CreateDistrict(ctx, ownMun, "District "+n)
	must(t, err)
	h.citizen, err = s.CreateCitizen(ctx, ownMun, api.Citizen{Name: "Citizen " + n, Address: "Bygaden 1, 8722 Hedensted",
		Contacts: []api.Contact{{Name: "Peter Jensen", Relation: "søn"}}})
	must(t, err)
	must(t, s.CreateHome(ctx, h.home, w.north, h.citizen))
	must(t, s.RegisterGateway(ctx, h.gateway, h.home))
	must(t, s.RegisterDevice(ctx, h.pending, h.gateway, vagt.TechPersonalAlarm, ""))
	_, err = s.InstallDevice(ctx, api.Scope{All: true}, registry.Device{ID: h.installed, Gateway: h.gateway, Technology: vagt.TechPersonalAlarm}, "matrix", now)
	must(t, err)
	res, err := s.IngestAlarm(ctx, &vagt.Alarm{Gateway: h.gateway, Seq: 1, Municipality: ownMun,
		Time: now.Truncate(time.Millisecond), Device: h.installed, Type: vagt.AlarmPanic}, now)
	must(t, err)
	h.alert = res.Alert.ID
	code, codeHash, err := auth.NewActivationCode()
	must(t, err)
	must(t, s.IssueActivationCode(ctx, api.Scope{All: true}, h.citizen, codeHash, "matrix", now.Add(time.Hour), now))
	h.code = code
	_, err = s.ProvisionGateway(ctx, api.Scope{All: true}, h.gateway, h.home, "$7$101$matrix", "matrix", now)
	must(t, err)
	_, tokHash, err := auth.NewToken()
	must(t, err)
	exp := now.Add(time.Hour)
	p, err := s.IssueToken(ctx, api.Principal{Name: "user-" + n, Role: api.RoleStaff, Municipality: ownMun}, tokHash, &exp, now)
	must(t, err)
	h.token, h.user = p.TokenID, p.UserID
	return h
}

// request returns the path and body of one call of route: a read addresses the world's
// own objects, a write those of a fresh household.
func (w *world) request(t testing.TB, route string) (path, body string) {
	t.Helper()
	method, pattern, _ := strings.Cut(route, " ")
	h := household{district: w.north, citizen: w.citizen, home: vagt.HomeID(w.home), gateway: "gw-sec-1",
		pending: "bu-1:btn", installed: "bu-1:btn", alert: w.alert}
	if method != http.MethodGet || strings.Contains(pattern, "/tokens") || strings.HasSuffix(pattern, "/password-file-line") {
		h = w.household(t)
	}
	if route == "DELETE /api/v1/homes/{id}" { // a home is decommissioned after its gateways
		_, err := w.srv.Store.DecommissionGateway(t.Context(), api.Scope{All: true}, h.gateway, time.Now(), "matrix", time.Now())
		must(t, err)
	}
	if route == "POST /api/v1/homes/{id}/night-checks" {
		w.nightPlan(t, h)
	}
	if strings.HasSuffix(pattern, "/track") {
		h.alert = w.track
	}
	device := h.installed
	if strings.HasSuffix(pattern, "/accept") {
		device = h.pending
	}
	id := ""
	switch {
	case strings.HasPrefix(pattern, "/api/v1/alerts/{id}"):
		id = itoa(h.alert)
	case strings.HasPrefix(pattern, "/api/v1/citizens/{id}"):
		id = itoa(h.citizen)
	case strings.HasPrefix(pattern, "/api/v1/homes/{id}"):
		id = string(h.home)
	case strings.HasPrefix(pattern, "/api/v1/gateways/{id}"):
		id = string(h.gateway)
	case strings.HasPrefix(pattern, "/api/v1/districts/{id}"):
		id = itoa(h.district)
	case strings.HasPrefix(pattern, "/api/v1/tokens/{id}"):
		id = itoa(h.token)
	case strings.HasPrefix(pattern, "/api/v1/users/{id}"):
		id = itoa(h.user)
	}
	file := "vagt.css"
	if strings.Contains(pattern, "/lang/") {
		file = "da.json"
	}
	grant := ""
	if strings.Contains(pattern, "{grant}") { // a fresh grant of the citizen the route names
		owner := h.citizen
		if strings.HasPrefix(pattern, "/api/v1/me/") {
			owner = w.citizen
		}
		g, err := w.srv.Store.GrantRelative(t.Context(), api.Scope{All: true}, registry.NewGrant{Citizen: owner, RelativeName: "Peter Jensen", IDHash: strings.Repeat("ab", 32),
			RelativeUser: auth.RelativeUser(strings.Repeat("ab", 32)), Parts: []string{registry.PartAlarms}, From: time.Now(),
			Until: time.Now().Add(time.Hour), GrantedBy: "matrix", Consent: "matrix"}, time.Now())
		must(t, err)
		grant = itoa(g.ID)
	}
	path = strings.NewReplacer("{grant}", grant, "{id}", id, "{device}", string(device), "{file}", file, "{key}", trackerKey, "{code}", "766").Replace(pattern)
	if q := queries[route]; q != "" {
		path += "?" + q
	}
	if strings.HasPrefix(pattern, "/gps/osmand/") { // a fresh fix each call, inside the zone
		w.seq++
		path += fmt.Sprintf("?id=gps.sec-1&lat=55.86&lon=9.85&accuracy=8&timestamp=%d", w.trackFrom.Unix()+int64(w.seq))
	}
	if b := bodies[route]; b != nil {
		w.seq++
		body = b(w, h, fmt.Sprintf("new-%d", w.seq))
	}
	return path, body
}

// routes returns "METHOD pattern" of every route the api's router serves.
func routes(t *testing.T) []string {
	t.Helper()
	h := httpapi.NewHandler(httpapi.Config{Gatherer: nil})
	r, ok := h.(chi.Routes)
	if !ok {
		t.Fatalf("the api's handler is a %T, not a chi router: the matrix cannot list its routes", h)
	}
	var out []string
	err := chi.Walk(r, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		out = append(out, method+" "+strings.TrimSuffix(strings.ReplaceAll(route, "/*/", "/"), "/*"))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestEveryRouteIsInTheMatrix(t *testing.T) {
	for _, r := range routes(t) {
		if _, ok := matrix[r]; !ok {
			t.Errorf("route %q is not in the authorisation matrix (test/security/authz_test.go): add a line with what each principal gets", r)
		}
	}
	for r := range bodies {
		if _, ok := matrix[r]; !ok {
			t.Errorf("bodies has %q, which is not in the matrix", r)
		}
	}
}

// Every route × every principal gets exactly the designed status.
func TestAuthorizationMatrix(t *testing.T) {
	w := startWorld(t)
	served := map[string]bool{"GET /metrics": true} // the world's api has a registry and a metrics token
	for _, r := range routes(t) {
		served[r] = true
	}
	for route, want := range matrix {
		if !served[route] {
			t.Errorf("the matrix has %q, which the api does not serve", route)
			continue
		}
		method, _, _ := strings.Cut(route, " ")
		for i, who := range principals {
			path, body := w.request(t, route)
			code, _, data := w.do(t, who, method, path, body)
			if code != want[i] {
				t.Errorf("%s as %q: %d, want %d (%s %s: %.200s)", route, who, code, want[i], method, path, data)
			}
		}
	}
}

// A read of an object that does not exist is 404 for a principal who could read it if it
// did, and the same refusal as for an existing object for one who could not; ids that
// are not ids are 404 too.
func TestMissingObjects(t *testing.T) {
	w := startWorld(t)
	for _, c := range []struct {
		who, method, path string
		want              int
	}{
		{"staff-nord", http.MethodGet, "/api/v1/alerts/999999", 404},
		{"staff-nord", http.MethodGet, "/api/v1/alerts/x", 404},
		{"staff-nord", http.MethodPost, "/api/v1/alerts/999999/ack", 404},
		{"manager", http.MethodGet, "/api/v1/citizens/999999", 404},
		{"manager", http.MethodGet, "/api/v1/citizens/-1", 404},
		{"admin", http.MethodDelete, "/api/v1/citizens/999999", 404},
		{"admin", http.MethodPost, "/api/v1/devices/bu-9:none/accept", 404},
		{"staff-nord", http.MethodGet, "/api/v1/homes/home-none/config", 404},
		{"national", http.MethodGet, "/api/v1/alerts/999999", 403},
		{"staff-syd", http.MethodGet, "/api/v1/citizens/999999", 403},
		// An existing object outside the caller's scope answers as a missing one.
		{"staff-syd", http.MethodGet, "/api/v1/alerts/" + itoa(w.alert), 404},
		{"manager-away", http.MethodGet, "/api/v1/citizens/" + itoa(w.citizen), 404},
		{"manager-away", http.MethodGet, "/api/v1/homes/" + w.home + "/config", 404},
	} {
		if code := w.call(t, c.who, c.method, c.path, "", nil); code != c.want {
			t.Errorf("%s %s as %s: %d, want %d", c.method, c.path, c.who, code, c.want)
		}
	}
}

// Own and other: a list answers 200 to a principal of another district or municipality,
// but without the objects of district Nord of 766; a principal asking for another
// municipality by query is refused.
func TestListsHoldOnlyTheirScope(t *testing.T) {
	w := startWorld(t)
	alert, citizen, home := `"id":`+itoa(w.alert)+`,`, `"name":"Karen Jensen"`, `"`+w.home+`"`
	stats := "&from=2026-01-01T00:00:00Z&to=2026-04-01T00:00:00Z"
	for _, c := range []struct {
		who, path string
		want      int
		sees      string // "" for a refusal
		seen      bool
	}{
		{"staff-nord", "/api/v1/alerts", 200, alert, true},
		{"staff-syd", "/api/v1/alerts", 200, alert, false},
		{"staff-syd", "/api/v1/alerts?district=" + itoa(w.north), 200, alert, false},
		{"staff-away", "/api/v1/alerts", 200, alert, false},
		{"manager", "/api/v1/alerts", 200, alert, true},
		{"manager-away", "/api/v1/alerts", 200, alert, false},
		{"admin", "/api/v1/alerts", 200, alert, true},
		{"manager", "/api/v1/citizens", 200, citizen, true},
		{"manager-away", "/api/v1/citizens", 200, citizen, false},
		{"admin", "/api/v1/citizens?municipality=101", 200, citizen, false},
		{"admin", "/api/v1/citizens?municipality=766", 200, citizen, true},
		{"manager", "/api/v1/homes", 200, home, true},
		{"manager-away", "/api/v1/homes", 200, home, false},
		{"manager-away", "/api/v1/gateways", 200, `"gw-sec-1"`, false},
		{"manager", "/api/v1/gateways", 200, `"gw-sec-1"`, true},
		{"staff-nord", "/api/v1/careplans", 200, home, true},
		{"staff-syd", "/api/v1/careplans", 200, home, false},
		{"staff-away", "/api/v1/careplans", 200, home, false},
		{"manager-away", "/api/v1/careplans", 200, home, false},
		{"manager-away", "/api/v1/citizens?municipality=766", 403, "", false},
		{"manager-away", "/api/v1/homes?municipality=766", 403, "", false},
		{"manager", "/api/v1/devices?municipality=101", 403, "", false},
		{"manager", "/api/v1/districts?municipality=101", 403, "", false},
		{"manager", "/api/v1/gateways?municipality=766", 200, `"gw-sec-1"`, true},
		{"manager-away", "/api/v1/stats/adoption?municipality=766" + stats, 403, "", false},
		{"manager", "/api/v1/stats/alerts?municipality=766,101" + stats, 403, "", false},
		{"national", "/api/v1/stats/alerts?municipality=766,101" + stats, 200, "", false},
	} {
		code, _, data := w.do(t, c.who, http.MethodGet, c.path, "")
		if code != c.want {
			t.Errorf("%s as %s: %d, want %d: %.200s", c.path, c.who, code, c.want, data)
			continue
		}
		if c.sees != "" && strings.Contains(string(data), c.sees) != c.seen {
			t.Errorf("%s as %s: %s in the answer is %t, want %t: %.300s", c.path, c.who, c.sees, !c.seen, c.seen, data)
		}
	}
}

// The live stream, from its backlog (last_event_id=0) and live, carries only the events of
// the subscriber's scope: each reads until a marker alert of its own scope raised last
// and must not have seen one of another district or municipality before it.
func TestStreamHoldsOnlyItsScope(t *testing.T) {
	w := startWorld(t)
	s := w.srv.Store
	raise := func(gw vagt.GatewayID, district int64, mun vagt.MunicipalityCode, dev vagt.DeviceID) {
		t.Helper()
		home := vagt.HomeID("home-" + string(gw))
		if _, err := s.RegistryGateway(t.Context(), gw); err != nil {
			c, err := s.CreateCitizen(t.Context(), mun, api.Citizen{Name: "Citizen of " + string(gw), Address: "Vej 1"})
			must(t, err)
			must(t, s.CreateHome(t.Context(), home, district, c))
			must(t, s.RegisterGateway(t.Context(), gw, home))
		}
		now := time.Now()
		_, err := s.IngestAlarm(t.Context(), &vagt.Alarm{Gateway: gw, Seq: uint64(now.UnixNano()), Municipality: mun,
			Time: now.Truncate(time.Millisecond), Device: dev, Type: vagt.AlarmPanic}, now)
		must(t, err)
	}
	streams := map[string]<-chan string{}
	for _, who := range []string{"staff-nord", "staff-syd", "staff-away", "manager", "manager-away", "admin"} {
		streams[who] = openStream(t, w.base+"/api/v1/alerts/stream?last_event_id=0", w.tokens[who])
	}
	raise("gw-nord-2", w.north, ownMun, "bu-2:nord")
	raise("gw-syd-1", w.south, ownMun, "bu-3:syd")
	raise("gw-away-1", w.away, otherMun, "bu-4:away")
	raise("gw-nord-2", w.north, ownMun, "bu-2:last")
	for who, c := range map[string]struct {
		marker string
		sees   []string // before the marker, in this order
		never  []string
	}{
		"staff-nord":   {"bu-2:last", []string{"bu-1:btn", "bu-2:nord"}, []string{"bu-3:syd", "bu-4:away"}},
		"staff-syd":    {"bu-3:syd", nil, []string{"bu-1:btn", "bu-2:nord"}},
		"staff-away":   {"bu-4:away", nil, []string{"bu-1:btn", "bu-2:nord", "bu-3:syd"}},
		"manager":      {"bu-2:last", []string{"bu-1:btn", "bu-2:nord", "bu-3:syd"}, []string{"bu-4:away"}},
		"manager-away": {"bu-4:away", nil, []string{"bu-1:btn", "bu-2:nord", "bu-3:syd"}},
		"admin":        {"bu-2:last", []string{"bu-1:btn", "bu-2:nord", "bu-3:syd", "bu-4:away"}, nil},
	} {
		var seen []string
		for done := false; !done; {
			select {
			case data, ok := <-streams[who]:
				if !ok {
					t.Fatalf("%s's stream ended", who)
				}
				var ev alerts.EventData
				must(t, json.Unmarshal([]byte(data), &ev))
				if ev.Change != "raised" {
					continue
				}
				dev := string(ev.Alert.Device)
				seen = append(seen, dev)
				done = dev == c.marker
			case <-time.After(time.Minute):
				t.Fatalf("%s: the marker %s never came; seen %v", who, c.marker, seen)
			}
		}
		for _, dev := range c.never {
			if slices.Contains(seen, dev) {
				t.Errorf("%s's stream carried %s (seen %v)", who, dev, seen)
			}
		}
		for _, dev := range c.sees {
			if !slices.Contains(seen, dev) {
				t.Errorf("%s's stream did not carry %s (seen %v)", who, dev, seen)
			}
		}
	}
}

// nightPlan gives the household's home a door sensor and a night check at this hour
// (Danish time), so that a check due now can be recorded.
func (w *world) nightPlan(t testing.TB, h household) {
	t.Helper()
	door := vagt.DeviceID(string(h.gateway) + ":door")
	_, err := w.srv.Store.InstallDevice(t.Context(), api.Scope{All: true}, registry.Device{ID: door, Gateway: h.gateway, Technology: vagt.TechDoorSensor}, "matrix", time.Now())
	must(t, err)
	var set careplan.Settings
	loc, err := time.LoadLocation(vagt.DefaultTimeZone)
	must(t, err)
	hour := time.Now().In(loc).Format("15") + ":00"
	must(t, json.Unmarshal([]byte(`{"devices":[{"device":"`+string(h.installed)+`","technology":"personal_alarm"},`+
		`{"device":"`+string(h.pending)+`","technology":"personal_alarm"},`+
		`{"device":"`+string(door)+`","technology":"door_sensor"}],`+
		`"night_checks":{"times":["`+hour+`"],"good":{"door_closed":true}}}`), &set))
	_, err = w.srv.CarePlans().Update(t.Context(), api.Scope{All: true}, h.home, set, 0, "matrix")
	must(t, err)
}
