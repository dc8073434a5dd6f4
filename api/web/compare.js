// compare.js: municipalities side by side (/stats/compare). It reads
// /api/v1/stats/compare for one technology and a period: a manager sees their own
// municipality beside its peer group (one protected aggregate), national users and admins
// every municipality; all see where each stands (rank, distribution) on a tile grid map of
// the 98 (dkgrid.js, shipped) and where the figures come from. Texts from the catalogue
// (compare), every figure from format.js; a hidden figure is "—" with its reason.
"use strict";

(() => {
  const { el } = vagt;
  const { t } = vagtI18n;
  const F = vagtFormat;
  const $ = (id) => document.getElementById(id);
  const ROLES = ["manager", "national", "admin"];
  const SVG = "http://www.w3.org/2000/svg";
  // A sequential, colour-blind safe scale (ColorBrewer Blues), light to dark.
  const SCALE = ["#eff3ff", "#bdd7e7", "#6baed6", "#3182bd", "#08519c"];
  let session = 0;
  let me = null;
  let names = {};

  // signOut and failed come from the page's session (common.js), set at DOMContentLoaded.
  let signIn = null;
  const signOut = (message) => signIn.signOut(message);
  const failed = (err) => signIn.failed(err);

  const roleName = (c) => (vagtI18n.has("common.role." + c) ? t("common.role." + c) : c);

  // start: session counts sign-ins and sign-outs (stop), so a load of an old session
  // draws nothing.
  async function start(who) {
    const gen = ++session;
    me = who;
    $("who-name").textContent = me.name + " · " + roleName(me.role);
    try {
      for (const m of (await vagt.call("GET", "/api/v1/municipalities")).municipalities || []) names[m.code] = m.name;
    } catch (err) {
      if (failed(err)) return;
    }
    if (gen !== session) return;
    const sel = $("technology");
    if (!sel.options.length) {
      sel.replaceChildren(...Object.entries(vagt.TECH).map(([k, v]) => el("option", { value: k, text: v })));
      sel.value = "personal_alarm";
    }
    if (!$("from").value) {
      // The last twelve whole months, in Danish dates.
      const parts = new Intl.DateTimeFormat("en-CA", { timeZone: "Europe/Copenhagen", year: "numeric", month: "numeric" }).formatToParts(new Date());
      const get = (type) => Number(parts.find((p) => p.type === type).value);
      const to = new Date(Date.UTC(get("year"), get("month") - 1, 1));
      const from = new Date(Date.UTC(get("year"), get("month") - 13, 1));
      $("from").value = from.toISOString().slice(0, 10);
      $("to").value = to.toISOString().slice(0, 10);
    }
    load();
  }

  function query() {
    const q = new URLSearchParams();
    q.set("technology", $("technology").value);
    q.set("from", $("from").value);
    q.set("to", $("to").value);
    return q.toString();
  }

  // Why a figure is missing: its cell describes 1-4 citizens, no alarm that needed a visit had an arrival recorded,
  // or there is nothing to compute it from.
  function reason(row, key) {
    if (key === "arrived_within_30min_share") return t("stats.compare.hidden.arrival");
    if (row && row.suppressed) return t("stats.hidden.suppressed", { n: 5 });
    return t("stats.hidden.none");
  }

  // The figures of a row, each formatted or hidden with why.
  const FIGURES = [
    { key: "citizens_per_1000_65plus", fmt: (v) => F.number(v, 1) },
    { key: "citizens", fmt: (v) => F.number(v) },
    { key: "devices_installed", fmt: (v) => F.number(v) },
    { key: "devices_active", fmt: (v) => F.number(v) },
    { key: "days_registration_to_installation_p50", fmt: (v) => t("stats.compare.days", { n: v }) },
    { key: "churn_90d_share", fmt: (v) => F.percent(v, 0) },
    { key: "net_benefit_per_citizen_dkk", fmt: (v) => F.kroner(v, { signed: true }) },
  ];
  const RESPONSE = [
    { key: "acked_within_60s_share", fmt: (v) => F.percent(v, 0) },
    { key: "acked_within_180s_share", fmt: (v) => F.percent(v, 0) },
    { key: "arrived_within_30min_share", fmt: (v) => F.percent(v, 0) },
  ];

  function cell(row, f) {
    const v = row ? row[f.key] : null;
    return el("td", { class: "num" }, v === null || v === undefined ? F.hidden(reason(row, f.key)) : f.fmt(v));
  }

  async function load() {
    const gen = session;
    $("cmp-error").hidden = true;
    $("cmp-status").textContent = t("stats.loading");
    document.body.dataset.loaded = "";
    let data;
    try {
      data = await vagt.call("GET", "/api/v1/stats/compare?" + query());
    } catch (err) {
      if (gen !== session || failed(err)) return;
      $("cmp-error").textContent = t("stats.couldNotLoad", { message: err.message });
      $("cmp-error").hidden = false;
      $("cmp-status").textContent = "";
      document.body.dataset.loaded = "error";
      return;
    }
    if (gen !== session) return;
    const tech = $("technology").value;
    const rows = data.rows || [];
    const mine = rows.filter((r) => r.entity === "municipality" && r.technology === tech);
    renderSide(data, tech);
    renderMap(data, tech, mine);
    renderRank(data, tech, mine);
    renderSources(data);
    $("cmp-status").textContent = t("stats.compare.status", { tech: vagt.techName(tech), from: F.date($("from").value + "T12:00:00Z"), to: F.date($("to").value + "T12:00:00Z") });
    document.body.dataset.loaded = "true";
  }

  // renderSide: a manager's own municipality beside the peer group, figure by figure.
  function renderSide(data, tech) {
    const panel = $("panel-side");
    const g = data.peer_group;
    panel.hidden = !g;
    if (!g) return;
    const rows = data.rows || [];
    const own = rows.find((r) => r.entity === "municipality" && r.technology === tech);
    const peers = rows.find((r) => r.entity === "peers" && r.technology === tech);
    const ownAll = rows.find((r) => r.entity === "municipality" && r.technology === "all");
    const peersAll = rows.find((r) => r.entity === "peers" && r.technology === "all");
    const ownName = own ? names[own.municipality] || String(own.municipality) : "";
    const peerNames = g.municipalities.map((c) => names[c] || String(c)).join(", ");
    $("peer-note").textContent = t("stats.compare.side.peers", { count: g.municipalities.length, names: peerNames }) + (g.widened ? " " + t("stats.compare.side.widened") : "");
    const th = (text, num) => el("th", { scope: "col", class: num ? "num" : null, text });
    const line = (f, a, b) => el("tr", {}, el("th", { scope: "row", text: t("stats.compare.figure." + f.key) }), cell(a, f), cell(b, f));
    const rank = own && own.rank ? t("stats.compare.rankOf", { rank: own.rank, of: own.rank_of }) : F.hidden(reason(own, "rank"));
    $("panel-side").querySelector("[data-side]").replaceChildren(el("table", {},
      el("caption", { class: "sr-only", text: t("stats.compare.side.heading") }),
      el("thead", {}, el("tr", {}, th(t("stats.compare.figure.name")), th(ownName, 1), th(t("stats.compare.side.peerGroup"), 1))),
      el("tbody", {},
        ...FIGURES.map((f) => line(f, own, peers)),
        ...RESPONSE.map((f) => line(f, ownAll, peersAll)),
        el("tr", {}, el("th", { scope: "row", text: t("stats.compare.figure.rank") }), el("td", { class: "num" }, rank), el("td", { class: "num", text: "" })))));
  }

  // renderMap draws the tile grid: each municipality a square shaded by its figure's
  // quartile among the released figures; a hidden one grey with "—".
  function renderMap(data, tech, mine) {
    const grid = window.vagtDKGrid;
    const dist = (data.distribution || []).find((d) => d.technology === tech) || {};
    const byCode = {};
    for (const r of mine) byCode[r.municipality] = r;
    const size = 30;
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", `0 0 ${grid.cols * size} ${grid.rows * size}`);
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", t("stats.compare.map.heading"));
    svg.setAttribute("class", "grid-map");
    svg.setAttribute("width", "100%"); // scales with the panel: a phone gets the whole map
    const shade = (v) => {
      if (v === 0) return SCALE[0];
      const edges = [dist.p25, dist.median, dist.p75];
      let i = 1;
      for (const e of edges) if (e !== null && e !== undefined && v > e) i++;
      return SCALE[Math.min(i, SCALE.length - 1)];
    };
    // A manager sees their own municipality and the peer group (one aggregate, so each of
    // its squares shows the group's figure), not other municipalities one by one.
    const peers = data.peer_group ? data.peer_group.municipalities.map(String) : [];
    const peerRow = (data.rows || []).find((r) => r.entity === "peers" && r.technology === tech);
    for (const [code, [x, y]] of Object.entries(grid.cells)) {
      const inGroup = peers.includes(code);
      const r = inGroup ? peerRow : byCode[code];
      const v = r ? r.citizens_per_1000_65plus : null;
      const g = document.createElementNS(SVG, "g");
      g.dataset.code = code;
      const rect = document.createElementNS(SVG, "rect");
      rect.setAttribute("x", x * size + 1);
      rect.setAttribute("y", y * size + 1);
      rect.setAttribute("width", size - 2);
      rect.setAttribute("height", size - 2);
      rect.setAttribute("fill", v === null || v === undefined ? "#d9d9d9" : shade(v));
      if (r && me.role === "manager" && Number(code) === me.municipality) rect.setAttribute("stroke", "#d55e00"), rect.setAttribute("stroke-width", "3");
      else rect.setAttribute("stroke", "#fff");
      if (v !== null && v !== undefined) rect.dataset.value = String(v);
      const title = document.createElementNS(SVG, "title");
      const name = names[code] || code;
      const why = !r && data.peer_group ? t("stats.compare.hidden.notCompared") : reason(r, "citizens_per_1000_65plus");
      title.textContent = name + (inGroup ? " (" + t("stats.compare.side.peerGroup") + ")" : "") + ": " + (v === null || v === undefined ? "— (" + why + ")" : F.number(v, 1));
      if (inGroup) rect.setAttribute("stroke-dasharray", "3 2"), rect.setAttribute("stroke", "#333");
      g.append(title, rect);
      const label = document.createElementNS(SVG, "text");
      label.setAttribute("x", x * size + size / 2);
      label.setAttribute("y", y * size + size / 2 + 3);
      label.setAttribute("text-anchor", "middle");
      label.setAttribute("font-size", "8");
      label.setAttribute("fill", v !== null && v !== undefined && shade(v) === SCALE[4] ? "#fff" : "#222");
      label.textContent = v === null || v === undefined ? "—" : name.slice(0, 3);
      g.append(label);
      svg.append(g);
    }
    document.querySelector("[data-map]").replaceChildren(svg);
    const d = dist;
    document.querySelector("[data-distribution]").textContent = d.median === null || d.median === undefined ? "" :
      t("stats.compare.distribution", { min: F.number(d.min, 1), p25: F.number(d.p25, 1), median: F.number(d.median, 1), p75: F.number(d.p75, 1), max: F.number(d.max, 1), hidden: d.hidden || 0 });
  }

  // renderRank lists the municipalities by rank (national) or the manager's own place.
  function renderRank(data, tech, mine) {
    const rows = mine.slice().sort((a, b) => (a.rank || 1e9) - (b.rank || 1e9) || a.municipality - b.municipality);
    const th = (key, num) => el("th", { scope: "col", class: num ? "num" : null, text: t("stats.compare.figure." + key) });
    const all = (data.rows || []).filter((r) => r.entity === "municipality" && r.technology === "all");
    const resp = (code) => all.find((r) => r.municipality === code);
    document.querySelector("[data-rank]").replaceChildren(el("table", {},
      el("caption", { class: "sr-only", text: t("stats.compare.rank.heading") }),
      el("thead", {}, el("tr", {}, th("rank", 1), th("name"), ...FIGURES.map((f) => th(f.key, 1)), th("acked_within_60s_share", 1))),
      el("tbody", {}, ...rows.map((r) => el("tr", { "data-code": r.municipality },
        el("td", { class: "num" }, r.rank ? F.number(r.rank) : F.hidden(reason(r, "rank"))),
        el("th", { scope: "row", text: names[r.municipality] || String(r.municipality) }),
        ...FIGURES.map((f) => cell(r, f)),
        cell(resp(r.municipality), RESPONSE[0]))))));
  }

  // renderSources says where every figure comes from (issue 18 item 4).
  function renderSources(data) {
    const pop = data.population_65plus || {};
    const disc = data.disclosure || {};
    const hidden = (data.rows || []).filter((r) => r.suppressed).length;
    const items = [
      t("stats.compare.sources.period", { from: F.date(data.period.from), to: F.date(data.period.to) }),
      pop.illustrative ? t("stats.compare.sources.populationIllustrative") : t("stats.compare.sources.population", { source: pop.source || "", quarter: pop.period || "" }),
      t(data.benefit_model_illustrative ? "stats.compare.sources.modelIllustrative" : "stats.compare.sources.model", { name: data.benefit_model || "" }),
      disc.method === "exact" && !data.peer_group ? t("stats.compare.sources.exact") : t("stats.compare.sources.protected", { n: disc.suppressed_below || 5, base: disc.rounding_base > 1 ? disc.rounding_base : 5 }),
      t("stats.compare.sources.suppressed", { count: hidden }),
      data.arrival === "recorded" ? t("stats.compare.sources.arrivalRecorded") : t("stats.compare.sources.arrivalNot"),
    ];
    if (data.peer_group) {
      items.push(t("stats.compare.sources.peers", { count: data.peer_group.municipalities.length }) + (data.peer_group.widened ? " " + t("stats.compare.side.widened") : ""));
    }
    document.querySelector("[data-sources]").replaceChildren(...items.map((s) => el("li", { text: s })));
  }

  async function downloadCSV(button) {
    button.disabled = true;
    try {
      const body = await vagt.call("GET", "/api/v1/stats/compare?" + query(), undefined, "text/csv");
      const name = "vagt-compare-" + $("from").value + "-" + $("to").value + ".csv";
      const url = URL.createObjectURL(new Blob([body], { type: "text/csv" }));
      const a = el("a", { href: url, download: name });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
      $("cmp-status").textContent = t("stats.downloaded", { name, count: Math.max(0, body.split("\n").filter((l) => l.trim()).length - 1) });
    } catch (err) {
      if (failed(err)) return;
      $("cmp-error").textContent = t("stats.csvFailed", { message: err.message });
      $("cmp-error").hidden = false;
    } finally {
      button.disabled = false;
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    signIn = vagt.signedIn({ shows: ["compare", "who"], start, stop: () => { session++; },
      check: (me) => (ROLES.includes(me.role) ? "" : t("stats.noRole", { role: roleName(me.role) })) });
    $("controls").addEventListener("submit", (ev) => {
      ev.preventDefault();
      load();
    });
    $("technology").addEventListener("change", load);
    $("csv").addEventListener("click", () => downloadCSV($("csv")));
  });
})();
