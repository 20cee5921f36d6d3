/* Compare: each run's req/s and latency per second overlaid on elapsed time (from each
   run's stored series), and the whole-run percentile curves overlaid on a log axis. */
"use strict";

(() => {
  const { api, fmt } = Stampede;
  const { runs } = Stampede.pageData();
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

  /** One x axis (1 … the longest run's seconds); a run has nulls where it has no sample. */
  function overlay(seriesList, value) {
    const length = Math.max(0, ...seriesList.map((samples) => samples.length
      ? samples[samples.length - 1].second : 0));
    const xs = Array.from({ length }, (_, i) => i + 1);
    const lines = seriesList.map((samples, i) => {
      const values = new Array(length).fill(null);
      for (const s of samples) values[s.second - 1] = value(s);
      return { label: label(runs[i]), color: Charts.colorFor(i), values };
    });
    return [xs, lines];
  }

  async function load() {
    const seriesList = await Promise.all(runs.map((run) =>
      api(`/api/runs/${run.id}/series`).then((r) => r.samples).catch(() => [])));
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
