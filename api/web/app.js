// app.js: the care app for the phone (/app). It lists the alerts of the signed-in staff
// member, one card per citizen, the citizen who has waited longest first, with the next
// action first and widest: Tag → På vej → Ankommet → Afslut (or Kvittér → Afslut where the
// api has no presence routes). It keeps the list live (app-stream.js), rings and notifies
// (app-ring.js), and opens without a network with the last list it saw and the time since.
"use strict";

(() => {
  const { el } = vagt;
  const { t } = vagtI18n;
  const $ = (id) => document.getElementById(id);
  const RANK = { critical: 0, high: 1, technical: 2 };
  const MAX_PAGES = 20;

  let me = null;
  let alerts = new Map(); // id → alert
  const people = new Map(); // home key → {name, address} | "loading" | null (not allowed)
  const messages = new Map(); // alert id → a message on its card (who was first)
  let lastEventId = 0;
  let stopStream = null;
  let presence = false; // the api has take / enroute / arrived
  let offlineSince = 0; // ms; 0 while connected
  let resolveID = 0;
  let resolveSeen = 0; // the alert's count of presses as the resolve dialog shows it: what the person decides on

  // ---- the session ----

  async function restoreToken() {
    let tok = vagt.token();
    try {
      if (tok) await vagtStore.set("token", tok); // signed in here (or by the identity provider)
      else tok = (await vagtStore.get("token")) || "";
      if (tok) vagt.setToken(tok);
    } catch (_) { /* no IndexedDB: this tab only */ }
    return tok;
  }

  // whoAmI: who is signed in, or who was when the phone last had a network (an app that
  // opens offline shows the last list).
  async function whoAmI() {
    try {
      const m = await vagt.call("GET", "/api/v1/me");
      await vagtStore.set("me", m).catch(() => {});
      return m;
    } catch (err) {
      if (err.status === 401) throw err;
      const m = await vagtStore.get("me").catch(() => null);
      if (m) return m;
      err.notice = t("app.offlineNoData");
      throw err;
    }
  }

  // stop forgets the session: the stream, the tone, the list and what the phone kept.
  async function stop() {
    if (stopStream) stopStream();
    stopStream = null;
    try { await vagtStore.clear(); } catch (_) { /* nothing kept */ }
    vagtRing.ring(false);
    alerts = new Map();
    people.clear();
    notified.clear();
    $("groups").replaceChildren();
  }

  // session: the sign-in form, "Log ud" and the session number (common.js).
  let session = null;
  const failed = (err) => session.failed(err);
  const current = (gen) => session.current(gen);

  async function start(who, gen) {
    me = who;
    $("who-name").textContent = me.name;
    presence = await hasPresence();
    if (!(await loadList(gen))) await fromCache();
    if (!current(gen)) return;
    render();
    const opened = /^#alert-(\d+)$/.exec(location.hash); // opened from a notification
    if (opened) show(opened[1]);
    if (stopStream) stopStream();
    stopStream = vagtStream.open({
      token: vagt.token,
      lastEventId: () => lastEventId,
      event: (id, name, data) => { if (current(gen)) dispatch(id, name, data); },
      connected: (on) => { if (current(gen)) setOffline(!on); },
      refused: () => { if (current(gen)) failed({ status: 401 }); },
    });
  }

  // hasPresence: the api describes /alerts/{id}/take (issue 21 item 3) — then the app
  // offers Tag → På vej → Ankommet; without it Kvittér → Afslut.
  async function hasPresence() {
    try {
      const spec = await vagt.call("GET", "/openapi.yaml", undefined, "application/yaml");
      const yes = spec.includes("/alerts/{id}/take:");
      await vagtStore.set("presence", yes).catch(() => {});
      return yes;
    } catch (_) {
      return !!(await vagtStore.get("presence").catch(() => false));
    }
  }

  // loadList reads the unresolved alerts of my scope; false when the api cannot be reached.
  // Events that arrive while it reads are applied again on top of what it read: a list read
  // just before a change (an alarm raised again) must not undo that change.
  let during = null;
  async function loadList(gen) {
    const fresh = new Map();
    const seen = [];
    during = seen;
    let since = null;
    try {
      for (const state of ["open", "acknowledged"]) {
        let before = 0;
        for (let page = 0; page < MAX_PAGES; page++) {
          const list = await vagt.call("GET", "/api/v1/alerts?state=" + state + "&limit=500" + (before ? "&before=" + before : ""));
          if (!current(gen)) return true;
          if (since === null) since = list.last_event_id || 0;
          for (const a of list.alerts || []) fresh.set(a.id, a);
          before = list.next || 0;
          if (!before) break;
        }
      }
    } catch (err) {
      if (failed(err)) return true;
      setOffline(true);
      return false;
    } finally {
      if (during === seen) during = null;
    }
    alerts = fresh;
    lastEventId = since || 0;
    for (const e of seen) {
      if (e.n && e.n <= lastEventId) continue;
      if (e.n) lastEventId = e.n;
      change(e.a);
    }
    save();
    return true;
  }

  // save keeps the list (and who and where) for an offline start.
  function save() {
    const known = {};
    for (const [k, v] of people) if (v && v !== "loading") known[k] = v;
    vagtStore.set("last", { at: Date.now(), lastEventId, alerts: [...alerts.values()], people: known }).catch(() => {});
  }

  async function fromCache() {
    const last = await vagtStore.get("last").catch(() => null);
    if (!last) return;
    alerts = new Map(last.alerts.map((a) => [a.id, a]));
    for (const [k, v] of Object.entries(last.people || {})) people.set(k, v);
    lastEventId = last.lastEventId || 0;
    offlineSince = offlineSince || last.at;
    setOffline(true);
  }

  function setOffline(off) {
    if (off && !offlineSince) offlineSince = Date.now();
    if (!off) offlineSince = 0;
    document.body.classList.toggle("offline", off);
    const b = $("offline");
    b.hidden = !off;
    if (off) b.textContent = t("app.offlineSince", { time: vagtFormat.time(new Date(offlineSince)) });
    $("status").textContent = off ? t("console.status.reconnecting") : t("console.status.live");
    if (!off && !alerts.size) loadList(session.gen()).then(render);
    if (!off) notifyWaiting(); // what came with a list while the stream was down
  }

  // ---- events ----

  function dispatch(id, name, data) {
    let ev;
    try { ev = JSON.parse(data); } catch (_) { return; }
    if (name === "reset") {
      lastEventId = Number(ev.last_event_id) || 0;
      loadList(session.gen()).then(render);
      return;
    }
    const n = Number(id);
    if (n && n <= lastEventId) return;
    if (n) lastEventId = n;
    const a = ev && ev.alert;
    if (!a || !a.id) return;
    if (during) during.push({ n, a });
    const before = alerts.get(a.id);
    change(a);
    // A new alarm, one escalated to my tier, and one raised again after an acknowledgement
    // ring and notify.
    // An alarm escalated to my tier and one raised again after an acknowledgement notify
    // again; a new one notifies in render (as does one that came with a list).
    const again = waiting(a) && (name === "escalated" || name === "reraised" || (before && !waiting(before)));
    if (again) notified.delete(a.id);
    render();
    save();
  }

  function change(a) {
    if (a.state === "resolved") alerts.delete(a.id);
    else alerts.set(a.id, a);
    if (!waiting(a)) vagtRing.withdraw(a.id);
  }

  // waiting: an alarm that needs someone now — nobody acknowledged it, or the one who took
  // it is overdue (no "on my way" or arrival in time; anyone may take it over), so the tier
  // it escalated to hears it as a new one.
  function waiting(a) {
    return a.state === "open" || (a.state === "acknowledged" && !!a.overdue_at && !a.arrived_at);
  }

  function typeName(a) { return vagtI18n.has("console.type." + a.type) ? t("console.type." + a.type) : a.type.replace(/_/g, " "); }

  // notifyWaiting notifies once per alert (until it is raised again) for every critical or
  // high alarm nobody has acknowledged — whether it came as an event or with a list read
  // after a reconnect.
  const notified = new Set();
  function notifyWaiting() {
    if (offlineSince) return; // a list kept from before is not news
    for (const a of alerts.values()) {
      if (!waiting(a) || a.priority === "technical" || notified.has(a.id)) continue;
      notified.add(a.id);
      notify(a);
    }
  }

  function notify(a) {
    const p = people.get(homeKey(a));
    const who = p && p !== "loading" ? p.name + (p.address ? ", " + p.address : "") : t("app.notify.body");
    vagtRing.notify(a.id, typeName(a) + " — " + t("console.priority." + a.priority), who, a.priority === "critical",
      { ack: t("app.notify.ack"), open: t("app.notify.open") }).catch(() => {});
  }

  // ---- the list ----

  function homeKey(a) { return a.home ? "home:" + a.home : "gw:" + a.gateway; }
  function unfinished(a) { return !a.arrived_at; }

  // groups: one per citizen; critical and high first, then by who has waited longest (the
  // oldest alarm nobody has arrived at).
  function groups() {
    const byHome = new Map();
    for (const a of alerts.values()) {
      const k = homeKey(a);
      if (!byHome.has(k)) byHome.set(k, { key: k, alerts: [] });
      byHome.get(k).alerts.push(a);
    }
    const list = [...byHome.values()];
    for (const g of list) {
      // Within a citizen: what nobody has taken first, then by priority and age.
      g.alerts.sort((x, y) => (x.state === "open" ? 0 : 1) - (y.state === "open" ? 0 : 1) ||
        (RANK[x.priority] ?? 9) - (RANK[y.priority] ?? 9) || Date.parse(x.raised_at) - Date.parse(y.raised_at));
      g.rank = Math.min(...g.alerts.map((a) => RANK[a.priority] ?? 9));
      const waiting = g.alerts.filter(unfinished).map((a) => Date.parse(a.raised_at));
      g.since = waiting.length ? Math.min(...waiting) : Infinity;
    }
    return list.sort((x, y) => x.rank - y.rank || x.since - y.since);
  }

  function render() {
    const gs = groups();
    const active = document.activeElement;
    const focus = active && active.dataset && active.dataset.alert ? { id: active.dataset.alert, action: active.dataset.action } : null;
    $("groups").replaceChildren(...gs.map(groupCard));
    if (focus) {
      const b = document.querySelector(`button[data-alert="${focus.id}"][data-action="${focus.action}"]`) ||
        document.querySelector(`button[data-alert="${focus.id}"]`);
      if (b) b.focus();
    }
    $("empty").hidden = gs.length > 0;
    $("count").textContent = String(alerts.size);
    const loud = [...alerts.values()].filter((a) => waiting(a) && a.priority !== "technical");
    vagtRing.ring(loud.length > 0, loud.some((a) => a.priority === "critical"));
    notifyWaiting();
    loadPeople(gs);
  }

  function groupCard(g) {
    const first = g.alerts[0];
    const p = people.get(g.key);
    let name, where = "";
    if (!first.registered) {
      name = t("app.unknownHome");
      where = t("console.card.noAddress");
    } else if (p && p !== "loading") {
      name = p.name || t("app.citizen");
      where = p.address || "";
    } else {
      name = t("app.citizen");
    }
    const titleID = "g-" + first.id;
    return el("li", { class: "group prio-" + (["critical", "high", "technical"][g.rank] || "technical"), "data-key": g.key },
      el("article", { "aria-labelledby": titleID },
        el("h3", { id: titleID, class: "citizen", text: name }),
        where ? el("p", { class: "where", text: where }) : null,
        el("ol", {}, ...g.alerts.map((a) => item(a, titleID)))));
  }

  // mine: the assignee is me — by vagt user id, or by name for a user signed in through the
  // identity provider (id 0 on both sides says nothing).
  function mine(a) {
    if (!a.assignee || !me) return false;
    return a.assignee.id && me.user_id ? a.assignee.id === me.user_id : a.assignee.name === me.name;
  }

  // next is the one action that moves this alert on, or null.
  function next(a) {
    if (a.state === "open") return presence ? "take" : "ack";
    if (!presence) return "resolve";
    if (!a.assignee) return "take";
    if (!mine(a)) return waiting(a) ? "take" : null; // overdue: anyone may take it over
    if (!a.enroute_at && !a.arrived_at) return "enroute";
    if (!a.arrived_at) return "arrived";
    return "resolve";
  }

  function stateText(a) {
    if (a.arrived_at) return t("app.state.arrived", { by: a.assignee ? a.assignee.name : "", time: vagtFormat.time(a.arrived_at) });
    if (a.assignee && a.state === "acknowledged" && waiting(a) && !mine(a)) return t("app.state.overdue", { by: a.assignee.name });
    if (a.enroute_at) return t("app.state.enroute", { by: a.assignee ? a.assignee.name : "" });
    if (a.assignee) return t("app.state.taken", { by: a.assignee.name });
    if (a.state === "acknowledged") return t("console.card.ackBy", { by: a.acknowledged_by || "?" });
    return t("app.state.open");
  }

  function item(a, groupTitle) {
    const itemID = "a-" + a.id;
    const waited = Math.max(0, Math.floor((Date.now() - Date.parse(a.raised_at)) / 1000));
    const n = next(a);
    const buttons = [];
    const btn = (action, primary, label) => el("button", { type: "button", class: (primary ? "primary " : "") + "big", "data-action": action,
      "data-alert": a.id, "aria-describedby": groupTitle + " " + itemID, text: t("app.action." + (label || action)) });
    // Taking an alert somebody else holds is taking it over from them (they are overdue).
    if (n) buttons.push(btn(n, true, n === "take" && a.assignee && !mine(a) ? "takeOver" : ""));
    if (n !== "resolve" && a.state !== "open" && (!presence || !a.assignee || mine(a))) buttons.push(btn("resolve", false));
    // The assignee may hand the alert back until they arrive: it is open again for the others.
    if (presence && mine(a) && !a.arrived_at) buttons.push(btn("release", false));
    const msg = messages.get(a.id);
    return el("li", { class: "item", "data-id": a.id, "data-type": a.type, "data-state": a.state, "data-priority": a.priority },
      el("p", { class: "what", id: itemID },
        el("span", { class: "prio-" + a.priority, text: typeName(a) + (a.count > 1 ? " ×" + a.count : "") }),
        el("span", { class: "since", "data-since": a.raised_at, text: t("app.waited", { time: vagtFormat.duration(waited) }) })),
      el("p", { class: "state", text: stateText(a) }),
      msg ? el("p", { class: "msg", role: "alert", text: msg }) : null,
      buttons.length ? el("div", { class: "next" }, ...buttons) : null);
  }

  // loadPeople reads who and where once per citizen (each read is audited by the api).
  function loadPeople(gs) {
    const gen = session.gen();
    for (const g of gs) {
      const a = g.alerts[0];
      if (!a.registered || people.has(g.key) || offlineSince) continue;
      people.set(g.key, "loading");
      vagt.call("GET", "/api/v1/alerts/" + a.id).then((d) => {
        if (!current(gen)) return;
        people.set(g.key, d.citizen ? { name: d.citizen.name, address: d.citizen.address } : null);
        render();
        save();
      }, (err) => {
        if (!current(gen) || failed(err)) return;
        if (err.status === 403 || err.status === 404) people.set(g.key, null);
        else people.delete(g.key);
      });
    }
  }

  // show brings one alert's next action into view and focus ("Åbn" on its notification).
  function show(id) {
    const b = document.querySelector(`button[data-alert="${Number(id)}"]`) || document.querySelector(`li.item[data-id="${Number(id)}"]`);
    if (!b) return;
    b.scrollIntoView({ block: "center" });
    if (b.tagName === "BUTTON") b.focus();
  }

  // ---- actions ----

  function toast(text) {
    const box = $("toast");
    box.textContent = text;
    box.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { box.hidden = true; }, 6000);
  }

  const ROUTES = { ack: "ack", take: "take", enroute: "enroute", arrived: "arrived", release: "release" };

  async function act(id, action, button) {
    if (action === "resolve") {
      openResolve(id);
      return;
    }
    vagtRing.unlock(); // a tap: let the tone sound from now on
    if (button) button.disabled = true;
    try {
      const a = await vagt.call("POST", "/api/v1/alerts/" + id + "/" + ROUTES[action]);
      messages.delete(id);
      if (a && a.id) alerts.set(a.id, a);
      vagtRing.withdraw(id);
      if (action === "release") toast(t("app.released"));
    } catch (err) {
      if (failed(err)) return;
      messages.set(id, err.status === 409 ? t("app.conflict", { by: err.by || "?" }) : t("app.actionFailed", { message: err.message }));
      if (err.status === 409) loadList(session.gen()).then(render);
    } finally {
      if (button) button.disabled = false;
    }
    render();
    save();
  }

  function openResolve(id) {
    const a = alerts.get(id);
    if (!a) return;
    resolveID = id;
    showResolving(a);
    $("outcome").value = "";
    $("resolve-note").value = "";
    $("resolve-error").hidden = true;
    $("resolve").showModal();
    $("outcome").focus();
  }

  // showResolving puts alert a in the resolve dialog with its presses, and takes its count
  // as what the person saw: the resolve sends it, and the api refuses it (409 stale) if
  // the citizen pressed again meanwhile.
  function showResolving(a) {
    const p = people.get(homeKey(a));
    $("resolve-what").textContent = typeName(a) + (p && p.name ? " — " + p.name : "");
    $("resolve-presses").textContent = t("app.resolve.presses", { count: a.count, time: vagtFormat.time(a.last_at) });
    resolveSeen = a.count;
  }

  // restale: a press came since the dialog opened. Read the alert again and show it, keeping
  // the chosen outcome and the note, so the person decides again on what it is now.
  async function restale(id, errBox) {
    const read = await vagt.rereadStale(id, errBox, {
      failed: (err) => (failed(err) ? "" : t("app.actionFailed", { message: err.message })),
      resolved: (a) => {
        alerts.delete(id);
        vagtRing.withdraw(id);
        return t("app.conflict", { by: a.resolved_by || "?" });
      },
      open: (a) => {
        alerts.set(id, a);
        if (id === resolveID) showResolving(a);
        return t("app.resolve.stale", { count: a.count, time: vagtFormat.time(a.last_at) });
      },
    });
    if (!read) return;
    render();
    save();
  }

  async function submitResolve(ev) {
    ev.preventDefault();
    const outcome = $("outcome").value;
    const errBox = $("resolve-error");
    if (!outcome) {
      errBox.textContent = t("app.resolve.needOutcome");
      errBox.hidden = false;
      $("outcome").focus();
      return;
    }
    try {
      await vagt.call("POST", "/api/v1/alerts/" + resolveID + "/resolve", { outcome, note: $("resolve-note").value.trim(), seen: { count: resolveSeen } });
      alerts.delete(resolveID);
      vagtRing.withdraw(resolveID);
      $("resolve").close();
      toast(t("app.resolved"));
      render();
      save();
      $("groups-title").focus();
    } catch (err) {
      if (failed(err)) return;
      errBox.hidden = false;
      if (err.code === "stale") await restale(resolveID, errBox);
      else errBox.textContent = err.status === 409 ? t("app.conflict", { by: err.by || "?" }) : t("app.actionFailed", { message: err.message });
    }
  }

  // ---- duty and sound ----

  function showRing(st) {
    $("duty").checked = st.duty;
    const box = $("duty-status");
    let text;
    if (!st.duty) text = t("app.duty.off");
    else if (st.rings && st.audio === "on") text = t("app.duty.rings");
    else if (st.rings) text = t("app.duty.notifyOnly");
    else text = t("app.duty.silent");
    box.textContent = text;
    box.className = "duty-status " + (st.duty && st.rings ? "rings" : "silent");
    const sound = $("sound");
    sound.setAttribute("aria-pressed", String(st.sound));
    sound.textContent = !st.sound ? t("console.soundOff") : st.audio === "on" ? t("console.soundOn") : t("app.sound.tapToEnable");
    $("unlock").hidden = !(st.duty && st.sound && st.audio === "blocked");
  }

  function tick() {
    for (const s of document.querySelectorAll(".since[data-since]")) {
      const waited = Math.max(0, Math.floor((Date.now() - Date.parse(s.dataset.since)) / 1000));
      s.textContent = t("app.waited", { time: vagtFormat.duration(waited) });
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    // The app starts with the token this phone kept; a tap on "Log ind" lets the tone sound.
    session = vagt.signedIn({ shows: ["app"], start, stop, token: restoreToken, me: whoAmI, submitted: () => vagtRing.unlock() });
    if ("serviceWorker" in navigator) {
      navigator.serviceWorker.register("/app/sw.js", { scope: "/app" }).catch((err) => console.error("vagt: service worker:", err));
      navigator.serviceWorker.addEventListener("message", (ev) => {
        const m = ev.data || {};
        if (m.type === "acked" && m.status >= 200 && m.status < 300) toast(t("app.ackedFromNotification"));
        if (m.type === "acked") loadList(session.gen()).then(render);
        if (m.type === "open") loadList(session.gen()).then(() => { render(); show(m.id); });
      });
    }
    $("groups").addEventListener("click", (ev) => {
      const b = ev.target.closest("button[data-action]");
      if (b) act(Number(b.dataset.alert), b.dataset.action, b);
    });
    $("resolve-form").addEventListener("submit", submitResolve);
    $("resolve-cancel").addEventListener("click", () => $("resolve").close());
    $("duty").addEventListener("change", (ev) => vagtRing.setDuty(ev.target.checked).then(render));
    $("sound").addEventListener("click", () => {
      const st = vagtRing.status();
      vagtRing.setSound(!st.sound || st.audio !== "on");
    });
    $("unlock").addEventListener("click", () => vagtRing.unlock());
    vagtRing.onChange(showRing);
    setInterval(tick, 1000);
  });

  vagt.whenReady(() => {
    vagtI18n.mountSwitch($("lang"));
    vagtStore.set("lang", vagtI18n.lang()).catch(() => {});
    vagtI18n.onChange((l) => {
      vagtStore.set("lang", l).catch(() => {});
      showRing(vagtRing.status());
      if (offlineSince) setOffline(true);
      render();
    });
    showRing(vagtRing.status());
    vagtRing.keepAwake();
  });
})();
