package web_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/auth"
	"github.com/vagt-dk/vagt/api/server"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// TestConsoleSignInWithProvider: in headless Chromium, the console's "sign in with your
// municipality's login" button goes through a real OIDC provider (Hydra) and back to the
// console with a session; when that session goes stale (revoked) the page signs in again by
// itself and shows the list afresh, with the alert that came meanwhile.
func TestConsoleSignInWithProvider(t *testing.T) {
	var north int64
	h := stacktest.Hydra(t, localstack.HydraOptions{Login: func(context.Context, localstack.HydraLogin) (localstack.HydraIdentity, error) {
		return localstack.HydraIdentity{Subject: "anna", Claims: map[string]any{"preferred_username": "anna",
			"vagt_role": "staff", "vagt_municipality": 766, "vagt_districts": []int64{north}}}, nil
	}})
	b := newBrowser(t) // skips without Chromium, before anything else starts
	port, err := localstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	client, err := h.CreateClient(t.Context(), localstack.HydraClient{RedirectURIs: []string{base + "/auth/callback"}})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(t.Context(), server.Config{Listen: fmt.Sprintf("127.0.0.1:%d", port), DB: filepath.Join(t.TempDir(), "vagt.db"),
		NoAlarmLane: true, OIDC: auth.OIDCConfig{Issuer: h.Issuer(), Audience: client.ID, Client: &http.Client{Timeout: time.Minute}},
		SignIn: auth.SignInConfig{ClientID: client.ID, RedirectURL: base + "/auth/callback"}}, server.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("api: %v", err)
		}
	})
	s := srv.Store
	if north, err = s.CreateDistrict(t.Context(), 766, "Nord"); err != nil {
		t.Fatal(err)
	}
	cit, err := s.CreateCitizen(t.Context(), 766, api.Citizen{Name: "Karen Jensen"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateHome(t.Context(), "home-0042", north, cit); err != nil {
		t.Fatal(err)
	}
	if err := s.RegisterGateway(t.Context(), "gw-0042", "home-0042"); err != nil {
		t.Fatal(err)
	}
	alarm := func(seq uint64, typ vagt.AlarmType) {
		t.Helper()
		now := time.Now()
		if _, err := s.IngestAlarm(t.Context(), &vagt.Alarm{Gateway: "gw-0042", Seq: seq, Municipality: 766, Time: now, Device: "btn",
			Type: typ, Priority: typ.Priority()}, now); err != nil {
			t.Fatal(err)
		}
	}
	alarm(1, vagt.AlarmPanic)

	b.do("open the console", chromedp.Navigate(base+"/"), chromedp.WaitVisible("#signin-oidc", chromedp.ByID))
	b.axe("console-signin-oidc", axeSource(t))
	var label string
	b.do("read the button", chromedp.Text("#signin-oidc", &label, chromedp.ByID))
	if label != "Log ind med kommunens login" {
		t.Errorf("the button says %q, want Danish by default", label)
	}
	b.do("sign in with the provider", chromedp.Click("#signin-oidc", chromedp.ByID), chromedp.WaitVisible("#console", chromedp.ByID))
	b.do("the panic alert in the list", chromedp.WaitVisible(card("panic"), chromedp.ByQuery))
	var first, where string
	b.do("read the session", chromedp.Evaluate(`sessionStorage.getItem("vagt.token")`, &first), chromedp.Location(&where))
	if !strings.HasPrefix(first, auth.TokenPrefix) || where != base+"/" {
		t.Fatalf("after sign-in: token %q at %s", first, where)
	}

	// The session goes stale (revoked, as after a lost phone, or expired), and an alarm
	// comes meanwhile. The next load of the page meets 401, signs in again by itself and
	// lists both alerts.
	uid, err := s.UserID(t.Context(), "oidc:anna")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RevokeUserTokens(t.Context(), uid, "test", time.Now()); err != nil {
		t.Fatal(err)
	}
	alarm(2, vagt.AlarmFall)
	b.do("reload with the stale session", chromedp.Reload())
	// The page navigates away and back meanwhile: poll from here, not inside the page.
	signedInAgain := `(sessionStorage.getItem("vagt.token") || "").startsWith("vagt_") && sessionStorage.getItem("vagt.token") !== ` +
		fmt.Sprintf("%q", first) + ` && !document.getElementById("console").hidden`
	// Two round trips through the provider (login and consent by its admin API): a minute,
	// as the sign-in tests give the provider on a busy machine (CI once needed over 30 s).
	stacktest.WaitFor(t, "a new session", time.Minute, func() bool {
		var ok bool
		ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
		defer cancel()
		return chromedp.Run(ctx, chromedp.Evaluate(signedInAgain, &ok)) == nil && ok
	})
	b.do("both alerts in the list", chromedp.WaitVisible(card("panic"), chromedp.ByQuery), chromedp.WaitVisible(card("fall"), chromedp.ByQuery))
	b.do("back where it was", chromedp.Location(&where))
	if where != base+"/" {
		t.Errorf("after signing in again: at %s", where)
	}
	b.checkErrors()
}
