// charts.js: small hand-written SVG charts for the dashboard (no library, nothing fetched).
// Each chart is an <svg role="img"> with a summary label, a legend, and the same figures as
// a table under "Figures as a table", for screen readers and for copying. Numbers come from
// format.js in the page's language; a series' key (data-series) does not change with it.
"use strict";

const charts = (() => {
  const NS = "http://www.w3.org/2000/svg";
  // Okabe–Ito and friends: distinguishable with the common colour-vision deficiencies.
  const DASHES = ["", "7 4", "2 4", "10 3 2 3"];
  const PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#7a5c00", "#000000", "#8c564b", "#6a3d9a"];

  function svg(tag, attrs, ...children) {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) e.setAttribute(k, String(v));
    for (const c of children) if (c) e.append(c);
    return e;
  }
  function title(text) { const t = svg("title"); t.textContent = text; return t; }
  function text(x, y, s, attrs) { const t = svg("text", { x, y, ...attrs }); t.textContent = s; return t; }

  function num(v) { return v === null || v === undefined || Number.isNaN(v) ? "—" : vagtFormat.decimal(v, 1); }

  // scale picks round axis steps (1, 2 or 5 × 10^n) that cover lo..hi and zero.
  // Counts (every value a whole number) get whole steps.
  function scale(values) {
    const vs = values.filter((v) => v !== null && v !== undefined && !Number.isNaN(v));
    const min = Math.min(0, ...vs), max = Math.max(0, ...vs);
    const whole = vs.every((v) => Number.isInteger(v));
    const raw = Math.max((max - min) / 5 || 1 / 5, whole ? 1 : 0);
    const p = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((m) => m * p).find((x) => x >= raw - 1e-12);
    const lo = min < 0 ? Math.floor(min / step + 1e-9) * step : 0;
    const hi = Math.max(max > 0 ? Math.ceil(max / step - 1e-9) * step : 0, lo + step);
    return { lo, hi, step };
  }

  function legend(series) {
    const ul = document.createElement("ul");
    ul.className = "legend";
    for (const s of series) {
      const li = document.createElement("li");
      const sw = document.createElement("span");
      sw.className = "sw";
      sw.style.background = s.color;
      li.append(sw, document.createTextNode(s.name));
      ul.append(li);
    }
    return ul;
  }

  // table is the chart's figures: one row per label, one column per series.
  function table(caption, labels, series, fmtValue) {
    const d = document.createElement("details");
    d.className = "chart-table";
    const sum = document.createElement("summary");
    sum.textContent = vagtI18n.t("stats.chart.table");
    const t = document.createElement("table");
    const cap = document.createElement("caption");
    cap.className = "sr-only";
    cap.textContent = caption;
    const head = document.createElement("tr");
    for (const h of ["", ...series.map((s) => s.name)]) {
      const th = document.createElement("th");
      th.scope = "col";
      th.textContent = h;
      if (h) th.className = "num";
      head.append(th);
    }
    const thead = document.createElement("thead");
    thead.append(head);
    const tbody = document.createElement("tbody");
    labels.forEach((l, i) => {
      const tr = document.createElement("tr");
      const th = document.createElement("th");
      th.scope = "row";
      th.textContent = l;
      tr.append(th);
      for (const s of series) {
        const td = document.createElement("td");
        td.className = "num";
        td.textContent = (fmtValue || num)(s.values[i]);
        tr.append(td);
      }
      tbody.append(tr);
    });
    t.append(cap, thead, tbody);
    d.append(sum, t);
    return d;
  }

  function frame(w, h, label) {
    return svg("svg", { viewBox: `0 0 ${w} ${h}`, class: "chart", role: "img", "aria-label": label, preserveAspectRatio: "xMidYMid meet" });
  }

  // axes draws the grid and the labels; it returns the band width of a label and y(v).
  function axes(root, m, w, h, sc, labels, fmtTick) {
    const y = (v) => h - m.b - ((h - m.t - m.b) * (v - sc.lo)) / (sc.hi - sc.lo);
    for (let v = sc.lo; v <= sc.hi + sc.step / 2; v += sc.step) {
      const at = y(v);
      root.append(svg("line", { x1: m.l, x2: w - m.r, y1: at, y2: at, class: "axis", stroke: Math.abs(v) < sc.step / 2 ? "#7a8594" : "#d5dbe1" }));
      root.append(text(m.l - 6, at + 4, (fmtTick || num)(Math.abs(v) < sc.step / 2 ? 0 : v), { "text-anchor": "end" }));
    }
    const every = Math.max(1, Math.ceil(labels.length / 8));
    const bw = (w - m.l - m.r) / Math.max(1, labels.length);
    labels.forEach((l, i) => {
      if (i % every) return;
      root.append(text(m.l + bw * i + bw / 2, h - m.b + 16, l, { "text-anchor": "middle" }));
    });
    return { bw, y };
  }

  // line draws one line per series over the labels. series: [{name, values, color?}].
  function line(box, { label, labels, series, fmtValue, fmtTick }) {
    series = series.map((s, i) => ({ color: PALETTE[i % PALETTE.length], ...s }));
    const w = 560, h = 240, m = { l: 48, r: 12, t: 12, b: 28 };
    const root = frame(w, h, label);
    const { bw, y } = axes(root, m, w, h, scale(series.flatMap((s) => s.values)), labels, fmtTick || fmtValue);
    series.forEach((s, k) => {
      let d = "";
      s.values.forEach((v, i) => {
        if (v === null || v === undefined) return;
        d += (d ? "L" : "M") + (m.l + bw * i + bw / 2).toFixed(1) + "," + y(v).toFixed(1);
      });
      const g = svg("g", { class: "series", "data-series": s.key || s.name });
      // Each line its own dash, so lines with equal values still show both colours.
      if (d) g.append(svg("path", { d, fill: "none", stroke: s.color, "stroke-width": 2.5, "stroke-linejoin": "round", "stroke-dasharray": DASHES[k % DASHES.length] || null }));
      s.values.forEach((v, i) => {
        if (v === null || v === undefined) return;
        g.append(svg("circle", { cx: m.l + bw * i + bw / 2, cy: y(v), r: 3.5, fill: s.color, "data-value": v },
          title(`${s.name}, ${labels[i]}: ${(fmtValue || num)(v)}`)));
      });
      root.append(g);
    });
    box.replaceChildren(root, legend(series), table(label, labels, series, fmtValue));
  }

  // bars draws grouped bars, one group per label. series: [{name, values, color?}].
  function bars(box, { label, labels, series, fmtValue, fmtTick }) {
    series = series.map((s, i) => ({ color: PALETTE[i % PALETTE.length], ...s }));
    const w = 560, h = 240, m = { l: 56, r: 12, t: 12, b: 28 };
    const root = frame(w, h, label);
    const { bw, y } = axes(root, m, w, h, scale(series.flatMap((s) => s.values)), labels, fmtTick || fmtValue);
    const inner = bw * 0.8, each = inner / series.length;
    series.forEach((s, k) => {
      const g = svg("g", { class: "series", "data-series": s.key || s.name });
      s.values.forEach((v, i) => {
        if (v === null || v === undefined) return;
        const top = Math.min(y(v), y(0)), bh = Math.abs(y(v) - y(0));
        g.append(svg("rect", { x: m.l + bw * i + bw * 0.1 + each * k, y: top, width: Math.max(1, each - 1), height: bh, fill: s.color, "data-value": v },
          title(`${s.name}, ${labels[i]}: ${(fmtValue || num)(v)}`)));
      });
      root.append(g);
    });
    box.replaceChildren(root, legend(series), table(label, labels, series, fmtValue));
  }

  // funnel draws horizontal bars per row: each stage as a share of the first.
  // rows: [{name, stages: [{name, value}]}]
  function funnel(box, { label, rows }) {
    const stageNames = rows.length ? rows[0].stages.map((s) => s.name) : [];
    const colors = stageNames.map((_, i) => PALETTE[i % PALETTE.length]);
    const w = 560, rowH = 20, gap = 12, lw = 190;
    const h = Math.max(40, rows.length * (stageNames.length * rowH + gap) + 8);
    const root = frame(w, h, label);
    let y = 4;
    for (const r of rows) {
      // Each stage as a share of the largest: the first, since the API's funnel is
      // monotone; taking the largest keeps the bars inside the frame whatever it is given.
      const base = Math.max(0, ...r.stages.map((s) => s.value || 0));
      const first = r.stages[0].value || 0;
      root.append(text(lw - 8, y + (stageNames.length * rowH) / 2 + 4, r.name, { "text-anchor": "end", class: "row-label" }));
      r.stages.forEach((s, i) => {
        const share = base > 0 && s.value !== null ? s.value / base : 0;
        const bwid = (w - lw - 90) * share;
        const g = svg("g", { class: "series", "data-series": s.key || s.name });
        g.append(svg("rect", { x: lw, y, width: Math.max(share > 0 ? 1 : 0, bwid), height: rowH - 4, fill: colors[i], "data-value": s.value ?? "" },
          title(`${r.name}, ${s.name}: ${num(s.value)}${i && first && s.value !== null ? " (" + vagtI18n.t("stats.funnel.shareOf", { share: vagtFormat.percent(Math.round((s.value / first) * 100) / 100), stage: r.stages[0].name.toLowerCase() }) + ")" : ""}`)));
        g.append(text(lw + bwid + 6, y + rowH - 7, num(s.value) + (i && s.value !== null && first ? " · " + vagtFormat.percent(Math.round((s.value / first) * 100) / 100) : "")));
        root.append(g);
        y += rowH;
      });
      y += gap;
    }
    const series = stageNames.map((n, i) => ({ name: n, key: rows[0].stages[i].key, color: colors[i], values: rows.map((r) => r.stages[i].value) }));
    box.replaceChildren(root, legend(series), table(label, rows.map((r) => r.name), series));
  }

  return { line, bars, funnel, num, PALETTE };
})();
