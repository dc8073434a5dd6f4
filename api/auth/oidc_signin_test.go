package auth_test

import (
	"errors"
	"testing"

	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/auth"
)

func TestLocalPath(t *testing.T) {
	for next, want := range map[string]string{
		"": "/", "/": "/", "/night?board=1#x": "/night?board=1#x", "/careplan": "/careplan",
	} {
		if got, err := auth.LocalPath(next); err != nil || got != want {
			t.Errorf("LocalPath(%q) = %q, %v; want %q", next, got, err, want)
		}
	}
	// Everything a browser could follow to another site.
	for _, next := range []string{"//evil.example", "///evil.example", "/\\evil.example", "\\\\evil.example", "https://evil.example/",
		"javascript:alert(1)", "evil.example", "/ok\r\nSet-Cookie: x", "/\tx", "http:/evil"} {
		if _, err := auth.LocalPath(next); !errors.Is(err, auth.ErrNotLocal) {
			t.Errorf("LocalPath(%q): %v, want ErrNotLocal", next, err)
		}
	}
}

func TestSignInConfigValidate(t *testing.T) {
	for name, c := range map[string]auth.SignInConfig{
		"off":                 {},
		"public client":       {ClientID: "vagt", RedirectURL: "https://vagt.example.dk/auth/callback"},
		"loopback over http":  {ClientID: "vagt", RedirectURL: "http://127.0.0.1:8080/auth/callback"},
		"confidential client": {ClientID: "vagt", ClientSecret: "s", RedirectURL: "https://vagt.example.dk/auth/callback"},
	} {
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, c := range map[string]auth.SignInConfig{
		"no client id":      {RedirectURL: "https://vagt.example.dk/auth/callback"},
		"no redirect":       {ClientID: "vagt"},
		"relative redirect": {ClientID: "vagt", RedirectURL: "/auth/callback"},
		"http off loopback": {ClientID: "vagt", RedirectURL: "http://vagt.example.dk/auth/callback"},
		"fragment":          {ClientID: "vagt", RedirectURL: "https://vagt.example.dk/auth/callback#x"},
		"negative session":  {ClientID: "vagt", RedirectURL: "https://vagt.example.dk/auth/callback", SessionLifetime: -1},
	} {
		if err := c.Validate(); !errors.Is(err, api.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}
