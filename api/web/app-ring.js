// app-ring.js: how the care app gets a person's attention — the on-duty switch, the
// repeating tone for critical and high alarms nobody has acknowledged, notifications from
// the service worker (with "Kvittér" and "Åbn"), vibration, and the screen kept on while
// on duty. It tells the truth about each: a browser that blocks audio until a tap (after a
// reload the AudioContext is "suspended") gets "Tryk for at slå lyd til", not "Lyd til".
//
// window.__vagtRing is a test hook: how many tones actually started (the AudioContext was
// running) and whether the app is ringing now.
"use strict";

const vagtRing = (() => {
  const DUTY = "vagt.app.duty", SOUND = "vagt.app.sound";
  const PERIOD_MS = 3000; // one pattern every 3 s until someone acknowledges
  const hook = (window.__vagtRing = { starts: 0, ringing: false });
  let ctx = null, timer = null, wake = null;
  const listeners = [];

  function pref(key, dflt) {
    try {
      const v = localStorage.getItem(key);
      return v === null ? dflt : v === "1";
    } catch (_) {
      return dflt;
    }
  }
  function setPref(key, on) {
    try { localStorage.setItem(key, on ? "1" : "0"); } catch (_) { /* kept for this page only */ }
  }
  let duty = pref(DUTY, true), sound = pref(SOUND, true);

  function changed() { for (const fn of listeners) fn(status()); }
  function onChange(fn) { listeners.push(fn); }

  // audio makes the AudioContext at once, so its state says whether this browser will let
  // it sound: "running", or "suspended" until the user taps.
  function audio() {
    if (!ctx && typeof AudioContext !== "undefined") {
      try {
        ctx = new AudioContext();
        ctx.onstatechange = changed;
      } catch (_) { ctx = null; }
    }
    return ctx;
  }

  // unlock is called from a tap: the one moment a browser lets audio start.
  async function unlock() {
    const c = audio();
    if (c && c.state !== "running") {
      try { await c.resume(); } catch (_) { /* still blocked */ }
    }
    changed();
  }

  function permission() { return typeof Notification === "undefined" ? "unsupported" : Notification.permission; }

  // status is what the on-duty switch and the sound button say.
  function status() {
    const c = audio();
    const audioState = !sound ? "off" : !c ? "unsupported" : c.state === "running" ? "on" : "blocked";
    return { duty, sound, audio: audioState, notifications: permission(), wake: !!wake, ringing: hook.ringing,
      rings: duty && (audioState === "on" || permission() === "granted") };
  }

  async function setDuty(on) {
    duty = on;
    setPref(DUTY, on);
    if (on) {
      await unlock(); // this is a tap: the moment audio may start
      if (permission() === "default") {
        try { await Notification.requestPermission(); } catch (_) { /* refused */ }
      }
    } else {
      ring(false);
    }
    await keepAwake();
    changed();
  }

  async function setSound(on) {
    sound = on;
    setPref(SOUND, on);
    if (on) await unlock();
    if (!on) stopTone();
    changed();
  }

  // tone plays one pattern (three beeps) and counts it when it really started.
  function tone(critical) {
    const c = audio();
    if (!sound || !c || c.state !== "running") return;
    const t0 = c.currentTime;
    const notes = critical ? [[0, 988], [0.22, 740], [0.44, 988], [0.66, 740]] : [[0, 880], [0.3, 660]];
    for (const [start, freq] of notes) {
      const o = c.createOscillator(), g = c.createGain();
      o.frequency.value = freq;
      g.gain.setValueAtTime(0.3, t0 + start);
      g.gain.exponentialRampToValueAtTime(0.001, t0 + start + 0.2);
      o.connect(g).connect(c.destination);
      o.start(t0 + start);
      o.stop(t0 + start + 0.21);
    }
    hook.starts++;
  }

  function stopTone() {
    clearInterval(timer);
    timer = null;
  }

  // ring keeps the tone going while want is true (an unacknowledged critical or high alarm
  // and this device on duty); critical picks the more urgent pattern.
  let critical = false;
  function ring(want, isCritical) {
    want = !!want && duty;
    critical = !!isCritical;
    if (want === hook.ringing) return;
    hook.ringing = want;
    stopTone();
    if (want) {
      tone(critical);
      timer = setInterval(() => tone(critical), PERIOD_MS);
      if (navigator.vibrate) navigator.vibrate([400, 200, 400, 200, 400]);
    }
    changed();
  }

  // notify shows a notification through the service worker (so its actions work with no
  // page open), one per alert: a repeat replaces it and rings again (renotify).
  async function notify(alertID, title, body, isCritical, labels) {
    if (!duty || permission() !== "granted" || !("serviceWorker" in navigator)) return false;
    const reg = await navigator.serviceWorker.ready;
    await reg.showNotification(title, {
      body, tag: "vagt-alert-" + alertID, renotify: true, requireInteraction: isCritical, data: { id: alertID },
      icon: "/assets/app-icon-192.png", badge: "/assets/app-icon-192.png", lang: document.documentElement.lang,
      vibrate: isCritical ? [500, 200, 500, 200, 500] : [300, 150, 300],
      actions: [{ action: "ack", title: labels.ack }, { action: "open", title: labels.open }],
    });
    return true;
  }

  // withdraw closes an alert's notification once it is acknowledged or resolved.
  async function withdraw(alertID) {
    if (!("serviceWorker" in navigator)) return;
    const reg = await navigator.serviceWorker.getRegistration("/app");
    if (!reg) return;
    for (const n of await reg.getNotifications({ tag: "vagt-alert-" + alertID })) n.close();
  }

  // keepAwake holds a screen wake lock while on duty and visible (the browser drops it when
  // the page is hidden; it is asked for again when the page shows).
  async function keepAwake() {
    const want = duty && document.visibilityState === "visible" && "wakeLock" in navigator;
    if (want && !wake) {
      try {
        wake = await navigator.wakeLock.request("screen");
        wake.addEventListener("release", () => { wake = null; changed(); });
      } catch (_) { wake = null; }
    } else if (!want && wake) {
      await wake.release();
      wake = null;
    }
    changed();
  }
  document.addEventListener("visibilitychange", keepAwake);

  return { status, onChange, setDuty, setSound, unlock, ring, notify, withdraw, keepAwake };
})();
