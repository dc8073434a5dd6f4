// format.js: the one formatter of every page — numbers, kroner, percentages, durations,
// dates and times — in Danish (the default) or English. Dates and times are always shown
// in Europe/Copenhagen, wherever the browser is. Month names and unit abbreviations are
// locale data kept here (like Intl's), so the formatter works before or without a
// catalogue; every other text comes from the catalogue (i18n.js).
//
// Each function takes an optional language ("da" or "en"); without one it uses the page's
// language from vagtI18n, else Danish.
"use strict";

const vagtFormat = (() => {
  const TZ = "Europe/Copenhagen";
  const MINUS = "\u2212"; // a real minus sign: a hyphen reads as a dash next to "kr."
  const NBSP = "\u00a0";

  const LOCALE = {
    da: {
      intl: "da-DK",
      months: ["jan.", "feb.", "mar.", "apr.", "maj", "jun.", "jul.", "aug.", "sep.", "okt.", "nov.", "dec."],
      kroner: (n) => n + NBSP + "kr.",
      percent: (n) => n + NBSP + "%",
      date: (d, m, y) => d + ". " + m + " " + y,
      hours: (h) => h + " " + (h === 1 ? "time" : "timer"),
      minutes: (m) => m + " min",
      days: (d) => d + " døgn",
      h: "t", min: "min", s: "s",
      ago: (x) => x + " siden",
      hidden: "Skjult",
    },
    en: {
      intl: "en-GB",
      months: ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
      kroner: (n) => "DKK" + NBSP + n,
      percent: (n) => n + "%",
      date: (d, m, y) => d + " " + m + " " + y,
      hours: (h) => h + " " + (h === 1 ? "hour" : "hours"),
      minutes: (m) => m + " min",
      days: (d) => d + " " + (d === 1 ? "day" : "days"),
      h: "h", min: "min", s: "s",
      ago: (x) => x + " ago",
      hidden: "Hidden",
    },
  };

  function langOf(lang) {
    if (lang === "da" || lang === "en") return lang;
    if (typeof vagtI18n !== "undefined") return vagtI18n.lang();
    return "da";
  }
  const L = (lang) => LOCALE[langOf(lang)];

  const numberFormats = new Map();
  function nf(lang, digits) {
    const key = lang + "/" + digits;
    if (!numberFormats.has(key)) {
      numberFormats.set(key, new Intl.NumberFormat(LOCALE[lang].intl, {
        minimumFractionDigits: digits, maximumFractionDigits: digits, useGrouping: true,
      }));
    }
    return numberFormats.get(key);
  }

  const missing = (v) => v === null || v === undefined || (typeof v === "number" && !Number.isFinite(v));

  // number: 27162 → "27.162" (da) / "27,162" (en); digits fixes the decimals (56.7, 1 →
  // "56,7"). Negative numbers get a real minus sign. A missing value is "—".
  function number(v, digits, lang) {
    if (missing(v)) return "—";
    const l = langOf(lang);
    const s = nf(l, digits || 0).format(Math.abs(v));
    return (v < 0 && s.replace(/[0.,\s]/g, "") !== "" ? MINUS : "") + s;
  }

  // decimal: a number with at most `max` decimals (default 1), none when it is whole.
  function decimal(v, max, lang) {
    if (missing(v)) return "—";
    const m = max === undefined ? 1 : max;
    const r = Math.round(v * 10 ** m) / 10 ** m;
    let digits = 0;
    while (digits < m && Math.round(r * 10 ** digits) !== r * 10 ** digits) digits++;
    return number(r, digits, lang);
  }

  // kroner: 27162 → "27.162 kr." (da) / "DKK 27,162" (en), whole kroner. signed adds "+" to
  // a positive amount (a net benefit).
  function kroner(v, opts, lang) {
    if (missing(v)) return "—";
    const o = opts || {};
    const n = number(Math.round(v), 0, lang);
    const sign = o.signed && Math.round(v) > 0 ? "+" : "";
    return L(lang).kroner(sign + n).replace("DKK" + NBSP + MINUS, MINUS + "DKK" + NBSP);
  }

  // percent: a share (0.567) → "56,7 %" (da) / "56.7%" (en), with `digits` decimals
  // (default 1; whole numbers keep no decimals unless digits is given).
  function percent(share, digits, lang) {
    if (missing(share)) return "—";
    const p = share * 100;
    return L(lang).percent(digits === undefined ? decimal(p, 1, lang) : number(p, digits, lang));
  }

  // duration: seconds → "6 timer", "1 t 5 min", "45 min", "45 s", "2 min 5 s" (da); "6 hours",
  // "1 h 5 min", "45 s" (en). Below a minute in seconds, below an hour in minutes (and
  // seconds when there are any), below two days in hours (and minutes), above in days.
  function duration(seconds, lang) {
    if (missing(seconds)) return "—";
    const l = L(lang);
    let s = Math.round(Math.abs(seconds));
    const neg = seconds < 0 && s > 0 ? MINUS : "";
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    s %= 60;
    let out;
    if (h >= 48) out = l.days(Math.floor(h / 24)); // an alert two days old: hours are noise
    else if (h > 0 && m === 0) out = l.hours(h); // seconds are noise beside hours
    else if (h > 0) out = h + " " + l.h + " " + m + " " + l.min; // seconds are noise beside hours
    else if (m > 0 && s === 0) out = l.minutes(m);
    else if (m > 0) out = m + " " + l.min + " " + s + " " + l.s;
    else out = s + " " + l.s;
    return neg + out;
  }

  // parseDuration reads Go's and the API's durations ("6h0m0s", "20m", "1h30m", "45s",
  // "1.5h") into seconds; null when it is not one.
  function parseDuration(text) {
    const t = String(text || "").trim();
    if (!/^(\d+(\.\d+)?(h|m|s|ms))+$/.test(t)) return null;
    let total = 0;
    for (const [, n, unit] of t.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)) {
      total += Number(n) * { h: 3600, m: 60, s: 1, ms: 0.001 }[unit];
    }
    return total;
  }

  // readDuration reads a duration as staff write it, in either language: "6 timer", "1 t 30
  // min", "20 min", "45 s", "1,5 timer", "2 døgn", "6 hours", "90 minutes", or the API's
  // "6h0m0s". Seconds, or null when it is not one.
  const UNITS = [
    [/^(døgn|d|days?)$/, 86400], [/^(timer|time|t|hours?|hrs?|h)$/, 3600],
    [/^(minutter|minut|min|minutes?|m)$/, 60], [/^(sekunder|sekund|sek|s|seconds?|secs?)$/, 1],
  ];
  function readDuration(text) {
    const t = String(text || "").trim().toLowerCase();
    if (t === "") return null;
    const api = parseDuration(t);
    if (api !== null) return api;
    const re = /(\d+(?:[.,]\d+)?)\s*([a-zæøå]+)\.?/g;
    let total = 0, seen = 0, m;
    while ((m = re.exec(t)) !== null) {
      const unit = UNITS.find(([u]) => u.test(m[2]));
      if (!unit) return null;
      total += Number(m[1].replace(",", ".")) * unit[1];
      seen += m[0].replace(/\s+/g, "").length;
    }
    // Everything but spaces must have been read: "6 timer og lidt" is not a duration.
    return seen > 0 && seen === t.replace(/\s+/g, "").length ? Math.round(total) : null;
  }

  // readWindow reads a window of wall-clock times, "22:00–07:00", "22.00-7.00", "22-7", into
  // the API's "22:00-07:00"; null when it is not one.
  function readWindow(text) {
    const m = /^(\d{1,2})(?:[:.](\d{2}))?\s*[-–—]\s*(\d{1,2})(?:[:.](\d{2}))?$/.exec(String(text || "").trim());
    if (!m) return null;
    const hh = (h, mm) => (Number(h) > 23 || Number(mm || 0) > 59 ? null : String(h).padStart(2, "0") + ":" + (mm || "00"));
    const a = hh(m[1], m[2]), b = hh(m[3], m[4]);
    return a && b ? a + "-" + b : null;
  }

  // goDuration writes seconds as the API reads durations: 21600 → "6h", 3900 → "1h5m".
  function goDuration(seconds) {
    let s = Math.round(seconds);
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    s %= 60;
    return (h ? h + "h" : "") + (m ? m + "m" : "") + (s || (!h && !m) ? s + "s" : "");
  }

  // parts gives the wall clock in Copenhagen of an instant (a Date, ISO text or ms).
  const partsFormat = new Intl.DateTimeFormat("en-GB", {
    timeZone: TZ, year: "numeric", month: "numeric", day: "numeric",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
  });
  function parts(when) {
    const d = when instanceof Date ? when : new Date(when);
    if (Number.isNaN(d.getTime())) return null;
    const p = {};
    for (const x of partsFormat.formatToParts(d)) p[x.type] = x.value;
    return { y: Number(p.year), mo: Number(p.month), d: Number(p.day), h: p.hour, mi: p.minute, s: p.second };
  }

  // date: "2. dec. 2026" (da) / "2 Dec 2026" (en), in Copenhagen.
  function date(when, lang) {
    const p = missing(when) || when === "" ? null : parts(when);
    if (!p) return "";
    const l = L(lang);
    return l.date(p.d, l.months[p.mo - 1], p.y);
  }

  // time: "14:05" (seconds: "14:05:09") in Copenhagen, 24-hour clock in both languages.
  function time(when, opts, lang) {
    const p = missing(when) || when === "" ? null : parts(when);
    if (!p) return "";
    return p.h + ":" + p.mi + (opts && opts.seconds ? ":" + p.s : "");
  }

  // dateTime: "2. dec. 2026 14:05" (da) / "2 Dec 2026 14:05" (en).
  function dateTime(when, opts, lang) {
    const d = date(when, lang);
    return d && d + " " + time(when, opts, lang);
  }

  // month: "dec. 2026" / "Dec 2026"; with {shortYear} "dec. 26" (chart axes).
  function month(when, opts, lang) {
    const p = missing(when) || when === "" ? null : parts(when);
    if (!p) return "";
    return L(lang).months[p.mo - 1] + " " + (opts && opts.shortYear ? String(p.y).slice(2) : p.y);
  }

  // dayMonth: "2. dec." / "2 Dec".
  function dayMonth(when, lang) {
    const p = missing(when) || when === "" ? null : parts(when);
    if (!p) return "";
    return L(lang).date(p.d, L(lang).months[p.mo - 1], "").trim();
  }

  // calendar is the date in Copenhagen of an instant: {year, month (1-12), day}.
  function calendar(when) {
    const p = parts(when);
    return p && { year: p.y, month: p.mo, day: p.d };
  }

  // compact: a short number for a chart's axis, "35 t." / "1,2 mio." (da), "35k" / "1.2M"
  // (en); below 10,000 in full. Written here rather than by Intl's compact notation, whose
  // words differ between browser versions.
  function compact(v, lang) {
    if (missing(v)) return "—";
    const l = langOf(lang);
    const a = Math.abs(v);
    if (a < 10000) return number(Math.round(v), 0, l);
    const [n, unit] = a >= 1e6 ? [a / 1e6, l === "da" ? NBSP + "mio." : "M"] : [a / 1e3, l === "da" ? NBSP + "t." : "k"];
    return (v < 0 ? MINUS : "") + decimal(n, n >= 100 ? 0 : 1, l) + unit;
  }

  // timeRange: a window of wall-clock times, "22:00–07:00"; takes the two ends or the API's
  // "22:00-07:00".
  function timeRange(from, to) {
    if (to === undefined) {
      const m = /^(\d{1,2}:\d{2})\s*[-–]\s*(\d{1,2}:\d{2})$/.exec(String(from || "").trim());
      if (!m) return String(from || "");
      [from, to] = [m[1], m[2]];
    }
    const pad = (x) => (x.length === 4 ? "0" + x : x);
    return pad(from) + "\u2013" + pad(to);
  }

  // ago: the time since an instant, "3 min siden" / "3 min ago".
  function ago(when, now, lang) {
    const d = when instanceof Date ? when : new Date(when);
    const secs = Math.max(0, ((now ? new Date(now) : new Date()) - d) / 1000);
    return L(lang).ago(duration(secs, lang));
  }

  // hidden is a figure that is not shown (suppressed below the disclosure threshold, not
  // known yet): "—" with its reason on hover, to assistive technology, and on tap or Enter
  // (a title alone never shows on a phone).
  function hidden(reason, lang) {
    const l = L(lang);
    const b = document.createElement("button");
    b.type = "button";
    b.className = "hidden-figure";
    b.textContent = "—";
    b.title = reason;
    b.setAttribute("aria-label", l.hidden + ": " + reason);
    b.setAttribute("aria-expanded", "false");
    b.addEventListener("click", () => {
      const open = b.getAttribute("aria-expanded") !== "true";
      b.setAttribute("aria-expanded", String(open));
      let note = b.nextElementSibling;
      if (!note || !note.classList.contains("hidden-reason")) {
        note = document.createElement("span");
        note.className = "hidden-reason";
        note.textContent = reason;
        b.after(note);
      }
      note.hidden = !open;
    });
    return b;
  }

  return {
    TZ, number, decimal, kroner, percent, compact, duration, parseDuration, readDuration, readWindow, goDuration,
    date, time, dateTime, month, dayMonth, calendar, timeRange, ago, hidden,
  };
})();
