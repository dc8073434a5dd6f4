// night.js: the night board (nattilsyn). Every home with night checks in the signed-in
// staff member's districts, the check due, the state from its sensors graded
// green/amber/red against the citizen's good state, and one tap to record "checked, all
// well" or "visit needed" (an alert on the alarm lane). Danish by default; English when
// localStorage "vagt.lang" is "en" (the button in the header switches).
"use strict";

(() => {
  const { el, call } = vagt;
  const $ = (id) => document.getElementById(id);
  const REFRESH_MS = 30000;

  const T = {
    da: {
      skip: "Spring til nattilsynet", sub: "nattilsyn", console: "Alarmer", signout: "Log ud", signin: "Log ind",
      token: "Adgangsnøgle", tokenhelp: "Nøglen til plejepersonale (begynder med vagt_). Den gemmes kun i denne fane.",
      signinbtn: "Log ind", title: "Nattens tilsyn", empty: "Ingen hjem med nattilsyn i dine distrikter.",
      lang: "English", green: "Grøn", amber: "Gul", red: "Rød",
      due: "Tilsyn kl. %s", overdue: "Tilsyn kl. %s er ikke udført — alarm sendt", upcoming: "Næste tilsyn kl. %s", done: "Ingen tilsyn mangler",
      away: "Fraværende til %s — intet tilsyn",
      inBed: "I seng", inBedSince: "i seng siden %s", outOfBed: "ikke i seng", unknown: "ukendt",
      motion: "Sidste bevægelse", door: "Hoveddør", open: "åben", closed: "lukket", temp: "Temperatur",
      water: "Vand på gulvet", yes: "ja", no: "nej", gateway: "Gateway", online: "online", offline: "offline",
      allWell: "Tjekket, alt vel", visit: "Besøg nødvendigt", recorded: "Registreret: %s",
      decisions: { all_well: "alt vel", visit: "besøg — alarm sendt" },
      telemetry: "Sensorernes tilstand er ukendt (InfluxDB svarer ikke). Intet vises som grønt.",
      notConfigured: "Sensorernes tilstand kan ikke læses (InfluxDB er ikke sat op). Intet vises som grønt.",
      findings: {
        "gateway/amber": "Gatewayen er offline eller ukendt: målingerne kan være gamle",
        "telemetry/amber": "Sensorernes tilstand er ukendt",
        "in_bed/red": "Ikke i seng", "in_bed/amber": "Ingen måling fra sengen",
        "door_closed/red": "Hoveddøren er åben", "door_closed/amber": "Ingen måling fra døren",
        "temperature/red": "Temperaturen er uden for det aftalte", "temperature/amber": "Ingen temperaturmåling",
        "no_water/red": "Vand på gulvet", "no_water/amber": "Ingen måling fra vandsensoren",
        "motion_within/red": "Ingen bevægelse i for lang tid", "motion_within/amber": "Sidste bevægelse ukendt",
      },
      updated: "Opdateret %s", failed: "Kunne ikke hente tavlen: %s", refused: "Adgangsnøglen blev ikke godtaget. Log ind igen.",
    },
    en: {
      skip: "Skip to the night board", sub: "night supervision", console: "Alerts", signout: "Sign out", signin: "Sign in",
      token: "Access token", tokenhelp: "A care staff token (it starts with vagt_). It is kept only in this browser tab.",
      signinbtn: "Sign in", title: "Tonight's checks", empty: "No homes with night checks in your districts.",
      lang: "Dansk", green: "Green", amber: "Amber", red: "Red",
      due: "Check at %s", overdue: "Check at %s not made — alert raised", upcoming: "Next check at %s", done: "No check due",
      away: "Away until %s — no checks",
      inBed: "In bed", inBedSince: "in bed since %s", outOfBed: "not in bed", unknown: "unknown",
      motion: "Last motion", door: "Front door", open: "open", closed: "closed", temp: "Temperature",
      water: "Water on the floor", yes: "yes", no: "no", gateway: "Gateway", online: "online", offline: "offline",
      allWell: "Checked, all well", visit: "Visit needed", recorded: "Recorded: %s",
      decisions: { all_well: "all well", visit: "visit — alert raised" },
      telemetry: "The sensors' state is unknown (InfluxDB is not answering). Nothing is shown as green.",
      notConfigured: "The sensors' state cannot be read (InfluxDB is not configured). Nothing is shown as green.",
      updated: "Updated %s", failed: "Could not load the board: %s", refused: "The token was not accepted. Sign in again.",
    },
  };
  let lang = localStorage.getItem("vagt.lang") === "en" ? "en" : "da";
  const t = (k, ...a) => {
    let s = T[lang][k];
    for (const v of a) s = s.replace("%s", v);
    return s;
  };
  const hm = (iso) => new Date(iso).toLocaleTimeString(lang === "en" ? "en-GB" : "da-DK",
    { hour: "2-digit", minute: "2-digit", timeZone: "Europe/Copenhagen" });

  // The day and time (a citizen may be away for days).
  const dayTime = (iso) => new Date(iso).toLocaleString(lang === "en" ? "en-GB" : "da-DK",
    { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", timeZone: "Europe/Copenhagen" });

  let timer = 0;
  let last = null;

  function applyLang() {
    document.documentElement.lang = lang;
    for (const e of document.querySelectorAll("[data-t]")) e.textContent = t(e.dataset.t);
    $("lang").textContent = t("lang");
    $("lang").lang = lang === "da" ? "en" : "da";
    if (last) render(last);
  }

  function showSignIn(msg) {
    $("signin").hidden = false;
    $("board").hidden = true;
    $("sign-out").hidden = true;
    $("who-name").hidden = true;
    const e = $("signin-error");
    e.textContent = msg || "";
    e.hidden = !msg;
    clearTimeout(timer);
  }

  function line(dl, label, value) {
    dl.append(el("dt", { text: label }), el("dd", { text: value }));
  }

  function card(h) {
    const s = h.state || {};
    const unk = t("unknown");
    const dl = el("dl");
    const bed = s.in_bed === undefined ? unk : s.in_bed ? (s.in_bed_since ? t("inBedSince", hm(s.in_bed_since)) : t("inBed")) : t("outOfBed");
    line(dl, t("inBed"), bed);
    line(dl, t("motion"), s.last_motion ? hm(s.last_motion) : unk);
    line(dl, t("door"), s.door_open === undefined ? unk : s.door_open ? t("open") : t("closed"));
    line(dl, t("temp"), s.temperature === undefined ? unk : s.temperature.toFixed(1) + " °C");
    if (h.good && h.good.no_water) line(dl, t("water"), s.water === undefined ? unk : s.water ? t("yes") : t("no"));
    line(dl, t("gateway"), s.gateway_online === undefined ? unk : s.gateway_online ? t("online") : t("offline"));
    const due = h.due_at ? el("p", { class: "due" + (h.status === "overdue" ? " overdue" : ""), text: t(h.status, hm(h.due_at)) })
      : el("p", { class: "due", text: h.away_until ? t("away", dayTime(h.away_until)) : t("done") });
    const findings = el("ul", { class: "findings" }, ...(h.findings || []).map((f) =>
      el("li", { text: (T[lang].findings || {})[f.condition + "/" + f.grade] || f.reason })));
    const li = el("li", { class: "night-home grade-" + h.grade, "data-home": h.home, "data-grade": h.grade, "data-status": h.status },
      el("h3", {}, el("span", { text: h.citizen || h.home }), el("span", { class: "badge grade-" + h.grade, text: t(h.grade) })),
      due, dl, (h.findings || []).length ? findings : null);
    if (h.due_at && h.status !== "upcoming") {
      const msg = el("p", { class: "help", role: "status" });
      const act = (decision) => async (ev) => {
        for (const b of li.querySelectorAll("button")) b.disabled = true;
        try {
          const c = await call("POST", "/api/v1/homes/" + encodeURIComponent(h.home) + "/night-checks", { due_at: h.due_at, decision });
          msg.textContent = t("recorded", T[lang].decisions[c.decision] || c.decision);
          await load();
        } catch (e) {
          msg.textContent = e.message;
          for (const b of li.querySelectorAll("button")) b.disabled = false;
        }
      };
      li.append(el("div", { class: "actions" },
        el("button", { type: "button", class: "primary", "data-action": "all_well", onclick: act("all_well") }, t("allWell")),
        el("button", { type: "button", "data-action": "visit", onclick: act("visit") }, t("visit"))), msg);
    }
    return li;
  }

  function render(b) {
    const tel = $("telemetry");
    tel.hidden = b.telemetry === "ok";
    tel.textContent = b.telemetry === "not_configured" ? t("notConfigured") : t("telemetry");
    $("homes").replaceChildren(...b.homes.map(card));
    $("empty").hidden = b.homes.length > 0;
    $("updated").textContent = t("updated", hm(b.at));
  }

  async function load() {
    clearTimeout(timer);
    try {
      last = await call("GET", "/api/v1/night/board");
      $("board-error").hidden = true;
      render(last);
    } catch (e) {
      if (e.status === 401) {
        vagt.clearToken();
        showSignIn(t("refused"));
        return;
      }
      $("board-error").textContent = t("failed", e.message);
      $("board-error").hidden = false;
    }
    timer = setTimeout(load, REFRESH_MS);
  }

  async function start() {
    try {
      const me = await call("GET", "/api/v1/me");
      $("who-name").textContent = me.name;
    } catch (e) {
      vagt.clearToken();
      showSignIn(vagt.signInMessage(e));
      return;
    }
    $("signin").hidden = true;
    $("board").hidden = false;
    $("sign-out").hidden = false;
    $("who-name").hidden = false;
    await load();
  }

  document.addEventListener("DOMContentLoaded", () => {
    applyLang();
    $("lang").addEventListener("click", () => {
      lang = lang === "da" ? "en" : "da";
      localStorage.setItem("vagt.lang", lang);
      applyLang();
    });
    $("sign-out").addEventListener("click", () => { vagt.clearToken(); last = null; showSignIn(""); });
    vagt.onSignIn(showSignIn, start);
    if (vagt.token()) start(); else showSignIn(vagt.takeNotice());
  });
})();
