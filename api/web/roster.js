// roster.js: the district lead's duty roster (vagtplan). Who is on duty now in every
// district, the district's shifts (kind, weekdays, Danish local times, staff, backup) to
// edit and save, every field the API refuses marked at its input, a warning for a shift
// with nobody on it (its alarms escalate at once), and the municipality's central on-call.
// Danish by default, English with the switch; the texts are the catalogue's "roster" group
// (docs/i18n.md).
"use strict";

(() => {
  const { el, call } = vagt;
  const $ = (id) => document.getElementById(id);
  const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

  const { t } = vagtI18n;
  // key names a text of the roster group that depends on data: a kind, a day, a warning.
  const key = (...parts) => ["roster", ...parts].join(".");
  // A time with its weekday, in Copenhagen ("ons 07:00"): the week matters on a roster.
  const weekday = new Intl.DateTimeFormat("en-GB", { weekday: "short", timeZone: vagtFormat.TZ });
  const hm = (iso) => t(key("days", weekday.format(new Date(iso)).slice(0, 3).toLowerCase())) + " " + vagtFormat.time(iso);
  const names = (v) => v.split(",").map((s) => s.trim()).filter(Boolean);

  let me = null;
  let districts = [];
  let current = null; // the roster shown

  // session: the sign-in form, "Log ud" and a refused token (common.js).
  let session = null;

  // redraw shows the dynamic parts again in the language switched to (the form keeps what
  // was typed).
  function redraw() {
    if (!current) return;
    current.shifts = readShifts();
    renderRoster(current);
    loadDuty().catch(() => {});
  }

  // shiftRow is one shift's inputs; data-field names the JSON path the API's errors use.
  function shiftRow(s, i) {
    const f = (name) => "shifts[" + i + "]." + name;
    const id = (name) => "s" + i + "-" + name;
    const kind = el("select", { id: id("kind"), "data-field": f("kind") },
      ...["day", "evening", "night"].map((k) => el("option", { value: k, selected: s.kind === k }, t(key("kinds", k)))));
    const days = el("fieldset", { class: "days", "data-field": f("weekdays") }, el("legend", { text: t("roster.weekdays") }),
      ...DAYS.map((d) => el("label", {}, el("input", { type: "checkbox", value: d, checked: (s.weekdays || []).includes(d) }), t(key("days", d)))));
    const teams = districts.filter((d) => d.id !== current.district);
    const backupDistrict = el("select", { id: id("bdistrict"), "data-field": f("backup.district") },
      el("option", { value: "0" }, t("roster.none")),
      ...teams.map((d) => el("option", { value: String(d.id), selected: (s.backup || {}).district === d.id }, d.name)));
    const labelled = (name, label, input) => el("div", { class: "field" }, el("label", { for: id(name), text: label }), input);
    return el("li", { class: "shift", "data-index": i },
      labelled("kind", t("roster.kind"), kind), days,
      labelled("start", t("roster.start"), el("input", { id: id("start"), type: "time", value: s.start || "", "data-field": f("start"), required: true })),
      labelled("end", t("roster.end"), el("input", { id: id("end"), type: "time", value: s.end || "", "data-field": f("end"), required: true })),
      labelled("staff", t("roster.staff"), el("input", { id: id("staff"), type: "text", value: (s.staff || []).join(", "), "data-field": f("staff") })),
      labelled("buser", t("roster.backupUser"), el("input", { id: id("buser"), type: "text", value: (s.backup || {}).user || "", "data-field": f("backup.user") })),
      labelled("bdistrict", t("roster.backupDistrict"), backupDistrict),
      el("button", { type: "button", class: "ghost", "data-action": "remove", onclick: () => { current.shifts = readShifts(); current.shifts.splice(i, 1); renderRoster(current); } }, t("roster.remove")));
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
      el("li", { class: "warning", "data-code": w.code,
        text: vagtI18n.has(key("warn", w.code)) ? t(key("warn", w.code), { shift: w.shift + 1 }) : w.reason })));
    $("saved").textContent = r.updated_at ? t("roster.saved", { when: vagtFormat.dateTime(r.updated_at), by: r.updated_by }) : "";
  }

  // markErrors puts each refused field's reason at its input, and all of them on top.
  function markErrors(fields) {
    for (const e of document.querySelectorAll("[aria-invalid]")) e.removeAttribute("aria-invalid");
    for (const e of document.querySelectorAll(".field-error")) e.remove();
    const box = $("errors");
    box.hidden = fields.length === 0;
    if (!fields.length) return;
    box.replaceChildren(el("p", { text: t("roster.invalid") }), el("ul", {}, ...fields.map((f) => el("li", { text: f.field + ": " + f.reason }))));
    for (const f of fields) {
      // "shifts[1].staff[0]" marks the staff input; "shifts[1]" (an overlap) the shift.
      let target = document.querySelector('[data-field="' + f.field.replace(/\[\d+\]$/, "") + '"]');
      if (!target) target = document.querySelector('#shifts li[data-index="' + (f.field.match(/^shifts\[(\d+)\]/) || [])[1] + '"]');
      if (!target) continue;
      target.setAttribute("aria-invalid", "true");
      // A whole shift (an overlap) gets the reason inside it: a list holds only items.
      const why = el("p", { class: "field-error error", text: f.reason });
      if (target.matches("li.shift")) target.append(why); else target.after(why);
    }
  }

  async function loadDuty() {
    const b = await call("GET", "/api/v1/duty");
    $("duty").tBodies[0].replaceChildren(...b.districts.map((d) => el("tr", { "data-district": d.district },
      el("td", { text: d.name }),
      el("td", { text: d.shift ? t(key("kinds", d.shift.kind)) + " " + hm(d.shift.from) + "–" + hm(d.shift.until) : t("roster.noShift") }),
      el("td", { text: d.staff.length ? d.staff.join(", ") : t("roster.nobody") }),
      el("td", { text: d.backup.user || (districts.find((x) => x.id === d.backup.district) || {}).name || (d.backup.district ? "#" + d.backup.district : t("roster.nobody")) }))));
    $("central-now").textContent = t("roster.centralNow", { names: b.central.length ? b.central.join(", ") : t("roster.nobody") });
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
      if (session.failed(e)) return;
      $("load-error").textContent = t("roster.failed", { message: e.message });
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
        markErrors([{ field: "", reason: e.status === 403 ? t("roster.readonly") : t("roster.failed", { message: e.message }) }]);
      }
    }
  }

  async function saveCentral(ev) {
    ev.preventDefault();
    try {
      await call("PUT", "/api/v1/municipalities/" + me.municipality + "/central-on-call", { users: names($("central").value) });
      $("central-msg").textContent = t("roster.savedCentral");
      await loadDuty();
    } catch (e) {
      $("central-msg").textContent = e.status === 403 ? t("roster.readonly") : t("roster.failed", { message: (e.fields[0] || {}).reason || e.message });
    }
  }

  async function start(who) {
    me = who;
    $("who-name").textContent = me.name;
    try {
      districts = (await call("GET", "/api/v1/districts?municipality=" + me.municipality)).districts;
    } catch (_) { // staff do not list districts: their own, by number
      districts = (me.districts || []).map((id) => ({ id, name: "#" + id }));
    }
    $("district").replaceChildren(...districts.map((d) => el("option", { value: String(d.id) }, d.name)));
    const want = new URLSearchParams(location.search).get("district");
    if (want) $("district").value = want;
    await reload();
  }

  document.addEventListener("DOMContentLoaded", () => {
    vagtI18n.onChange(redraw);
    session = vagt.signedIn({ shows: ["roster", "sign-out", "who-name"], start, stop: () => { current = null; } });
    $("district").addEventListener("change", reload);
    $("roster-form").addEventListener("submit", save);
    $("central-form").addEventListener("submit", saveCentral);
    $("add-shift").addEventListener("click", () => {
      current.shifts = readShifts();
      current.shifts.push({ kind: "day", weekdays: DAYS.slice(), start: "07:00", end: "15:00", staff: [], backup: {} });
      renderRoster(current);
    });
  });
})();
