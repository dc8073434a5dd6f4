// app-sw.js: the care app's service worker, served at /app/sw.js with scope /app. It keeps
// the app's shell (page, scripts, styles, catalogues, icons) in a cache named after this
// release, so the app opens without a network, and it acts on the alarm notifications the
// page shows: "Kvittér" acknowledges from the notification itself with the stored session
// token; "Åbn" (or a tap on the notification) brings the app forward.
"use strict";

importScripts("/assets/app-store.js");

const VERSION = "__VAGT_VERSION__"; // filled in by the api: a hash of this release's web files
const CACHE = "vagt-app-" + VERSION;
const SHELL = ["/app", "/app/manifest.webmanifest", "/assets/vagt.css", "/assets/app.css", "/assets/common.js", "/assets/signin.js",
  "/assets/i18n.js", "/assets/format.js", "/assets/app-store.js", "/assets/stream.js", "/assets/app-ring.js",
  "/assets/app.js", "/assets/lang/da.json", "/assets/lang/en.json", "/assets/app-icon.svg",
  "/assets/app-icon-192.png", "/assets/app-icon-512.png"];
// NETWORK_WAIT: a phone with a dead network can hang a request for minutes; after this the
// cached shell is shown and the page reconnects by itself.
const NETWORK_WAIT = 4000;

self.addEventListener("install", (ev) => {
  ev.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await cache.addAll(SHELL.map((u) => new Request(u, { cache: "reload" })));
    await self.skipWaiting(); // an alarm app must not run last week's code until every tab closes
  })());
});

self.addEventListener("activate", (ev) => {
  ev.waitUntil((async () => {
    for (const k of await caches.keys()) {
      if (k.startsWith("vagt-app-") && k !== CACHE) await caches.delete(k);
    }
    await self.clients.claim();
  })());
});

// The shell is fetched from the network first (a deploy shows at once) and from the cache
// when the network fails or is too slow. The API is never served from here: the page keeps
// its own last list and says how old it is.
self.addEventListener("fetch", (ev) => {
  const req = ev.request;
  if (req.method !== "GET") return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin || !SHELL.includes(url.pathname)) return;
  ev.respondWith(shell(req, url.pathname));
});

async function shell(req, path) {
  const cache = await caches.open(CACHE);
  const net = fetch(req).then((resp) => {
    if (resp.ok) cache.put(path, resp.clone());
    return resp;
  });
  const timeout = new Promise((resolve) => setTimeout(resolve, NETWORK_WAIT, null));
  try {
    const resp = await Promise.race([net, timeout]);
    if (resp) return resp;
  } catch (_) { /* offline: the cache below */ }
  const hit = await cache.match(path);
  return hit || net;
}

// ---- notifications ----

self.addEventListener("notificationclick", (ev) => {
  ev.notification.close();
  ev.waitUntil(clicked(ev.action, ev.notification.data || {}));
});

// The test hook: a page of this app asks the worker to act as if an action of a shown
// notification was chosen (a headless browser has no notification centre to click in).
// It runs the same code as a real click.
self.addEventListener("message", (ev) => {
  const m = ev.data || {};
  if (m.type !== "notification-action") return;
  ev.waitUntil((async () => {
    const shown = await self.registration.getNotifications({ tag: m.tag });
    for (const n of shown) {
      n.close();
      await clicked(m.action, n.data || {});
    }
  })());
});

async function clicked(action, data) {
  if (action === "ack" && data.id) {
    await ackFromNotification(data.id);
    return;
  }
  const wins = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const app = wins.find((w) => new URL(w.url).pathname === "/app");
  if (app) {
    app.postMessage({ type: "open", id: data.id });
    try {
      await app.focus();
    } catch (_) { /* focus is allowed only from a real click; the page has the message */ }
    return;
  }
  await self.clients.openWindow("/app" + (data.id ? "#alert-" + data.id : ""));
}

// ackFromNotification acknowledges an alert with the stored token, tells every open app
// page, and says so in a notification when it did not work (who was first, or to open the
// app), so a "Kvittér" from the lock screen never fails in silence.
async function ackFromNotification(id) {
  const token = await vagtStore.get("token");
  let status = 0, by = "";
  if (token) {
    try {
      const resp = await fetch("/api/v1/alerts/" + id + "/ack", {
        method: "POST", cache: "no-store", headers: { Authorization: "Bearer " + token, Accept: "application/json" },
      });
      status = resp.status;
      if (!resp.ok) {
        try { by = (await resp.json()).error.by || ""; } catch (_) { /* not JSON */ }
      }
    } catch (_) { /* offline: status 0 */ }
  }
  for (const w of await self.clients.matchAll({ type: "window", includeUncontrolled: true })) {
    w.postMessage({ type: "acked", id, status, by });
  }
  if (status >= 200 && status < 300) return;
  const text = await texts();
  let body = text("app.notify.ackFailed");
  if (status === 409) body = text("app.notify.ackTaken").replace("{by}", by || "?");
  else if (status === 401 || !token) body = text("app.notify.signIn");
  await self.registration.showNotification(text("app.notify.ackFailedTitle"), {
    body, tag: "vagt-alert-" + id, data: { id }, requireInteraction: true, icon: "/assets/app-icon-192.png",
    actions: [{ action: "open", title: text("app.notify.open") }],
  });
}

// texts reads the catalogue of the app's language (cached with the shell).
async function texts() {
  const lang = (await vagtStore.get("lang")) === "en" ? "en" : "da";
  let cat = {};
  try {
    const resp = (await caches.match("/assets/lang/" + lang + ".json")) || (await fetch("/assets/lang/" + lang + ".json"));
    cat = await resp.json();
  } catch (_) { /* keys below */ }
  return (key) => key.split(".").reduce((v, k) => (v && typeof v === "object" ? v[k] : undefined), cat) || key;
}
