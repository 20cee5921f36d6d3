/* One run, live or finished. An active run listens on the WebSocket, which first replays
   every second so far (so a refresh or a second tab draws full charts) and then sends one
   snapshot a second; a finished run draws the same charts from its stored series.
   A window (dragged across a chart, typed, or from the URL's ?from=&to=) zooms the time
   charts to some seconds, drawn from the series of just those seconds at a finer step,
   with their exact summary from the window API. */
"use strict";

/** How far a run is and when it ends, from its per-second samples (pure: no DOM; the
    browser tests call it through page.evaluate). */
const RunProgress = (() => {
  // The rate's memory: a second `age` seconds old weighs exp(-age / tau), tau at least
  // SMOOTHING_S. Over a 5 s window the sync preset (one request at a time, 0-3 s each: 0,
  // 1 or 2 answers a second) made the ETA jump between 53 s and 2m22 within 20 s.
  const SMOOTHING_S = 20;
  // A rate from n answers is off by about 1/sqrt(n): a slow run remembers long enough to
  // hold about this many (the sync preset's 0.65/s: 46 s), a fast one just SMOOTHING_S.
  const ANSWERS = 30;
  // Below this many answers a rate says little (one 3 s request at the start is 0.3/s).
  const MIN_COMPLETED = 5;

  /** Requests per second, exponentially weighted toward the latest seconds: the weighted
      completions over the weighted seconds. Early in a run (shorter than tau) every weight
      is near 1: the whole-run average. Null before MIN_COMPLETED answers. */
  function smoothedRate(samples) {
    const total = samples.reduce((sum, s) => sum + s.completed, 0);
    const elapsed = samples.reduce((sum, s) => sum + s.elapsed_s, 0);
    if (total < MIN_COMPLETED || !(elapsed > 0)) return null;
    const tau = Math.max(SMOOTHING_S, ANSWERS / (total / elapsed));
    let count = 0;
    let time = 0;
    let age = 0;
    for (let i = samples.length - 1; i >= 0 && age < 10 * tau; i -= 1) {  // older: < e^-10
      const weight = Math.exp(-age / tau);
      count += weight * samples[i].completed;
      time += weight * samples[i].elapsed_s;
      age += samples[i].elapsed_s;
    }
    return count / time;
  }

  /** Seconds until the run ends, or null while unknown. A run with a request count ends
      when the remaining ones are done at the smoothed rate; one with a time limit (duration
      or stages) when the limit is reached; one with both at whichever comes first. */
  function etaSeconds({ samples, requests = null, limitS = null, completed = 0, elapsedS = 0 }) {
    const etas = [];
    if (requests != null) {
      const rate = smoothedRate(samples);
      if (rate > 0) etas.push(Math.max(0, requests - completed) / rate);
    }
    if (limitS != null) etas.push(Math.max(0, limitS - elapsedS));
    return etas.length ? Math.min(...etas) : null;
  }

  return { etaSeconds, smoothedRate, SMOOTHING_S, ANSWERS, MIN_COMPLETED };
})();

