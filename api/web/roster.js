// roster.js: the district lead's duty roster (vagtplan). Who is on duty now in every
// district, the district's shifts (kind, weekdays, Danish local times, staff, backup) to
// edit and save, every field the API refuses marked at its input, a warning for a shift
// with nobody on it (its alarms escalate at once), and the municipality's central on-call.
// Danish by default; English when localStorage "vagt.lang" is "en". The texts are in T
// until the shared catalogue (i18n.js) lands.
"use strict";

(() => {
  const { el, call } = vagt;
  const $ = (id) => document.getElementById(id);
  const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

  const T = {
    da: {
      skip: "Spring til vagtplanen", sub: "vagtplan", console: "Alarmer", signout: "Log ud", signin: "Log ind",
      token: "Adgangsnøgle", tokenhelp: "Nøglen til distriktslederen (begynder med vagt_). Den gemmes kun i denne fane.",
      signinbtn: "Log ind", title: "Vagtplan", district: "Distrikt", onduty: "På vagt nu", districtcol: "Distrikt",
      shiftcol: "Vagt", staffcol: "Personale", backupcol: "Bagvagt", shifts: "Vagter", add: "Tilføj vagt",
      save: "Gem vagtplan", central: "Central vagt (kommunen)", centralhelp: "Brugernavne, adskilt af komma",
      savecentral: "Gem central vagt", lang: "English",
      kinds: { day: "Dagvagt", evening: "Aftenvagt", night: "Nattevagt" },
      days: { mon: "man", tue: "tir", wed: "ons", thu: "tor", fri: "fre", sat: "lør", sun: "søn" },
      kind: "Vagt", weekdays: "Ugedage", start: "Fra", end: "Til", staff: "Personale (brugernavne, komma)",
      backupUser: "Bagvagt: person", backupDistrict: "eller hold (distrikt)", none: "ingen", remove: "Fjern vagten",
      noShift: "ingen vagt — alarmer eskalerer med det samme", nobody: "ingen",
      centralNow: "Central vagt: %s", saved: "Gemt %s af %s.", savedCentral: "Central vagt gemt.",
      invalid: "Vagtplanen blev ikke gemt. Ret felterne herunder:", failed: "Fejl: %s",
      refused: "Adgangsnøglen blev ikke godtaget. Log ind igen.", readonly: "Kun distriktsledere og administratorer kan ændre vagtplanen.",
      warn: { no_staff: "Vagt %s: ingen på vagten — alarmer eskalerer med det samme til bagvagten.", no_backup: "Vagt %s: ingen bagvagt — ubesvarede alarmer går direkte til den centrale vagt." },
    },
    en: {
      skip: "Skip to the roster", sub: "duty roster", console: "Alerts", signout: "Sign out", signin: "Sign in",
      token: "Access token", tokenhelp: "A district lead's token (it starts with vagt_). It is kept only in this browser tab.",
      signinbtn: "Sign in", title: "Duty roster", district: "District", onduty: "On duty now", districtcol: "District",
      shiftcol: "Shift", staffcol: "Staff", backupcol: "Backup", shifts: "Shifts", add: "Add a shift",
      save: "Save the roster", central: "Central on-call (municipality)", centralhelp: "User names, comma-separated",
      savecentral: "Save central on-call", lang: "Dansk",
      kinds: { day: "Day", evening: "Evening", night: "Night" },
      days: { mon: "Mon", tue: "Tue", wed: "Wed", thu: "Thu", fri: "Fri", sat: "Sat", sun: "Sun" },
      kind: "Shift", weekdays: "Weekdays", start: "From", end: "To", staff: "Staff (user names, comma)",
      backupUser: "Backup: person", backupDistrict: "or team (district)", none: "none", remove: "Remove the shift",
      noShift: "no shift — alarms escalate at once", nobody: "nobody",
      centralNow: "Central on-call: %s", saved: "Saved %s by %s.", savedCentral: "Central on-call saved.",
      invalid: "The roster was not saved. Correct the fields below:", failed: "Error: %s",
      refused: "The token was not accepted. Sign in again.", readonly: "Only district leads and admins can change the roster.",
      warn: { no_staff: "Shift %s: nobody on it — alarms escalate at once to the backup.", no_backup: "Shift %s: no backup — unanswered alarms go straight to central on-call." },
    },
  };
  let lang = localStorage.getItem("vagt.lang") === "en" ? "en" : "da";
  const t = (k, ...a) => {
    let s = T[lang][k];
    for (const v of a) s = s.replace("%s", v);
    return s;
  };
  const hm = (iso) => new Date(iso).toLocaleString(lang === "en" ? "en-GB" : "da-DK",
    { weekday: "short", hour: "2-digit", minute: "2-digit", timeZone: "Europe/Copenhagen" });
  const names = (v) => v.split(",").map((s) => s.trim()).filter(Boolean);

  let me = null;
  let districts = [];
  let current = null; // the roster shown

  function showSignIn(msg) {
    $("signin").hidden = false;
    $("roster").hidden = true;
    $("sign-out").hidden = true;
    $("who-name").hidden = true;
    const e = $("signin-error");
    e.textContent = msg || "";
    e.hidden = !msg;
  }

  function applyLang() {
    document.documentElement.lang = lang;
    for (const e of document.querySelectorAll("[data-t]")) e.textContent = t(e.dataset.t);
    $("lang").textContent = t("lang");
    $("lang").lang = lang === "da" ? "en" : "da";
    if (current) renderRoster(current);
  }

  // shiftRow is one shift's inputs; data-field names the JSON path the API's errors use.
  function shiftRow(s, i) {
    const f = (name) => "shifts[" + i + "]." + name;
    const id = (name) => "s" + i + "-" + name;
    const kind = el("select", { id: id("kind"), "data-field": f("kind") },
      ...["day", "evening", "night"].map((k) => el("option", { value: k, selected: s.kind === k }, T[lang].kinds[k])));
    const days = el("fieldset", { class: "days", "data-field": f("weekdays") }, el("legend", { text: t("weekdays") }),
      ...DAYS.map((d) => el("label", {}, el("input", { type: "checkbox", value: d, checked: (s.weekdays || []).includes(d) }), T[lang].days[d])));
    const teams = districts.filter((d) => d.id !== current.district);
    const backupDistrict = el("select", { id: id("bdistrict"), "data-field": f("backup.district") },
      el("option", { value: "0" }, t("none")),
      ...teams.map((d) => el("option", { value: String(d.id), selected: (s.backup || {}).district === d.id }, d.name)));
    const labelled = (name, label, input) => el("div", { class: "field" }, el("label", { for: id(name), text: label }), input);
    return el("li", { class: "shift", "data-index": i },
      labelled("kind", t("kind"), kind), days,
      labelled("start", t("start"), el("input", { id: id("start"), type: "time", value: s.start || "", "data-field": f("start"), required: true })),
      labelled("end", t("end"), el("input", { id: id("end"), type: "time", value: s.end || "", "data-field": f("end"), required: true })),
      labelled("staff", t("staff"), el("input", { id: id("staff"), type: "text", value: (s.staff || []).join(", "), "data-field": f("staff") })),
      labelled("buser", t("backupUser"), el("input", { id: id("buser"), type: "text", value: (s.backup || {}).user || "", "data-field": f("backup.user") })),
      labelled("bdistrict", t("backupDistrict"), backupDistrict),
      el("button", { type: "button", class: "ghost", "data-action": "remove", onclick: () => { current.shifts = readShifts(); current.shifts.splice(i, 1); renderRoster(current); } }, t("remove")));
  }

  function readShifts() {
    return [...document.querySelectorAll("#shifts li.shift")].map((li) => {
      const i = li.dataset.index;
      const v = (name) => $("s" + i + "-" + name).value;
      return {
        kind: v("kind"),
        weekdays: [...li.querySelectorAll(".days input:checked")].map((c) => c.value),
        start: v("start"), end: v("end"), staff: names(v("staff")),
        backup: { user: v("buser").trim() || undefined, district: Number(v("bdistrict")) || undefined },
      };
    });
  }

  function renderRoster(r) {
    current = r;
    $("shifts").replaceChildren(...r.shifts.map(shiftRow));
    $("warnings").replaceChildren(...(r.warnings || []).map((w) =>
      el("li", { class: "warning", "data-code": w.code, text: (T[lang].warn[w.code] || "%s " + w.reason).replace("%s", String(w.shift + 1)) })));
    $("saved").textContent = r.updated_at ? t("saved", hm(r.updated_at), r.updated_by) : "";
  }

  // markErrors puts each refused field's reason at its input, and all of them on top.
  function markErrors(fields) {
    for (const e of document.querySelectorAll("[aria-invalid]")) e.removeAttribute("aria-invalid");
    for (const e of document.querySelectorAll(".field-error")) e.remove();
    const box = $("errors");
    box.hidden = fields.length === 0;
    if (!fields.length) return;
    box.replaceChildren(el("p", { text: t("invalid") }), el("ul", {}, ...fields.map((f) => el("li", { text: f.field + ": " + f.reason }))));
    for (const f of fields) {
      // "shifts[1].staff[0]" marks the staff input; "shifts[1]" (an overlap) the shift.
      let target = document.querySelector('[data-field="' + f.field.replace(/\[\d+\]$/, "") + '"]');
      if (!target) target = document.querySelector('#shifts li[data-index="' + (f.field.match(/^shifts\[(\d+)\]/) || [])[1] + '"]');
      if (!target) continue;
      target.setAttribute("aria-invalid", "true");
      target.after(el("p", { class: "field-error error", text: f.reason }));
    }
  }

  async function loadDuty() {
    const b = await call("GET", "/api/v1/duty");
    $("duty").tBodies[0].replaceChildren(...b.districts.map((d) => el("tr", { "data-district": d.district },
      el("td", { text: d.name }),
      el("td", { text: d.shift ? T[lang].kinds[d.shift.kind] + " " + hm(d.shift.from) + "–" + hm(d.shift.until) : t("noShift") }),
      el("td", { text: d.staff.length ? d.staff.join(", ") : t("nobody") }),
      el("td", { text: d.backup.user || (districts.find((x) => x.id === d.backup.district) || {}).name || (d.backup.district ? "#" + d.backup.district : t("nobody")) }))));
    $("central-now").textContent = t("centralNow", b.central.length ? b.central.join(", ") : t("nobody"));
    $("central").value = b.central.join(", ");
  }

  async function loadRoster() {
    const id = Number($("district").value);
    if (!id) return;
    markErrors([]);
    renderRoster(await call("GET", "/api/v1/districts/" + id + "/roster"));
  }

  async function reload() {
    try {
      $("load-error").hidden = true;
      await loadRoster();
      await loadDuty();
    } catch (e) {
      if (e.status === 401) {
        vagt.clearToken();
        showSignIn(t("refused"));
        return;
      }
      $("load-error").textContent = t("failed", e.message);
      $("load-error").hidden = false;
    }
  }

  async function save(ev) {
    ev.preventDefault();
    try {
      const r = await call("PUT", "/api/v1/districts/" + current.district + "/roster", { shifts: readShifts() });
      markErrors([]);
      renderRoster(r);
      await loadDuty();
    } catch (e) {
      if (e.code === "invalid") {
        current.shifts = readShifts();
        markErrors(e.fields.length ? e.fields : [{ field: "shifts", reason: e.message }]);
      } else {
        markErrors([{ field: "", reason: e.status === 403 ? t("readonly") : t("failed", e.message) }]);
      }
    }
  }

  async function saveCentral(ev) {
    ev.preventDefault();
    try {
      await call("PUT", "/api/v1/municipalities/" + me.municipality + "/central-on-call", { users: names($("central").value) });
      $("central-msg").textContent = t("savedCentral");
      await loadDuty();
    } catch (e) {
      $("central-msg").textContent = e.status === 403 ? t("readonly") : t("failed", (e.fields[0] || {}).reason || e.message);
    }
  }

  async function start() {
    try {
      me = await call("GET", "/api/v1/me");
      $("who-name").textContent = me.name;
    } catch (e) {
      vagt.clearToken();
      showSignIn(vagt.signInMessage(e));
      return;
    }
    try {
      districts = (await call("GET", "/api/v1/districts?municipality=" + me.municipality)).districts;
    } catch (_) { // staff do not list districts: their own, by number
      districts = (me.districts || []).map((id) => ({ id, name: "#" + id }));
    }
    $("district").replaceChildren(...districts.map((d) => el("option", { value: String(d.id) }, d.name)));
    const want = new URLSearchParams(location.search).get("district");
    if (want) $("district").value = want;
    $("signin").hidden = true;
    $("roster").hidden = false;
    $("sign-out").hidden = false;
    $("who-name").hidden = false;
    await reload();
  }

  document.addEventListener("DOMContentLoaded", () => {
    applyLang();
    $("lang").addEventListener("click", () => {
      lang = lang === "da" ? "en" : "da";
      localStorage.setItem("vagt.lang", lang);
      applyLang();
      if (me) loadDuty().catch(() => {});
    });
    $("sign-out").addEventListener("click", () => { vagt.clearToken(); current = null; showSignIn(""); });
    $("district").addEventListener("change", reload);
    $("roster-form").addEventListener("submit", save);
    $("central-form").addEventListener("submit", saveCentral);
    $("add-shift").addEventListener("click", () => {
      current.shifts = readShifts();
      current.shifts.push({ kind: "day", weekdays: DAYS.slice(), start: "07:00", end: "15:00", staff: [], backup: {} });
      renderRoster(current);
    });
    vagt.onSignIn(showSignIn, start);
    if (vagt.token()) start(); else showSignIn(vagt.takeNotice());
  });
})();
