// careplan-form.js: a home's care plan as a form in the page's language — windows as
// "22:00–07:00", durations as "6 timer", a device map with names — read back into the
// API's settings ("22:00-07:00", "6h"). What the form does not show (night checks, the
// absence, the time zone, Zigbee fields) is kept as it was. A field the API refuses gets
// its message next to it, once (docs/careplans.md).
"use strict";

const vagtPlanForm = (() => {
  const { el } = vagt;
  const { t } = vagtI18n;
  const F = vagtFormat;
  const ROLES = ["front_door", "bed", "panic_button"];

  // idOf turns an API field path into an element id: rules.medication[0].window →
  // rules-medication-0-window.
  const idOf = (path) => "f-" + path.replace(/[.[\]]+/g, "-").replace(/-$/, "");
  const offWords = ["fra", "off", "0", "slået fra", "-"];
  const isOff = (v) => offWords.includes(String(v).trim().toLowerCase());

  // Shown values: what the API holds, as staff read it.
  const showWindow = (w) => (w === "" ? t("careplan.form.offWord") : F.timeRange(w));
  const showDuration = (d) => {
    const s = F.parseDuration(d);
    return s === null ? String(d) : s === 0 ? t("careplan.form.offWord") : F.duration(s);
  };
  const showNumber = (n) => (n === 0 ? t("careplan.form.offWord") : F.decimal(n, 1));

  function errorBox(path) {
    return el("p", { class: "field-error", id: idOf(path) + "-error", role: "alert", hidden: true });
  }

  // field is a labelled text field of the rules with its default and its error box.
  function field(path, labelKey, value, def, help) {
    const id = idOf(path);
    const input = el("input", { id, name: path, type: "text", autocomplete: "off", spellcheck: "false", value: value ?? "",
      placeholder: def ?? "", "aria-describedby": id + "-help " + id + "-error" });
    return el("div", { class: "field" },
      el("label", { for: id, text: t(labelKey) }), input,
      el("p", { class: "help", id: id + "-help", text: (def !== undefined && def !== "" ? t("careplan.form.default", { value: def }) + " " : "") + (help || "") }),
      errorBox(path));
  }

  // tri is a choice of default / on / off for a yes-no rule.
  function tri(path, labelKey, value, def) {
    const id = idOf(path);
    const sel = el("select", { id, name: path, "aria-describedby": id + "-help " + id + "-error" },
      el("option", { value: "", text: t("careplan.form.useDefault") }),
      el("option", { value: "true", text: t("careplan.form.on") }),
      el("option", { value: "false", text: t("careplan.form.off") }));
    sel.value = value === undefined || value === null ? "" : String(value);
    return el("div", { class: "field" }, el("label", { for: id, text: t(labelKey) }), sel,
      el("p", { class: "help", id: id + "-help", text: def === undefined ? "" : t("careplan.form.default", { value: def ? t("careplan.form.on") : t("careplan.form.off") }) }),
      errorBox(path));
  }

  // build fills form with the plan and returns what reads it back and shows the API's
  // refusals.
  function build(form, settings, effective, registered) {
    const rules = settings.rules || {};
    const eff = effective.rules || {};
    const durDef = (k) => (eff[k] === undefined ? undefined : showDuration(eff[k]));
    const winDef = (k) => (eff[k] === undefined ? undefined : showWindow(eff[k]));
    const numDef = (k) => (eff[k] === undefined ? undefined : showNumber(eff[k]));
    const winVal = (k) => (rules[k] === undefined ? "" : showWindow(rules[k]));
    const durVal = (k) => (rules[k] === undefined ? "" : showDuration(rules[k]));
    const numVal = (k) => (rules[k] === undefined ? "" : showNumber(rules[k]));

    // Medication: rows of windows; untouched and absent from the plan, it stays the default.
    let medTouched = rules.medication !== undefined;
    const doses = (rules.medication || []).map((d) => ({ dose: d.dose, window: F.timeRange(d.window) }));
    const medRows = el("ol", { class: "doses" });
    const medNote = el("p", { class: "help" });
    const drawDoses = () => {
      medNote.textContent = !medTouched ? t("careplan.form.medicationDefault") + " " + describeDoses(eff.medication) : doses.length ? "" : t("careplan.form.noDoses");
      medRows.replaceChildren(...doses.map((d, i) => {
        const path = "rules.medication[" + i + "].window";
        const input = el("input", { id: idOf(path), type: "text", value: d.window, autocomplete: "off", "aria-describedby": idOf(path) + "-error",
          oninput: (ev) => { d.window = ev.target.value; } });
        return el("li", {},
          el("label", { for: idOf(path), text: t("careplan.form.doseWindow", { n: d.dose }) }), input,
          el("button", { type: "button", class: "ghost", text: t("careplan.form.removeDose", { n: d.dose }),
            onclick: () => { medTouched = true; doses.splice(i, 1); drawDoses(); } }),
          errorBox(path), errorBox("rules.medication[" + i + "].dose"));
      }));
    };
    drawDoses();
    const addDose = el("button", { type: "button", text: t("careplan.form.addDose"), onclick: () => {
      medTouched = true;
      const used = new Set(doses.map((d) => d.dose));
      let n = 1;
      while (used.has(n)) n++;
      doses.push({ dose: n, window: "" });
      drawDoses();
      document.getElementById(idOf("rules.medication[" + (doses.length - 1) + "].window")).focus();
    } });

    // Devices: the plan's map, or the registered devices it would take by default; a
    // registered device the plan leaves out is offered, not in the plan.
    let devTouched = settings.devices !== undefined;
    const devices = (settings.devices || effective.devices || []).map((d) => ({ ...d, included: true }));
    for (const r of registered || []) {
      if (!devices.some((d) => d.device === r.device)) devices.push({ ...r, included: false });
    }
    const devRows = devices.map((d, i) => deviceRow(d, i, () => { devTouched = true; }));
    const confirmBox = el("div", { class: "confirm", hidden: true });

    form.replaceChildren(
      el("fieldset", {}, el("legend", { text: t("careplan.form.times") }),
        el("p", { class: "help", text: t("careplan.form.timesHelp") }),
        field("rules.night", "careplan.form.night", winVal("night"), winDef("night"), t("careplan.form.windowHelp")),
        field("rules.day", "careplan.form.day", winVal("day"), winDef("day"), t("careplan.form.windowHelp"))),
      el("fieldset", {}, el("legend", { text: t("careplan.form.alarms") }),
        field("rules.inactivity", "careplan.form.inactivity", durVal("inactivity"), durDef("inactivity"), t("careplan.form.durationHelp")),
        tri("rules.door_at_night", "careplan.form.doorAtNight", rules.door_at_night, eff.door_at_night),
        field("rules.bed_exit", "careplan.form.bedExit", durVal("bed_exit"), durDef("bed_exit"), t("careplan.form.durationHelp")),
        field("rules.low_temperature", "careplan.form.lowTemperature", numVal("low_temperature"), numDef("low_temperature")),
        field("rules.low_temperature_for", "careplan.form.lowTemperatureFor", durVal("low_temperature_for"), durDef("low_temperature_for"), t("careplan.form.durationHelp")),
        field("rules.low_battery", "careplan.form.lowBattery", numVal("low_battery"), numDef("low_battery")),
        field("rules.silent_factor", "careplan.form.silentFactor", numVal("silent_factor"), numDef("silent_factor"))),
      el("fieldset", {}, el("legend", { text: t("careplan.form.medication") }),
        el("p", { class: "help", text: t("careplan.form.medicationHelp") }), medNote, medRows, addDose, errorBox("rules.medication")),
      el("fieldset", { id: idOf("devices") }, el("legend", { text: t("careplan.form.devices") }),
        el("p", { class: "help", id: idOf("devices") + "-help", text: t("careplan.form.devicesHelp") }),
        el("div", { class: "table-wrap" }, el("table", { class: "plan-devices" },
          el("thead", {}, el("tr", {}, ...["colIncluded", "colDevice", "colRole", "colReport", "colPanic"].map((k) => el("th", { scope: "col", text: t("careplan.form." + k) })))),
          el("tbody", {}, ...devRows.map((r) => r.tr)))),
        errorBox("devices"), confirmBox),
      el("p", { id: "edit-error", class: "error", role: "alert", hidden: true }),
      el("div", { class: "actions" }, el("button", { type: "submit", class: "primary", text: t("careplan.form.save") })));

    let confirmTokens = [];

    // read gives the settings to send, or the fields that are not understood.
    function read() {
      clearErrors();
      const out = JSON.parse(JSON.stringify(settings)); // what the form does not show is kept
      const r = { ...(out.rules || {}) };
      const bad = [];
      const value = (path) => document.getElementById(idOf(path)).value.trim();
      for (const k of ["night", "day"]) {
        const v = value("rules." + k);
        if (v === "") delete r[k];
        else if (isOff(v)) r[k] = "";
        else if (F.readWindow(v) === null) bad.push(["rules." + k, t("careplan.error.window")]);
        else r[k] = F.readWindow(v);
      }
      for (const k of ["inactivity", "bed_exit", "low_temperature_for"]) {
        const v = value("rules." + k);
        const s = isOff(v) ? 0 : F.readDuration(v);
        if (v === "") delete r[k];
        else if (s === null) bad.push(["rules." + k, t("careplan.error.duration")]);
        else r[k] = F.goDuration(s);
      }
      for (const [k, whole] of [["low_temperature", false], ["low_battery", true], ["silent_factor", true]]) {
        const v = value("rules." + k);
        const n = isOff(v) ? 0 : Number(v.replace(",", "."));
        if (v === "") delete r[k];
        else if (!Number.isFinite(n) || (whole && !Number.isInteger(n))) bad.push(["rules." + k, t("careplan.error.number")]);
        else r[k] = n;
      }
      const door = value("rules.door_at_night");
      if (door === "") delete r.door_at_night;
      else r.door_at_night = door === "true";
      if (medTouched) {
        r.medication = [];
        doses.forEach((d, i) => {
          const w = F.readWindow(d.window);
          if (w === null) bad.push(["rules.medication[" + i + "].window", t("careplan.error.window")]);
          else r.medication.push({ dose: d.dose, window: w });
        });
      }
      out.rules = r;
      if (devTouched) {
        out.devices = [];
        for (const row of devRows) {
          const d = row.read(bad, out.devices.length);
          if (d) out.devices.push(d);
        }
      }
      if (confirmTokens.length && confirmBox.querySelector("input")?.checked) {
        out.confirm = [...new Set([...(out.confirm || []), ...confirmTokens])];
      }
      for (const [path, msg] of bad) showError(path, msg);
      return bad.length ? null : out;
    }

    // showError puts a message next to its field (true), or says there is no such field.
    // devices[i].x names the i-th device sent, which is the i-th included row.
    function showError(path, msg) {
      const m = /^devices\[(\d+)\]/.exec(path);
      if (m) {
        const row = devRows.filter((r) => r.included())[Number(m[1])];
        if (!row) return false;
        row.error.textContent = msg;
        row.error.hidden = false;
        row.tr.querySelector("input, select")?.setAttribute("aria-invalid", "true");
        return true;
      }
      const box = document.getElementById(idOf(path) + "-error");
      if (!box) return false;
      box.textContent = msg;
      box.hidden = false;
      const control = document.getElementById(idOf(path));
      if (control && control.matches("input, select")) control.setAttribute("aria-invalid", "true");
      return true;
    }

    function clearErrors() {
      for (const b of form.querySelectorAll(".field-error")) { b.hidden = true; b.textContent = ""; }
      for (const c of form.querySelectorAll("[aria-invalid]")) c.removeAttribute("aria-invalid");
      const general = document.getElementById("edit-error");
      general.hidden = true;
      general.textContent = "";
    }

    // askConfirm offers to save knowingly what the API says the plan drops (its confirm
    // tokens), with the API's reason beside the devices.
    function askConfirm(tokens) {
      confirmTokens = tokens;
      const name = (id) => {
        const d = devices.find((x) => x.device === id);
        return d ? vagt.techName(d.technology) + " (" + id + ")" : id;
      };
      confirmBox.replaceChildren(
        el("ul", {}, ...tokens.map((tok) => el("li", { text: tok.startsWith("leave_out:")
          ? t("careplan.form.confirmLeaveOut", { device: name(tok.slice("leave_out:".length)) }) : t("careplan.form.confirmOther", { token: tok }) }))),
        el("label", { class: "check" }, el("input", { type: "checkbox", id: "confirm-drop" }), " " + t("careplan.form.confirm")));
      confirmBox.hidden = false;
    }

    return { read, showError, clearErrors, askConfirm };
  }

  // deviceRow is one device of the map: in the plan or not, its role, how often it must
  // report, whether a press is a panic call.
  function deviceRow(d, i, touched) {
    const name = vagt.techName(d.technology) + " (" + d.device + ")";
    const inc = el("input", { type: "checkbox", id: "dev-" + i + "-in", checked: d.included, "aria-label": t("careplan.form.included", { device: name }), onchange: touched });
    const role = el("select", { id: "dev-" + i + "-role", "aria-label": t("careplan.form.role", { device: name }), onchange: touched },
      el("option", { value: "", text: t("careplan.form.roleNone") }),
      ...[...new Set([...ROLES, ...(d.role ? [d.role] : [])])].map((r) => el("option", { value: r, text: vagtI18n.has("careplan.role." + r) ? t("careplan.role." + r) : r })));
    role.value = d.role || "";
    const every = el("input", { type: "text", id: "dev-" + i + "-report", autocomplete: "off", "aria-label": t("careplan.form.reportEvery", { device: name }),
      value: d.report_every === undefined ? "" : (F.parseDuration(d.report_every) === 0 ? t("careplan.form.offWord") : F.duration(F.parseDuration(d.report_every))),
      placeholder: t("careplan.form.useDefault"), oninput: touched });
    const panic = el("select", { id: "dev-" + i + "-panic", "aria-label": t("careplan.form.panicOnPress", { device: name }), onchange: touched },
      el("option", { value: "", text: t("careplan.form.useDefault") }),
      el("option", { value: "true", text: t("careplan.form.on") }), el("option", { value: "false", text: t("careplan.form.off") }));
    panic.value = d.panic_on_press === undefined ? "" : String(d.panic_on_press);
    const error = el("p", { class: "field-error", role: "alert", hidden: true });
    const tr = el("tr", { "data-device": d.device },
      el("td", {}, inc), el("td", {}, el("span", { text: vagt.techName(d.technology) }), " ", el("code", { text: d.device }), error),
      el("td", {}, role), el("td", {}, every), el("td", {}, panic));
    return {
      tr, error,
      included: () => inc.checked,
      // read gives the device as the API takes it (null when left out); a report interval
      // it cannot read is added to bad under the index the device will be sent with.
      read(bad, index) {
        if (!inc.checked) return null;
        const out = { ...d };
        delete out.included;
        if (role.value) out.role = role.value; else delete out.role;
        const v = every.value.trim();
        const s = v === "" ? null : isOff(v) ? 0 : F.readDuration(v);
        if (v === "") delete out.report_every;
        else if (s === null) bad.push(["devices[" + index + "].report_every", t("careplan.error.duration")]);
        else out.report_every = F.goDuration(s);
        if (panic.value === "") delete out.panic_on_press; else out.panic_on_press = panic.value === "true";
        return out;
      },
    };
  }

  function describeDoses(list) {
    return (list || []).map((d) => t("careplan.medicationLine", { n: d.dose, window: F.timeRange(d.window) })).join(", ");
  }

  // describe gives the plan with the defaults filled in as label–value pairs, in words.
  function describe(eff) {
    const r = eff.rules || {};
    const pairs = [];
    const add = (key, v) => { if (v !== undefined && v !== null && v !== "") pairs.push([t(key), v]); };
    add("careplan.form.night", r.night === undefined ? undefined : showWindow(r.night));
    add("careplan.form.day", r.day === undefined ? undefined : showWindow(r.day));
    add("careplan.form.inactivity", r.inactivity === undefined ? undefined : showDuration(r.inactivity));
    add("careplan.form.doorAtNight", r.door_at_night === undefined ? undefined : r.door_at_night ? t("careplan.form.on") : t("careplan.form.off"));
    add("careplan.form.bedExit", r.bed_exit === undefined ? undefined : showDuration(r.bed_exit));
    add("careplan.form.lowTemperature", r.low_temperature === undefined ? undefined : showNumber(r.low_temperature));
    add("careplan.form.lowTemperatureFor", r.low_temperature_for === undefined ? undefined : showDuration(r.low_temperature_for));
    add("careplan.form.lowBattery", r.low_battery === undefined ? undefined : showNumber(r.low_battery));
    add("careplan.form.silentFactor", r.silent_factor === undefined ? undefined : showNumber(r.silent_factor));
    add("careplan.form.medication", r.medication === undefined ? undefined : describeDoses(r.medication) || t("careplan.form.noDoses"));
    add("careplan.form.devices", (eff.devices || []).map((d) => vagt.techName(d.technology) + " (" + d.device + ")" +
      (d.role && vagtI18n.has("careplan.role." + d.role) ? " · " + t("careplan.role." + d.role) : "")).join(", "));
    if (eff.absence && eff.absence.until) add("careplan.fieldName.absence", t("careplan.absenceUntil", { time: F.dateTime(eff.absence.until) }));
    if (eff.night_checks && eff.night_checks.times) add("careplan.fieldName.night_checks", t("careplan.nightChecks", { times: eff.night_checks.times.join(", ") }));
    return pairs;
  }

  return { build, describe };
})();
