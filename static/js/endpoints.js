/* The run page's endpoint table: one row per target name (app/engine/snapshot.py's
   "endpoints"), sortable by any column, updated in place every second; a radio per row
   (and "All endpoints") chooses what the req/s and latency charts show. */
"use strict";

const Endpoints = (() => {
  const { fmt, el } = Stampede;
  // [key, header text, format]; "rps" is the last second's rate while the run is live,
  // the whole run's mean once it has ended
  const COLUMNS = [
    ["rps", "req/s now", (v) => fmt.num(v)],
    ["requests", "total", fmt.int], ["ok", "ok", fmt.int], ["failed", "failed", fmt.int],
    ["errors", "errors", fmt.int],
    ["p50", "p50", fmt.ms], ["p90", "p90", fmt.ms], ["p99", "p99", fmt.ms], ["max", "max", fmt.ms],
  ];
  const ALL = "";       // the radio value of "All endpoints"

  /** One row's numbers: whole-run counts and latency from `stats` (a summary's or the live
      totals' endpoint), the rate from `second` (the last sample's endpoint) while live.
      Once the run has numbers, a name without any is 0 requests (0 req/s in a second
      without its answers); latency without answers is null, shown "—", never 0. */
  function rowOf(name, stats, second, { live, hasSecond, hasTotals }) {
    const latency = (stats && stats.latency_ms) || {};
    const count = (key) => (stats ? stats[key] : hasTotals ? 0 : null);
    let rps = null;
    if (live) rps = second ? second.rps : hasSecond ? 0 : null;
    else if (stats) rps = stats.rps;
    else if (hasTotals) rps = 0;
    return {
      name, rps,
      requests: count("requests"), ok: count("ok"), failed: count("failed"), errors: count("errors"),
      p50: latency.p50 ?? null, p90: latency.p90 ?? null, p99: latency.p99 ?? null,
      max: latency.max ?? null,
    };
  }

  /** The rows of `names` (and of any name the data has that they lack), and the "All"
      row from the run's totals and last sample. */
  function rowsFrom({ names, totals, last, live }) {
    const stats = (totals && totals.endpoints) || {};
    const second = (last && last.endpoints) || {};
    const all = [...names, ...Object.keys(stats).filter((n) => !names.includes(n))];
    const context = { live, hasSecond: Boolean(last), hasTotals: Boolean(totals) };
    return {
      rows: all.map((name) => rowOf(name, stats[name], second[name], context)),
      all: rowOf("All endpoints", totals, last, context),
    };
  }

  /** Rows ordered by `key`, `descending` or not; numbers missing ("—") go last either way,
      ties by name, so the order is stable from one second to the next. */
  function sortRows(rows, key, descending) {
    const byName = (a, b) => a.name.localeCompare(b.name);
    return [...rows].sort((a, b) => {
      if (key === "name") return descending ? byName(b, a) : byName(a, b);
      const x = a[key];
      const y = b[key];
      if (x == null || y == null) return (x == null) - (y == null) || byName(a, b);
      return (descending ? y - x : x - y) || byName(a, b);
    });
  }

  class Table {
    /** `root`: the table; `onChoose(name or null)` when another endpoint is chosen. */
    constructor(root, onChoose) {
      this.root = root;
      this.body = root.querySelector("tbody.endpoint-rows");
      this.allRow = root.querySelector("tr.all-row");
      this.rows = new Map();          // name -> {tr, cells: {key: td}}
      this.sort = { key: "name", descending: false };
      this.last = [];
      this.root.addEventListener("change", (event) => {
        if (event.target.name !== "endpoint") return;
        onChoose(event.target.value === ALL ? null : event.target.value);
      });
      for (const th of root.querySelectorAll("th[data-sort]")) {
        th.querySelector("button").addEventListener("click", () => this.sortBy(th.dataset.sort));
      }
      this.cells(this.allRow);
    }

    /** The number cells of a row, by key (built once; updated in place). */
    cells(tr) {
      const cells = {};
      for (const td of tr.querySelectorAll("td[data-col]")) cells[td.dataset.col] = td;
      return cells;
    }

    sortBy(key) {
      const same = this.sort.key === key;
      // numbers first biggest (the slowest, the busiest), names A to Z; again: reversed
      this.sort = { key, descending: same ? !this.sort.descending : key !== "name" };
      for (const th of this.root.querySelectorAll("th[data-sort]")) {
        if (th.dataset.sort === key) th.setAttribute("aria-sort", this.sort.descending ? "descending" : "ascending");
        else th.removeAttribute("aria-sort");
      }
      this.update(this.last, this.lastAll);
    }

    /** Show these rows (rowsFrom), in the chosen order; live: the rate column's title. */
    update(rows, all, live = true) {
      this.last = rows;
      this.lastAll = all;
      const title = this.root.querySelector('th[data-sort="rps"] button');
      const text = live ? "req/s now" : "req/s (mean)";
      if (title.textContent !== text) title.textContent = text;
      if (all) this.fill(this.cells(this.allRow), all);
      const ordered = sortRows(rows, this.sort.key, this.sort.descending);
      let previous = null;
      for (const row of ordered) {
        let entry = this.rows.get(row.name);
        if (!entry) {
          entry = this.makeRow(row.name);
          this.rows.set(row.name, entry);
        }
        this.fill(entry.cells, row);
        // move only what is out of place: a focused radio keeps its focus
        const want = previous ? previous.nextSibling : this.body.firstChild;
        if (want !== entry.tr) this.body.insertBefore(entry.tr, want);
        previous = entry.tr;
      }
    }

    fill(cells, row) {
      for (const [key, , format] of COLUMNS) {
        const text = format(row[key]);
        if (cells[key].textContent !== text) cells[key].textContent = text;
        if (key === "failed" || key === "errors") cells[key].classList.toggle("bad", row[key] > 0);
      }
    }

    makeRow(name) {
      const id = `endpoint-${this.rows.size}`;
      const tr = el("tr", { "data-endpoint": name },
        el("th", { scope: "row", class: "endpoint-name" },
          el("input", { type: "radio", name: "endpoint", value: name, id }),
          el("label", { for: id, text: name })),
        ...COLUMNS.map(([key]) => el("td", { class: "num", "data-col": key, text: "—" })));
      return { tr, cells: this.cells(tr) };
    }
  }

  return { Table, rowsFrom, sortRows, COLUMNS, ALL };
})();
