// careplan.js: a home's care plan — whether its gateway runs the latest version ("pending"
// while it is offline, "refused" with the gateway's reason), the settings to edit, what
// they mean with the defaults filled in, and who changed what when. It reads and writes
// /api/v1/homes/{id}/config (docs/careplans.md).
"use strict";

(() => {
  const { el } = vagt;
  const $ = (id) => document.getElementById(id);
  let version = 0;
  let home = "";

  function showSignIn(message) {
    $("plan").hidden = true;
    $("who").hidden = true;
    $("signin").hidden = false;
    $("signin-error").textContent = message || "";
    $("signin-error").hidden = !message;
  }

  function show(id, message) {
    $(id).textContent = message || "";
    $(id).hidden = !message;
  }

  async function start() {
    try {
      const me = await vagt.call("GET", "/api/v1/me");
      $("who-name").textContent = me.name + " · " + me.role;
    } catch (err) {
      vagt.clearToken();
      showSignIn(vagt.signInMessage(err));
      return;
    }
    $("signin").hidden = true;
    $("plan").hidden = false;
    $("who").hidden = false;
    overview();
    const fromURL = new URLSearchParams(location.search).get("home");
    if (fromURL) {
      $("home").value = fromURL;
      load();
    }
  }

  const STATE = {
    none: "No care plan of its own yet: the defaults below apply once saved.",
    latest: "The gateway runs the latest version.",
    pending: "Pending: the gateway has not reported the latest version yet (offline?).",
    refused: "Refused: the gateway runs an older version — see the reason.",
  };

  // overview lists the homes the user may see with the state of their plans.
  async function overview() {
    let o;
    try {
      o = await vagt.call("GET", "/api/v1/careplans");
    } catch (err) {
      show("plan-error", err.message);
      return;
    }
    $("homes").querySelector("tbody").replaceChildren(...o.homes.map((h) => el("tr", {},
      el("td", {}, el("button", { type: "button", class: "ghost", text: h.home, onclick: () => { $("home").value = h.home; load(); } }), devices(h.devices)),
      el("td", { text: String(h.version) }), el("td", {}, el("span", { class: "badge", text: h.state })),
      el("td", { text: h.gateways.map((g) => g.reason || "").filter(Boolean).join("; ") }),
      el("td", { class: "away-until", text: h.away_until ? vagt.fmtTime(h.away_until) : "" }))));
  }

  // devices says how many of the home's registered devices its plan covers: a device left
  // out is ignored by the gateway, so fewer than all is marked.
  function devices(d) {
    if (!d || d.covered === null || d.covered === undefined) {
      return el("span", { class: "devices", text: d ? " " + d.registered + " devices, no plan" : "" });
    }
    const short = d.covered < d.registered;
    return el("span", { class: short ? "devices devices-short" : "devices", title: short ? "Devices left out are ignored by the gateway" : "",
      text: " devices " + d.covered + " of " + d.registered + (short ? " ⚠" : "") });
  }

  async function load() {
    home = $("home").value.trim();
    show("plan-error", "");
    show("edit-error", "");
    if (!home) return;
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
    $("plan-state").textContent = "Version " + v.version + " · " + (STATE[v.state] || v.state);
    const rows = $("gateways").querySelector("tbody");
    rows.replaceChildren(...v.gateways.map((g) => el("tr", {},
      el("td", { text: g.gateway }), el("td", { text: g.online ? "yes" : "no" }),
      el("td", { text: g.applied ? "version " + g.applied : "its own file" }),
      el("td", {}, el("span", { class: "badge", text: g.state })), el("td", { text: g.reason || "" }))));
    $("settings").value = JSON.stringify(v.settings, null, 2);
    $("gps-zones").replaceChildren(vagtGPS.zoneEditor(home)); // gps.js: the home's safe zones
    $("effective").textContent = JSON.stringify(v.effective, null, 2);
    $("history").replaceChildren(...h.history.map((c) => el("li", {},
      "Version " + c.version + ": " + (c.changed || []).join(", "),
      el("span", { class: "note-meta", text: c.changed_by + " · " + vagt.fmtTime(c.changed_at) }))));
  }

  async function save() {
    show("edit-error", "");
    let body;
    try {
      body = JSON.parse($("settings").value);
    } catch (e) {
      show("edit-error", "The settings are not valid JSON: " + e.message);
      return;
    }
    // If-Match: a change someone else saved meanwhile is not overwritten.
    const headers = { Authorization: "Bearer " + vagt.token(), "Content-Type": "application/json", Accept: "application/json" };
    if (version > 0) headers["If-Match"] = '"' + version + '"';
    let resp;
    try {
      resp = await fetch("/api/v1/homes/" + encodeURIComponent(home) + "/config", { method: "PUT", headers, body: JSON.stringify(body), cache: "no-store" });
    } catch (e) {
      show("edit-error", "The server cannot be reached.");
      return;
    }
    if (!resp.ok) {
      let msg = resp.statusText;
      try {
        const e = (await resp.json()).error;
        msg = (e.field ? e.field + ": " : "") + e.message;
        if (resp.status === 409) msg = "Someone else changed the plan meanwhile; reload it. " + e.message;
      } catch (_) { /* not JSON */ }
      show("edit-error", msg);
      return;
    }
    await load();
    overview();
  }

  document.addEventListener("DOMContentLoaded", () => {
    vagt.onSignIn(showSignIn, start);
    $("sign-out").addEventListener("click", () => { vagt.clearToken(); showSignIn("You signed out."); });
    $("home-form").addEventListener("submit", (ev) => { ev.preventDefault(); load(); });
    $("edit-form").addEventListener("submit", (ev) => { ev.preventDefault(); save(); });
    if (vagt.token()) start();
    else showSignIn(vagt.takeNotice());
  });
})();
