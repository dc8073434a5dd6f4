// i18n.js: the language of the pages. Danish unless this browser chose English with the
// switch (localStorage "vagt.lang"); the browser's own language never switches staff to
// English by itself. Every text comes from one catalogue per language, /assets/lang/da.json
// and en.json (embedded in the api, cached by the care app's service worker), with keys
// grouped by page: t("common.signIn.title"), t("common.devices", {count: 3}).
//
// A page loads this before its own script and starts once `vagtI18n.ready` resolves; an
// element marked data-lang-switch gets the language switch;
// elements marked data-i18n="common.language" get their text,
// data-i18n-attr="title:common.language;aria-label:common.language" their attributes. docs/i18n.md says how to add a text.
"use strict";

const vagtI18n = (() => {
  const KEY = "vagt.lang";
  const LANGS = ["da", "en"];
  const NAMES = { da: "Dansk", en: "English" }; // each in its own language, as switches are
  let current = stored();
  let catalogue = {};
  const listeners = [];
  const warned = new Set();

  // stored is the language of this page: a ?lang= in its address (a link made for English
  // readers, a test), else the choice kept by the switch, else Danish.
  function stored() {
    const asked = new URLSearchParams(location.search).get("lang");
    if (LANGS.includes(asked)) return asked;
    try {
      const l = localStorage.getItem(KEY);
      return LANGS.includes(l) ? l : "da";
    } catch (_) {
      return "da"; // storage blocked: Danish
    }
  }

  function lang() { return current; }

  async function load(l) {
    const resp = await fetch("/assets/lang/" + l + ".json");
    if (!resp.ok) throw new Error("catalogue " + l + ": HTTP " + resp.status);
    return resp.json();
  }

  // ready resolves once the catalogue is loaded and applied to the page. A catalogue that
  // cannot be had still resolves (texts show as their keys): a console that shows an alarm
  // with a raw label is better than one that shows nothing.
  const ready = (async () => {
    try {
      catalogue = await load(current);
    } catch (err) {
      console.error("vagt: no language catalogue:", err);
    }
    if (document.readyState === "loading") {
      await new Promise((r) => document.addEventListener("DOMContentLoaded", r, { once: true }));
    }
    apply(document);
    for (const slot of document.querySelectorAll("[data-lang-switch]")) {
      if (!slot.querySelector("select")) mountSwitch(slot);
    }
  })();

  function lookup(key) {
    let v = catalogue;
    for (const part of key.split(".")) {
      if (v === null || typeof v !== "object" || !(part in v)) return undefined;
      v = v[part];
    }
    return v;
  }

  const plurals = new Map();
  function pluralOf(n) {
    if (!plurals.has(current)) plurals.set(current, new Intl.PluralRules(current === "da" ? "da-DK" : "en-GB"));
    return plurals.get(current).select(n);
  }

  // t gives the text of key in the page's language, with {name} placeholders filled from
  // vars (numbers in the language's format). A text with plural forms ({"one": ..., "other":
  // ...}) is chosen by vars.count.
  function t(key, vars) {
    const v = template(key, vars);
    if (!vars) return v;
    return v.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? fill(vars[name]) : whole));
  }

  // tNodes is t for text with elements in it: a var that is a DOM node is put in as the
  // node ("Kvitteret af <strong>bo</strong>"). It returns what el()/append take.
  function tNodes(key, vars) {
    const v = template(key, vars);
    const out = [];
    let at = 0;
    for (const m of v.matchAll(/\{(\w+)\}/g)) {
      if (!vars || !(m[1] in vars)) continue;
      out.push(v.slice(at, m.index));
      const x = vars[m[1]];
      out.push(x instanceof Node ? x : fill(x));
      at = m.index + m[0].length;
    }
    out.push(v.slice(at));
    return out.filter((x) => x !== "");
  }

  function fill(x) {
    if (typeof x === "number" && typeof vagtFormat !== "undefined") return vagtFormat.number(x, Number.isInteger(x) ? 0 : 1);
    return String(x);
  }

  // template is the text of key (the plural form for vars.count), or the key itself.
  function template(key, vars) {
    let v = lookup(key);
    if (v && typeof v === "object" && "other" in v) {
      const n = vars && typeof vars.count === "number" ? vars.count : NaN;
      v = v[Number.isNaN(n) ? "other" : pluralOf(n)] ?? v.other;
    }
    if (typeof v !== "string") {
      if (!warned.has(key)) {
        warned.add(key);
        console.warn("vagt: no text for " + key + " in " + current);
      }
      return key;
    }
    return v;
  }

  // has says whether the catalogue holds key (for texts that depend on data: a device
  // technology the catalogue does not know yet).
  function has(key) { return lookup(key) !== undefined; }

  // apply sets the texts of data-i18n elements and the attributes of data-i18n-attr ones
  // under root, and the page's lang.
  function apply(root) {
    document.documentElement.lang = current;
    const scope = root || document;
    for (const e of scope.querySelectorAll("[data-i18n]")) e.textContent = t(e.dataset.i18n);
    for (const e of scope.querySelectorAll("[data-i18n-attr]")) {
      for (const pair of e.dataset.i18nAttr.split(";")) {
        const [attr, key] = pair.split(":").map((s) => s.trim());
        if (attr && key) e.setAttribute(attr, t(key));
      }
    }
    if (scope === document) {
      const title = document.querySelector("title[data-i18n]");
      if (title) document.title = title.textContent;
    }
  }

  // onChange registers a page's redraw for a switch of language. Without one the page is
  // reloaded on a switch (its token is kept in the tab).
  function onChange(fn) { listeners.push(fn); }

  async function setLang(l) {
    if (!LANGS.includes(l) || l === current) return;
    try {
      localStorage.setItem(KEY, l);
    } catch (_) { /* not kept: this page still switches */ }
    const url = new URL(location.href);
    if (url.searchParams.has("lang")) { // the address must not undo the choice on a reload
      url.searchParams.delete("lang");
      history.replaceState(history.state, "", url);
    }
    if (!listeners.length) {
      location.reload();
      return;
    }
    const next = await load(l);
    current = l;
    catalogue = next;
    apply(document);
    for (const fn of listeners) fn(l);
  }

  // mountSwitch puts the language switch into container: a labelled select, each language
  // named in its own language.
  function mountSwitch(container) {
    const id = "lang-switch-" + Math.random().toString(36).slice(2, 8);
    const wrap = document.createElement("span");
    wrap.className = "lang-switch";
    const label = document.createElement("label");
    label.htmlFor = id;
    label.className = "sr-only";
    label.dataset.i18n = "common.language";
    label.textContent = t("common.language");
    const sel = document.createElement("select");
    sel.id = id;
    for (const l of LANGS) {
      const o = document.createElement("option");
      o.value = l;
      o.lang = l;
      o.textContent = NAMES[l];
      o.selected = l === current;
      sel.append(o);
    }
    sel.addEventListener("change", () => setLang(sel.value));
    wrap.append(label, sel);
    container.append(wrap);
    return sel;
  }

  return { LANGS, lang, ready, t, tNodes, has, apply, onChange, setLang, mountSwitch };
})();