(() => {
  const { fmt, api, el, setText, pick, isNum } = Stampede;
  const page = Stampede.pageData();
  const run = page.run;
  const urls = page.urls;        // from the route table, by the server
  const following = page.following || [];    // the runs queued after this one: {id, api, status}
  const spec = run.spec;
  const workers = Math.max(1, page.workers || 1);
  const isOpen = run.model === "open";
  const CPU_LIMIT = 90;        // % of one core per worker
  const LAG_LIMIT_MS = 50;
  const FINAL = new Set(["finished", "stopped", "failed", "interrupted", "deleted"]);

  const state = {
    status: run.status,
    samples: [],               // index = second - 1
    totals: null,              // Summary.to_dict() of the seconds so far (live)
    summary: run.summary,      // the exact summary once the run has ended
    error: run.error_message,
    endpoint: null,            // the endpoint the req/s and latency charts show (null: all)
    last: 0,                   // the run's last stored second (a finished run's series)
    // the seconds shown, or null (the whole run): {from, to (null: to the end), end (the
    // last second it covers, once loaded), samples, summary (null while loading), error}
    window: null,
    nodesLive: null,           // each node's last second (live snapshot messages' `nodes`)
    lostEvents: [],            // workers lost, as the live events told (the totals list them too)
    partial: new Map(),        // second -> workers whose share it still waits for (live only)
  };
  const endpointNames = page.endpoints || [];      // the run's target names, if several

  // a drag across any time chart chooses a window (selectRange, below)
  const onSelect = (x0, x1) => selectRange(x0, x1);
  const charts = {
    rps: new Charts.Chart("#chart-rps", { yLabel: "req/s", onSelect }),
    latency: new Charts.Chart("#chart-latency", { yLabel: "ms", format: fmt.ms, onSelect }),
    status: new Charts.Chart("#chart-status", { yLabel: "responses/s", empty: "No responses yet",
                                                onSelect }),
    errors: new Charts.Chart("#chart-errors", { yLabel: "errors/s", empty: "No errors", onSelect }),
    curve: Charts.curveChart("#chart-curve"),
  };
  const timeCharts = [charts.rps, charts.latency, charts.status, charts.errors];
  const endpointTable = endpointNames.length
    ? new Endpoints.Table(document.getElementById("endpoint-table"), (name) => {
      state.endpoint = name;
      scheduleRender();
    })
    : null;
  if (endpointTable) {
    // per-second samples split rates and latency by endpoint, not status codes or errors
    charts.status.setScope("all endpoints");
    charts.errors.setScope("all endpoints");
  }

  // --- drawing -------------------------------------------------------------------------

  let pending = false;
  function scheduleRender() {
    // A replay delivers hundreds of seconds at once: draw once per frame, not per message.
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; render(); });
  }

  function render() {
    const whole = state.samples.filter(Boolean);
    renderCharts(shownSamples(whole));
    renderNumbers(whole);
    renderEndpoints(whole);
    renderProgress(whole);
    renderHealth(whole);
    renderNodes();
    renderThresholds();
    renderLost();
    renderPartial();
    renderErrors();
    renderSummary();
    renderWindow();
  }

  /** What the time charts draw: the window's own samples once loaded, else the run's. */
  function shownSamples(whole) {
    const win = state.window;
    return win && win.samples ? win.samples : whole;
  }

  function renderCharts(samples) {
    const range = windowRange();
    for (const chart of timeCharts) chart.setWindow(range);
    const xs = samples.map((s) => s.second);
    const perSecond = (count, s) => (s.elapsed_s > 0 ? count / s.elapsed_s : 0);

    const noData = ended() ? "No data recorded" : undefined;
    // the chosen endpoint's share of each second: a second without its answers is 0/s
    // and has no latency (null: a gap)
    const endpoint = state.endpoint;
    const part = endpoint ? (s) => (s.endpoints && s.endpoints[endpoint]) || null : (s) => s;
    if (endpointTable) {
      const scope = endpoint ? `endpoint: ${endpoint}` : "all endpoints";
      charts.rps.setScope(scope);
      charts.latency.setScope(scope);
    }
    const rps = [{ label: "completed/s", values: samples.map((s) => (part(s) ? part(s).rps : 0)) }];
    if (isOpen && !endpoint) {
      // the open model's schedule against what the generator managed to send
      rps.push({ label: "sent/s", color: "#ae3ec9", values: samples.map((s) => perSecond(s.started, s)) },
               { label: "target/s", color: "#868e96", dash: [6, 4], width: 1.5,
                 values: samples.map((s) => targetRate(s.second - 1 + s.elapsed_s / 2)) });
    }
    charts.rps.update(xs, rps, noData);
    charts.latency.update(xs, ["p50", "p90", "p99", "max"].map((k, i) => ({
      label: k, color: ["#2b8a3e", "#1971c2", "#e8590c", "#c92a2a"][i],
      values: samples.map((s) => (part(s) ? part(s).latency_ms[k] ?? null : null)),  // null: no response
    })), noData);
    const codes = keysOf(samples, "status_codes").sort();
    const seen = {};
    charts.status.update(xs, codes.map((code) => {
      const cls = code[0];
      seen[cls] = (seen[cls] || 0) + 1;
      return { label: code, color: Charts.statusColor(code, seen[cls] - 1),
               values: samples.map((s) => perSecond(s.status_codes[code] || 0, s)) };
    }), ended() ? "No responses" : undefined);
    const classes = keysOf(samples, "error_classes").sort();
    charts.errors.update(xs, classes.map((cls, i) => ({
      label: cls, color: Charts.colorFor(i + 4),
      values: samples.map((s) => perSecond(s.error_classes[cls] || 0, s)),
    })));
  }

  /** The open model's scheduled rate t seconds in (app/engine/pacing.py: stages ramp
      linearly from the previous target, the first from `rate` or 0, then hold). */
  function targetRate(t) {
    let rate = spec.rate || 0;
    let start = 0;
    for (const [duration, target] of spec.stages || []) {
      if (t < start + duration) return rate + (target - rate) * (t - start) / duration;
      start += duration;
      rate = target;
    }
    return rate;
  }

  function keysOf(samples, field) {
    const keys = new Set();
    for (const s of samples) for (const k of Object.keys(s[field] || {})) keys.add(k);
    return [...keys];
  }

  /** The whole-run numbers so far: the exact summary once there is one, else the live totals. */
  function totals() { return state.summary || state.totals; }

  function renderNumbers(samples) {
    const t = totals();
    const last = samples[samples.length - 1];
    setText("completed", t ? fmt.int(t.requests) : "—");
    setText("ok", t ? fmt.int(t.ok) : "—");
    setText("failed", t ? fmt.int(t.failed) : "—");
    setText("errors", t ? fmt.int(t.errors) : "—");
    setText("rps-mean", t ? fmt.num(t.rps) : "—");
    setText("elapsed", t ? fmt.duration(t.duration_s) : "—");
    setText("rps-now", last && !ended() ? fmt.num(last.rps) : "—");
    for (const id of ["failed", "errors"]) {
      document.getElementById(id).closest(".stat").classList.toggle("alert", Boolean(t && t[id]));
    }
    setText("in-flight", last ? fmt.int(ended() ? 0 : last.in_flight) : "—");
  }

  function ended() { return FINAL.has(state.status); }

  /** The endpoint table: whole-run numbers from the totals (the summary once ended), the
      rate of the last second while live. */
  function renderEndpoints(samples) {
    if (!endpointTable) return;
    const live = !ended();
    const { rows, all } = Endpoints.rowsFrom({
      names: endpointNames, totals: totals(), last: samples[samples.length - 1], live,
    });
    endpointTable.update(rows, all, live);
  }

  function runLimitSeconds() {
    if (isNum(spec.duration)) return spec.duration;
    const stages = spec.stages || [];
    return stages.length ? stages.reduce((sum, [d]) => sum + d, 0) : null;
  }

  function renderProgress(samples) {
    const t = totals();
    const bar = document.getElementById("progress-bar");
    let fraction = 0;
    let text;
    if (state.status === "queued") {
      text = "queued";
    } else if (!t) {
      text = state.status === "running" ? "starting…" : "no data";
    } else {
      const limit = runLimitSeconds();
      const fractions = [];
      if (isNum(spec.requests)) fractions.push(t.requests / spec.requests);
      if (isNum(limit)) fractions.push(t.duration_s / limit);
      // The run stops at whichever limit comes first.
      fraction = Math.min(1, Math.max(0, ...fractions));
      if (state.status === "finished") {
        fraction = 1;
        text = `done in ${fmt.duration(t.duration_s)}`;
      } else if (ended()) {
        text = `${state.status} at ${Math.floor(100 * fraction)}% after ${fmt.duration(t.duration_s)}`;
      } else {
        const eta = RunProgress.etaSeconds({
          samples, requests: isNum(spec.requests) ? spec.requests : null,
          limitS: isNum(limit) ? limit : null, completed: t.requests, elapsedS: t.duration_s,
        });
        text = `${Math.floor(100 * fraction)}%` + (eta != null ? ` · ETA ${fmt.duration(eta)}` : "");
      }
    }
    bar.style.width = `${(100 * fraction).toFixed(1)}%`;
    bar.className = `progress-bar status-${state.status}`;
    document.getElementById("progress").setAttribute("aria-valuenow", Math.round(100 * fraction));
    setText("progress-text", text);
    // a screen reader hears progress per tenth and at the end, not every second
    const step = ended() ? `end:${state.status}` : `${state.status}:${Math.floor(10 * fraction)}`;
    if (step !== announcedStep) {
      announcedStep = step;
      setText("progress-announce", `Progress: ${text}`);
    }
  }
  let announcedStep = null;

  /** Why the generator limited this second, or null. The first second's loop lag is
      start-up (spawning users, opening connections), reported apart. */
  function saturation(s) {
    const cpu = s.health.cpu_percent / workers;
    const lag = s.health.loop_lag_ms;
    if (cpu >= CPU_LIMIT) return `it used ${cpu.toFixed(0)}% of a core per worker`;
    if (s.second > 1 && lag > LAG_LIMIT_MS) {
      return cpu < 50
        ? `its event loop was held up ${lag.toFixed(0)} ms while it used only ${cpu.toFixed(0)}% of a ` +
          "core: other processes compete for this machine's CPUs"
        : `its event loop lagged ${lag.toFixed(0)} ms, so requests started late and latencies ` +
          "include the generator's own delay";
    }
    return null;
  }

  function renderHealth(samples) {
    const last = samples[samples.length - 1];
    const t = totals();
    const late = t ? t.late_starts : 0;
    const done = ended() && state.summary;
    const source = done
      ? [state.summary.cpu_percent, state.summary.peak_rss_mb, state.summary.max_loop_lag_ms]
      : last ? [last.health.cpu_percent, last.health.rss_mb, last.health.loop_lag_ms] : null;
    if (source) ["cpu", "rss", "lag"].forEach((id, i) => setText(id, fmt.num(source[i])));
    setText("late", t ? fmt.int(late) : "—");
    setText("health-scope", done ? "whole run: mean CPU, peak RSS, worst loop lag"
                                 : "the last second");

    const warnings = [];
    if (done) {
      const busy = samples.filter(saturation);
      if (busy.length) {
        const worst = busy.reduce((a, b) => (b.health.loop_lag_ms + b.health.cpu_percent >
                                             a.health.loop_lag_ms + a.health.cpu_percent ? b : a));
        warnings.push(`The generator, not the target, was the bottleneck during ${busy.length} of ` +
          `${samples.length} seconds (in second ${worst.second}, ${saturation(worst)}): ` +
          "those seconds understate the target. Add workers, use the fast engine, or free the machine.");
      }
    } else if (last && saturation(last)) {
      warnings.push(`The generator, not the target, is the bottleneck: ${saturation(last)}. ` +
                    "Add workers or use the fast engine to measure the target.");
    }
    if (isOpen && late > 0) {
      warnings.push(`${fmt.int(late)} request${late === 1 ? "" : "s"} started late: the generator could not ` +
        "keep the requested rate (too few users or too busy), so the target saw less load than asked.");
    }
    let text;
    if (warnings.length) text = warnings.join(" ");
    else if (!last) text = ended() ? "No data recorded." : "Waiting for data.";
    else text = done ? "The generator kept up during the whole run: the numbers measure the target."
                     : "The generator keeps up: the numbers measure the target.";
    const first = samples[0];
    if (!warnings.length && first && first.health.loop_lag_ms > LAG_LIMIT_MS) {
      text += ` (Start-up stalled its event loop ${first.health.loop_lag_ms.toFixed(0)} ms in the first second.)`;
    }
    const verdict = document.getElementById("health-verdict");
    verdict.textContent = text;
    verdict.className = `verdict ${warnings.length ? "warn" : last ? "ok" : ""}`;
  }

  // --- per node, lost workers, late shares ----------------------------------------------

  const LAG_SATURATED_MS = 45;   // app/engine/nodes.py: 90% of its 50 ms limit is saturated

  /** "host (node 1a2b3c4d)", or "host (this machine)" for the local backend's one node. */
  function nodeName(id, host) {
    if (id === "local") return `${host || "localhost"} (this machine)`;
    return `${host || "unknown host"} (node ${String(id).slice(0, 8)})`;
  }

  /** The node rows to show: live, each node's last second (the snapshot message's nodes); ended,
      each node over the run (summary.nodes, or the totals' when an ended run has no
      summary). Null when the run has none (runs stored
      before per-node figures, or one that failed before its workers were placed). */
  function nodeRows() {
    const t = totals();
    if (!t) return null;
    if (!ended() && Array.isArray(state.nodesLive) && state.nodesLive.length) {
      return { live: true, rows: state.nodesLive };
    }
    const nodes = Object.entries(t.nodes || {});
    if (!nodes.length) return null;
    // over the run there is no flag from the server: the busiest node is the one whose
    // workers used the largest share of their cores on average; saturated as live (90%)
    const rows = nodes.map(([id, n]) => ({ id, ...n,
      share: n.workers ? n.cpu_percent / (100 * n.workers) : 0 }));
    const busiest = rows.reduce((a, b) => (b.share > a.share ? b : a));
    for (const row of rows) {
      row.busiest = row === busiest;
      row.bottleneck = row === busiest && 100 * row.share >= CPU_LIMIT;
    }
    rows.sort((a, b) => (a.host + a.id).localeCompare(b.host + b.id));
    return { live: false, rows };
  }

  const NODE_COLUMNS = {
    live: [["Node"], ["Workers", "num"], ["CPU", "num"], ["RSS", "num"], ["Loop lag", "num"],
           ["req/s", "num"]],
    ended: [["Node"], ["Workers", "num"], ["Requests", "num"], ["CPU mean", "num"],
            ["Peak RSS", "num"]],
  };

  function renderNodes() {
    const box = document.getElementById("nodes");
    const found = nodeRows();
    box.hidden = !found;
    if (!found) return;
    const { live, rows } = found;
    const t = totals();
    const several = rows.length > 1 || t.backend === "ray";
    setText("nodes-scope", live ? "the last second; CPU: 100% is one core busy"
                                : "whole run: mean CPU (100% is one core busy), peak RSS");
    const table = document.getElementById("node-table");
    const head = table.querySelector("thead tr");
    const columns = NODE_COLUMNS[live ? "live" : "ended"];
    if (head.dataset.mode !== (live ? "live" : "ended")) {
      head.dataset.mode = live ? "live" : "ended";
      head.replaceChildren(...columns.map(([label, cls]) =>
        el("th", { scope: "col", ...(cls ? { class: cls } : {}), text: label })));
    }
    const cells = (row) => (live
      ? [row.alive < row.workers ? `${fmt.int(row.alive)} of ${fmt.int(row.workers)} running`
                                 : fmt.int(row.workers),
         fmt.pct(row.cpu_percent), fmt.mb(row.rss_mb), fmt.ms(row.loop_lag_ms), fmt.num(row.rps)]
      : [fmt.int(row.workers), fmt.int(row.requests), fmt.pct(row.cpu_percent),
         fmt.mb(row.peak_rss_mb)]);
    const body = table.querySelector("tbody");
    const data = rows.map((row) => ({ id: row.id, name: nodeName(row.id, row.host), cells: cells(row),
      mark: several ? (row.bottleneck ? "bottleneck" : row.busiest ? "busiest" : "") : "",
      lost: live && row.alive === 0 }));
    const key = JSON.stringify(data);
    if (body.dataset.key !== key) {
      body.dataset.key = key;
      body.replaceChildren(...data.map((row) => el("tr", {
        "data-node": row.id,
        class: [row.mark, row.lost ? "lost" : ""].filter(Boolean).join(" "),
      }, el("th", { scope: "row", class: "node-name", title: String(row.id) }, row.name,
            ...(row.mark ? [" ", el("span", { class: `badge node-${row.mark}`, text: row.mark })] : []),
            ...(row.lost ? [" ", el("span", { class: "badge node-lost", text: "lost" })] : [])),
         ...row.cells.map((text) => el("td", { class: "num", text })))));
    }
    renderNodeVerdict(several ? rows : [], live);
    renderClockSkew(t);
  }

  /** Which node limits the load (its workers saturated), or the busiest and that none is. */
  function renderNodeVerdict(rows, live) {
    const verdict = document.getElementById("nodes-verdict");
    const busiest = rows.find((r) => r.busiest);
    verdict.hidden = !busiest;
    if (!busiest) return;
    const name = nodeName(busiest.id, busiest.host);
    const running = live ? busiest.alive : busiest.workers;
    const perWorker = running ? busiest.cpu_percent / running : 0;
    const use = `${perWorker.toFixed(0)}% of a core per worker`;
    let text;
    if (busiest.bottleneck && live) {
      const lag = busiest.loop_lag_ms >= LAG_SATURATED_MS
        ? `, its event loop ${busiest.loop_lag_ms.toFixed(0)} ms late` : "";
      text = `Bottleneck: ${name} is saturated (${use}${lag}): it limits the load, so the ` +
             "numbers understate the target. Add nodes or workers there.";
    } else if (busiest.bottleneck) {
      text = `Bottleneck: ${name} was saturated (${use} on average over the run): it limited ` +
             "the load, so the numbers understate the target.";
    } else {
      text = `Busiest node: ${name} (${use}${live ? "" : " on average"}); none ` +
             `${live ? "is" : "was"} saturated.`;
    }
    verdict.textContent = text;
    verdict.className = `node-verdict verdict ${busiest.bottleneck ? "warn" : "ok"}`;
  }

  /** A Ray run's clocks: each worker's host minus the dashboard's, measured at start. */
  function renderClockSkew(t) {
    const skews = Object.values((t && t.clock_skew_ms) || {}).filter(isNum);
    const line = document.getElementById("clock-skew");
    line.hidden = !skews.length;
    if (!skews.length) return;
    const lo = Math.min(...skews);
    const hi = Math.max(...skews);
    const ms = (v) => `${v > 0 ? "+" : ""}${fmt.ms(v)}`;
    setText("clock-skew", `Clock skew at start: ${lo === hi ? ms(lo) : `${ms(lo)} to ${ms(hi)}`} ` +
      `across ${skews.length} worker${skews.length === 1 ? "" : "s"} (each host's clock minus ` +
      "the dashboard's; the seconds of different hosts line up to within this).");
  }

  /** Every worker lost so far: the live events and the totals' (or summary's) list, once each. */
  function lostWorkers() {
    const t = totals();
    const byWorker = new Map();
    for (const e of [...((t && t.lost_workers) || []), ...state.lostEvents]) {
      if (!byWorker.has(e.worker)) byWorker.set(e.worker, e);
    }
    return [...byWorker.values()].sort((a, b) => a.second - b.second || a.worker - b.worker);
  }

  function renderLost() {
    const lost = lostWorkers();
    const section = document.getElementById("lost-workers");
    section.hidden = !lost.length;
    const list = document.getElementById("lost-list");
    const items = lost.map((e) => {
      const where = e.node === "local" ? "on this machine" : `on host ${nodeName(e.node, e.host)}`;
      return `Worker ${e.worker} ${where} lost in second ${e.second}` +
             (e.detail ? `: ${e.detail}` : "");
    });
    const key = JSON.stringify(items);
    if (list.dataset.key === key) return;
    list.dataset.key = key;
    list.replaceChildren(...items.map((text) => el("li", { text })));
  }

  /** Pass/fail chips: over the totals so far while live, the exact summary once ended
      (the server evaluates them: app/analysis/thresholds.py). */
  function renderThresholds() {
    const t = totals();
    const results = (t && t.thresholds) || [];
    const list = document.getElementById("threshold-chips");
    if (!results.length) return;            // the page lists the expressions until then
    setText("thresholds-scope", ended() ? "whole run" : "so far");
    const passed = results.every((r) => r.pass);
    const verdict = document.getElementById("thresholds-verdict");
    verdict.textContent = passed ? "passed" : "failed";
    verdict.className = `badge ${passed ? "pass" : "fail"}`;
    const items = results.map((r) => [r.pass, `${r.expr}: ${thresholdValue(r)}`]);
    if (t.aborted) {
      items.push([false, `stopped in second ${t.aborted.second}: ${t.aborted.threshold} failed`]);
    }
    const key = JSON.stringify(items);
    if (list.dataset.key === key) return;
    list.dataset.key = key;
    list.replaceChildren(...items.map(([pass, text]) => el("li", {
      class: `chip ${pass ? "pass" : "fail"}`, text: `${pass ? "✓" : "✗"} ${text}` })));
  }

  function thresholdValue(r) {
    if (r.value === null || r.value === undefined) return "nothing measured yet";
    if (r.unit === "ms") return `${Number(r.value.toPrecision(4))} ms`;
    if (r.unit === "fraction") return `${Number((r.value * 100).toPrecision(3))}%`;
    if (r.unit === "/s") return `${Number(r.value.toFixed(1))}/s`;
    return `${r.value}`;
  }

  /** The seconds shown before every worker's share of them arrived. */
  function renderPartial() {
    const note = document.getElementById("partial-note");
    const waiting = ended() ? [] : [...state.partial.entries()].sort((a, b) => a[0] - b[0]);
    note.hidden = !waiting.length;
    if (!waiting.length) return;
    const seconds = waiting.map(([second]) => second);
    const workers = [...new Set(waiting.flatMap(([, missing]) => missing))].sort((a, b) => a - b);
    const one = seconds.length === 1;
    setText("partial-note", `${one ? "Second" : "Seconds"} ${seconds.join(", ")} ${one ? "is" : "are"} ` +
      `waiting for late shares from worker${workers.length === 1 ? "" : "s"} ${workers.join(", ")}: ` +
      `shown as ${one ? "it stands" : "they stand"}, corrected when the shares arrive.`);
  }

  /** Failed responses (the target answered >= 400) by status, and errors (no response) by
      class with a sample message: the same split as the "failed" and "errors" counters. */
  function renderErrors() {
    const t = totals();
    const failed = Object.entries((t && t.status_codes) || {})
      .filter(([code]) => Number(code) >= 400)
      .map(([code, count]) => [code, count]);
    const errors = Object.entries((t && t.error_classes) || {})
      .sort((a, b) => b[1] - a[1])
      .map(([cls, count]) => [cls, count, ((t && t.error_samples) || {})[cls] || ""]);
    fillTable("#failed-table", failed, "No failed responses.");
    fillTable("#error-table", errors, "No errors.");
  }

  function fillTable(selector, rows, emptyText) {
    const body = document.querySelector(`${selector} tbody`);
    const key = JSON.stringify(rows);
    if (body.dataset.key === key) return;
    body.dataset.key = key;
    const columns = body.closest("table").querySelectorAll("thead th").length;
    body.replaceChildren(...(rows.length
      ? rows.map(([name, count, sample]) => el("tr", {},
          el("td", { class: "mono", text: name }), el("td", { class: "num", text: fmt.int(count) }),
          ...(sample === undefined ? [] : [el("td", { class: "sample", text: sample })])))
      : [el("tr", { class: "empty" }, el("td", { colspan: String(columns), text: emptyText }))]));
  }

  function renderSummary() {
    const summary = state.summary;
    const section = document.getElementById("summary");
    if (!summary) { section.hidden = true; return; }
    section.hidden = false;
    fillSummary(section, summary);
    fillStatusCodes("#status-table", summary);
    const { xs, ys } = Charts.curvePoints(summary.percentile_curve);
    charts.curve.update(xs, [{ label: "latency", values: ys }]);     // empty: no response
  }

  /** A summary's numbers into the `data-summary` cells under `root`, in their formats. */
  function fillSummary(root, summary) {
    for (const node of root.querySelectorAll("[data-summary]")) {
      const value = summary ? pick(summary, node.dataset.summary) : null;
      const text = (fmt[node.dataset.format] || String)(value);
      if (node.textContent !== text) node.textContent = text;
    }
  }

  function fillStatusCodes(selector, summary) {
    fillTable(selector, Object.entries((summary && summary.status_codes) || {}), "No responses.");
  }

  // --- a window of the run ----------------------------------------------------------

  /** The run's last second as far as this page knows it. */
  function lastSecond(whole = state.samples.filter(Boolean)) {
    const s = whole[whole.length - 1];
    const drawn = s ? s.second - 1 + Math.max(1, Math.round(s.elapsed_s)) : 0;
    return Math.max(state.last, drawn);
  }

  /** The x range the time charts zoom to: second n is drawn at n and covers (n - 1, n]. */
  function windowRange() {
    const win = state.window;
    if (!win) return null;
    const end = win.end || win.to || Math.max(win.from, lastSecond());
    return [win.from - 1, Math.max(end, win.from)];
  }

  /** A drag from x0 to x1 (elapsed seconds): the seconds it touches, within the run. */
  function selectRange(x0, x1) {
    const last = Math.max(1, lastSecond());
    const from = Math.min(last, Math.max(1, Math.floor(x0) + 1));
    const to = Math.min(last, Math.max(from, Math.ceil(x1)));
    openWindow(from, to);
  }

  function windowText(from, to) {           // display.window_text's words
    return `seconds ${from}–${to == null ? "end" : to}`;
  }

  /** The page's URL for a window (null: the whole run), other parameters (?then=) kept. */
  function windowUrl(win) {
    const url = new URL(location.href);
    url.searchParams.delete("from");
    url.searchParams.delete("to");
    if (win) {
      url.searchParams.set("from", String(win.from));
      if (win.to != null) url.searchParams.set("to", String(win.to));
    }
    return url.pathname + url.search + url.hash;
  }

  let windowLoads = 0;       // a newer window's answers win over an older one's

  /** Show seconds from..to (to null: to the end): zoom now, then draw that range's own
      series and its exact summary. `push`: a new history entry (false: from the URL). */
  async function openWindow(from, to, push = true) {
    const win = { from, to, end: null, samples: null, summary: null, error: null };
    state.window = win;
    if (push) history.pushState({ window: { from, to } }, "", windowUrl(win));
    scheduleRender();
    const load = ++windowLoads;
    const query = `?from=${from}${to == null ? "" : `&to=${to}`}`;
    try {
      const [series, summary] = await Promise.all([api(urls.series + query), api(urls.window + query)]);
      if (load !== windowLoads) return;
      win.samples = series.samples;
      win.summary = summary.summary;
      win.end = summary.to;
    } catch (error) {
      if (load !== windowLoads) return;
      win.error = `Could not load ${windowText(from, to)}: ${error.message}`;
    }
    scheduleRender();
  }

  function closeWindow(push = true) {
    windowLoads += 1;
    state.window = null;
    if (push) history.pushState({ window: null }, "", windowUrl(null));
    scheduleRender();
  }

  function renderWindow() {
    const win = state.window;
    const section = document.getElementById("window");
    document.getElementById("window-reset").hidden = !win;
    const fields = { from: document.getElementById("window-from"),
                     to: document.getElementById("window-to") };
    for (const [key, input] of Object.entries(fields)) {
      // what is shown, unless someone is typing another window
      if (document.activeElement !== input) input.value = win && win[key] != null ? win[key] : "";
    }
    if (!win) {
      section.hidden = true;
      setText("window-range", "The whole run. Drag across a chart to zoom into a range of seconds.");
      return;
    }
    // once loaded, the seconds the run has of it (the API stops at its last second)
    const outside = win.summary && win.end < win.from;
    const range = win.summary && !outside ? windowText(win.from, win.end) : windowText(win.from, win.to);
    setText("window-range", `Showing ${range}. Drag across a chart to narrow it, or choose Whole run.`);
    section.hidden = false;
    setText("window-scope", `${range}: exact, from the merged histograms of those seconds`);
    setText("window-status", win.error
      || (!win.summary ? `Loading ${range}…`
        : outside ? `The run has no second in this window: it has ${win.end} so far.` : ""));
    const summary = win.summary;
    fillSummary(section, summary);
    fillStatusCodes("#window-status-table", summary || {});
    renderWindowEndpoints(summary);
  }

  /** The window's endpoint table: each name's numbers in those seconds (the rate: their
      mean), rows in the run's order of names. */
  function renderWindowEndpoints(summary) {
    const table = document.getElementById("window-endpoints");
    if (!table) return;
    const { rows } = Endpoints.rowsFrom({ names: endpointNames, totals: summary, last: null,
                                          live: false });
    const cells = (row) => Endpoints.COLUMNS.map(([key, , format]) =>
      el("td", { class: `num${(key === "failed" || key === "errors") && row[key] > 0 ? " bad" : ""}`,
                 text: format(row[key]) }));
    const body = table.querySelector("tbody");
    const key = JSON.stringify(rows);
    if (body.dataset.key === key) return;
    body.dataset.key = key;
    body.replaceChildren(...rows.map((row) => el("tr", { "data-endpoint": row.name },
      el("th", { scope: "row", class: "endpoint-name mono", text: row.name }), ...cells(row))));
  }

  document.getElementById("window-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const read = (id) => {
      const text = document.getElementById(id).value.trim();
      return text === "" ? null : Number(text);
    };
    const from = read("window-from");
    const to = read("window-to");
    const whole = (v) => v == null || (Number.isInteger(v) && v >= 1);
    if (!whole(from) || !whole(to) || (from != null && to != null && to < from)) {
      setText("window-range", "A window is whole seconds from 1, the second not before the first.");
      return;
    }
    if (from == null && to == null) closeWindow();
    else openWindow(from || 1, to);
  });
  document.getElementById("window-reset").addEventListener("click", () => closeWindow());
  window.addEventListener("popstate", (event) => {
    const win = event.state ? event.state.window : page.window;
    if (win) openWindow(win.from, win.to, false);
    else closeWindow(false);
  });

  function renderStatus() {
    const badge = document.getElementById("status");
    badge.textContent = state.status;
    badge.className = `badge status-${state.status}`;
    document.getElementById("stop").hidden = ended();
    renderFollowing();
    document.getElementById("queued-note").hidden = state.status !== "queued";
    const message = document.getElementById("run-message");
    const explain = {
      failed: `This run failed: ${state.error || "no reason given"}`,
      interrupted: `This run was interrupted: ${state.error || "the dashboard stopped while it was active"}. ` +
                   "The data recorded until then is kept.",
      stopped: "This run was stopped before the end; the data recorded until then is kept.",
    }[state.status] || state.error;
    message.hidden = !explain;
    if (explain) message.textContent = explain;
    if (ended()) {
      // The header's "Running: …" link pointed here; it is no longer true.
      const active = document.getElementById("active-run");
      if (active && active.getAttribute("href") === urls.page) active.remove();
    }
    scheduleRender();
  }

  // --- data sources --------------------------------------------------------------------

  function handle(msg) {
    if (msg.type === "history") {
      // the older seconds, downsampled by the server (each point the exact merge of its
      // seconds, keyed by its first): a long run's page draws ~2,000 points, not 86,400
      for (const s of msg.samples) state.samples[s.second - 1] = s;
      state.totals = msg.totals;
      state.partial.clear();          // a replay holds complete seconds only
      scheduleRender();
    } else if (msg.type === "snapshot") {
      // by second: a complete second replaces the partial one shown before it
      state.samples[msg.sample.second - 1] = msg.sample;
      if (msg.sample.partial) state.partial.set(msg.sample.second, msg.sample.partial.missing_workers || []);
      else state.partial.delete(msg.sample.second);
      state.totals = msg.totals;
      state.nodesLive = msg.nodes || null;
      if (state.status === "queued") { state.status = "running"; renderStatus(); }
      scheduleRender();
    } else if (msg.type === "event") {
      if (msg.kind === "lost_worker" && msg.event) state.lostEvents.push(msg.event);
      scheduleRender();
    } else if (msg.type === "status") {
      state.status = msg.status;
      renderStatus();
    } else if (msg.type === "done") {
      state.status = msg.status;
      state.summary = msg.summary || state.summary;
      state.error = msg.error || null;
      renderStatus();
      refreshFollowing();      // the next run starts (or was stopped) now
    }
  }

  let attempts = 0;
  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}${urls.ws}`);
    let fresh = true;
    socket.addEventListener("message", (event) => {
      const msg = JSON.parse(event.data);
      if (fresh) {
        // The server replays the series (history, then recent seconds) on every
        // connection: start from it.
        fresh = false;
        attempts = 0;
        state.samples = [];
      }
      handle(msg);
    });
    socket.addEventListener("close", () => { if (!ended()) reconnect(); });
  }

  async function reconnect() {
    attempts += 1;
    const delay = Math.min(10000, 500 * 2 ** Math.min(attempts, 5));
    await new Promise((resolve) => setTimeout(resolve, delay));
    try {
      const current = await api(urls.run);
      if (FINAL.has(current.status)) {
        state.status = current.status;
        state.error = current.error_message;
        await loadStored();
        return;
      }
    } catch (error) {
      if (error.status === 404) {
        state.status = "deleted";
        state.error = "This run has been deleted.";
        renderStatus();
        return;
      }
    }
    connect();
  }

  async function loadStored() {
    try {
      const { run: stored, samples, last } = await api(urls.series);
      state.samples = [];
      for (const s of samples) state.samples[s.second - 1] = s;
      state.last = last;
      state.summary = stored.summary;
      state.status = stored.status;
      state.error = stored.error_message;
    } catch (error) {
      state.error = `Could not load the stored samples: ${error.message}`;
    }
    renderStatus();
  }

  // --- the runs queued after this one ----------------------------------------------------

  const FOLLOW_POLL_MS = 2000;
  let followTimer = null;

  /** Their real status, from the API, until every one has ended. */
  async function refreshFollowing() {
    clearTimeout(followTimer);
    for (const next of following.filter((f) => !FINAL.has(f.status))) {
      try {
        next.status = (await api(next.api)).status;
      } catch (error) {
        if (error.status === 404) next.status = "deleted";
      }
    }
    renderFollowing();
    if (following.some((f) => !FINAL.has(f.status))) {
      followTimer = setTimeout(refreshFollowing, FOLLOW_POLL_MS);
    }
  }

  function renderFollowing() {
    for (const next of following) {
      const badge = document.querySelector(`#then-runs li[data-run-id="${next.id}"] .badge`);
      if (badge && badge.textContent !== next.status) {
        badge.textContent = next.status;
        badge.className = `badge status-${next.status}`;
      }
    }
    document.getElementById("stop-all").hidden =
      ended() || !following.some((f) => f.status === "queued");
  }

  // --- stop ----------------------------------------------------------------------------

  /** Stop: this run (the next queued one then starts). Stop all: the queued ones too. */
  async function stop(button, query) {
    const label = button.textContent;
    const buttons = [document.getElementById("stop"), document.getElementById("stop-all")];
    for (const b of buttons) b.disabled = true;
    button.textContent = "Stopping…";
    try {
      await api(urls.stop + query, { method: "POST" });
      refreshFollowing();
    } catch (error) {
      for (const b of buttons) b.disabled = false;
      button.textContent = label;
      const message = document.getElementById("run-message");
      message.textContent = `Could not stop the run: ${error.message}`;
      message.hidden = false;
    }
  }
  document.getElementById("stop").addEventListener("click", (e) => stop(e.currentTarget, ""));
  document.getElementById("stop-all").addEventListener("click",
                                                       (e) => stop(e.currentTarget, "?queued=1"));

  renderStatus();
  refreshFollowing();
  if (ended()) loadStored();
  else connect();
  // the window the URL names (a reload, a shared link): this entry remembers it for Back
  history.replaceState({ window: page.window || null }, "");
  if (page.window) openWindow(page.window.from, page.window.to, false);
})();
