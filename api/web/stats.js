// stats.js: the manager dashboard. It reads /api/v1/stats/adoption, /alerts and /benefits
// for the chosen municipality (national and admin roles pick; a manager sees their own),
// technology, period and interval, draws them with charts.js, and downloads each view as
// CSV (the same request with Accept: text/csv).
"use strict";

(() => {
  const { el } = vagt;
  const $ = (id) => document.getElementById(id);
  const ROLES = ["manager", "national", "admin"];
  let session = 0;
  let me = null;

  function showSignIn(message) {
    $("dashboard").hidden = true;
    $("who").hidden = true;
    $("signin").hidden = false;
    $("signin-error").textContent = message || "";
    $("signin-error").hidden = !message;
    $("token").value = "";
    $("token").focus();
  }

  function signOut(message) {
    session++;
    vagt.clearToken();
    showSignIn(message);
  }

  function failed(err) {
    if (err && err.status === 401) {
      signOut(vagt.signInMessage(err));
      return true;
    }
    return false;
  }

  async function start() {
    const gen = ++session;
    try {
      me = await vagt.call("GET", "/api/v1/me");
    } catch (err) {
      if (gen !== session) return;
      if (err.status === 401) signOut(vagt.signInMessage(err));
      else showSignIn("Cannot sign in now: " + err.message);
      return;
    }
    if (gen !== session) return;
    if (!ROLES.includes(me.role)) {
      signOut("Your role (" + me.role + ") has no statistics. The care console is at /.");
      return;
    }
    $("signin").hidden = true;
    $("dashboard").hidden = false;
    $("who").hidden = false;
    $("who-name").textContent = me.name + " · " + me.role;
    await setUpControls(gen);
    if (gen === session) load();
  }

  function isoDate(d) { return d.toISOString().slice(0, 10); }

  // The year and month (0-based) it is in Denmark at d: periods are Danish dates, and in the
  // last hours of a month UTC is still in the one before.
  function danishYearMonth(d) {
    const parts = new Intl.DateTimeFormat("en-CA", { timeZone: "Europe/Copenhagen", year: "numeric", month: "numeric" }).formatToParts(d);
    const get = (type) => Number(parts.find((p) => p.type === type).value);
    return [get("year"), get("month") - 1];
  }

  async function setUpControls(gen) {
    const sel = $("municipality");
    let list = [];
    try {
      list = (await vagt.call("GET", "/api/v1/municipalities")).municipalities || [];
    } catch (err) {
      if (failed(err)) return;
    }
    if (gen !== session) return;
    const name = (code) => (list.find((m) => m.code === code) || {}).name || "Municipality " + code;
    if (me.role === "manager") {
      sel.replaceChildren(el("option", { value: me.municipality, text: name(me.municipality) + " (" + me.municipality + ")" }));
      sel.disabled = true;
    } else {
      sel.replaceChildren(el("option", { value: "", text: "All municipalities" }),
        ...list.map((m) => el("option", { value: m.code, text: m.name + " (" + m.code + ")" })));
      sel.disabled = false;
    }
    $("technology").replaceChildren(el("option", { value: "", text: "All technologies" }),
      ...Object.entries(vagt.TECH).map(([k, v]) => el("option", { value: k, text: v })));
    if (!$("from").value) {
      const [year, month] = danishYearMonth(new Date());
      const to = new Date(Date.UTC(year, month + 1, 1));
      const from = new Date(Date.UTC(year, month - 11, 1));
      $("from").value = isoDate(from);
      $("to").value = isoDate(to);
    }
  }

  function query() {
    const q = new URLSearchParams();
    if ($("municipality").value) q.set("municipality", $("municipality").value);
    if ($("technology").value) q.set("technology", $("technology").value);
    q.set("from", $("from").value);
    q.set("to", $("to").value);
    q.set("interval", $("interval").value);
    return q.toString();
  }

  // Intervals are Danish calendar intervals (they start at midnight in Copenhagen, 22:00 or
  // 23:00 UTC the day before), so they are labelled in Danish time.
  const TZ = "Europe/Copenhagen";
  const part = (d, opts) => new Intl.DateTimeFormat("en-GB", { ...opts, timeZone: TZ }).format(d);

  function label(iso, interval) {
    const d = new Date(iso);
    const y = part(d, { year: "2-digit" });
    if (interval === "quarter") return "Q" + (Math.floor((Number(part(d, { month: "numeric" })) - 1) / 3) + 1) + " " + y;
    if (interval === "week") return part(d, { day: "numeric", month: "short" });
    return part(d, { month: "short" }) + " " + y;
  }

  // sum adds the non-null values; null when every value is null (all suppressed).
  function sum(values) {
    let s = null;
    for (const v of values) if (v !== null && v !== undefined) s = (s || 0) + v;
    return s;
  }

  function intervals(rows) {
    return [...new Set(rows.map((r) => r.interval_start))].sort();
  }

  async function load() {
    const gen = session;
    $("dash-error").hidden = true;
    $("dash-status").textContent = "Loading…";
    document.body.dataset.loaded = "";
    const q = query();
    const views = ["adoption", "alerts", "benefits"];
    const results = await Promise.allSettled(views.map((v) => vagt.call("GET", "/api/v1/stats/" + v + "?" + q)));
    if (gen !== session) return;
    const problems = [];
    let suppressedBelow = 0, anySuppressed = false, roundedTo = 1;
    results.forEach((r, i) => {
      const view = views[i];
      if (r.status === "rejected") {
        if (failed(r.reason)) return;
        problems.push(view + ": " + r.reason.message);
        for (const box of document.querySelectorAll('[data-chart="' + view + '"]')) box.replaceChildren(el("p", { class: "error", text: "Could not load: " + r.reason.message }));
        return;
      }
      const data = r.value;
      suppressedBelow = Math.max(suppressedBelow, data.suppressed_below || 0);
      roundedTo = Math.max(roundedTo, (data.disclosure && data.disclosure.rounding_base) || 1);
      anySuppressed = anySuppressed || (data.rows || []).some((x) => x.suppressed) || (data.funnel || []).some((x) => x.suppressed);
      if (view === "adoption") renderAdoption(data);
      else if (view === "alerts") renderAlerts(data);
      else renderBenefits(data);
    });
    if (gen !== session) return;
    const note = $("suppressed-note");
    const notes = [];
    if (anySuppressed) notes.push("Figures for fewer than " + (suppressedBelow || 5) + " citizens are suppressed to protect privacy; they show as gaps and are left out of totals.");
    if (roundedTo > 1) notes.push("Other counts are rounded to the nearest " + roundedTo + ", and rates are computed from the rounded counts, so totals may differ by a few from the sum of their parts.");
    note.hidden = !notes.length;
    note.textContent = notes.join(" ");
    if (problems.length) {
      $("dash-error").textContent = "Some figures could not be loaded — " + problems.join("; ");
      $("dash-error").hidden = false;
    }
    $("dash-status").textContent = "Figures for " + $("from").value + " to " + $("to").value + " by " + $("interval").value + ".";
    document.body.dataset.loaded = "true";
  }

  function box(name) { return document.querySelector('[data-chart="' + name + '"]'); }

  function renderAdoption(data) {
    const rows = data.rows || [];
    const iv = intervals(rows);
    const labels = iv.map((s) => label(s, data.period && data.period.interval));
    // Technologies nobody uses in the period would only draw lines along zero.
    const techs = Object.keys(vagt.TECH).filter((t) => rows.some((r) => r.technology === t && (r.citizens || r.devices_installed)));
    const at = (pick) => iv.map((s) => sum(rows.filter((r) => r.interval_start === s).map(pick)));
    if (!rows.length) {
      box("adoption").replaceChildren(el("p", { class: "help", text: "No figures for this selection." }));
      box("devices").replaceChildren(el("p", { class: "help", text: "No figures for this selection." }));
    } else {
      charts.line(box("adoption"), {
        label: "Citizens with each technology installed, per interval",
        labels,
        series: techs.map((t) => ({ name: vagt.techName(t), values: iv.map((s) => sum(rows.filter((r) => r.interval_start === s && r.technology === t).map((r) => r.citizens))) })),
      });
      charts.bars(box("devices"), {
        label: "Devices installed and active, per interval",
        labels,
        series: [
          { name: "Installed", values: at((r) => r.devices_installed), color: "#0072B2" },
          { name: "Active", values: at((r) => r.devices_active), color: "#009E73" },
        ],
      });
    }
    const funnel = data.funnel || [];
    const ftechs = Object.keys(vagt.TECH).filter((t) => funnel.some((r) => r.technology === t && (r.installed || r.active)));
    if (!ftechs.length) {
      box("funnel").replaceChildren(el("p", { class: "help", text: "No funnel for this selection." }));
      return;
    }
    charts.funnel(box("funnel"), {
      label: "Rollout funnel per technology",
      rows: ftechs.map((t) => {
        const of = funnel.filter((r) => r.technology === t);
        return {
          name: vagt.techName(t),
          stages: [
            { name: "Registered", value: sum(of.map((r) => r.registered)) },
            { name: "Installed", value: sum(of.map((r) => r.installed)) },
            { name: "Active", value: sum(of.map((r) => r.active)) },
            { name: "Still active after 90 days", value: sum(of.map((r) => r.still_active_90d)) },
          ],
        };
      }),
    });
  }

  function figure(k, v) {
    return el("div", { class: "figure" }, el("span", { class: "v", text: v }), el("span", { class: "k", text: k }));
  }

  const pct = (v) => (v === null || v === undefined ? "—" : Math.round(v * 100) + " %");
  const secs = (v) => (v === null || v === undefined ? "—" : v < 120 ? Math.round(v) + " s" : (v / 60).toFixed(1) + " min");
  const dkk = new Intl.NumberFormat("da-DK", { style: "currency", currency: "DKK", maximumFractionDigits: 0 });
  const money = (v) => (v === null || v === undefined ? "—" : dkk.format(v));

  // weighted averages a share over rows by their alarms.
  function weighted(rows, pick) {
    let n = 0, s = 0;
    for (const r of rows) {
      const v = pick(r);
      if (v === null || v === undefined || !r.alarms) continue;
      n += r.alarms;
      s += v * r.alarms;
    }
    return n ? s / n : null;
  }

  function renderAlerts(data) {
    const rows = data.rows || [];
    const iv = intervals(rows);
    const labels = iv.map((s) => label(s, data.period && data.period.interval));
    const muns = new Set(rows.map((r) => r.municipality));
    const one = muns.size <= 1;
    const lastRows = iv.length ? rows.filter((r) => r.interval_start === iv[iv.length - 1]) : [];
    const figs = document.querySelector('[data-figures="alerts"]');
    figs.replaceChildren(
      figure("alarms in the period", charts.num(sum(rows.map((r) => r.alarms)))),
      figure("acknowledged within 60 s" + (one ? "" : " (weighted)"), pct(weighted(rows, (r) => r.acked_within_60s_share))),
      figure("acknowledged within 3 min" + (one ? "" : " (weighted)"), pct(weighted(rows, (r) => r.acked_within_180s_share))),
      figure("arrived within 30 min" + (one ? "" : " (weighted)"), pct(weighted(rows, (r) => r.arrived_within_30m_share))),
      figure("time to arrival, median, last interval", one && lastRows[0] ? secs(lastRows[0].arrival_p50_s) : "—"),
      figure("time to acknowledge, median, last interval", one && lastRows[0] ? secs(lastRows[0].ack_p50_s) : "—"),
      figure("time to acknowledge, 90th pct., last interval", one && lastRows[0] ? secs(lastRows[0].ack_p90_s) : "—"),
      figure("time to resolve, median, last interval", one && lastRows[0] ? secs(lastRows[0].resolve_p50_s) : "—"),
      figure("false alarms" + (one ? "" : " (weighted)"), pct(weighted(rows, (r) => r.false_alarm_share))),
      figure("escalations in the period", charts.num(sum(rows.map((r) => r.escalations)))));
    if (!rows.length) {
      box("alerts").replaceChildren(el("p", { class: "help", text: "No figures for this selection." }));
      return;
    }
    charts.bars(box("alerts"), {
      label: "Alarms per interval, and of those acknowledged within 60 s",
      labels,
      series: [
        { name: "Alarms", values: iv.map((s) => sum(rows.filter((r) => r.interval_start === s).map((r) => r.alarms))), color: "#0072B2" },
        { name: "Acknowledged within 60 s (critical and high)", values: iv.map((s) => {
          const of = rows.filter((r) => r.interval_start === s);
          const share = weighted(of, (r) => r.acked_within_60s_share);
          const n = sum(of.map((r) => r.alarms));
          return share === null || n === null ? null : Math.round(share * n);
        }), color: "#009E73" },
      ],
    });
  }

  function renderBenefits(data) {
    const rows = data.rows || [];
    const iv = intervals(rows);
    const labels = iv.map((s) => label(s, data.period && data.period.interval));
    const gross = sum(rows.map((r) => r.gross_dkk));
    const costs = sum(rows.map((r) => sum([r.one_off_cost_dkk, r.running_cost_dkk])));
    const net = sum(rows.map((r) => r.net_dkk));
    document.querySelector('[data-figures="benefits"]').replaceChildren(
      figure("estimated gross benefit", money(gross)),
      figure("costs (one-off and running)", money(costs)),
      figure("estimated net benefit", money(net)),
      figure("care hours saved (estimate)", charts.num(sum(rows.map((r) => r.hours_saved)))));
    if (rows.length) {
      charts.bars(box("benefits"), {
        label: "Estimated benefit per interval in DKK: gross, costs and net",
        labels,
        fmtValue: (v) => (v === null || v === undefined ? "—" : Math.abs(v) >= 1e6 ? (v / 1e6).toFixed(1) + " M" : Math.abs(v) >= 1e3 ? Math.round(v / 1e3) + " k" : String(Math.round(v))),
        series: [
          { name: "Gross", values: iv.map((s) => sum(rows.filter((r) => r.interval_start === s).map((r) => r.gross_dkk))), color: "#009E73" },
          { name: "Costs", values: iv.map((s) => sum(rows.filter((r) => r.interval_start === s).map((r) => sum([r.one_off_cost_dkk, r.running_cost_dkk])))), color: "#D55E00" },
          { name: "Net", values: iv.map((s) => sum(rows.filter((r) => r.interval_start === s).map((r) => r.net_dkk))), color: "#0072B2" },
        ],
      });
    } else {
      box("benefits").replaceChildren(el("p", { class: "help", text: "No figures for this selection." }));
    }
    const model = data.model || {};
    const parts = [el("p", {}, "Model: ", el("strong", { text: model.name || "—" }),
      model.illustrative ? " — its figures are illustrative, not measured for your municipality; set your own with vagt api --benefit-model." : "")];
    if (model.assumptions && model.assumptions.length) parts.push(el("ul", {}, ...model.assumptions.map((a) => el("li", { text: a }))));
    const techs = Object.entries(model.technologies || {});
    if (techs.length) {
      const th = (t, num) => el("th", { scope: "col", class: num ? "num" : null, text: t });
      parts.push(el("div", { class: "table-wrap" }, el("table", {},
        el("caption", { class: "sr-only", text: "Model parameters per technology" }),
        el("thead", {}, el("tr", {}, th("Technology"), th("Visits avoided / citizen / week", 1), th("Minutes / visit", 1), th("DKK / hour", 1), th("One-off DKK", 1), th("Running DKK / device / month", 1))),
        el("tbody", {}, ...techs.map(([t, p]) => el("tr", {}, el("th", { scope: "row", text: vagt.techName(t) }),
          ...[p.visits_avoided_per_citizen_week, p.minutes_per_visit, p.hourly_cost_dkk, p.one_off_cost_dkk, p.running_cost_dkk_per_device_month]
            .map((v) => el("td", { class: "num", text: charts.num(v) }))))))));
    }
    document.querySelector("[data-assumptions]").replaceChildren(...parts);
  }

  async function downloadCSV(view, button) {
    button.disabled = true;
    try {
      const body = await vagt.call("GET", "/api/v1/stats/" + view + "?" + query(), undefined, "text/csv");
      const name = "vagt-" + view + "-" + $("from").value + "-" + $("to").value + ".csv";
      const url = URL.createObjectURL(new Blob([body], { type: "text/csv" }));
      const a = el("a", { href: url, download: name });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
      const lines = body.split("\n").filter((l) => l.trim()).length;
      $("dash-status").textContent = "Downloaded " + name + " (" + Math.max(0, lines - 1) + " rows).";
    } catch (err) {
      if (failed(err)) return;
      $("dash-error").textContent = "Could not download the CSV: " + err.message;
      $("dash-error").hidden = false;
    } finally {
      button.disabled = false;
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    vagt.onSignIn(showSignIn, start);
    $("sign-out").addEventListener("click", () => signOut("You signed out."));
    $("controls").addEventListener("submit", (ev) => {
      ev.preventDefault();
      load();
    });
    $("municipality").addEventListener("change", load);
    for (const b of document.querySelectorAll("button[data-csv]")) b.addEventListener("click", () => downloadCSV(b.dataset.csv, b));
    if (vagt.token()) start();
    else showSignIn(vagt.takeNotice());
  });
})();
