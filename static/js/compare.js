/* Compare: each run's req/s and latency per second overlaid on elapsed time (from each
   run's stored series), and the percentile curves overlaid on a log axis. With a window
   (/compare?ids=3,4&from=61) every chart, like every number, covers only those seconds. */
"use strict";

(() => {
  const { api, fmt } = Stampede;
  // series: each run's series URL (the window's seconds, one step for all: the points
  // line up); window: {from, to (null: the end)} or null for the whole runs
  const { runs, series, window: shown } = Stampede.pageData();
  const label = (run) => `${run.name || `Run #${run.id}`} (#${run.id})`;

  for (const swatch of document.querySelectorAll(".swatch[data-index]")) {
    swatch.style.background = Charts.colorFor(Number(swatch.dataset.index));
  }

  const charts = {
    rps: new Charts.Chart("#chart-rps", { yLabel: "req/s" }),
    p99: new Charts.Chart("#chart-p99", { yLabel: "ms", format: fmt.ms }),
    p50: new Charts.Chart("#chart-p50", { yLabel: "ms", format: fmt.ms }),
    curve: Charts.curveChart("#chart-curve"),
  };

  /** One x axis, every second (or step) any run has; a run has nulls where it has no sample. */
  function overlay(seriesList, value) {
    const xs = [...new Set(seriesList.flatMap((samples) => samples.map((s) => s.second)))]
      .sort((a, b) => a - b);
    const index = new Map(xs.map((x, i) => [x, i]));
    const lines = seriesList.map((samples, i) => {
      const values = new Array(xs.length).fill(null);
      for (const s of samples) values[index.get(s.second)] = value(s);
      return { label: label(runs[i]), color: Charts.colorFor(i), values };
    });
    return [xs, lines];
  }

  /** The x axis from the window's start (elapsed time before it left out). */
  function zoom(seriesList) {
    if (!shown) return;
    const ends = seriesList.map((samples) => {
      const s = samples[samples.length - 1];
      return s ? s.second - 1 + Math.max(1, Math.round(s.elapsed_s)) : 0;
    });
    const end = shown.to || Math.max(shown.from, ...ends);
    for (const chart of [charts.rps, charts.p99, charts.p50]) chart.setWindow([shown.from - 1, end]);
  }

  async function load() {
    const seriesList = await Promise.all(series.map((url) =>
      api(url).then((r) => r.samples).catch(() => [])));
    zoom(seriesList);
    charts.rps.update(...overlay(seriesList, (s) => s.rps));
    charts.p99.update(...overlay(seriesList, (s) => (s.completed ? s.latency_ms.p99 : null)));
    charts.p50.update(...overlay(seriesList, (s) => (s.completed ? s.latency_ms.p50 : null)));

    const curves = runs.map((run) => Charts.curvePoints(run.summary && run.summary.requests
      ? run.summary.percentile_curve : []));
    const xs = curves.reduce((best, c) => (c.xs.length > best.length ? c.xs : best), []);
    charts.curve.update(xs, curves.map((c, i) => ({
      label: label(runs[i]), color: Charts.colorFor(i),
      values: xs.map((_, j) => (j < c.ys.length ? c.ys[j] : null)),
    })).filter((s) => s.values.some((v) => v != null)));
  }

  load();
})();
