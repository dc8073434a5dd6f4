// stats.js: the manager dashboard. It reads /api/v1/stats/adoption, /alerts and /benefits
// for the chosen municipality (national and admin roles pick; a manager sees their own),
// technology, period and interval, draws them with charts.js, and downloads each view as
// CSV (the same request with Accept: text/csv). Texts from the catalogue (stats), every
// figure from format.js; a hidden figure is "—" with its reason.
"use strict";

(() => {
  const { el } = vagt;
  const { t } = vagtI18n;
  const F = vagtFormat;
  const $ = (id) => document.getElementById(id);
  const ROLES = ["manager", "national", "admin"];
  let session = 0;
  let me = null;

  // signOut and failed come from the page's session (common.js), set at DOMContentLoaded.
  let signIn = null;
  const signOut = (message) => signIn.signOut(message);
  const failed = (err) => signIn.failed(err);

  // start: session counts sign-ins and sign-outs (stop), so a load of an old session
  // draws nothing.
  async function start(who) {
    const gen = ++session;
    me = who;
    $("who-name").textContent = me.name + " · " + roleName(me.role);
    await setUpControls(gen);
    if (gen === session) load();
  }

  const roleName = (c) => (vagtI18n.has("common.role." + c) ? t("common.role." + c) : c);

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
    const name = (code) => (list.find((m) => m.code === code) || {}).name || t("stats.municipalityCode", { code: String(code) });
    if (me.role === "manager") {
      sel.replaceChildren(el("option", { value: me.municipality, text: name(me.municipality) + " (" + me.municipality + ")" }));
      sel.disabled = true;
    } else {
      sel.replaceChildren(el("option", { value: "", text: t("stats.allMunicipalities") }),
        ...list.map((m) => el("option", { value: m.code, text: m.name + " (" + m.code + ")" })));
      sel.disabled = false;
    }
    $("technology").replaceChildren(el("option", { value: "", text: t("stats.allTechnologies") }),
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
  function label(iso, interval) {
    if (interval === "quarter") {
      const c = F.calendar(iso);
      return t("stats.quarter", { q: String(Math.floor((c.month - 1) / 3) + 1), year: String(c.year).slice(2) });
    }
    if (interval === "week") return F.dayMonth(iso);
    return F.month(iso, { shortYear: true });
  }

  function intervals(rows) {
    return [...new Set(rows.map((r) => r.interval_start))].sort();
  }

  async function load() {
    const gen = session;
    $("dash-error").hidden = true;
    $("dash-status").textContent = t("stats.loading");
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
        for (const box of document.querySelectorAll('[data-chart="' + view + '"]')) box.replaceChildren(el("p", { class: "error", text: t("stats.couldNotLoad", { message: r.reason.message }) }));
        return;
      }
      const data = r.value;
      suppressedBelow = Math.max(suppressedBelow, data.suppressed_below || 0);
      roundedTo = Math.max(roundedTo, (data.disclosure && data.disclosure.rounding_base) || 1);
      anySuppressed = anySuppressed || (data.rows || []).some((x) => x.suppressed) || (data.funnel || []).some((x) => x.suppressed);
      hiddenWhy = anySuppressed ? t("stats.hidden.suppressed", { n: suppressedBelow || 5 }) : t("stats.hidden.none");
      if (view === "adoption") renderAdoption(data);
      else if (view === "alerts") renderAlerts(data);
      else renderBenefits(data);
    });
    if (gen !== session) return;
    renderSources(results.map((r) => (r.status === "fulfilled" ? r.value : null)));
    const note = $("suppressed-note");
    const notes = [];
    if (anySuppressed) notes.push(t("stats.suppressed", { n: suppressedBelow || 5 }));
    if (roundedTo > 1) notes.push(t("stats.rounded", { n: roundedTo }));
    note.hidden = !notes.length;
    note.textContent = notes.join(" ");
    if (problems.length) {
      $("dash-error").textContent = t("stats.someFailed", { problems: problems.join("; ") });
      $("dash-error").hidden = false;
    }
    $("dash-status").textContent = t("stats.status", { from: F.date($("from").value + "T12:00:00Z"), to: F.date($("to").value + "T12:00:00Z"),
      interval: t("stats.intervalBy." + ($("interval").value || "month")) });
    document.body.dataset.loaded = "true";
  }

  function box(name) { return document.querySelector('[data-chart="' + name + '"]'); }

  // The totals over the municipalities shown come from the api (data.totals): each is
  // computed from the exact figures and protected as a cell of its own, so a suppressed
  // row never drops out of it (docs/statistics.md, "Totals"). Never add up rows here.
  const totalOf = (totals, start, tech) => (totals || []).find((x) => x.interval_start === start && (tech ? x.technology === tech : !x.technology) && !x.whole_period);

  function renderAdoption(data) {
    const rows = data.rows || [];
    const totals = data.totals || [];
    const iv = intervals(rows);
    const labels = iv.map((s) => label(s, data.period && data.period.interval));
    // Technologies nobody uses in the period would only draw lines along zero.
    const techs = Object.keys(vagt.TECH).filter((tech) => totals.some((x) => x.technology === tech && (x.citizens || x.devices_installed || x.suppressed)));
    const at = (pick) => iv.map((s) => { const x = totalOf(totals, s, null); return x ? pick(x) : null; });
    if (!rows.length) {
      box("adoption").replaceChildren(el("p", { class: "help", text: t("stats.noFigures") }));
      box("devices").replaceChildren(el("p", { class: "help", text: t("stats.noFigures") }));
    } else {
      charts.line(box("adoption"), {
        label: t("stats.adoption.chart"),
        labels,
        series: techs.map((tech) => ({ key: tech, name: vagt.techName(tech), values: iv.map((s) => { const x = totalOf(totals, s, tech); return x ? x.citizens : null; }) })),
      });
      charts.bars(box("devices"), {
        label: t("stats.devices.chart"),
        labels,
        series: [
          { key: "installed", name: t("stats.devices.installed"), values: at((r) => r.devices_installed), color: "#0072B2" },
          { key: "active", name: t("stats.devices.active"), values: at((r) => r.devices_active), color: "#009E73" },
        ],
      });
    }
    const funnel = data.funnel_totals || [];
    const ftechs = Object.keys(vagt.TECH).filter((tech) => funnel.some((r) => r.technology === tech && (r.installed || r.active)));
    if (!ftechs.length) {
      box("funnel").replaceChildren(el("p", { class: "help", text: t("stats.noFunnel") }));
      return;
    }
    charts.funnel(box("funnel"), {
      label: t("stats.funnel.chart"),
      rows: ftechs.map((tech) => {
        const f = funnel.find((r) => r.technology === tech);
        return {
          name: vagt.techName(tech),
          stages: [
            { key: "registered", name: t("stats.funnel.registered"), value: f.registered },
            { key: "installed", name: t("stats.funnel.installed"), value: f.installed },
            { key: "active", name: t("stats.funnel.active"), value: f.active },
            { key: "still_active_90d", name: t("stats.funnel.still90"), value: f.still_active_90d },
          ],
        };
      }),
    });
  }

  // hiddenWhy is why a figure of the current load is missing (set per load).
  let hiddenWhy = "";

  // figure is one key figure; a missing one (suppressed, or nothing to show) is "—" with
  // the reason, never "0".
  function figure(k, v, why) {
    const shown = v === null || v === undefined || v === "—" ? F.hidden(why || hiddenWhy) : v;
    return el("div", { class: "figure" }, el("span", { class: "v" }, shown), el("span", { class: "k", text: k }));
  }

  const orNull = (f) => (v) => (v === null || v === undefined ? null : f(v));
  const pct = orNull((v) => F.percent(v, 0));
  const secs = orNull((v) => F.duration(Math.round(v)));
  const money = orNull((v) => F.kroner(v));
  const count = orNull((v) => F.number(v));

  // why is the reason a total's figure is missing: the total itself suppressed (it
  // describes 1-4 citizens), or nothing to compute it from.
  function why(total) {
    return total && total.suppressed ? t("stats.hidden.suppressed", { n: 5 }) : t("stats.hidden.none");
  }

  function renderAlerts(data) {
    const rows = data.rows || [];
    const totals = data.totals || [];
    const iv = intervals(rows);
    const labels = iv.map((s) => label(s, data.period && data.period.interval));
    const whole = totals.find((x) => x.whole_period) || null;
    const pick = (k) => (whole ? whole[k] : null);
    const figs = document.querySelector('[data-figures="alerts"]');
    const w = why(whole);
    figs.replaceChildren(
      figure(t("stats.alerts.count"), count(pick("alarms")), w),
      figure(t("stats.alerts.within60"), pct(pick("acked_within_60s_share")), w),
      figure(t("stats.alerts.within180"), pct(pick("acked_within_180s_share")), w),
      figure(t("stats.alerts.arrived30"), pct(pick("arrived_within_30m_share")), w),
      figure(t("stats.alerts.arrivalMedian"), secs(pick("arrival_p50_s")), w),
      figure(t("stats.alerts.ackMedian"), secs(pick("ack_p50_s")), w),
      figure(t("stats.alerts.ackP90"), secs(pick("ack_p90_s")), w),
      figure(t("stats.alerts.resolveMedian"), secs(pick("resolve_p50_s")), w),
      figure(t("stats.alerts.falseAlarms"), pct(pick("false_alarm_share")), w),
      figure(t("stats.alerts.escalations"), count(pick("escalations")), w));
    if (!rows.length) {
      box("alerts").replaceChildren(el("p", { class: "help", text: t("stats.noFigures") }));
      return;
    }
    const of = (s) => totalOf(totals, s, null) || {};
    charts.bars(box("alerts"), {
      label: t("stats.alerts.chart"),
      labels,
      series: [
        { key: "alarms", name: t("stats.alerts.alarms"), values: iv.map((s) => of(s).alarms ?? null), color: "#0072B2" },
        { key: "acked_within_60s", name: t("stats.alerts.acked60"), values: iv.map((s) => {
          const x = of(s);
          // A share the api did not give (suppressed, or no urgent alarm) is no bar, not 0.
          return x.acked_within_60s_share == null || x.alarms == null ? null : Math.round(x.acked_within_60s_share * x.alarms);
        }), color: "#009E73" },
      ],
    });
  }

  function renderBenefits(data) {
    const rows = data.rows || [];
    const totals = data.totals || [];
    const iv = intervals(rows);
    const labels = iv.map((s) => label(s, data.period && data.period.interval));
    const all = totals.find((x) => x.whole_period && !x.technology) || null;
    const pick = (k) => (all ? all[k] : null);
    const costs = all && all.one_off_cost_dkk != null ? all.one_off_cost_dkk + all.running_cost_dkk : null;
    const net = pick("net_dkk");
    const w = why(all);
    document.querySelector('[data-figures="benefits"]').replaceChildren(
      figure(t("stats.benefits.gross"), money(pick("gross_dkk")), w),
      figure(t("stats.benefits.costs"), money(costs), w),
      figure(t("stats.benefits.net"), net === null ? null : F.kroner(net, { signed: true }), w),
      figure(t("stats.benefits.hours"), orNull((v) => F.decimal(v, 1))(pick("hours_saved")), w));
    // A sum that lacks a hidden part says so, with what it lacks.
    const incomplete = document.querySelector("[data-incomplete]");
    if (incomplete) {
      incomplete.hidden = !(all && all.incomplete);
      incomplete.textContent = all && all.incomplete ? t("stats.benefits.incomplete", { n: (all.hidden || []).length || all.suppressed_rows || 1 }) : "";
    }
    if (rows.length) {
      const of = (s) => totalOf(totals, s, null) || {};
      charts.bars(box("benefits"), {
        label: t("stats.benefits.chart"),
        labels,
        fmtValue: (v) => F.kroner(v),
        fmtTick: (v) => F.compact(v),
        series: [
          { key: "gross", name: t("stats.benefits.grossSeries"), values: iv.map((s) => of(s).gross_dkk ?? null), color: "#009E73" },
          { key: "costs", name: t("stats.benefits.costsSeries"), values: iv.map((s) => (of(s).one_off_cost_dkk == null ? null : of(s).one_off_cost_dkk + of(s).running_cost_dkk)), color: "#D55E00" },
          { key: "net", name: t("stats.benefits.netSeries"), values: iv.map((s) => of(s).net_dkk ?? null), color: "#0072B2" },
        ],
      });
    } else {
      box("benefits").replaceChildren(el("p", { class: "help", text: t("stats.noFigures") }));
    }
    const model = data.model || {};
    const parts = [el("p", {}, ...vagtI18n.tNodes("stats.benefits.model", { name: el("strong", { text: model.name || "—" }) }),
      model.illustrative ? t("stats.benefits.illustrative") : "")];
    if (model.assumptions && model.assumptions.length) parts.push(el("ul", {}, ...model.assumptions.map((a) => el("li", { text: a }))));
    const techs = Object.entries(model.technologies || {});
    if (techs.length) {
      const th = (key, num) => el("th", { scope: "col", class: num ? "num" : null, text: t("stats.benefits." + key) });
      parts.push(el("div", { class: "table-wrap" }, el("table", {},
        el("caption", { class: "sr-only", text: t("stats.benefits.paramsCaption") }),
        el("thead", {}, el("tr", {}, th("colTechnology"), th("colVisits", 1), th("colMinutes", 1), th("colHourly", 1), th("colOneOff", 1), th("colRunning", 1))),
        el("tbody", {}, ...techs.map(([tech, p]) => el("tr", {}, el("th", { scope: "row", text: vagt.techName(tech) }),
          ...[p.visits_avoided_per_citizen_week, p.minutes_per_visit, p.hourly_cost_dkk, p.one_off_cost_dkk, p.running_cost_dkk_per_device_month]
            .map((v) => el("td", { class: "num", text: charts.num(v) }))))))));
    }
    document.querySelector("[data-assumptions]").replaceChildren(...parts);
  }

  // renderSources says where the figures come from (issue 18 item 4): the period, the 65+
  // table (shipped illustrative or FOLK1A of a quarter), the benefit model, the protection
  // and what it hid. answers: adoption, alerts, benefits (null when one failed).
  function renderSources([adoption, alerts, benefits]) {
    const any = adoption || alerts || benefits;
    if (!any) return;
    const pop = (adoption && adoption.population_65plus) || {};
    const disc = any.disclosure || {};
    let hidden = 0, incomplete = 0;
    for (const a of [adoption, alerts, benefits]) {
      if (!a) continue;
      hidden += (a.rows || []).filter((r) => r.suppressed).length;
      incomplete += (a.totals || []).filter((x) => x.incomplete && (x.incomplete === true || x.incomplete.length)).length;
    }
    const items = [t("stats.compare.sources.period", { from: F.date(any.period.from), to: F.date(any.period.to) })];
    if (adoption) items.push(pop.illustrative ? t("stats.compare.sources.populationIllustrative") : t("stats.compare.sources.population", { source: pop.source || "", quarter: pop.period || "" }));
    if (benefits && benefits.model) items.push(t(benefits.model.illustrative ? "stats.compare.sources.modelIllustrative" : "stats.compare.sources.model", { name: benefits.model.name || "" }));
    items.push(disc.method === "suppress_and_round" ? t("stats.compare.sources.protected", { n: disc.suppressed_below || 5, base: disc.rounding_base || 5 }) : t("stats.compare.sources.exact"));
    items.push(t("stats.compare.sources.suppressed", { count: hidden }));
    if (incomplete) items.push(t("stats.compare.sources.incomplete", { count: incomplete }));
    document.querySelector("[data-sources]").replaceChildren(...items.map((s) => el("li", { text: s })));
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
      $("dash-status").textContent = t("stats.downloaded", { name, count: Math.max(0, lines - 1) });
    } catch (err) {
      if (failed(err)) return;
      $("dash-error").textContent = t("stats.csvFailed", { message: err.message });
      $("dash-error").hidden = false;
    } finally {
      button.disabled = false;
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    signIn = vagt.signedIn({ shows: ["dashboard", "who"], start, stop: () => { session++; },
      check: (me) => (ROLES.includes(me.role) ? "" : t("stats.noRole", { role: roleName(me.role) })) });
    $("controls").addEventListener("submit", (ev) => {
      ev.preventDefault();
      load();
    });
    $("municipality").addEventListener("change", load);
    for (const b of document.querySelectorAll("button[data-csv]")) b.addEventListener("click", () => downloadCSV(b.dataset.csv, b));
  });
})();
