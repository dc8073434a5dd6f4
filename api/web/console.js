// console.js: the care console. It lists the open and acknowledged alerts of the signed-in
// staff member's districts, keeps the list live from /api/v1/alerts/stream, and acts on
// alerts (acknowledge, resolve, notes).
//
// The console lists first and opens the stream (stream.js) with the list's last_event_id as
// Last-Event-ID, and reconnects with the id of the last event it applied, so nothing is
// missed in between.
"use strict";

(() => {
  const { el } = vagt;
  const $ = (id) => document.getElementById(id);

  const { t, tNodes } = vagtI18n;
  const RANK = { critical: 0, high: 1, technical: 2 };
  // Names of the API's codes in the page's language; an unknown code shows as itself.
  const named = (group, code) => (vagtI18n.has("console." + group + "." + code) ? t("console." + group + "." + code) : code);
  const typeName = (c) => named("type", c);
  const tierName = (c) => named("tier", c);
  const prioName = (c) => named("priority", c);
  const outcomeName = (c) => named("outcome", c);
  const roleName = (c) => (vagtI18n.has("common.role." + c) ? t("common.role." + c) : c);
  const MAX_PAGES = 20;

  let me = null;
  let alerts = new Map(); // id → alert
  const people = new Map(); // alert id → {name, address} | "loading" | null (not allowed)
  const messages = new Map(); // alert id → a message to show on its card (a conflict)
  let lastEventId = 0;
  let stopStream = null;
  let connected = false;
  let laneUp = null; // null: the server said nothing (no lane configured); false: alarms cannot arrive
  let soundOn = true;
  let audio = null;
  let detailID = 0;
  let resolveID = 0;
  let resolveSeen = 0; // the alert's count of presses as the resolve dialog shows it: what the person decides on

  // canAct: only care staff acknowledge, resolve and see who and where (the API enforces
  // it; the console does not offer what would be refused).
  function canAct() { return !!me && me.role === "staff"; }

  // ---- sign-in ----

  // session: the sign-in form, "Log ud" and the session number (common.js); set at
  // DOMContentLoaded.
  let session = null;
  const failed = (err) => session.failed(err);
  const signOut = (message) => session.signOut(message);

  // stop forgets the session's list and closes its stream and dialogs.
  function stop() {
    if (stopStream) stopStream();
    stopStream = null;
    alerts = new Map();
    people.clear();
    messages.clear();
    for (const d of document.querySelectorAll("dialog[open]")) d.close();
    $("alerts").replaceChildren();
    document.title = t("console.title");
  }

  async function start(who, gen) {
    me = who;
    $("who-name").textContent = me.name + " · " + roleName(me.role);
    $("to-dashboard").hidden = !["manager", "national", "admin"].includes(me.role);
    $("read-only").hidden = canAct();
    setStatus(t("console.status.loading"));
    // The list comes first: the stream resumes from its last_event_id. Until it loads, the
    // banner says so and the console keeps trying.
    for (let attempt = 1; ; attempt++) {
      try {
        await loadList(gen);
        break;
      } catch (err) {
        if (!session.current(gen) || failed(err)) return;
        if (err.status === 403) {
          signOut(t("console.noAccess", { role: roleName(me.role) }));
          return;
        }
        setConnected(false);
        setStatus(t("console.status.retry", { message: err.message }));
        await sleep(Math.min(1000 * attempt, 10000));
        if (!session.current(gen)) return;
      }
    }
    render();
    stream(gen);
  }

  // loadList reads the unresolved alerts of my scope, every page.
  async function loadList(gen) {
    const fresh = new Map();
    let since = null;
    for (const state of ["open", "acknowledged"]) {
      let before = 0;
      for (let page = 0; page < MAX_PAGES; page++) {
        const list = await vagt.call("GET", "/api/v1/alerts?state=" + state + "&limit=500" + (before ? "&before=" + before : ""));
        if (!session.current(gen)) return;
        if (since === null) since = list.last_event_id || 0;
        for (const a of list.alerts || []) fresh.set(a.id, a);
        before = list.next || 0;
        if (!before) break;
      }
    }
    alerts = fresh;
    lastEventId = since || 0;
  }

  // ---- the stream ----

  function setConnected(on) {
    connected = on;
    $("banner").hidden = on;
    document.body.classList.toggle("offline", !on);
    showStatus();
  }

  // showStatus never says "Live" while the server says alarms cannot arrive.
  function showStatus() {
    if (!connected) setStatus(t("console.status.reconnecting"));
    else if (laneUp === false) setStatus(t("console.lane.status"));
    else setStatus(t("console.status.live"));
  }

  // setLane shows the alarm lane's state (the stream's lane event) at once.
  function setLane(st) {
    const was = laneUp;
    laneUp = !!(st && st.subscribed);
    const b = $("lane-banner");
    b.textContent = t("console.lane.down");
    b.hidden = laneUp;
    document.body.classList.toggle("lane-down", !laneUp);
    document.body.dataset.lane = laneUp ? "up" : "down";
    showStatus();
    if (was === false && laneUp) {
      toast(t("console.lane.back"));
      reload(); // alarms that waited at the broker arrive as events; the list is reread to be sure
    }
  }

  // reload rereads the list (a reset event, the lane back) without dropping the stream.
  // Events that arrive while the list is read are applied again on top of it, so a list
  // read just before an alarm's commit cannot hide that alarm.
  let reloading = null;
  async function reload() {
    if (reloading) return; // one at a time; the one running will see what came meanwhile
    const gen = session.gen();
    reloading = [];
    try {
      await loadList(gen);
      if (!session.current(gen)) return;
      for (const e of reloading) {
        if (e.n > lastEventId) lastEventId = e.n;
        apply(e.name, e.a, true);
      }
      render();
    } catch (err) {
      if (session.current(gen)) failed(err);
    } finally {
      reloading = null;
    }
  }

  function setStatus(text) { $("status").textContent = text; }

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  // stream keeps the list live from the stream (stream.js). The console is on an office
  // screen: it reconnects within 2, 4, then 6 s (longer only when the server asks).
  function stream(gen) {
    if (stopStream) stopStream();
    stopStream = vagtStream.open({
      token: vagt.token,
      lastEventId: () => lastEventId,
      event: (id, name, data) => { if (session.current(gen)) dispatch(id, name, data); },
      connected: (on) => { if (session.current(gen)) setConnected(on); },
      refused: () => { if (session.current(gen)) failed(new vagt.APIError(401, "unauthenticated", "")); },
      wait: (failures, asked) => {
        const delay = Math.min(asked || 2000, 60000);
        return Math.min(delay * Math.min(failures, 3), Math.max(10000, delay));
      },
    });
  }

  function dispatch(id, name, data) {
    let ev;
    try {
      ev = JSON.parse(data);
    } catch (_) {
      return;
    }
    if (name === "lane") { // no id: this server's state, not an alert change
      setLane(ev);
      return;
    }
    if (name === "reset") { // resumed from an id this server never reached: start over
      lastEventId = Number(ev.last_event_id) || 0;
      toast(t("console.lane.reset"));
      reload();
      return;
    }
    const n = Number(id);
    if (n && n <= lastEventId) return;
    if (n) lastEventId = n;
    const a = ev && ev.alert;
    if (!a || !a.id) return;
    if (reloading) reloading.push({ n, name, a }); // the list being read may predate it
    apply(name, a);
    render();
  }

  // apply puts one alert change into the list; quiet: no tone (a change applied again).
  function apply(name, a, quiet) {
    if (a.state === "resolved") {
      alerts.delete(a.id);
      messages.delete(a.id);
      people.delete(a.id);
      if (detailID === a.id) refreshDetail();
    } else {
      const isNew = !alerts.has(a.id);
      alerts.set(a.id, a);
      if (!quiet && a.priority === "critical" && a.state === "open" && (name === "escalated" || name === "reraised" || (name === "new" && isNew))) cue();
      if (detailID === a.id) refreshDetail();
    }
  }

  // ---- cues ----

  function cue() {
    if (!soundOn) return;
    try {
      audio = audio || new AudioContext();
      const t = audio.currentTime;
      for (const [start, freq] of [[0, 880], [0.25, 660], [0.5, 880]]) {
        const o = audio.createOscillator(), g = audio.createGain();
        o.frequency.value = freq;
        g.gain.setValueAtTime(0.2, t + start);
        g.gain.exponentialRampToValueAtTime(0.001, t + start + 0.22);
        o.connect(g).connect(audio.destination);
        o.start(t + start);
        o.stop(t + start + 0.23);
      }
    } catch (_) { /* no audio here */ }
  }

  // ---- the list ----

  function order(a, b) {
    return (RANK[a.priority] ?? 9) - (RANK[b.priority] ?? 9) ||
      (a.state === "open" ? 0 : 1) - (b.state === "open" ? 0 : 1) ||
      Date.parse(b.raised_at) - Date.parse(a.raised_at) || b.id - a.id;
  }

  // since is the time since an alarm, counting: "45 s", "3 min 5 s", "1 t 5 min", "3 døgn".
  function since(iso) {
    return vagtFormat.duration(Math.max(0, Math.floor((Date.now() - Date.parse(iso)) / 1000)));
  }

  function render() {
    const list = $("alerts");
    const sorted = [...alerts.values()].sort(order);
    // Keep the keyboard focus where it was across the re-render.
    const active = document.activeElement;
    const focusCard = active && active.closest ? active.closest("li.alert") : null;
    const focus = focusCard ? { id: focusCard.dataset.id, action: active.dataset.action } : null;

    const cards = new Map([...list.children].map((li) => [li.dataset.id, li]));
    const want = sorted.map((a) => {
      const key = String(a.id);
      const version = JSON.stringify([a, people.get(a.id) || null, messages.get(a.id) || ""]);
      let li = cards.get(key);
      if (!li || li.dataset.version !== version) {
        const fresh = card(a);
        fresh.dataset.version = version;
        if (li) li.replaceWith(fresh);
        li = fresh;
      }
      cards.delete(key);
      return li;
    });
    for (const gone of cards.values()) gone.remove();
    want.forEach((li, i) => {
      if (list.children[i] !== li) list.insertBefore(li, list.children[i] || null);
    });
    if (focus) {
      const li = list.querySelector('li.alert[data-id="' + focus.id + '"]');
      const target = li && (li.querySelector('[data-action="' + focus.action + '"]') || li.querySelector("button"));
      if (target && document.activeElement !== target) target.focus();
    }
    $("empty").hidden = sorted.length > 0;
    $("alert-count").textContent = String(sorted.length);
    const waiting = sorted.filter((a) => a.priority === "critical" && a.state === "open").length;
    document.title = (waiting ? "(" + waiting + ") " : "") + t("console.title");
    loadPeople(sorted);
  }

  // unsynced: the gateway could not trust its clock; the alert is dated by when the
  // platform received it, and the gateway's own time is in details.gateway_time.
  function unsynced(a) { return !!(a.details && a.details.clock === "unsynced"); }

  function card(a) {
    const type = typeName(a.type);
    const person = people.get(a.id);
    const titleID = "alert-" + a.id + "-title";
    let who, where;
    if (!a.registered) {
      who = t("console.card.unregistered", { gateway: a.gateway });
      where = t("console.card.noAddress");
    } else if (person && person !== "loading") {
      who = person.name || "—";
      where = person.address || "—";
    } else if (person === null || !canAct()) {
      who = t("console.card.home", { home: a.home || a.gateway });
      where = "";
    } else {
      who = "…";
      where = "";
    }
    const level = a.escalation_level || 0;
    const msg = messages.get(a.id);
    let state = null;
    if (a.state === "acknowledged") {
      state = el("p", { class: "state" }, ...tNodes("console.card.ackBy", { by: el("strong", { text: a.acknowledged_by || t("common.someone") }) }),
        a.acknowledged_at ? t("console.card.ackAt", { time: vagt.fmtTime(a.acknowledged_at) }) : "");
    }
    return el("li", { class: "alert prio-" + a.priority + " state-" + a.state + (level ? " escalated" : ""), "data-id": a.id, "data-type": a.type, "data-state": a.state, "data-priority": a.priority },
      el("article", { "aria-labelledby": titleID },
        el("div", { class: "row1" },
          el("span", { class: "badge prio", text: prioName(a.priority) }),
          ...vagtEdges.cardBadges(a),
          el("h3", { id: titleID, class: "type", text: type + (a.count > 1 ? " ×" + a.count : "") }),
          el("span", { class: "since", "data-since": a.raised_at, title: t("console.card.raised", { time: vagt.fmtTime(a.raised_at) }), text: since(a.raised_at) })),
        el("p", { class: "who", text: who }),
        where ? el("p", { class: "where", text: where }) : null,
        el("p", { class: "meta" },
          el("span", { class: "level" + (level ? " up" : ""), text: t("console.card.level", { level, tier: tierName(a.tier) }) }),
          a.cleared_at ? el("span", { class: "cleared", text: t("console.card.cleared", { time: vagt.fmtTime(a.cleared_at) }) }) : null,
          el("span", { class: "dev", text: a.gateway + " / " + a.device }),
          unsynced(a) ? el("span", { class: "unsynced", title: t("console.unsynced.long", { time: a.details.gateway_time }), text: t("console.unsynced.short") }) : null),
        state,
        msg ? el("p", { class: "msg", role: "alert", text: msg }) : null,
        canAct() && el("div", { class: "actions" },
          a.state === "open" ? el("button", { type: "button", class: "primary", "data-action": "ack", "aria-describedby": titleID, text: t("console.action.ack") }) : null,
          el("button", { type: "button", "data-action": "resolve", "aria-describedby": titleID, text: t("console.action.resolve") }),
          el("button", { type: "button", "data-action": "detail", "aria-describedby": titleID, text: t("console.action.detail") }))));
  }

  // loadPeople fetches who and where for alerts that do not have it yet. Each read is
  // audited by the API (alert.read), so it is done once per alert and session.
  function loadPeople(sorted) {
    const gen = session.gen();
    if (!canAct()) return;
    for (const a of sorted) {
      if (!a.registered || people.has(a.id)) continue;
      people.set(a.id, "loading");
      vagt.call("GET", "/api/v1/alerts/" + a.id).then((d) => {
        if (!session.current(gen)) return;
        people.set(a.id, d.citizen ? { name: d.citizen.name, address: d.citizen.address } : null);
        render();
      }, (err) => {
        if (!session.current(gen) || failed(err)) return;
        if (err.status === 403 || err.status === 404) people.set(a.id, null);
        else people.delete(a.id); // try again on the next render
        render();
      });
    }
  }

  function tick() {
    for (const s of document.querySelectorAll(".since[data-since]")) s.textContent = since(s.dataset.since);
  }

  // ---- actions ----

  function toast(text) {
    const box = $("toast");
    box.textContent = text;
    box.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { box.hidden = true; }, 6000);
  }

  function conflictText(err) {
    const m = /already (acknowledged|resolved)/.exec(err.message || "");
    const what = m ? m[1] : "taken";
    return t("console.conflict." + what, { by: err.by || t("console.conflict.someoneElse") });
  }

  async function ack(id, button) {
    if (button) button.disabled = true;
    try {
      const a = await vagt.call("POST", "/api/v1/alerts/" + id + "/ack");
      messages.delete(id);
      if (a.state !== "resolved") alerts.set(a.id, a);
      toast(t("console.toast.acked", { id: String(id) }));
    } catch (err) {
      if (failed(err)) return;
      if (err.status === 409) {
        messages.set(id, conflictText(err));
        // The answer is the truth until the stream says more: somebody has it.
        const a = alerts.get(id);
        if (a && /already acknowledged/.test(err.message) && a.state === "open") {
          const at = / at (\S+)$/.exec(err.message);
          alerts.set(id, { ...a, state: "acknowledged", acknowledged_by: err.by, acknowledged_at: at ? at[1] : undefined, escalate_at: undefined });
        } else if (/already resolved/.test(err.message)) {
          alerts.delete(id);
          toast(conflictText(err));
        }
      } else {
        messages.set(id, t("console.error.ack", { message: err.message }));
      }
    } finally {
      if (button) button.disabled = false;
    }
    render();
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
    const person = people.get(a.id);
    $("resolve-what").textContent = t("console.resolve.what", { type: typeName(a.type), name: person && person.name ? " — " + person.name : "", id: String(a.id) });
    $("resolve-presses").textContent = t("console.resolve.presses", { count: a.count, time: vagt.fmtTime(a.last_at) });
    resolveSeen = a.count;
  }

  // restale: a press came since the dialog opened. Read the alert again and show it, keeping
  // the chosen outcome and the note, so the person decides again on what it is now.
  async function restale(id, errBox) {
    const remember = (citizen) => {
      if (citizen) people.set(id, { name: citizen.name, address: citizen.address });
    };
    const read = await vagt.rereadStale(id, errBox, {
      failed: (err) => (failed(err) ? "" : t("console.error.resolve", { message: err.message })),
      resolved: (a, citizen) => {
        remember(citizen);
        alerts.delete(id);
        return t("console.conflict.resolved", { by: a.resolved_by || t("console.conflict.someoneElse") });
      },
      open: (a, citizen) => {
        remember(citizen);
        alerts.set(id, a);
        if (id === resolveID) showResolving(a);
        return t("console.resolve.stale", { count: a.count, time: vagt.fmtTime(a.last_at) });
      },
    });
    if (read) render();
  }

  async function submitResolve(ev) {
    ev.preventDefault();
    const outcome = $("outcome").value;
    const errBox = $("resolve-error");
    if (!outcome) {
      errBox.textContent = t("console.resolve.needOutcome");
      errBox.hidden = false;
      $("outcome").focus();
      return;
    }
    const id = resolveID;
    const submit = ev.submitter || $("resolve-form").querySelector("button[type=submit]");
    submit.disabled = true;
    try {
      await vagt.call("POST", "/api/v1/alerts/" + id + "/resolve", { outcome, note: $("resolve-note").value.trim(), seen: { count: resolveSeen } });
      alerts.delete(id);
      messages.delete(id);
      $("resolve").close();
      // The card is gone: put the focus on the next alert rather than nowhere.
      const cards = [...$("alerts").children];
      const at = cards.findIndex((li) => Number(li.dataset.id) === id);
      const next = cards[at + 1] || cards[at - 1];
      toast(t("console.toast.resolved", { id: String(id), outcome: outcomeName(outcome) }));
      render();
      if (next && next.isConnected) next.querySelector("button").focus();
      else $("alerts-title").focus();
    } catch (err) {
      if (failed(err)) return;
      errBox.hidden = false;
      if (err.code === "stale") await restale(id, errBox);
      else errBox.textContent = err.status === 409 ? conflictText(err) : t("console.error.resolve", { message: err.message });
    } finally {
      submit.disabled = false;
    }
  }

  // ---- detail ----

  async function openDetail(id) {
    detailID = id;
    $("detail-title").textContent = t("console.detail.alert", { id: String(id) });
    $("detail-body").replaceChildren(el("p", { class: "help", text: t("common.loading") }));
    $("note-text").value = "";
    if (!$("detail").open) $("detail").showModal();
    await refreshDetail();
  }

  async function refreshDetail() {
    const id = detailID;
    if (!id) return;
    let d;
    try {
      d = await vagt.call("GET", "/api/v1/alerts/" + id);
    } catch (err) {
      if (failed(err)) return;
      if (id === detailID) $("detail-body").replaceChildren(el("p", { class: "error", text: t("console.error.detail", { message: err.message }) }));
      return;
    }
    if (id !== detailID) return;
    if (d.citizen) people.set(id, { name: d.citizen.name, address: d.citizen.address });
    $("detail-title").textContent = t("console.detail.typeAlert", { type: typeName(d.type), id: String(d.id) });
    $("detail-body").replaceChildren(...detailView(d));
  }

  function dl(pairs) {
    const out = el("dl", { class: "facts" });
    for (const [k, v] of pairs) {
      if (v === undefined || v === null || v === "") continue;
      out.append(el("dt", { text: k }), el("dd", {}, v));
    }
    return out;
  }

  function detailView(d) {
    const parts = [];
    const stateText = d.state === "open" ? t("console.detail.open") :
      d.state === "acknowledged" ? t("console.detail.acked", { by: d.acknowledged_by, time: vagt.fmtTime(d.acknowledged_at) }) :
        t("console.detail.resolved", { by: d.resolved_by, outcome: outcomeName(d.outcome) });
    parts.push(dl([
      [t("console.detail.priority"), el("span", {}, el("span", { class: "badge prio prio-" + d.priority, text: prioName(d.priority) }), " ", ...vagtEdges.cardBadges(d))],
      [t("console.detail.state"), stateText],
      [t("console.detail.raised"), t("console.detail.raisedAgo", { time: vagt.fmtTime(d.raised_at), since: since(d.raised_at) }) +
        (d.count > 1 ? t("console.detail.repeated", { count: d.count, time: vagt.fmtTime(d.last_at) }) : "")],
      [t("console.detail.gatewayClock"), unsynced(d) ? el("span", { class: "unsynced", text: t("console.unsynced.long", { time: d.details.gateway_time }) }) : ""],
      [t("console.detail.escalation"), t("console.detail.level", { level: d.escalation_level || 0, tier: tierName(d.tier) })],
      [t("console.detail.device"), d.gateway + " / " + d.device],
    ]));
    if (canAct() && d.state !== "resolved") {
      parts.push(el("div", { class: "actions" },
        d.state === "open" ? el("button", { type: "button", class: "primary", "data-detail-action": "ack", text: t("console.action.ack") }) : null,
        el("button", { type: "button", "data-detail-action": "resolve", text: t("console.action.resolve") })));
    }
    parts.push(...vagtGPS.detailParts(d)); // gps.js: last seen and the drawn map of a tracker's alert
    parts.push(...vagtEdges.detailParts(d, canAct(), refreshDetail)); // edges.js: away, test mode
    const c = d.citizen;
    parts.push(el("h3", { text: t("console.detail.citizen") }));
    if (c) {
      parts.push(dl([
        [t("console.detail.name"), el("strong", { class: "citizen-name", text: c.name })],
        [t("console.detail.address"), c.address],
        [t("console.detail.keyBox"), c.key_box_note ? el("span", { class: "keybox", text: c.key_box_note }) : "—"],
      ]));
      if (c.contacts && c.contacts.length) {
        parts.push(el("h4", { text: t("console.detail.contacts") }), el("ul", { class: "contacts" },
          ...c.contacts.map((p) => el("li", {}, el("strong", { text: p.name }), p.relation ? " (" + p.relation + ") " : " ",
            el("a", { href: "tel:" + p.phone.replace(/[^+\d]/g, ""), text: p.phone })))));
      }
    } else {
      parts.push(el("p", { class: "help", text: d.registered ? t("console.detail.noCitizen") : t("console.detail.unregistered") }));
    }
    parts.push(el("h3", { text: t("console.detail.devices") }));
    if (d.devices && d.devices.length) {
      const rows = d.devices.map((v) => el("tr", {},
        el("td", { text: v.label || v.id }), el("td", { text: vagt.techName(v.technology) }),
        el("td", { text: v.last_seen ? vagt.fmtTime(v.last_seen) : t("common.never") }),
        el("td", { class: "num", text: v.battery > 0 ? vagtFormat.percent(v.battery / 100) : "—" })));
      parts.push(el("div", { class: "table-wrap" }, el("table", { class: "devices" },
        el("caption", { class: "sr-only", text: t("console.detail.devicesCaption") }),
        el("thead", {}, el("tr", {}, ...[t("console.detail.deviceCol"), t("console.detail.technologyCol"), t("console.detail.lastSeenCol"), t("console.detail.batteryCol")].map((h, i) => el("th", { scope: "col", class: i === 3 ? "num" : null, text: h })))),
        el("tbody", {}, ...rows))));
    } else {
      parts.push(el("p", { class: "help", text: t("console.detail.noDevices") }));
    }
    parts.push(el("h3", { text: t("console.detail.notes") }));
    if (d.notes && d.notes.length) {
      parts.push(el("ol", { class: "notes" }, ...d.notes.map((n) => el("li", {},
        el("span", { class: "note-meta", text: n.author + ", " + vagt.fmtTime(n.at) }), el("span", { class: "note-text", text: n.text })))));
    } else {
      parts.push(el("p", { class: "help", text: t("console.detail.noNotes") }));
    }
    if (d.escalations && d.escalations.length) {
      parts.push(el("h3", { text: t("console.detail.escalations") }), el("ol", { class: "notes" },
        ...d.escalations.map((e) => el("li", { text: t("console.detail.levelAt", { level: e.level, tier: tierName(e.tier), time: vagt.fmtTime(e.at) }) }))));
    }
    return parts;
  }

  async function submitNote(ev) {
    ev.preventDefault();
    const text = $("note-text").value.trim();
    if (!text || !detailID) return;
    const submit = ev.submitter || $("note-form").querySelector("button[type=submit]");
    submit.disabled = true;
    try {
      await vagt.call("POST", "/api/v1/alerts/" + detailID + "/notes", { text });
      $("note-text").value = "";
      await refreshDetail();
    } catch (err) {
      if (failed(err)) return;
      toast(t("console.error.note", { message: err.message }));
    } finally {
      submit.disabled = false;
    }
  }

  // ---- wiring ----

  function soundLabel() { $("sound-toggle").textContent = soundOn ? t("console.soundOn") : t("console.soundOff"); }

  // relabel redraws everything with text after a switch of language, keeping the list, the
  // stream and an open dialog.
  function relabel() {
    for (const li of $("alerts").children) li.dataset.version = "";
    if (me) $("who-name").textContent = me.name + " · " + roleName(me.role);
    soundLabel();
    if (laneUp === false) $("lane-banner").textContent = t("console.lane.down");
    if (!$("console").hidden) {
      showStatus();
      render();
    }
    if (detailID) refreshDetail();
  }

  document.addEventListener("DOMContentLoaded", () => {
    vagtI18n.onChange(relabel);
    session = vagt.signedIn({ shows: ["console", "who"], hides: ["banner"], start, stop });
    $("sound-toggle").addEventListener("click", (ev) => {
      soundOn = !soundOn;
      ev.currentTarget.setAttribute("aria-pressed", String(soundOn));
      soundLabel();
    });
    $("alerts").addEventListener("click", (ev) => {
      const b = ev.target.closest("button[data-action]");
      if (!b) return;
      const id = Number(b.closest("li.alert").dataset.id);
      if (b.dataset.action === "ack") ack(id, b);
      else if (b.dataset.action === "resolve") openResolve(id);
      else if (b.dataset.action === "detail") openDetail(id);
    });
    $("resolve-form").addEventListener("submit", submitResolve);
    $("note-form").addEventListener("submit", submitNote);
    for (const d of document.querySelectorAll("dialog")) {
      d.addEventListener("click", (ev) => {
        if (ev.target.closest("[data-close]")) d.close();
      });
    }
    $("detail").addEventListener("close", () => { detailID = 0; });
    $("detail-body").addEventListener("click", async (ev) => {
      const b = ev.target.closest("button[data-detail-action]");
      if (!b || !detailID) return;
      const id = detailID;
      if (b.dataset.detailAction === "ack") {
        await ack(id, b);
        await refreshDetail();
      } else {
        $("detail").close();
        openResolve(id);
      }
    });
    setInterval(tick, 1000);
  });
})();
