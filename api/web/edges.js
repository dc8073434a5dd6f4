// edges.js: the console's everyday edge cases (docs/alerts.md) — a test alert is marked
// "Prøvealarm"; a gateway that never connected says so; an alert's detail says when the
// citizen is away and lets staff set or end an absence ("væk til") and put a device in
// test mode. Texts from the catalogue (console.edges), dates from format.js.
"use strict";

const vagtEdges = (() => {
  const { el } = vagt;
  const t = (key, vars) => vagtI18n.t("console.edges." + key, vars);
  const date = (iso) => vagtFormat.dateTime(iso);

  // cardBadges are the badges an alert's card and detail show beside its priority.
  function cardBadges(a) {
    const out = [];
    if (a.test) out.push(el("span", { class: "badge test", "data-test": "true", text: t("testAlarm") }));
    if (a.type === "gateway_offline" && a.details && a.details.never_connected === "true") {
      out.push(el("span", { class: "badge never", text: t("neverConnected") }));
    }
    return out;
  }

  // detailParts: the absence line and controls, and the test-mode control per device.
  // refresh reloads the detail after a change.
  function detailParts(d, canAct, refresh) {
    const parts = [];
    const msg = el("p", { class: "error", role: "alert", hidden: true });
    const fail = (err) => { msg.textContent = err.message; msg.hidden = false; };
    if (d.away_until) {
      parts.push(el("p", { class: "away", "data-away-until": d.away_until },
        el("strong", { text: t("away") }), t("awayUntil", { time: date(d.away_until) }) + t("awayOff")));
    }
    if (canAct && d.home) {
      const path = "/api/v1/homes/" + encodeURIComponent(d.home) + "/absence";
      const until = el("input", { id: "away-until", type: "date", required: true });
      const reason = el("select", { id: "away-reason" },
        el("option", { value: "hospital", text: t("reason.hospital") }),
        el("option", { value: "holiday", text: t("reason.holiday") }),
        el("option", { value: "other", text: t("reason.other") }));
      const form = el("form", { class: "absence-form", novalidate: true },
        el("label", { for: "away-until", text: t("until") }), until,
        el("label", { for: "away-reason", text: t("reason.label") }), reason,
        el("button", { type: "submit", text: t("setAbsence") }),
        d.away_until ? el("button", { type: "button", "data-action": "end-absence", text: t("endAbsence") }) : null);
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        if (!until.value) return;
        // The end of the chosen day in Danish time, sent as UTC.
        const end = new Date(until.value + "T23:59:00");
        try {
          await vagt.call("PUT", path, { until: end.toISOString(), reason: reason.value });
          refresh();
        } catch (err) { fail(err); }
      });
      const endButton = form.querySelector("[data-action=end-absence]");
      if (endButton) endButton.addEventListener("click", async () => {
        try {
          await vagt.call("DELETE", path);
          refresh();
        } catch (err) { fail(err); }
      });
      parts.push(el("h3", { text: t("absence") }), form);
    }
    if (canAct && d.devices && d.devices.length) {
      parts.push(el("h3", { text: t("testAlarm") }), el("ul", { class: "test-devices" },
        ...d.devices.map((v) => {
          const on = v.test_until && new Date(v.test_until) > new Date();
          const b = el("button", { type: "button", "data-test-device": v.id,
            text: on ? t("endTest") : t("startTest") });
          b.addEventListener("click", async () => {
            try {
              await vagt.call(on ? "DELETE" : "POST", "/api/v1/devices/" + encodeURIComponent(v.id) + "/test", on ? undefined : { minutes: 30 });
              refresh();
            } catch (err) { fail(err); }
          });
          return el("li", {}, el("span", { text: (v.label || v.id) + " · " +
            (on ? t("inTestUntil", { time: date(v.test_until) })
              : v.last_tested_at ? t("lastTested", { time: date(v.last_tested_at) }) : t("neverTested")) + " " }), b);
        })));
    }
    parts.push(msg);
    return parts;
  }

  return { cardBadges, detailParts };
})();
