/* Shared by every page: number formats (the same as app/web/display.py), the page's
   embedded data, JSON fetches and safe DOM building (text only, never HTML). */
"use strict";

const Stampede = (() => {
  const dash = "—";
  const isNum = (v) => typeof v === "number" && Number.isFinite(v);

  /** toFixed with thousands commas (display.fixed in Python rounds the same way). */
  function fixed(v, digits, group = false) {
    const text = Math.abs(v).toFixed(digits);
    const [whole, frac] = text.split(".");
    const grouped = group ? whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",") : whole;
    return (v < 0 && Number(text) !== 0 ? "-" : "") + grouped + (frac ? `.${frac}` : "");
  }

  const fmt = {
    int: (v) => (isNum(v) ? fixed(v, 0, true) : dash),
    num: (v, digits = 1) => (isNum(v) ? fixed(v, digits, true) : dash),
    ms(v) {
      if (!isNum(v)) return dash;
      if (v >= 100) return `${fixed(v, 0, true)} ms`;
      return `${fixed(v, v >= 10 ? 1 : 2)} ms`;
    },
    duration(s) {
      if (!isNum(s)) return dash;
      if (s < 60) return `${fixed(s, 1)} s`;
      const whole = Number(fixed(s, 0));
      let m = Math.floor(whole / 60);
      const sec = whole % 60;
      if (m < 60) return `${m}m ${String(sec).padStart(2, "0")}s`;
      const h = Math.floor(m / 60);
      m %= 60;
      return `${h}h ${String(m).padStart(2, "0")}m`;
    },
    percent: (f, digits = 2) => (isNum(f) ? `${fixed(100 * f, digits)}%` : dash),
    pct: (v) => (isNum(v) ? `${fixed(v, 1)}%` : dash),
    mb: (v) => (isNum(v) ? `${fixed(v, 1)} MB` : dash),
    bytes(v) {
      if (!isNum(v)) return dash;
      const units = ["B", "KB", "MB", "GB", "TB"];
      let i = 0;
      while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
      return `${fixed(v, i ? 1 : 0)} ${units[i]}`;
    },
  };

  /** The JSON block a template embeds for its script (see _partials.html page_data). */
  function pageData() {
    const node = document.getElementById("page-data");
    return node ? JSON.parse(node.textContent) : {};
  }

  /** fetch() a same-origin JSON endpoint; throws an Error with the server's message. */
  async function api(path, options = {}) {
    const response = await fetch(path, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
      ...options,
    });
    const type = response.headers.get("Content-Type") || "";
    const body = type.includes("json") ? await response.json() : null;
    if (!response.ok) {
      const message = (body && (body.error || body.message)) || `${response.status} ${response.statusText}`;
      const error = new Error(typeof message === "string" ? message : JSON.stringify(message));
      error.status = response.status;
      throw error;
    }
    return body;
  }

  /** Build an element; children are nodes or strings (inserted as text). */
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else node.setAttribute(key, value);
    }
    for (const child of children) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function setText(id, text) {
    const node = document.getElementById(id);
    if (node && node.textContent !== text) node.textContent = text;
  }

  /** The value at a dotted path ("latency_ms.p50") of an object, or undefined. */
  function pick(obj, path) {
    return path.split(".").reduce((o, k) => (o == null ? undefined : o[k]), obj);
  }

  return { fmt, fixed, pageData, api, el, setText, pick, isNum };
})();
