// signin.js: sign-in with the municipality's identity provider (OpenID Connect), beside
// the pasted token. Loaded after common.js on every page. When the api offers it
// (GET /auth/config), each sign-in form gets a button that goes to /auth/login and comes
// back to this page; /auth/callback leaves the session token in sessionStorage ("vagt.token",
// common.js) and marks the session "vagt.signin" = "oidc". A stale session of that kind
// (the api answers 401) signs in again by itself and returns to where it was; the page
// then loads its list afresh, so no alert is missed.
"use strict";

(() => {
  const MARK = "vagt.signin";
  const LAST = "vagt.signin-at";
  // A sign-in that came back and was refused at once must not loop: at most one automatic
  // round trip a minute, then the form and its button.
  const AGAIN_AFTER_MS = 60 * 1000;

  // The texts come from the catalogue (i18n.js) on pages that load it; Danish otherwise.
  const i18n = typeof vagtI18n !== "undefined" ? vagtI18n : null;
  const text = {
    provider: () => (i18n ? i18n.t("common.signIn.provider") : "Log ind med kommunens login"),
    orToken: () => (i18n ? i18n.t("common.signIn.orToken") : "eller indsæt en adgangsnøgle:"),
  };

  function here() { return location.pathname + location.search + location.hash; }
  function loginURL() { return "/auth/login?next=" + encodeURIComponent(here()); }

  function go() { location.assign(loginURL()); }

  // Every page asks signInMessage when the api refused its token (401): the one place a
  // page learns that its session went stale.
  const signInMessage = vagt.signInMessage;
  vagt.signInMessage = (err) => {
    if (err && err.status === 401 && sessionStorage.getItem(MARK) === "oidc") {
      const last = Number(sessionStorage.getItem(LAST) || 0);
      if (Date.now() - last > AGAIN_AFTER_MS) {
        sessionStorage.removeItem(MARK);
        sessionStorage.setItem(LAST, String(Date.now()));
        go();
      }
    }
    return signInMessage(err);
  };

  async function offer() {
    let cfg;
    try {
      const resp = await fetch("/auth/config", { cache: "no-store" });
      if (!resp.ok) return;
      cfg = await resp.json();
    } catch (_) {
      return; // offline: the pasted token still works
    }
    if (!cfg || !cfg.oidc) return;
    if (i18n) await i18n.ready;
    for (const form of document.querySelectorAll("#signin-form")) {
      const b = vagt.el("button", { type: "button", class: "primary", id: "signin-oidc", text: text.provider(), onclick: go });
      form.before(b, vagt.el("p", { class: "help", text: text.orToken() }));
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    // A pasted token is not a provider session: a 401 then shows the form as before.
    for (const form of document.querySelectorAll("#signin-form")) {
      form.addEventListener("submit", () => sessionStorage.removeItem(MARK));
    }
    offer();
  });
})();
