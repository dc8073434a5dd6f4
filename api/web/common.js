// common.js: what the pages share — the token kept in this tab's sessionStorage, API calls
// with it, the error body {"error": {"code", "message", "by"}}, and signing in and out
// (signedIn). Texts come from the catalogue (i18n.js), dates from the formatter (format.js).
"use strict";

const vagt = (() => {
  const KEY = "vagt.token";
  const NOTICE = "vagt.signin-notice";

  // APIError is a non-2xx answer (or no answer: status 0).
  class APIError extends Error {
    constructor(status, code, message, by, fields) {
      super(message);
      this.status = status;
      this.code = code;
      this.by = by || "";
      this.fields = fields || []; // [{field, reason}] on invalid input with several faults
    }
  }

  function token() { return sessionStorage.getItem(KEY) || ""; }
  function setToken(t) { sessionStorage.setItem(KEY, t); }
  // clearToken forgets the token; notice is shown on the sign-in form.
  function clearToken(notice) {
    sessionStorage.removeItem(KEY);
    if (notice) sessionStorage.setItem(NOTICE, notice);
  }
  function takeNotice() {
    const n = sessionStorage.getItem(NOTICE) || "";
    sessionStorage.removeItem(NOTICE);
    return n;
  }

  async function errorOf(resp) {
    let code = "http_" + resp.status, message = resp.statusText || "request failed", by = "", fields = [];
    try {
      const body = await resp.json();
      if (body && body.error) {
        code = body.error.code || code;
        message = body.error.message || message;
        by = body.error.by || "";
        fields = body.error.fields || [];
      }
    } catch (_) { /* not JSON */ }
    return new APIError(resp.status, code, message, by, fields);
  }

  // call does an API request with the token. It returns the decoded JSON (or the text,
  // when accept is not JSON) and throws an APIError otherwise.
  async function call(method, path, body, accept) {
    const headers = { Authorization: "Bearer " + token(), Accept: accept || "application/json" };
    const init = { method, headers, cache: "no-store" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let resp;
    try {
      resp = await fetch(path, init);
    } catch (e) {
      throw new APIError(0, "network", vagtI18n.t("common.unreachable"));
    }
    if (!resp.ok) throw await errorOf(resp);
    if (accept && accept !== "application/json") return resp.text();
    if (resp.status === 204) return null;
    return resp.json();
  }

  // rereadStale is the shared part of a resolve the api refused with 409 stale (the citizen
  // pressed again since the dialog opened): it reads alert id again and hands it, without
  // its detail (the shape of the page's list), to the page, which keeps the chosen outcome
  // and note so the person decides again on what it is now. on:
  //   resolved(a, citizen): someone resolved it meanwhile; returns the dialog's text
  //   open(a, citizen): it is still open, with its new presses; returns the dialog's text
  //   failed(err): the read failed; returns the dialog's text, or "" when the page took the
  //     error (a refused token signs out)
  // The text goes into errBox. It returns true when the alert was read (the page redraws).
  async function rereadStale(id, errBox, on) {
    let d;
    try {
      d = await call("GET", "/api/v1/alerts/" + id);
    } catch (err) {
      const text = on.failed(err);
      if (text) errBox.textContent = text;
      return false;
    }
    const { citizen, devices, notes, escalations, timeline, away_until, ...a } = d;
    errBox.textContent = a.state === "resolved" ? on.resolved(a, citizen) : on.open(a, citizen);
    return true;
  }

  // signInMessage explains a refused token.
  function signInMessage(err) {
    const { t } = vagtI18n;
    if (err && err.status === 401) return t("common.signIn.refused");
    return t("common.signIn.failed", { message: err && err.message ? err.message : t("common.unknownError") });
  }

  // el builds an element: el("p", {class: "x", text: "y"}, child...). Text is always set
  // as text, never as HTML.
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "text") e.textContent = v;
      else if (k === "class") e.className = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  // fmtTime is an instant as staff read it: "2. dec. 2026 14:05:09" in Copenhagen.
  function fmtTime(iso) {
    if (!iso) return "";
    return vagtFormat.dateTime(iso, { seconds: true });
  }

  // techName names a technology in the page's language (an unknown one by its id). TECH
  // maps each technology, in the order the pages list them, to its name in the language of
  // the moment.
  function techName(t) {
    if (!t) return "";
    return vagtI18n.has("common.tech." + t) ? vagtI18n.t("common.tech." + t) : String(t).replace(/_/g, " ");
  }
  const TECH = {};
  for (const id of ["personal_alarm", "fall_detector", "door_sensor", "bed_sensor", "gps_tracker", "medicine_dispenser",
    "night_supervision", "environment_sensor", "smoke_alarm", "water_alarm"]) {
    Object.defineProperty(TECH, id, { enumerable: true, get: () => techName(id) });
  }

  // A page wires its controls at DOMContentLoaded (a click before the catalogue arrives
  // must not be lost) and starts with whenReady, once the catalogue is loaded.
  function whenReady(fn) { vagtI18n.ready.then(fn); }

  // signedIn is what every signed-in page does alike: the sign-in form (#signin,
  // #signin-form, #token, #signin-error), "Log ud" (#sign-out), who is signed in
  // (GET /api/v1/me), and a session number that grows at every sign-in and sign-out, so an
  // old session's loops see it and stop. Call it at DOMContentLoaded; the page starts once
  // the catalogue is ready. The page's own parts are hooks:
  //   shows: ids shown only while signed in; hides: more ids the sign-in form hides
  //   start(me, gen): the page's start, once it knows who is signed in
  //   check(me): a text to sign out with when this page is not for me ("" or nothing: it is)
  //   stop(): forget what the page showed (sign-out, a refused token); may be async
  //   token(): the token to start with (default: this tab's); may be async
  //   me(): who is signed in (default GET /api/v1/me); an error with a notice shows that
  //     notice on the form instead of "cannot sign in"
  //   submitted(): runs on the tap on "Log ind" (a tap lets the app's tone sound)
  // It returns { showSignIn, signOut, failed, current(gen), gen() }.
  function signedIn(page) {
    const $ = (id) => document.getElementById(id);
    const shows = page.shows || [];
    const hides = shows.concat(page.hides || []);
    let session = 0;

    function showSignIn(message) {
      for (const id of hides) $(id).hidden = true;
      $("signin").hidden = false;
      const err = $("signin-error");
      err.textContent = message || "";
      err.hidden = !message;
      const field = $("token");
      if (field) {
        field.value = "";
        field.focus();
      }
    }

    // signOut ends the session; message (if any) is shown on the sign-in form.
    async function signOut(message) {
      session++;
      clearToken();
      try {
        if (page.stop) await page.stop();
      } finally {
        showSignIn(message);
      }
    }

    // failed handles an API error of the session: a refused token ends it (true).
    function failed(err) {
      if (err && err.status === 401) {
        signOut(api.signInMessage(err));
        return true;
      }
      return false;
    }

    async function begin() {
      const gen = ++session;
      const tok = page.token ? await page.token() : token();
      if (gen !== session) return;
      if (!tok) {
        showSignIn(takeNotice());
        return;
      }
      let me;
      try {
        me = page.me ? await page.me() : await call("GET", "/api/v1/me");
      } catch (err) {
        if (gen !== session) return;
        if (err.status === 401) signOut(api.signInMessage(err));
        else showSignIn(err.notice || vagtI18n.t("common.signIn.cannot", { message: err.message }));
        return;
      }
      if (gen !== session) return;
      const refusal = page.check ? page.check(me) : "";
      if (refusal) {
        signOut(refusal);
        return;
      }
      $("signin").hidden = true;
      for (const id of shows) $(id).hidden = false;
      await page.start(me, gen);
    }

    $("signin-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const field = $("token");
      const t = field.value.trim();
      if (!t) {
        showSignIn(vagtI18n.t("common.signIn.enterToken"));
        return;
      }
      field.value = "";
      setToken(t);
      if (page.submitted) page.submitted();
      vagtI18n.ready.then(begin);
    });
    const out = $("sign-out");
    if (out) out.addEventListener("click", () => signOut(vagtI18n.t("common.signIn.signedOut")));
    whenReady(begin);

    return { showSignIn, signOut, failed, current: (gen) => gen === session, gen: () => session };
  }

  const api = { APIError, techName, TECH, token, setToken, clearToken, takeNotice, call, rereadStale, signInMessage, el, fmtTime, signedIn, whenReady };
  return api;
})();
