// console.js: the care console. It lists the open and acknowledged alerts of the signed-in
// staff member's districts, keeps the list live from /api/v1/alerts/stream, and acts on
// alerts (acknowledge, resolve, notes).
//
// The stream is read with fetch() and a ReadableStream, not EventSource: EventSource cannot
// send the Authorization header, and the token must not go into a URL. The console lists
// first and opens the stream with the list's last_event_id as Last-Event-ID, and reconnects
// with the id of the last event it applied, so nothing is missed in between.
"use strict";

(() => {
  const { el } = vagt;
  const $ = (id) => document.getElementById(id);

  const TYPES = {
    panic: "Panic button", fall: "Fall", smoke: "Smoke alarm", door_at_night: "Door opened at night",
    bed_exit: "Out of bed", inactivity: "No activity", water_leak: "Water leak",
    low_temperature: "Low temperature", missed_medication: "Missed medication",
    low_battery: "Low battery", silent_device: "Silent device", gateway_offline: "Gateway offline",
    tamper: "Tamper", unknown_device: "Device not in the care plan", left_safe_zone: "Left the safe zone",
  };
  const RANK = { critical: 0, high: 1, technical: 2 };
  const TIERS = { district: "district team", backup: "backup (bagvagt)", central: "central on-call" };
  const OUTCOMES = {
    visited_all_well: "visited, all well", visited_help_given: "visited, help given",
    ambulance_or_doctor: "ambulance or doctor", false_alarm: "false alarm",
    technical_fault: "technical fault", other: "other",
  };
  // LANE is what staff read about the alarm lane (the stream's lane event): Danish by
  // default, English with ?lang=en or localStorage "vagt.lang" = "en".
  const LANE = {
    da: {
      down: "Alarmer kommer ikke igennem lige nu: forbindelsen til alarmsystemet er afbrudt. Nye alarmer vises først, når forbindelsen er tilbage. Følg nødproceduren, og ring til IT-vagten.",
      status: "Alarmer kommer ikke igennem",
      back: "Forbindelsen til alarmsystemet er tilbage: alarmer kommer igennem igen.",
      reset: "Listen er genindlæst, fordi serveren er skiftet eller gendannet.",
      unsynced: "Gatewayens ur var ikke stillet: tiden er, da platformen modtog alarmen. Gatewayens egen tid: ",
    },
    en: {
      down: "Alarms are not getting through right now: the connection to the alarm system is down. New alarms will show only when it is back. Follow the emergency procedure and call IT on duty.",
      status: "Alarms are not getting through",
      back: "The connection to the alarm system is back: alarms are getting through again.",
      reset: "The list was reloaded because the server was replaced or restored.",
      unsynced: "The gateway's clock was not set: the time is when the platform received the alarm. The gateway's own time: ",
    },
  };
  const LANG = (() => {
    let want = new URLSearchParams(location.search).get("lang");
    try { want = want || localStorage.getItem("vagt.lang"); } catch (_) { /* storage off */ }
    return want === "en" ? "en" : "da";
  })();
  const L = LANE[LANG];
  const WATCHDOG_MS = 45000; // the server sends a keep-alive every 15 s
  const MAX_PAGES = 20;

  let session = 0; // increases on every sign-in and sign-out; old loops see it and stop
  let me = null;
  let alerts = new Map(); // id → alert
  const people = new Map(); // alert id → {name, address} | "loading" | null (not allowed)
  const messages = new Map(); // alert id → a message to show on its card (a conflict)
  let lastEventId = 0;
  let streamAbort = null;
  let connected = false;
  let laneUp = null; // null: the server said nothing (no lane configured); false: alarms cannot arrive
  let soundOn = true;
  let audio = null;
  let detailID = 0;
  let resolveID = 0;

  // canAct: only care staff acknowledge, resolve and see who and where (the API enforces
  // it; the console does not offer what would be refused).
  function canAct() { return !!me && me.role === "staff"; }

  // ---- sign-in ----

  function showSignIn(message) {
    $("console").hidden = true;
    $("who").hidden = true;
    $("banner").hidden = true;
    $("signin").hidden = false;
    const err = $("signin-error");
    err.textContent = message || "";
    err.hidden = !message;
    $("token").value = "";
    $("token").focus();
  }

  // signOut ends the session; message (if any) is shown on the sign-in form.
  function signOut(message) {
    session++;
    if (streamAbort) streamAbort.abort();
    vagt.clearToken();
    alerts = new Map();
    people.clear();
    messages.clear();
    for (const d of document.querySelectorAll("dialog[open]")) d.close();
    $("alerts").replaceChildren();
    document.title = "vagt — care console";
    showSignIn(message);
  }

  // failed handles an API error of the session: a refused token ends it.
  function failed(err) {
    if (err.status === 401) {
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
    $("signin").hidden = true;
    $("console").hidden = false;
    $("who").hidden = false;
    $("who-name").textContent = me.name + " · " + me.role;
    $("to-dashboard").hidden = !["manager", "national", "admin"].includes(me.role);
    $("read-only").hidden = canAct();
    setStatus("Loading alerts…");
    // The list comes first: the stream resumes from its last_event_id. Until it loads, the
    // banner says so and the console keeps trying.
    for (let attempt = 1; ; attempt++) {
      try {
        await loadList(gen);
        break;
      } catch (err) {
        if (gen !== session || failed(err)) return;
        if (err.status === 403) {
          signOut("Your role (" + me.role + ") has no access to alerts; the dashboard is at /stats.");
          return;
        }
        setConnected(false);
        setStatus("Could not load the alerts (" + err.message + "); trying again…");
        await sleep(Math.min(1000 * attempt, 10000));
        if (gen !== session) return;
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
        if (gen !== session) return;
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
    if (!connected) setStatus("Reconnecting…");
    else if (laneUp === false) setStatus(L.status);
    else setStatus("Live");
  }

  // setLane shows the alarm lane's state (the stream's lane event) at once.
  function setLane(st) {
    const was = laneUp;
    laneUp = !!(st && st.subscribed);
    const b = $("lane-banner");
    b.textContent = L.down;
    b.hidden = laneUp;
    document.body.classList.toggle("lane-down", !laneUp);
    document.body.dataset.lane = laneUp ? "up" : "down";
    showStatus();
    if (was === false && laneUp) {
      toast(L.back);
      reload(); // alarms that waited at the broker arrive as events; the list is reread to be sure
    }
  }

  // reload rereads the list (a reset event, the lane back) without dropping the stream.
  // Events that arrive while the list is read are applied again on top of it, so a list
  // read just before an alarm's commit cannot hide that alarm.
  let reloading = null;
  async function reload() {
    if (reloading) return; // one at a time; the one running will see what came meanwhile
    const gen = session;
    reloading = [];
    try {
      await loadList(gen);
      if (gen !== session) return;
      for (const e of reloading) {
        if (e.n > lastEventId) lastEventId = e.n;
        apply(e.name, e.a, true);
      }
      render();
    } catch (err) {
      if (gen === session) failed(err);
    } finally {
      reloading = null;
    }
  }

  function setStatus(text) { $("status").textContent = text; }

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  async function stream(gen) {
    let delay = 2000, failures = 0;
    while (gen === session) {
      const ctrl = new AbortController();
      streamAbort = ctrl;
      let lastActivity = Date.now();
      const watchdog = setInterval(() => {
        if (Date.now() - lastActivity > WATCHDOG_MS) ctrl.abort();
      }, 5000);
      try {
        const resp = await fetch("/api/v1/alerts/stream", {
          headers: { Authorization: "Bearer " + vagt.token(), Accept: "text/event-stream", "Last-Event-ID": String(lastEventId) },
          cache: "no-store", signal: ctrl.signal,
        });
        if (gen !== session) return;
        if (resp.status === 401) {
          clearInterval(watchdog);
          failed(new vagt.APIError(401, "unauthenticated", ""));
          return;
        }
        if (resp.status === 429) { // too many streams open for this user: wait as told
          const after = Number(resp.headers.get("Retry-After"));
          if (after > 0) delay = Math.min(after * 1000, 60000);
        }
        if (!resp.ok || !resp.body) throw new Error("stream answered " + resp.status);
        setConnected(true);
        failures = 0;
        await readEvents(resp.body, gen, {
          activity() { lastActivity = Date.now(); },
          retry(ms) { delay = ms; },
        });
      } catch (_) {
        // a network error, an abort, a server going away: reconnect below
      } finally {
        clearInterval(watchdog);
      }
      if (gen !== session) return;
      setConnected(false);
      failures++;
      await sleep(Math.min(delay * Math.min(failures, 3), Math.max(10000, delay)));
    }
  }

  // readEvents parses text/event-stream from body until it ends.
  async function readEvents(body, gen, on) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "", id = "", name = "", data = [];
    for (;;) {
      const { value, done } = await reader.read();
      if (done || gen !== session) return;
      on.activity();
      buf += value;
      let nl;
      while ((nl = buf.search(/\r\n|\r|\n/)) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + (buf.startsWith("\r\n", nl) ? 2 : 1));
        if (line === "") {
          if (data.length) dispatch(id, name || "message", data.join("\n"));
          name = "";
          data = [];
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let val = colon < 0 ? "" : line.slice(colon + 1);
        if (val.startsWith(" ")) val = val.slice(1);
        if (field === "id") id = val;
        else if (field === "event") name = val;
        else if (field === "data") data.push(val);
        else if (field === "retry" && /^\d+$/.test(val)) on.retry(Number(val));
      }
    }
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
      toast(L.reset);
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

  function since(iso) {
    let s = Math.max(0, Math.floor((Date.now() - Date.parse(iso)) / 1000));
    if (s < 60) return s + " s";
    let m = Math.floor(s / 60);
    s %= 60;
    if (m < 60) return m + " min " + s + " s";
    const h = Math.floor(m / 60);
    m %= 60;
    if (h < 48) return h + " h " + m + " min";
    return Math.floor(h / 24) + " days";
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
    document.title = (waiting ? "(" + waiting + ") " : "") + "vagt — care console";
    loadPeople(sorted);
  }

  // unsynced: the gateway could not trust its clock; the alert is dated by when the
  // platform received it, and the gateway's own time is in details.gateway_time.
  function unsynced(a) { return !!(a.details && a.details.clock === "unsynced"); }

  function card(a) {
    const type = TYPES[a.type] || a.type;
    const person = people.get(a.id);
    const titleID = "alert-" + a.id + "-title";
    let who, where;
    if (!a.registered) {
      who = "Unregistered gateway " + a.gateway;
      where = "No address on file — call the municipality's central on-call";
    } else if (person && person !== "loading") {
      who = person.name || "—";
      where = person.address || "—";
    } else if (person === null || !canAct()) {
      who = "Home " + (a.home || a.gateway);
      where = "";
    } else {
      who = "…";
      where = "";
    }
    const level = a.escalation_level || 0;
    const msg = messages.get(a.id);
    let state = null;
    if (a.state === "acknowledged") {
      state = el("p", { class: "state" }, "Acknowledged by ", el("strong", { text: a.acknowledged_by || "someone" }),
        a.acknowledged_at ? " at " + vagt.fmtTime(a.acknowledged_at) : "");
    }
    return el("li", { class: "alert prio-" + a.priority + " state-" + a.state + (level ? " escalated" : ""), "data-id": a.id, "data-type": a.type, "data-state": a.state, "data-priority": a.priority },
      el("article", { "aria-labelledby": titleID },
        el("div", { class: "row1" },
          el("span", { class: "badge prio", text: a.priority }),
          ...vagtEdges.cardBadges(a),
          el("h3", { id: titleID, class: "type", text: type + (a.count > 1 ? " ×" + a.count : "") }),
          el("span", { class: "since", "data-since": a.raised_at, title: "raised " + vagt.fmtTime(a.raised_at), text: since(a.raised_at) })),
        el("p", { class: "who", text: who }),
        where ? el("p", { class: "where", text: where }) : null,
        el("p", { class: "meta" },
          el("span", { class: "level" + (level ? " up" : ""), text: "Level " + level + " · " + (TIERS[a.tier] || a.tier) }),
          a.cleared_at ? el("span", { class: "cleared", text: "cleared by the device " + vagt.fmtTime(a.cleared_at) }) : null,
          el("span", { class: "dev", text: a.gateway + " / " + a.device }),
          unsynced(a) ? el("span", { class: "unsynced", title: L.unsynced + a.details.gateway_time, text: L.unsynced.split(":")[0] }) : null),
        state,
        msg ? el("p", { class: "msg", role: "alert", text: msg }) : null,
        canAct() && el("div", { class: "actions" },
          a.state === "open" ? el("button", { type: "button", class: "primary", "data-action": "ack", "aria-describedby": titleID, text: "Acknowledge" }) : null,
          el("button", { type: "button", "data-action": "resolve", "aria-describedby": titleID, text: "Resolve…" }),
          el("button", { type: "button", "data-action": "detail", "aria-describedby": titleID, text: "Details" }))));
  }

  // loadPeople fetches who and where for alerts that do not have it yet. Each read is
  // audited by the API (alert.read), so it is done once per alert and session.
  function loadPeople(sorted) {
    const gen = session;
    if (!canAct()) return;
    for (const a of sorted) {
      if (!a.registered || people.has(a.id)) continue;
      people.set(a.id, "loading");
      vagt.call("GET", "/api/v1/alerts/" + a.id).then((d) => {
        if (gen !== session) return;
        people.set(a.id, d.citizen ? { name: d.citizen.name, address: d.citizen.address } : null);
        render();
      }, (err) => {
        if (gen !== session || failed(err)) return;
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
    const t = $("toast");
    t.textContent = text;
    t.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { t.hidden = true; }, 6000);
  }

  function conflictText(err) {
    const m = /already (acknowledged|resolved)/.exec(err.message || "");
    const what = m ? m[1] : "taken";
    return "Already " + what + " by " + (err.by || "someone else") + " — they got there first.";
  }

  async function ack(id, button) {
    if (button) button.disabled = true;
    try {
      const a = await vagt.call("POST", "/api/v1/alerts/" + id + "/ack");
      messages.delete(id);
      if (a.state !== "resolved") alerts.set(a.id, a);
      toast("You acknowledged alert " + id + ".");
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
        messages.set(id, "Could not acknowledge: " + err.message);
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
    const person = people.get(id);
    $("resolve-what").textContent = (TYPES[a.type] || a.type) + (person && person.name ? " — " + person.name : "") + " (alert " + id + ")";
    $("outcome").value = "";
    $("resolve-note").value = "";
    $("resolve-error").hidden = true;
    $("resolve").showModal();
    $("outcome").focus();
  }

  async function submitResolve(ev) {
    ev.preventDefault();
    const outcome = $("outcome").value;
    const errBox = $("resolve-error");
    if (!outcome) {
      errBox.textContent = "Choose an outcome.";
      errBox.hidden = false;
      $("outcome").focus();
      return;
    }
    const id = resolveID;
    const submit = ev.submitter || $("resolve-form").querySelector("button[type=submit]");
    submit.disabled = true;
    try {
      await vagt.call("POST", "/api/v1/alerts/" + id + "/resolve", { outcome, note: $("resolve-note").value.trim() });
      alerts.delete(id);
      messages.delete(id);
      $("resolve").close();
      // The card is gone: put the focus on the next alert rather than nowhere.
      const cards = [...$("alerts").children];
      const at = cards.findIndex((li) => Number(li.dataset.id) === id);
      const next = cards[at + 1] || cards[at - 1];
      toast("Alert " + id + " resolved: " + OUTCOMES[outcome] + ".");
      render();
      if (next && next.isConnected) next.querySelector("button").focus();
      else $("alerts-title").focus();
    } catch (err) {
      if (failed(err)) return;
      errBox.textContent = err.status === 409 ? conflictText(err) : "Could not resolve: " + err.message;
      errBox.hidden = false;
    } finally {
      submit.disabled = false;
    }
  }

  // ---- detail ----

  async function openDetail(id) {
    detailID = id;
    $("detail-title").textContent = "Alert " + id;
    $("detail-body").replaceChildren(el("p", { class: "help", text: "Loading…" }));
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
      if (id === detailID) $("detail-body").replaceChildren(el("p", { class: "error", text: "Could not load the alert: " + err.message }));
      return;
    }
    if (id !== detailID) return;
    if (d.citizen) people.set(id, { name: d.citizen.name, address: d.citizen.address });
    $("detail-title").textContent = (TYPES[d.type] || d.type) + " — alert " + d.id;
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
    const stateText = d.state === "open" ? "open, not acknowledged" :
      d.state === "acknowledged" ? "acknowledged by " + d.acknowledged_by + " at " + vagt.fmtTime(d.acknowledged_at) :
        "resolved by " + d.resolved_by + " (" + (OUTCOMES[d.outcome] || d.outcome) + ")";
    parts.push(dl([
      ["Priority", el("span", {}, el("span", { class: "badge prio prio-" + d.priority, text: d.priority }), " ", ...vagtEdges.cardBadges(d))],
      ["State", stateText],
      ["Raised", vagt.fmtTime(d.raised_at) + " (" + since(d.raised_at) + " ago)" + (d.count > 1 ? ", " + d.count + " times, last " + vagt.fmtTime(d.last_at) : "")],
      ["Gateway clock", unsynced(d) ? el("span", { class: "unsynced", text: L.unsynced + d.details.gateway_time }) : ""],
      ["Escalation", "level " + (d.escalation_level || 0) + " · " + (TIERS[d.tier] || d.tier)],
      ["Device", d.gateway + " / " + d.device],
    ]));
    if (canAct() && d.state !== "resolved") {
      parts.push(el("div", { class: "actions" },
        d.state === "open" ? el("button", { type: "button", class: "primary", "data-detail-action": "ack", text: "Acknowledge" }) : null,
        el("button", { type: "button", "data-detail-action": "resolve", text: "Resolve…" })));
    }
    parts.push(...vagtGPS.detailParts(d)); // gps.js: last seen and the drawn map of a tracker's alert
    parts.push(...vagtEdges.detailParts(d, canAct(), refreshDetail)); // edges.js: away, test mode
    const c = d.citizen;
    parts.push(el("h3", { text: "Citizen" }));
    if (c) {
      parts.push(dl([
        ["Name", el("strong", { class: "citizen-name", text: c.name })],
        ["Address", c.address],
        ["Key box", c.key_box_note ? el("span", { class: "keybox", text: c.key_box_note }) : "—"],
      ]));
      if (c.contacts && c.contacts.length) {
        parts.push(el("h4", { text: "Contacts" }), el("ul", { class: "contacts" },
          ...c.contacts.map((p) => el("li", {}, el("strong", { text: p.name }), p.relation ? " (" + p.relation + ") " : " ",
            el("a", { href: "tel:" + p.phone.replace(/[^+\d]/g, ""), text: p.phone })))));
      }
    } else {
      parts.push(el("p", { class: "help", text: d.registered ? "No citizen is registered for this home." : "The gateway is not registered: no citizen or address is known." }));
    }
    parts.push(el("h3", { text: "Devices in the home" }));
    if (d.devices && d.devices.length) {
      const rows = d.devices.map((v) => el("tr", {},
        el("td", { text: v.label || v.id }), el("td", { text: vagt.techName(v.technology) }),
        el("td", { text: v.last_seen ? vagt.fmtTime(v.last_seen) : "never" }),
        el("td", { class: "num", text: v.battery > 0 ? v.battery + " %" : "—" })));
      parts.push(el("div", { class: "table-wrap" }, el("table", { class: "devices" },
        el("caption", { class: "sr-only", text: "Devices and their last readings" }),
        el("thead", {}, el("tr", {}, ...["Device", "Technology", "Last seen", "Battery"].map((h, i) => el("th", { scope: "col", class: i === 3 ? "num" : null, text: h })))),
        el("tbody", {}, ...rows))));
    } else {
      parts.push(el("p", { class: "help", text: "No devices registered." }));
    }
    parts.push(el("h3", { text: "Notes" }));
    if (d.notes && d.notes.length) {
      parts.push(el("ol", { class: "notes" }, ...d.notes.map((n) => el("li", {},
        el("span", { class: "note-meta", text: n.author + ", " + vagt.fmtTime(n.at) }), el("span", { class: "note-text", text: n.text })))));
    } else {
      parts.push(el("p", { class: "help", text: "No notes yet." }));
    }
    if (d.escalations && d.escalations.length) {
      parts.push(el("h3", { text: "Escalations" }), el("ol", { class: "notes" },
        ...d.escalations.map((e) => el("li", { text: "level " + e.level + " · " + (TIERS[e.tier] || e.tier) + " at " + vagt.fmtTime(e.at) }))));
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
      toast("Could not add the note: " + err.message);
    } finally {
      submit.disabled = false;
    }
  }

  // ---- wiring ----

  document.addEventListener("DOMContentLoaded", () => {
    vagt.onSignIn(showSignIn, start);
    $("sign-out").addEventListener("click", () => signOut("You signed out."));
    $("sound-toggle").addEventListener("click", (ev) => {
      soundOn = !soundOn;
      ev.currentTarget.setAttribute("aria-pressed", String(soundOn));
      ev.currentTarget.textContent = soundOn ? "Sound on" : "Sound off";
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
    if (vagt.token()) start();
    else showSignIn(vagt.takeNotice());
  });
})();
