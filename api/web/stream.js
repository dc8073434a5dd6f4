// stream.js: the live alert stream, /api/v1/alerts/stream as server-sent events, for the
// console and the care app. It is read with fetch(), not EventSource: EventSource cannot
// send the Authorization header, and a token must not go into a URL. It resumes with
// Last-Event-ID from the last event the page applied and reconnects by itself after a
// drop, a server going away or 45 s of silence (the server sends a keep-alive every 15 s),
// so nothing is missed in between.
"use strict";

const vagtStream = (() => {
  const WATCHDOG_MS = 45000;
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  // growing is the care app's wait before reconnecting: 1 s, 2 s, 4 s … 30 s (a phone
  // saves its battery), never sooner than the server asked (its retry: or a 429's
  // Retry-After).
  function growing(failures, asked) {
    return Math.max(asked, Math.min(1000 * 2 ** (failures - 1), 30000));
  }

  // open reads the stream until stop() (its return value) is called or the token is
  // refused. on:
  //   token(), lastEventId(): what to send at each (re)connect
  //   event(id, name, data): one event, data as sent (JSON text)
  //   connected(bool): the stream is up, or down and reconnecting
  //   refused(): the token was refused (401); the stream stops
  //   wait(failures, asked): ms to wait before reconnect number failures (1, 2, …); asked is
  //     the last delay the server asked for (ms, 0 if none). Default: growing.
  function open(on) {
    const wait = on.wait || growing;
    let stopped = false, ctrl = null;
    (async () => {
      let failures = 0, asked = 0;
      while (!stopped) {
        ctrl = new AbortController();
        let last = Date.now();
        const watchdog = setInterval(() => { if (Date.now() - last > WATCHDOG_MS) ctrl.abort(); }, 5000);
        try {
          const resp = await fetch("/api/v1/alerts/stream", {
            headers: { Authorization: "Bearer " + on.token(), Accept: "text/event-stream", "Last-Event-ID": String(on.lastEventId()) },
            cache: "no-store", signal: ctrl.signal,
          });
          if (stopped) return;
          if (resp.status === 401) {
            stopped = true;
            on.refused();
            return;
          }
          if (resp.status === 429) { // too many streams open for this user: wait as told
            const after = Number(resp.headers.get("Retry-After"));
            if (after > 0) asked = after * 1000;
          }
          if (!resp.ok || !resp.body) throw new Error("stream answered " + resp.status);
          on.connected(true);
          failures = 0;
          await read(resp.body, () => stopped, () => { last = Date.now(); }, (ms) => { asked = ms; }, on.event);
        } catch (_) {
          // a network error, the watchdog, a server going away: reconnect below
        } finally {
          clearInterval(watchdog);
        }
        if (stopped) return;
        on.connected(false);
        failures++;
        await sleep(wait(failures, asked));
      }
    })();
    return () => {
      stopped = true;
      if (ctrl) ctrl.abort();
    };
  }

  // read parses text/event-stream from body until it ends.
  async function read(body, stopped, activity, retry, event) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "", id = "", name = "", data = [];
    for (;;) {
      const { value, done } = await reader.read();
      if (done || stopped()) return;
      activity();
      buf += value;
      let nl;
      while ((nl = buf.search(/\r\n|\r|\n/)) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + (buf.startsWith("\r\n", nl) ? 2 : 1));
        if (line === "") {
          if (data.length) event(id, name || "message", data.join("\n"));
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
        else if (field === "retry" && /^\d+$/.test(val)) retry(Number(val));
      }
    }
  }

  return { open };
})();
