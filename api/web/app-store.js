// app-store.js: a small key-value store in IndexedDB shared by the care app (/app) and its
// service worker. The worker cannot read sessionStorage, and it must acknowledge from a
// notification while no page is open, so the session token, the language, the signed-in
// user and the last alert list live here. Signing out clears it all.
"use strict";

const vagtStore = (() => {
  const DB = "vagt-app", STORE = "kv";
  let opening = null;

  function db() {
    if (!opening) {
      opening = new Promise((resolve, reject) => {
        const req = indexedDB.open(DB, 1);
        req.onupgradeneeded = () => req.result.createObjectStore(STORE);
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => {
          opening = null;
          reject(req.error);
        };
      });
    }
    return opening;
  }

  async function tx(mode, fn) {
    const d = await db();
    return new Promise((resolve, reject) => {
      const t = d.transaction(STORE, mode);
      const req = fn(t.objectStore(STORE));
      t.oncomplete = () => resolve(req ? req.result : undefined);
      t.onerror = () => reject(t.error);
      t.onabort = () => reject(t.error);
    });
  }

  return {
    get: (key) => tx("readonly", (s) => s.get(key)),
    set: (key, value) => tx("readwrite", (s) => s.put(value, key)),
    clear: () => tx("readwrite", (s) => s.clear()),
  };
})();
