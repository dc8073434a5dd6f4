// edges.js: the console's everyday edge cases (docs/alerts.md) — a test alert is marked
// "Prøvealarm"; a gateway that never connected says so; an alert's detail says when the
// citizen is away and lets staff set or end an absence ("væk til") and put a device in
// test mode. Danish by default; English when localStorage "vagt.lang" is "en".
"use strict";

const vagtEdges = (() => {
  const { el } = vagt;
  const en = () => (localStorage.getItem("vagt.lang") || "da") === "en";
  const t = (da, english) => (en() ? english : da);
  const date = (iso) => new Date(iso).toLocaleString(en() ? "en-GB" : "da-DK",
    { timeZone: "Europe/Copenhagen", day: "numeric", month: "long", year: "numeric", hour: "2-digit", minute: "2-digit" });

  // cardBadges are the badges an alert's card and detail show beside its priority.
  function cardBadges(a) {
    const out = [];
    if (a.test) out.push(el("span", { class: "badge test", "data-test": "true", text: t("Prøvealarm", "Test alarm") }));
    if (a.type === "gateway_offline" && a.details && a.details.never_connected === "true") {
      out.push(el("span", { class: "badge never", text: t("Aldrig forbundet", "Never connected") }));
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
        el("strong", { text: t("Borgeren er væk", "The citizen is away") }), " " + t("til", "until") + " " + date(d.away_until) +
        ". " + t("Inaktivitet, dør om natten, seng og medicin er slået fra; nødkald, fald, røg og vand er ikke.",
          "Inactivity, door at night, bed and medication are off; panic, fall, smoke and water are not.")));
    }
    if (canAct && d.home) {
      const path = "/api/v1/homes/" + encodeURIComponent(d.home) + "/absence";
      const until = el("input", { id: "away-until", type: "date", required: true });
      const reason = el("select", { id: "away-reason" },
        el("option", { value: "hospital", text: t("Indlagt", "In hospital") }),
        el("option", { value: "holiday", text: t("Ferie", "On holiday") }),
        el("option", { value: "other", text: t("Andet", "Other") }));
      const form = el("form", { class: "absence-form", novalidate: true },
        el("label", { for: "away-until", text: t("Væk til", "Away until") }), until,
        el("label", { for: "away-reason", text: t("Årsag", "Reason") }), reason,
        el("button", { type: "submit", text: t("Sæt fravær", "Set absence") }),
        d.away_until ? el("button", { type: "button", "data-action": "end-absence", text: t("Afslut fravær nu", "End absence now") }) : null);
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
      parts.push(el("h3", { text: t("Fravær", "Absence") }), form);
    }
    if (canAct && d.devices && d.devices.length) {
      parts.push(el("h3", { text: t("Prøvealarm", "Test alarm") }), el("ul", { class: "test-devices" },
        ...d.devices.map((v) => {
          const on = v.test_until && new Date(v.test_until) > new Date();
          const b = el("button", { type: "button", "data-test-device": v.id,
            text: on ? t("Afslut prøvetilstand", "End test mode") : t("Prøvetilstand i 30 min", "Test mode for 30 min") });
          b.addEventListener("click", async () => {
            try {
              await vagt.call(on ? "DELETE" : "POST", "/api/v1/devices/" + encodeURIComponent(v.id) + "/test", on ? undefined : { minutes: 30 });
              refresh();
            } catch (err) { fail(err); }
          });
          return el("li", {}, el("span", { text: (v.label || v.id) + " · " +
            (on ? t("i prøvetilstand til ", "in test mode until ") + date(v.test_until)
              : v.last_tested_at ? t("sidst afprøvet ", "last tested ") + date(v.last_tested_at) : t("aldrig afprøvet", "never tested")) + " " }), b);
        })));
    }
    parts.push(msg);
    return parts;
  }

  return { cardBadges, detailParts };
})();
