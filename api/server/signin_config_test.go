package server_test

import (
	"testing"

	"github.com/vagt-dk/vagt/api/auth"
	"github.com/vagt-dk/vagt/api/server"
)

// TestSignInConfigValidate: vagt api refuses a sign-in it could not run before it starts.
func TestSignInConfigValidate(t *testing.T) {
	good := auth.SignInConfig{ClientID: "vagt", RedirectURL: "https://vagt.example.dk/auth/callback"}
	for name, c := range map[string]struct {
		cfg server.Config
		ok  bool
	}{
		"no sign-in":        {server.Config{DB: "x.db"}, true},
		"sign-in":           {server.Config{DB: "x.db", OIDC: auth.OIDCConfig{Issuer: "https://login.example.dk", Audience: "vagt"}, SignIn: good}, true},
		"no issuer":         {server.Config{DB: "x.db", SignIn: good}, false},
		"relative redirect": {server.Config{DB: "x.db", OIDC: auth.OIDCConfig{Issuer: "https://login.example.dk", Audience: "vagt"}, SignIn: auth.SignInConfig{ClientID: "vagt", RedirectURL: "/auth/callback"}}, false},
	} {
		c.cfg.Defaults()
		if err := c.cfg.Validate(); (err == nil) != c.ok {
			t.Errorf("%s: %v", name, err)
		}
	}
}
