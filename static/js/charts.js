/* uPlot wrappers shared by the run and compare pages: charts sized to their container,
   updated in place with setData, with legends; series that come and go (status codes,
   error classes) rebuild the chart only when the set of series changes. Every chart has a
   "Show as table" toggle with the same numbers, its text alternative (a canvas has none).
   Missing values (null: a second without responses, a run that had ended) are gaps in the
   lines and "—" in legends and tables, never 0. A time chart given `onSelect` lets the
   mouse drag across it to choose a range of seconds; setWindow zooms it to a range. */
"use strict";

const Charts = (() => {
  const HEIGHT = 240;
  const PALETTE = ["#2457d6", "#e8590c", "#2b8a3e", "#ae3ec9", "#c92a2a", "#0b7285",
                   "#f08c00", "#5c940d", "#862e9c", "#495057"];
  const STATUS_COLORS = { 1: "#868e96", 2: "#2b8a3e", 3: "#1971c2", 4: "#f08c00", 5: "#c92a2a" };

  // x ticks on whole seconds, then on round minutes
  const SECOND_INCRS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200];

  function colorFor(index) { return PALETTE[index % PALETTE.length]; }

  /** 2xx greens, 4xx oranges, 5xx reds; a second code of a class gets a lighter shade. */
  function statusColor(code, nth) {
    const base = STATUS_COLORS[String(code)[0]] || "#495057";
    return nth ? shade(base, Math.min(0.6, 0.25 * nth)) : base;
  }

  function shade(hex, amount) {
    const n = parseInt(hex.slice(1), 16);
    const mix = (c) => Math.round(c + (255 - c) * amount);
    return `rgb(${mix(n >> 16)}, ${mix((n >> 8) & 255)}, ${mix(n & 255)})`;
  }

  // Narrower than this and the axes leave no room to plot; the card scrolls instead.
  function width(container) { return Math.max(240, container.clientWidth); }

  const axisFont = "12px system-ui, sans-serif";
  const LABEL_GAP_PX = 8;
  const DASH = "—";

  let measureContext = null;
  function textWidth(text) {
    measureContext = measureContext || document.createElement("canvas").getContext("2d");
    measureContext.font = axisFont;
    return measureContext.measureText(text).width;
  }

  /** An x-axis filter for fixed tick lists: left to right, a tick whose label would touch
      the previous label kept is left unlabelled (narrow charts, log axes bunch up). */
  function spacedTicks(label) {
    return (u, splits) => {
      let lastRight = -Infinity;
      return splits.map((x) => {
        if (x == null) return null;
        const center = u.valToPos(x, "x");
        const half = textWidth(label(x)) / 2;
        if (center - half < lastRight + LABEL_GAP_PX) return null;
        lastRight = center + half;
        return x;
      });
    };
  }

  function baseOptions(container, opts) {
    return {
      width: width(container),
      height: opts.height || HEIGHT,
      padding: [12, 36, 0, 0],     // room for the last x label ("99.999%")
      scales: {
        x: opts.xScale ? { time: false, ...opts.xScale } : { time: false, range: xRange(opts) },
        y: { range: opts.yRange || yRange },
      },
      axes: [
        { label: opts.xLabel || "elapsed (s)", font: axisFont, labelFont: axisFont, size: 36, labelSize: 20,
          ...(opts.xScale ? {} : { incrs: SECOND_INCRS }), ...(opts.xAxis || {}) },
        { label: opts.yLabel || "", font: axisFont, labelFont: axisFont, size: 64, labelSize: 20 },
      ],
      // drag: a selection the page acts on (onSelect), not uPlot's own zoom, so every
      // chart zooms alike and the page can fetch the range at a finer step
      cursor: { drag: opts.onSelect ? { x: true, y: false, setScale: false } : { x: false, y: false } },
      hooks: opts.onSelect ? { setSelect: [(u) => selected(u, opts.onSelect)] } : {},
      legend: { live: true },
      series: [
        { label: opts.xLegend || "second", value: (u, v) => formatX(opts, v) },
        ...opts.series.map((s, i) => ({
          label: s.label,
          stroke: s.color || colorFor(i),
          width: s.width || 2,
          ...(s.dash ? { dash: s.dash } : {}),
          spanGaps: false,      // null is "no value this second": a gap, not a line through it
          value: (u, v) => formatY(opts, v),
        })),
      ],
    };
  }

  /** Elapsed time from 0, so a run's first seconds are not stretched across the chart. */
  function elapsedRange(u, min, max) {
    return [0, Math.max(max == null ? 1 : max, 1)];
  }

  /** The x range: the chart's window while it has one (Chart.setWindow), else elapsed time
      from 0. uPlot asks on every data update and scale change, so the window holds. */
  function xRange(opts) {
    return (u, min, max) => (opts.xWindow && opts.xWindow()) || elapsedRange(u, min, max);
  }

  // a drag narrower than this is a click that slipped, not a range
  const MIN_SELECT_PX = 4;

  /** A finished drag: its x values to onSelect(from, to), and the shaded box cleared (the
      charts zoom to the range instead). */
  function selected(u, onSelect) {
    const { left, width: size } = u.select;
    if (size < MIN_SELECT_PX) return;
    const from = u.posToVal(left, "x");
    const to = u.posToVal(left + size, "x");
    u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
    onSelect(from, to);
  }

  /** y from 0 (rates and latencies are never negative) to a little above the max. */
  function yRange(u, min, max) {
    if (max == null || !Number.isFinite(max) || max <= 0) return [0, 1];
    return [0, max * 1.08];
  }

  function defaultFormat(v) {
    return Math.abs(v) >= 100 ? Math.round(v).toLocaleString("en-US") : (+v.toFixed(2)).toString();
  }

  /** Legend and table text of a value; null (and NaN) is a dash, never 0. */
  function formatY(opts, v) {
    return Stampede.isNum(v) ? (opts.format || defaultFormat)(v) : DASH;
  }

  function formatX(opts, v) {
    if (!Stampede.isNum(v)) return DASH;
    return opts.xValue ? opts.xValue(null, v) : String(v);
  }

  /** Keep a chart as wide as its container. */
  function follow(container, getPlot) {
    let last = container.clientWidth;
    const observer = new ResizeObserver(() => {
      const plot = getPlot();
      if (plot && container.clientWidth !== last) {
        last = container.clientWidth;
        plot.setSize({ width: width(container), height: plot.height });
      }
    });
    observer.observe(container);
  }

  /**
   * A chart whose series can change: update(xs, [{label, values, color?}]) draws in place
   * while the labels stay the same and rebuilds the plot when they change.
   * With no series it shows `empty` text instead of an empty frame.
   */
  class Chart {
    constructor(container, opts = {}) {
      this.container = typeof container === "string" ? document.querySelector(container) : container;
      this.opts = opts;
      this.plot = null;
      this.labels = "";
      this.data = { xs: [], series: [], empty: "" };     // what the table shows
      this.window = null;        // [min, max] of x while zoomed to a window (setWindow)
      this.table = new ChartTable(this);
      charts.set(this.container, this);
      follow(this.container, () => this.plot);
    }

    update(xs, series, empty) {
      const key = series.map((s) => `${s.label}\u0000${s.color || ""}`).join("\u0001");
      this.data = { xs, series, empty: empty || this.opts.empty || "No data yet" };
      this.table.refresh();
      if (!series.length || !xs.length) {
        this.destroy();
        this.showEmpty(this.data.empty);
        return;
      }
      const data = [xs, ...series.map((s) => s.values)];
      if (this.plot && key === this.labels) {
        this.plot.setData(data);
        return;
      }
      this.destroy();
      this.container.replaceChildren();
      this.labels = key;
      const opts = { ...this.opts, series, xWindow: () => this.window };
      this.plot = new uPlot(baseOptions(this.container, opts), data, this.container);
    }

    /** Zoom the x axis to [min, max], or back to the whole run (null). */
    setWindow(range) {
      const same = range && this.window ? range[0] === this.window[0] && range[1] === this.window[1]
        : range === this.window;
      if (same) return;
      this.window = range ? [range[0], range[1]] : null;
      const xs = this.plot && this.plot.data[0];
      if (xs && xs.length) this.plot.setScale("x", { min: xs[0], max: xs[xs.length - 1] });
    }

    /** Say what part of the data the chart shows ("endpoint: GET /search"): in its
        caption's badge (`<id>-scope`, _partials.html chart) and its table's caption. */
    setScope(text) {
      if (this.scope === text) return;
      this.scope = text;
      const badge = document.getElementById(`${this.container.id}-scope`);
      if (badge) badge.textContent = text;
      this.table.setScope(text);
    }

    showEmpty(text) {
      const current = this.container.querySelector(".chart-empty");
      if (current && current.textContent === text) return;
      this.container.replaceChildren(Stampede.el("p", { class: "chart-empty", text }));
    }

    destroy() {
      if (this.plot) {
        this.plot.destroy();
        this.plot = null;
        this.labels = "";
      }
    }
  }

  /**
   * The chart's numbers as a table under a "Show as table" toggle. Built only while shown
   * and then refreshed row by row: a row is rewritten only when its text changed, so a
   * live run of hours costs one new row a second, not a new table.
   */
  class ChartTable {
    constructor(chart) {
      this.chart = chart;
      this.shown = false;
      this.columns = "";         // header text the body was built for
      this.rows = [];            // each row's text, to skip unchanged rows
      this.scope = "";           // what part of the data (Chart.setScope)
      const { container } = chart;
      const figure = container.closest("figure");
      const caption = figure && figure.querySelector("figcaption");
      this.title = caption ? caption.firstChild.textContent.trim() : "Chart";
      const id = `${container.id || "chart"}-table`;
      this.button = Stampede.el("button", {
        type: "button", class: "link chart-table-toggle", "aria-expanded": "false",
        "aria-controls": id, text: "Show as table",
      });
      // a scrolling region must be focusable to scroll it from the keyboard
      this.region = Stampede.el("div", {
        class: "chart-table", id, role: "region", tabindex: "0", hidden: "",
        "aria-label": `${this.title} as a table`,
      });
      this.button.addEventListener("click", () => this.toggle());
      container.after(this.button, this.region);
    }

    setScope(text) {
      this.scope = text;
      const caption = this.region.querySelector("caption");
      if (caption) caption.textContent = this.caption();
    }

    caption() {
      const { yLabel } = this.chart.opts;
      return `${this.title}${this.scope ? `, ${this.scope}` : ""}${yLabel ? ` (${yLabel})` : ""}`;
    }

    toggle() {
      this.shown = !this.shown;
      this.button.setAttribute("aria-expanded", String(this.shown));
      this.button.textContent = this.shown ? "Hide table" : "Show as table";
      this.region.hidden = !this.shown;
      if (!this.shown) {                  // free the rows; showing again rebuilds them
        this.region.replaceChildren();
        this.columns = "";
        this.rows = [];
      }
      this.refresh();
    }

    refresh() {
      if (!this.shown) return;
      const { opts } = this.chart;
      const { xs, series, empty } = this.chart.data;
      if (!xs.length || !series.length) {
        this.columns = "";
        this.rows = [];
        this.region.replaceChildren(Stampede.el("p", { class: "chart-empty-text", text: empty }));
        return;
      }
      const headers = [opts.xLegend || "second", ...series.map((s) => s.label)];
      const columns = headers.join("\u0001");
      if (columns !== this.columns) this.build(headers, columns);
      const rows = this.body.rows;
      for (let i = 0; i < xs.length; i += 1) {
        const cells = [formatX(opts, xs[i]), ...series.map((s) => formatY(opts, s.values[i]))];
        const text = cells.join("\u0001");
        if (this.rows[i] === text) continue;
        this.rows[i] = text;
        const row = Stampede.el("tr", {}, Stampede.el("th", { scope: "row", text: cells[0] }),
          ...cells.slice(1).map((cell) => Stampede.el("td", { class: "num", text: cell })));
        if (i < rows.length) rows[i].replaceWith(row);
        else this.body.append(row);
      }
      while (rows.length > xs.length) rows[rows.length - 1].remove();
      this.rows.length = xs.length;
    }

    build(headers, columns) {
      this.columns = columns;
      this.rows = [];
      this.body = Stampede.el("tbody");
      this.region.replaceChildren(Stampede.el("table", { class: "table compact" },
        Stampede.el("caption", { text: this.caption() }),
        Stampede.el("thead", {}, Stampede.el("tr", {},
          ...headers.map((h, i) => Stampede.el("th", { scope: "col", class: i ? "num" : "", text: h })))),
        this.body));
    }
  }

  // container -> Chart, for axisLabels
  const charts = new WeakMap();

  /** The labels an axis of the chart in `container` draws, with their extents in CSS px
      ([{text, left, right}], x axis only); the layout tests check they do not overlap. */
  function axisLabels(container, axisIndex = 0) {
    const chart = charts.get(container);
    const u = chart && chart.plot;
    if (!u) return [];
    const axis = u.axes[axisIndex];
    return (axis._splits || []).map((x, i) => ({ x, text: (axis._values || [])[i] }))
      .filter(({ text }) => text)
      .map(({ x, text }) => {
        const center = u.valToPos(x, "x");
        const half = textWidth(text) / 2;
        return { text, left: center - half, right: center + half };
      });
  }

  /* Percentile curves: x = 1/(1-p), on a log scale, so 90%, 99%, 99.9% … are equally spaced. */
  const CURVE_TICKS = [1, 2, 10, 100, 1e3, 1e4, 1e5, 1e6];

  function percentileLabel(x) {
    const p = 100 * (1 - 1 / x);
    if (p <= 0) return "0%";
    return `${+p.toFixed(p >= 99.99 ? 4 : p >= 99 ? 2 : 1)}%`;
  }

  /** [[p, ms], ...] from Summary.percentile_curve -> {xs, ys} without p = 100 (x would be infinite). */
  function curvePoints(curve) {
    const points = (curve || []).filter(([p]) => p < 100);
    return { xs: points.map(([p]) => 1 / (1 - p / 100)), ys: points.map(([, ms]) => ms) };
  }

  function curveChart(container, opts = {}) {
    return new Chart(container, {
      ...opts,
      xLabel: "percentile",
      xLegend: "percentile",
      yLabel: "latency (ms)",
      xScale: { distr: 3, log: 10 },
      xValue: (u, v) => percentileLabel(v),
      xAxis: {
        splits: (u, axisIdx, min, max) => CURVE_TICKS.filter((t) => t >= min * 0.999 && t <= max * 1.001),
        // uPlot thins log-axis ticks to powers of ten; 50% (x = 2) is worth a label where it fits
        filter: spacedTicks(percentileLabel),
        values: (u, splits) => splits.map((x) => (x == null ? "" : percentileLabel(x))),
      },
      format: (v) => Stampede.fmt.ms(v),
    });
  }

  return { Chart, curveChart, curvePoints, colorFor, statusColor, axisLabels, PALETTE };
})();
