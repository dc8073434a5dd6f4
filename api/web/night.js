// night.js: the night board (nattilsyn). Every home with night checks in the signed-in
// staff member's districts, the check due, the state from its sensors graded
// green/amber/red against the citizen's good state, and one tap to record "checked, all
// well" or "visit needed" (an alert on the alarm lane). Texts from the catalogue (night),
// redrawn when the language is switched.
"use strict";

(() => {
  const { el, call } = vagt;
  const $ = (id) => document.getElementById(id);
  const REFRESH_MS = 30000;

  const { t } = vagtI18n;
  const hm = (iso) => vagtFormat.time(iso);
  // The day and time (a citizen may be away for days).
  const dayTime = (iso) => vagtFormat.dateTime(iso);
  // known is the text of a code from the API, or the API's own words for a code the
  // catalogue does not know yet.
  const known = (key, fallback, vars) => (vagtI18n.has(key) ? t(key, vars) : fallback);

  let timer = 0;
  let last = null;


  // session: the sign-in form, "Log ud" and a refused token (common.js).
  let session = null;

  function line(dl, label, value) {
    dl.append(el("dt", { text: label }), el("dd", { text: value }));
  }

  function card(h) {
    const s = h.state || {};
    const unk = t("night.unknown");
    const dl = el("dl");
    const bed = s.in_bed === undefined ? unk : s.in_bed ? (s.in_bed_since ? t("night.inBedSince", { time: hm(s.in_bed_since) }) : t("night.inBed")) : t("night.outOfBed");
    line(dl, t("night.inBed"), bed);
    line(dl, t("night.motion"), s.last_motion ? hm(s.last_motion) : unk);
    line(dl, t("night.door"), s.door_open === undefined ? unk : s.door_open ? t("night.open") : t("night.closed"));
    line(dl, t("night.temp"), s.temperature === undefined ? unk : vagtFormat.number(s.temperature, 1) + " °C");
    if (h.good && h.good.no_water) line(dl, t("night.water"), s.water === undefined ? unk : s.water ? t("common.yes") : t("common.no"));
    line(dl, t("night.gateway"), s.gateway_online === undefined ? unk : s.gateway_online ? t("night.online") : t("night.offline"));
    const due = h.due_at ? el("p", { class: "due" + (h.status === "overdue" ? " overdue" : ""), text: known("night.status." + h.status, h.status, { time: hm(h.due_at) }) })
      : el("p", { class: "due", text: h.away_until ? t("night.away", { time: dayTime(h.away_until) }) : t("night.status.done") });
    const findings = el("ul", { class: "findings" }, ...(h.findings || []).map((f) =>
      el("li", { text: known("night.finding." + f.condition + "/" + f.grade, f.reason) })));
    const li = el("li", { class: "night-home grade-" + h.grade, "data-home": h.home, "data-grade": h.grade, "data-status": h.status },
      el("h3", {}, el("span", { text: h.citizen || h.home }), el("span", { class: "badge grade-" + h.grade, text: known("night.grade." + h.grade, h.grade) })),
      due, dl, (h.findings || []).length ? findings : null);
    if (h.due_at && h.status !== "upcoming") {
      const msg = el("p", { class: "help", role: "status" });
      const act = (decision) => async (ev) => {
        for (const b of li.querySelectorAll("button")) b.disabled = true;
        try {
          const c = await call("POST", "/api/v1/homes/" + encodeURIComponent(h.home) + "/night-checks", { due_at: h.due_at, decision });
          msg.textContent = t("night.recorded", { decision: known("night.decision." + c.decision, c.decision) });
          await load();
        } catch (e) {
          msg.textContent = e.message;
          for (const b of li.querySelectorAll("button")) b.disabled = false;
        }
      };
      li.append(el("div", { class: "actions" },
        el("button", { type: "button", class: "primary", "data-action": "all_well", onclick: act("all_well") }, t("night.allWell")),
        el("button", { type: "button", "data-action": "visit", onclick: act("visit") }, t("night.visit"))), msg);
    }
    return li;
  }

  function render(b) {
    const tel = $("telemetry");
    tel.hidden = b.telemetry === "ok";
    tel.textContent = b.telemetry === "not_configured" ? t("night.notConfigured") : t("night.telemetry");
    $("homes").replaceChildren(...b.homes.map(card));
    $("empty").hidden = b.homes.length > 0;
    $("updated").textContent = t("night.updated", { time: hm(b.at) });
  }

  async function load() {
    clearTimeout(timer);
    try {
      last = await call("GET", "/api/v1/night/board");
      $("board-error").hidden = true;
      render(last);
    } catch (e) {
      if (session.failed(e)) return;
      $("board-error").textContent = t("night.failed", { message: e.message });
      $("board-error").hidden = false;
    }
    timer = setTimeout(load, REFRESH_MS);
  }

  async function start(me) {
    $("who-name").textContent = me.name;
    await load();
  }

  function stop() {
    clearTimeout(timer);
    last = null;
  }

  document.addEventListener("DOMContentLoaded", () => {
    vagtI18n.onChange(() => { if (last) render(last); });
    session = vagt.signedIn({ shows: ["board", "sign-out", "who-name"], start, stop });
  });
})();
