/* uPlot wrappers shared by the run and compare pages: charts sized to their container,
   updated in place with setData, with legends; series that come and go (status codes,
   error classes) rebuild the chart only when the set of series changes. */
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

  function width(container) { return Math.max(280, container.clientWidth); }

  const axisFont = "12px system-ui, sans-serif";

  function baseOptions(container, opts) {
    return {
      width: width(container),
      height: opts.height || HEIGHT,
      padding: [12, 36, 0, 0],     // room for the last x label ("99.999%")
      scales: {
        x: opts.xScale ? { time: false, ...opts.xScale } : { time: false, range: elapsedRange },
        y: { range: opts.yRange || yRange },
      },
      axes: [
        { label: opts.xLabel || "elapsed (s)", font: axisFont, labelFont: axisFont, size: 36, labelSize: 20,
          ...(opts.xScale ? {} : { incrs: SECOND_INCRS }), ...(opts.xAxis || {}) },
        { label: opts.yLabel || "", font: axisFont, labelFont: axisFont, size: 64, labelSize: 20 },
      ],
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
      series: [
        { label: opts.xLegend || "second", value: opts.xValue || ((u, v) => (v == null ? "—" : v)) },
        ...opts.series.map((s, i) => ({
          label: s.label,
          stroke: s.color || colorFor(i),
          width: s.width || 2,
          ...(s.dash ? { dash: s.dash } : {}),
          spanGaps: true,
          value: (u, v) => (v == null ? "—" : (opts.format || defaultFormat)(v)),
        })),
      ],
    };
  }

  /** Elapsed time from 0, so a run's first seconds are not stretched across the chart. */
  function elapsedRange(u, min, max) {
    return [0, Math.max(max == null ? 1 : max, 1)];
  }

  /** y from 0 (rates and latencies are never negative) to a little above the max. */
  function yRange(u, min, max) {
    if (max == null || !Number.isFinite(max) || max <= 0) return [0, 1];
    return [0, max * 1.08];
  }

  function defaultFormat(v) {
    return Math.abs(v) >= 100 ? Math.round(v).toLocaleString("en-US") : (+v.toFixed(2)).toString();
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
      follow(this.container, () => this.plot);
    }

    update(xs, series, empty) {
      const key = series.map((s) => `${s.label}\u0000${s.color || ""}`).join("\u0001");
      if (!series.length || !xs.length) {
        this.destroy();
        this.showEmpty(empty || this.opts.empty || "No data yet");
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
      this.plot = new uPlot(baseOptions(this.container, { ...this.opts, series }), data, this.container);
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
      xValue: (u, v) => (v == null ? "—" : percentileLabel(v)),
      xAxis: {
        splits: (u, axisIdx, min, max) => CURVE_TICKS.filter((t) => t >= min * 0.999 && t <= max * 1.001),
        // uPlot thins log-axis ticks to powers of ten; 50% (x = 2) is worth a label
        filter: (u, splits) => splits,
        values: (u, splits) => splits.map((x) => (x == null ? "" : percentileLabel(x))),
      },
      format: (v) => Stampede.fmt.ms(v),
    });
  }

  return { Chart, curveChart, curvePoints, colorFor, statusColor, PALETTE };
})();
