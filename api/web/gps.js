// gps.js: where a person with a GPS tracker was last seen, in an alert's detail — the
// coordinates, accuracy, time and the registry's address, and a map drawn here as SVG of
// the safe zones and the last positions (no tile server: it works without internet).
// Only an alert's track is fetched (GET /api/v1/alerts/{id}/track, audited), never the
// history. Texts from the catalogue (console.gps, careplan.zones), times from format.js.
"use strict";

const vagtGPS = (() => {
  const { el } = vagt;
  const { t } = vagtI18n;
  const date = (iso) => vagtFormat.dateTime(iso, { seconds: true });
  const SVG = "http://www.w3.org/2000/svg";
  const W = 360, H = 260, PAD = 16;

  // A tracker's alerts name the tracker as gateway and device; tracker ids start "gps.".
  function isTracker(d) { return typeof d.gateway === "string" && d.gateway.startsWith("gps."); }

  function svg(name, attrs) {
    const n = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs || {})) n.setAttribute(k, String(v));
    return n;
  }

  // draw returns the map: metres east and north of the last position, fitted to the box.
  function draw(tr) {
    const z0 = tr.zones[0] || {};
    const last = tr.positions[tr.positions.length - 1] ||
      (z0.center ? { lat: z0.center[0], lon: z0.center[1] } : { lat: z0.points[0][0], lon: z0.points[0][1] });
    const lat0 = last.lat, lon0 = last.lon, R = 6371008.8, rad = Math.PI / 180;
    const xy = (lat, lon) => [(lon - lon0) * rad * R * Math.cos(lat0 * rad), (lat - lat0) * rad * R];
    const pts = [];
    const zones = tr.zones.map((z) => {
      if (z.center) {
        const c = xy(z.center[0], z.center[1]);
        pts.push([c[0] - z.radius_m, c[1] - z.radius_m], [c[0] + z.radius_m, c[1] + z.radius_m]);
        return { name: z.name, c, r: z.radius_m };
      }
      const p = z.points.map((q) => xy(q[0], q[1]));
      pts.push(...p);
      return { name: z.name, p };
    });
    const track = tr.positions.map((p) => ({ ...p, xy: xy(p.lat, p.lon) }));
    for (const p of track) pts.push([p.xy[0] - p.acc_m, p.xy[1] - p.acc_m], [p.xy[0] + p.acc_m, p.xy[1] + p.acc_m]);
    let minX = Math.min(...pts.map((p) => p[0])), maxX = Math.max(...pts.map((p) => p[0]));
    let minY = Math.min(...pts.map((p) => p[1])), maxY = Math.max(...pts.map((p) => p[1]));
    const span = Math.max(maxX - minX, maxY - minY, 100);
    const k = Math.min((W - 2 * PAD) / Math.max(maxX - minX, 1), (H - 2 * PAD) / Math.max(maxY - minY, 1), (W - 2 * PAD) / 100);
    const cx = (minX + maxX) / 2, cy = (minY + maxY) / 2;
    const X = (x) => W / 2 + (x - cx) * k, Y = (y) => H / 2 - (y - cy) * k;

    const map = svg("svg", { class: "gps-map", viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img",
      "aria-label": t("console.gps.mapLabel") });
    map.appendChild(svg("rect", { x: 0, y: 0, width: W, height: H, class: "gps-bg" }));
    for (const z of zones) {
      const shape = z.c ? svg("circle", { cx: X(z.c[0]), cy: Y(z.c[1]), r: z.r * k, class: "gps-zone", "data-zone": z.name })
        : svg("polygon", { points: z.p.map((q) => X(q[0]) + "," + Y(q[1])).join(" "), class: "gps-zone", "data-zone": z.name });
      map.appendChild(shape);
    }
    if (track.length > 1) {
      map.appendChild(svg("polyline", { points: track.map((p) => X(p.xy[0]) + "," + Y(p.xy[1])).join(" "), class: "gps-track" }));
    }
    track.forEach((p, i) => {
      const lastOne = i === track.length - 1;
      if (lastOne) map.appendChild(svg("circle", { cx: X(p.xy[0]), cy: Y(p.xy[1]), r: Math.max(p.acc_m * k, 3), class: "gps-acc" }));
      const dot = svg("circle", { cx: X(p.xy[0]), cy: Y(p.xy[1]), r: lastOne ? 6 : 3, class: lastOne ? "gps-last" : "gps-point" });
      const title = svg("title");
      title.textContent = date(p.at) + " ±" + Math.round(p.acc_m) + " m";
      dot.appendChild(title);
      map.appendChild(dot);
    });
    // A scale bar: a round number of metres near a quarter of the width.
    const target = (W / 4) / k, step = [10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000].find((s) => s >= target) || 10000;
    map.appendChild(svg("line", { x1: PAD, y1: H - PAD, x2: PAD + step * k, y2: H - PAD, class: "gps-scale" }));
    const label = svg("text", { x: PAD, y: H - PAD - 4, class: "gps-scale-text" });
    label.textContent = step >= 1000 ? step / 1000 + " km" : step + " m";
    map.appendChild(label);
    map.dataset.span = String(Math.round(span));
    return map;
  }

  // detailParts: a section filled in when the track arrives.
  function detailParts(d) {
    if (!isTracker(d)) return [];
    const box = el("section", { class: "gps", "data-gps-tracker": d.gateway },
      el("h3", { text: t("console.gps.lastSeen") }), el("p", { class: "muted", text: t("console.gps.loading") }));
    vagt.call("GET", "/api/v1/alerts/" + d.id + "/track").then((tr) => {
      box.replaceChildren(el("h3", { text: t("console.gps.lastSeen") }));
      if (!tr.positions.length) {
        box.appendChild(el("p", { text: t("console.gps.noPositions") }));
        return;
      }
      const last = tr.positions[tr.positions.length - 1];
      const rows = [
        [t("console.gps.time"), date(last.at)],
        [t("console.gps.coordinates"), last.lat.toFixed(6) + ", " + last.lon.toFixed(6)], // coordinates stay in the dotted form maps read
        [t("console.gps.accuracy"), "± " + vagtFormat.number(Math.round(last.acc_m)) + " m"],
      ];
      if (last.battery !== undefined) rows.push([t("console.gps.battery"), vagtFormat.percent(last.battery / 100)]);
      if (tr.address) rows.push([t("console.gps.homeAddress"), tr.address]);
      if (d.details && d.details.zone) rows.push([t("console.gps.leftZone"), d.details.outside_m ? t("console.gps.outside", { zone: d.details.zone, metres: d.details.outside_m }) : d.details.zone]);
      box.appendChild(el("dl", { class: "gps-last-seen", "data-lat": last.lat, "data-lon": last.lon },
        ...rows.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })])));
      box.appendChild(draw(tr));
      box.appendChild(el("p", { class: "muted", text: t("console.gps.drawn", { count: tr.positions.length }) }));
    }).catch((err) => {
      box.replaceChildren(el("h3", { text: t("console.gps.lastSeen") }), el("p", { class: "error", role: "alert", text: err.message }));
    });
    return [box];
  }

  // zoneEditor is the care plan page's section for a home's safe zones: the zones as JSON
  // (docs/gps.md), saved with PUT /api/v1/homes/{home}/safezones, and drawn.
  function zoneEditor(home) {
    const path = "/api/v1/homes/" + encodeURIComponent(home) + "/safezones";
    const text = el("textarea", { id: "safezones", rows: 8, spellcheck: "false" });
    const msg = el("p", { class: "error", role: "alert", hidden: true });
    const preview = el("div", { class: "gps-preview" });
    const fail = (m) => { msg.textContent = m; msg.hidden = !m; };
    const render = (zones) => {
      text.value = JSON.stringify(zones, null, 2);
      preview.replaceChildren(zones.length ? draw({ zones, positions: [] }) : el("p", { class: "muted", text: t("careplan.zones.none") }));
    };
    const form = el("form", { class: "safezones-form", novalidate: true },
      el("label", { for: "safezones", text: t("careplan.zones.label") }),
      text, msg, el("div", { class: "actions" }, el("button", { type: "submit", class: "primary", text: t("careplan.zones.save") })), preview);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      fail("");
      let zones;
      try { zones = JSON.parse(text.value || "[]"); } catch (e) { fail(t("careplan.zones.invalid", { message: e.message })); return; }
      try {
        const v = await vagt.call("PUT", path, { zones });
        render(v.zones);
      } catch (err) { fail(err.message); }
    });
    vagt.call("GET", path).then((v) => render(v.zones)).catch((err) => fail(err.message));
    return el("section", { class: "gps-zones" }, el("h3", { text: t("careplan.zones.title") }), form);
  }

  return { isTracker, detailParts, draw, zoneEditor };
})();
