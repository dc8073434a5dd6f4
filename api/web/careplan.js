// careplan.js: the care-plan page. Staff choose a citizen by name (the overview names each
// home's citizen; that read is audited), see whether the home's gateway runs the latest
// version ("afventer" while it is offline, "afvist" with the gateway's reason), edit the
// plan in a form (careplan-form.js), and see what it means with the defaults filled in and
// who changed what when. It reads and writes /api/v1/homes/{id}/config (docs/careplans.md).
"use strict";

(() => {
  const { el } = vagt;
  const { t } = vagtI18n;
  const F = vagtFormat;
  const $ = (id) => document.getElementById(id);
  let version = 0;
  let home = "";
  let homes = [];
  let form = null;

  const stateName = (s) => (vagtI18n.has("careplan.state." + s) ? t("careplan.state." + s) : s);
  const roleName = (c) => (vagtI18n.has("common.role." + c) ? t("common.role." + c) : c);
  // whom names a home by its citizen; a home without one by its id.
  const whom = (h) => (h && h.citizen ? h.citizen : t("careplan.noCitizen", { home: h ? h.home : home }));

  function show(id, message) {
    $(id).textContent = message || "";
    $(id).hidden = !message;
  }

  async function start(me) {
    $("who-name").textContent = me.name + " · " + roleName(me.role);
    await overview();
    const fromURL = new URLSearchParams(location.search).get("home");
    if (fromURL) {
      $("citizen").value = fromURL;
      load(fromURL);
    }
  }

  // overview lists the homes the user may see, by citizen, with the state of their plans.
  async function overview() {
    let o;
    try {
      o = await vagt.call("GET", "/api/v1/careplans");
    } catch (err) {
      show("plan-error", err.message);
      return;
    }
    homes = [...o.homes].sort((a, b) => (a.citizen ? 0 : 1) - (b.citizen ? 0 : 1) ||
      String(a.citizen || a.home).localeCompare(String(b.citizen || b.home), "da"));
    const chosen = $("citizen").value || home;
    $("citizen").replaceChildren(el("option", { value: "", text: t("careplan.choosePrompt") }),
      ...homes.map((h) => el("option", { value: h.home, text: whom(h) })));
    $("citizen").value = chosen;
    $("homes").querySelector("tbody").replaceChildren(...homes.map((h) => el("tr", { "data-home": h.home },
      el("td", {}, el("button", { type: "button", class: "ghost", text: whom(h), onclick: () => { $("citizen").value = h.home; load(h.home); } })),
      el("td", { text: String(h.version) }), el("td", {}, el("span", { class: "badge", "data-state": h.state, text: stateName(h.state) })),
      el("td", {}, devices(h.devices)),
      el("td", { text: h.gateways.map((g) => g.reason || "").filter(Boolean).join("; ") }),
      el("td", { class: "away-until", text: h.away_until ? vagt.fmtTime(h.away_until) : "" }))));
  }

  // devices says how many of the home's registered devices its plan covers: a device left
  // out is ignored by the gateway, so fewer than all is marked.
  function devices(d) {
    if (!d) return "";
    if (d.covered === null || d.covered === undefined) {
      return el("span", { class: "devices", text: t("careplan.devicesNoPlan", { registered: d.registered }) });
    }
    const short = d.covered < d.registered;
    return el("span", { class: short ? "devices devices-short" : "devices", title: short ? t("careplan.devicesShort") : null,
      text: t("careplan.devicesCovered", { covered: d.covered, registered: d.registered }) + (short ? " ⚠" : "") });
  }

  async function load(id) {
    home = id || "";
    show("plan-error", "");
    if (!home) {
      $("plan-body").hidden = true;
      return;
    }
    let v, h;
    try {
      v = await vagt.call("GET", "/api/v1/homes/" + encodeURIComponent(home) + "/config");
      h = await vagt.call("GET", "/api/v1/homes/" + encodeURIComponent(home) + "/config/history?limit=20");
    } catch (err) {
      $("plan-body").hidden = true;
      show("plan-error", err.message);
      return;
    }
    version = v.version;
    $("plan-body").hidden = false;
    $("plan-title").textContent = t("careplan.planOf", { name: whom(homes.find((x) => x.home === home)) });
    const long = vagtI18n.has("careplan.stateLong." + v.state) ? t("careplan.stateLong." + v.state) : v.state;
    $("plan-state").textContent = t("careplan.versionState", { version: String(v.version), state: long });
    $("plan-state").dataset.version = String(v.version);
    $("plan-state").dataset.state = v.state;
    $("gateways").querySelector("tbody").replaceChildren(...v.gateways.map((g) => el("tr", {},
      el("td", { text: g.gateway }), el("td", { text: g.online ? t("common.yes") : t("common.no") }),
      el("td", { text: g.applied ? t("careplan.runsVersion", { version: String(g.applied) }) : t("careplan.runsOwn") }),
      el("td", {}, el("span", { class: "badge", text: stateName(g.state) })), el("td", { text: g.reason || "" }))));
    form = vagtPlanForm.build($("edit-form"), v.settings || {}, v.effective || {}, v.registered || []);
    $("gps-zones").replaceChildren(vagtGPS.zoneEditor(home)); // gps.js: the home's safe zones
    $("effective").replaceChildren(...vagtPlanForm.describe(v.effective || {}).flatMap(([k, val]) => [el("dt", { text: k }), el("dd", { text: val })]));
    const fieldName = (f) => (vagtI18n.has("careplan.fieldName." + f) ? t("careplan.fieldName." + f) : f);
    $("history").replaceChildren(...h.history.map((c) => el("li", {},
      t("careplan.historyLine", { version: String(c.version), changed: (c.changed || []).map(fieldName).join(", ") }),
      el("span", { class: "note-meta", text: c.changed_by + " · " + vagt.fmtTime(c.changed_at) }))));
  }

  // refused shows the API's 400 next to its field, once; a plan that drops something the
  // API wants confirmed offers to confirm it.
  function refused(e) {
    // Next to its field the message need not name the field again.
    if (e.field && typeof e.message === "string" && e.message.startsWith(e.field + ": ")) e = { ...e, message: e.message.slice(e.field.length + 2) };
    const confirm = /"confirm":\s*\[([^\]]*)\]/.exec(e.message || "");
    if (confirm) form.askConfirm([...confirm[1].matchAll(/"([^"]+)"/g)].map((m) => m[1]));
    if (e.field && form.showError(e.field, e.message)) {
      const control = document.getElementById("f-" + e.field.replace(/[.[\]]+/g, "-").replace(/-$/, ""));
      (control && control.matches("input, select") ? control : $("edit-form").querySelector("[aria-invalid], .confirm:not([hidden]) input"))?.focus();
      return;
    }
    show("edit-error", e.field ? t("careplan.error.field", { field: e.field, message: e.message }) : e.message);
  }

  async function save() {
    const body = form.read();
    if (!body) {
      $("edit-form").querySelector("[aria-invalid]")?.focus();
      return;
    }
    // If-Match: a change someone else saved meanwhile is not overwritten.
    const headers = { Authorization: "Bearer " + vagt.token(), "Content-Type": "application/json", Accept: "application/json" };
    if (version > 0) headers["If-Match"] = '"' + version + '"';
    let resp;
    try {
      resp = await fetch("/api/v1/homes/" + encodeURIComponent(home) + "/config", { method: "PUT", headers, body: JSON.stringify(body), cache: "no-store" });
    } catch (e) {
      show("edit-error", t("common.unreachable"));
      return;
    }
    if (!resp.ok) {
      let e = { message: resp.statusText };
      try { e = (await resp.json()).error || e; } catch (_) { /* not JSON */ }
      if (resp.status === 409) show("edit-error", t("careplan.error.conflict", { message: e.message }));
      else if (resp.status === 400) refused(e);
      else show("edit-error", e.message);
      return;
    }
    await load(home);
    await overview();
  }

  document.addEventListener("DOMContentLoaded", () => {
    vagt.signedIn({ shows: ["plan", "who"], start });
    $("citizen").addEventListener("change", () => load($("citizen").value));
    $("edit-form").addEventListener("submit", (ev) => { ev.preventDefault(); save(); });
  });
})();
