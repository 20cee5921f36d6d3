/* The one-file report's charts (templates/report.html; inlined by app/report/build.py after
   uPlot, common.js and charts.js). Everything comes from the JSON block: no request is
   made. A run: req/s, latency p50/p90/p99/max, status codes and errors per second (an
   endpoint chosen filters the first two, as on the run page), the percentile curve. A
   comparison: each run's req/s, p99 and p50 overlaid, and the curves. Dragging across a
   time chart zooms every time chart to those seconds; "Whole run" zooms back; a legend
   entry clicked hides its line (uPlot's own). */
"use strict";

(() => {
  const { fmt } = Stampede;
  const data = Stampede.pageData();
  const LATENCY = ["p50", "p90", "p99", "max"];
  const LATENCY_COLORS = ["#2b8a3e", "#1971c2", "#e8590c", "#c92a2a"];

  // --- zoom: one window for every time chart ------------------------------------------
  const reset = document.getElementById("zoom-reset");
  const zoomText = document.getElementById("zoom-text");
  const wholeText = zoomText.textContent;
  let timeCharts = [];
  let home = null;          // the range the charts open at: a compared window, or all

  function zoom(range) {
    for (const chart of timeCharts) chart.setWindow(range || home);
    reset.hidden = !range;
    zoomText.textContent = range
      ? `Seconds ${Math.max(1, Math.floor(range[0]) + 1)}–${Math.ceil(range[1])}. Drag again to zoom further.`
      : wholeText;
  }
  const onSelect = (x0, x1) => zoom([Math.max(0, x0), x1]);
  reset.addEventListener("click", () => zoom(null));

  /** counts per point -> per second of the point's own span (the last may be shorter) */
  const perSecond = (counts, elapsed) => counts.map((n, i) => (elapsed[i] > 0 ? n / elapsed[i] : 0));
  const filled = (length, value) => new Array(length).fill(value);

  // --- one run ------------------------------------------------------------------------
  function runCharts(run) {
    const s = run.series;
    const xs = s.second;
    const noData = "No data recorded";
    const charts = {
      rps: new Charts.Chart("#chart-rps", { yLabel: "req/s", onSelect, empty: noData }),
      latency: new Charts.Chart("#chart-latency", { yLabel: "ms", format: fmt.ms, onSelect, empty: noData }),
      status: new Charts.Chart("#chart-status", { yLabel: "responses/s", onSelect, empty: "No responses" }),
      errors: new Charts.Chart("#chart-errors", { yLabel: "errors/s", onSelect, empty: "No errors" }),
      curve: Charts.curveChart("#chart-curve", { empty: "No responses" }),
    };
    timeCharts = [charts.rps, charts.latency, charts.status, charts.errors];
    const select = document.getElementById("endpoint");
    if (select) {
      // per-point figures split rates and latency by endpoint, not status codes or errors
      charts.status.setScope("all endpoints");
      charts.errors.setScope("all endpoints");
      select.addEventListener("change", () => drawFiltered());
    }

    function drawFiltered() {
      const name = select ? select.value : "";
      const part = name ? s.endpoints[name] || { rps: filled(xs.length, 0) } : null;
      if (select) {
        const scope = name ? `endpoint: ${name}` : "all endpoints";
        charts.rps.setScope(scope);
        charts.latency.setScope(scope);
      }
      const rps = [{ label: "completed/s", values: part ? part.rps : s.rps }];
      if (run.model === "open" && !part) {
        rps.push({ label: "sent/s", color: "#ae3ec9", values: perSecond(s.started, s.elapsed) });
      }
      charts.rps.update(xs, rps);
      charts.latency.update(xs, LATENCY.map((k, i) => ({
        label: k, color: LATENCY_COLORS[i],
        values: part ? part[k] || filled(xs.length, null) : s.latency[k],
      })));
    }

    drawFiltered();
    const codes = Object.keys(s.status).sort();
    const seen = {};
    charts.status.update(xs, codes.map((code) => {
      const cls = code[0];
      seen[cls] = (seen[cls] || 0) + 1;
      return { label: code, color: Charts.statusColor(code, seen[cls] - 1),
               values: perSecond(s.status[code], s.elapsed) };
    }));
    charts.errors.update(xs, Object.keys(s.errors).sort().map((cls, i) => ({
      label: cls, color: Charts.colorFor(i + 4), values: perSecond(s.errors[cls], s.elapsed),
    })));
    const { xs: cx, ys } = Charts.curvePoints(run.curve);
    charts.curve.update(cx, ys.length ? [{ label: "latency", values: ys }] : []);
  }

  // --- a comparison -------------------------------------------------------------------
  function compareCharts(runs) {
    for (const swatch of document.querySelectorAll(".swatch[data-index]")) {
      swatch.style.background = Charts.colorFor(Number(swatch.dataset.index));
    }
    const charts = {
      rps: new Charts.Chart("#chart-rps", { yLabel: "req/s", onSelect }),
      p99: new Charts.Chart("#chart-p99", { yLabel: "ms", format: fmt.ms, onSelect }),
      p50: new Charts.Chart("#chart-p50", { yLabel: "ms", format: fmt.ms, onSelect }),
      curve: Charts.curveChart("#chart-curve"),
    };
    timeCharts = [charts.rps, charts.p99, charts.p50];

    // one x axis, every point any run has (they share one step, so points line up); a
    // run has null where it has no point
    const xs = [...new Set(runs.flatMap((r) => r.series.second))].sort((a, b) => a - b);
    const index = new Map(xs.map((x, i) => [x, i]));
    const overlay = (pick) => runs.map((run, i) => {
      const values = filled(xs.length, null);
      const column = pick(run.series);
      run.series.second.forEach((x, j) => { values[index.get(x)] = column[j]; });
      return { label: run.label, color: Charts.colorFor(i), values };
    });

    const shown = data.window;
    if (shown) {
      const ends = runs.map((r) => {
        const n = r.series.second.length;
        return n ? r.series.second[n - 1] - 1 + Math.max(1, Math.round(r.series.elapsed[n - 1])) : 0;
      });
      home = [shown.from - 1, shown.to || Math.max(shown.from, ...ends)];
      zoom(null);
    }
    charts.rps.update(xs, overlay((s) => s.rps));
    charts.p99.update(xs, overlay((s) => s.latency.p99));
    charts.p50.update(xs, overlay((s) => s.latency.p50));

    const curves = runs.map((run) => Charts.curvePoints(run.curve));
    const cx = curves.reduce((best, c) => (c.xs.length > best.length ? c.xs : best), []);
    charts.curve.update(cx, curves.map((c, i) => ({
      label: runs[i].label, color: Charts.colorFor(i),
      values: cx.map((_, j) => (j < c.ys.length ? c.ys[j] : null)),
    })).filter((line) => line.values.some((v) => v != null)));
  }

  if (data.kind === "compare") compareCharts(data.runs);
  else runCharts(data.runs[0]);
})();
