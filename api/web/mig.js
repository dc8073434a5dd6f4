// mig.js: the citizen page (/mig). A citizen sees their devices, their alarms and how fast
// help came, their care plan in words, who looked at their data and why, their relatives'
// access; they download everything and ask for erasure. A relative who signed in sees only
// what a citizen's grant names. Texts: catalogue group "citizen" (docs/i18n.md).
"use strict";

(() => {
  const { el, call } = vagt;
  const $ = (id) => document.getElementById(id);
  const t = (k, v) => vagtI18n.t(k, v);
  let last = null; // the last answer, redrawn on a change of language

  function show(id, on) { $(id).hidden = !on; }
  function fail(id, err) { $(id).textContent = err.message || String(err); show(id, true); }

  let me = null; // who signed in: a citizen or a relative

  function typeName(type) { return vagtI18n.has("console.type." + type) ? t("console.type." + type) : type; }
  function outcomeName(o) { return vagtI18n.has("console.outcome." + o) ? t("console.outcome." + o) : o; }
  function after(from, to) { return vagtFormat.duration(Math.max(0, (Date.parse(to) - Date.parse(from)) / 1000)); }

  function deviceItem(d) {
    const working = d.state === "installed" && d.last_seen;
    return el("li", {},
      el("strong", { text: (d.label || d.id) + " — " + vagt.techName(d.technology) }), el("br"),
      el("span", { class: working ? "state-ok" : "state-bad", text: working ? t("citizen.devices.working") : t("citizen.devices.notWorking") }), " · ",
      d.battery >= 0 ? t("citizen.devices.battery", { pct: d.battery }) : t("citizen.devices.noBattery"), " · ",
      d.last_seen ? t("citizen.devices.lastHeard", { when: vagtFormat.dateTime(d.last_seen) }) : t("citizen.devices.neverHeard"));
  }

  function alarmItem(a) {
    const parts = [el("strong", { text: typeName(a.type) }), " ", vagtFormat.dateTime(a.raised_at), el("br")];
    if (a.acked_at) parts.push(t("citizen.alarms.acked", { after: after(a.raised_at, a.acked_at) }), el("br"));
    else if (!a.resolved_at) parts.push(el("span", { class: "state-bad", text: t("citizen.alarms.open") }), el("br"));
    if (a.arrived_at) parts.push(t("citizen.alarms.arrived", { after: after(a.raised_at, a.arrived_at) }), el("br"));
    if (a.resolved_at) parts.push(t("citizen.alarms.resolved", { outcome: outcomeName(a.outcome || "other") }));
    return el("li", {}, ...parts);
  }

  // planItems words a home's care plan: what the home watches, and when.
  function planItems(p) {
    const out = [];
    const s = p.settings || {};
    for (const d of s.devices || []) out.push(t("citizen.plan.device", { tech: vagt.techName(d.technology) }));
    const r = s.rules || {};
    if (r.night) out.push(t("citizen.plan.night", { window: vagtFormat.timeRange(r.night) }));
    if (r.door_at_night) out.push(t("citizen.plan.door"));
    if (r.inactivity) out.push(t("citizen.plan.inactivity", { after: vagtFormat.duration(vagtFormat.parseDuration(r.inactivity)) }));
    if (r.bed_exit) out.push(t("citizen.plan.bed", { after: vagtFormat.duration(vagtFormat.parseDuration(r.bed_exit)) }));
    if (r.low_temperature !== undefined && r.low_temperature !== null) out.push(t("citizen.plan.cold", { deg: r.low_temperature }));
    if (r.medication && r.medication.length) out.push(t("citizen.plan.medication", { count: r.medication.length }));
    if (s.absence) out.push(t("citizen.plan.away"));
    return out;
  }

  // logWords says an audit entry as a citizen reads it: who, what, when.
  function logItem(e) {
    const key = "citizen.log.action." + e.action.replace(/\./g, "_");
    const what = vagtI18n.has(key) ? t(key) : e.action;
    let who = e.actor;
    if (/^citizen-\d+$/.test(who)) who = t("citizen.log.you");
    else if (who.startsWith("relative-")) who = t("citizen.log.relative");
    else if (who === "system") who = t("citizen.log.system");
    return el("li", {}, el("strong", { text: who }), " ", what, el("br"),
      el("span", { class: "help", text: vagtFormat.dateTime(e.at) + (e.detail && e.action.startsWith("relative") ? " · " + e.detail : "") }));
  }

  function grantItem(g) {
    const parts = g.parts.map((p) => t("citizen.relatives.part." + p)).join(", ");
    const active = g.active; // by the server's clock
    const li = el("li", {}, el("strong", { text: g.relative_name }), " (" + g.relation + ")", el("br"), parts, el("br"),
      el("span", { class: "help", text: g.revoked_at ? t("citizen.relatives.revoked", { when: vagtFormat.dateTime(g.revoked_at) })
        : t("citizen.relatives.until", { when: vagtFormat.date(g.until) }) }));
    if (active) {
      li.append(" ", el("button", { type: "button", class: "danger", "data-grant": g.id, text: t("citizen.relatives.revoke"),
        "aria-label": t("citizen.relatives.revokeFor", { name: g.relative_name }), onclick: () => revoke(g.id) }));
    }
    return li;
  }

  function list(id, items, empty) {
    const ul = $(id);
    ul.replaceChildren(...(items.length ? items : [el("li", { class: "help", text: empty })]));
  }

  function drawCitizen(v) {
    $("who-name").textContent = v.name; show("who-name", true);
    list("devices", v.devices.map(deviceItem), t("citizen.devices.none"));
    list("alarms", v.alerts.slice().reverse().map(alarmItem), t("citizen.alarms.none"));
    list("plan", v.care_plans.flatMap(planItems).map((s) => el("li", { text: s })), t("citizen.plan.none"));
    list("relatives", v.relatives.map(grantItem), t("citizen.relatives.none"));
    list("log", v.access_log.map(logItem), t("citizen.log.none"));
  }

  function drawRelative(views) {
    $("granted").replaceChildren(...views.map((v) => el("li", {},
      el("h2", { text: t("citizen.relative.heading", { name: v.citizen }) }),
      el("p", { class: "help", text: t("citizen.relatives.until", { when: vagtFormat.date(v.until) }) }),
      v.devices ? el("section", {}, el("h3", { text: t("citizen.devices.heading") }), el("ul", { class: "plain" }, ...v.devices.map(deviceItem))) : null,
      v.alerts ? el("section", {}, el("h3", { text: t("citizen.alarms.heading") }),
        el("ul", { class: "plain" }, ...(v.alerts.length ? v.alerts.slice().reverse().map(alarmItem) : [el("li", { text: t("citizen.alarms.none") })]))) : null)));
  }

  // start shows what the citizen, or the relative, may see; again after each change.
  async function start(who) {
    me = who;
    try {
      if (me.role === "relative") {
        show("relative", true);
        last = { relative: await call("GET", "/api/v1/relative/view") };
        drawRelative(last.relative);
      } else {
        show("mine", true);
        last = { citizen: await call("GET", "/api/v1/me/overview") };
        drawCitizen(last.citizen);
      }
    } catch (err) {
      fail(me.role === "relative" ? "relative-error" : "page-error", err);
    }
  }

  async function revoke(id) {
    try {
      await call("DELETE", "/api/v1/me/relatives/" + id);
      await start(me);
    } catch (err) { fail("page-error", err); }
  }

  async function grant(ev) {
    ev.preventDefault();
    show("grant-error", false);
    const parts = [];
    if ($("part-alarms").checked) parts.push("alarms");
    if ($("part-devices").checked) parts.push("devices");
    const days = Math.max(1, Math.min(365, Number($("grant-days").value) || 90));
    try {
      await call("POST", "/api/v1/me/relatives", { relative_name: $("grant-name").value.trim(), identity: $("grant-identity").value.trim(),
        parts, until: new Date(Date.now() + days * 86400000).toISOString() });
      $("grant-form").reset();
      await start(me);
    } catch (err) { fail("grant-error", err); }
  }

  async function download(kind) {
    const accept = kind === "csv" ? "application/zip" : "application/json";
    $("data-status").textContent = t("common.loading");
    try {
      const resp = await fetch("/api/v1/me/data", { headers: { Authorization: "Bearer " + vagt.token(), Accept: accept }, cache: "no-store" });
      if (!resp.ok) {
        const body = await resp.json().catch(() => ({}));
        throw new Error((body.error && body.error.message) || resp.statusText);
      }
      const url = URL.createObjectURL(await resp.blob());
      const a = el("a", { href: url, download: kind === "csv" ? "mine-data.zip" : "mine-data.json" });
      document.body.append(a); a.click(); a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
      $("data-status").textContent = t("citizen.data.downloaded");
    } catch (err) {
      $("data-status").textContent = t("citizen.data.failed", { message: err.message });
    }
  }

  async function erase() {
    if (!confirm(t("citizen.data.confirm"))) return;
    try {
      await call("POST", "/api/v1/me/erasure");
      $("data-status").textContent = t("citizen.data.requested");
    } catch (err) {
      $("data-status").textContent = err.status === 409 ? t("citizen.data.refusedOpen") : t("citizen.data.failed", { message: err.message });
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    vagt.signedIn({ shows: ["sign-out"], hides: ["mine", "relative"], start, stop: () => { last = null; } });
    $("grant-form").addEventListener("submit", grant);
    $("download-json").addEventListener("click", () => download("json"));
    $("download-csv").addEventListener("click", () => download("csv"));
    $("erase").addEventListener("click", erase);
    vagtI18n.onChange(() => {
      if (last && last.citizen) drawCitizen(last.citizen);
      if (last && last.relative) drawRelative(last.relative);
    });
  });
})();
