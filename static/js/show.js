/* One run, live or finished. An active run listens on the WebSocket, which first replays
   every second so far (so a refresh or a second tab draws full charts) and then sends one
   snapshot a second; a finished run draws the same charts from its stored series. */
"use strict";

(() => {
  const { fmt, api, el, setText, pick, isNum } = Stampede;
  const page = Stampede.pageData();
  const run = page.run;
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
  };

  const charts = {
    rps: new Charts.Chart("#chart-rps", { yLabel: "req/s" }),
    latency: new Charts.Chart("#chart-latency", { yLabel: "ms", format: fmt.ms }),
    status: new Charts.Chart("#chart-status", { yLabel: "responses/s", empty: "No responses yet" }),
    errors: new Charts.Chart("#chart-errors", { yLabel: "errors/s", empty: "No errors" }),
    curve: Charts.curveChart("#chart-curve"),
  };

  // --- drawing -------------------------------------------------------------------------

  let pending = false;
  function scheduleRender() {
    // A replay delivers hundreds of seconds at once: draw once per frame, not per message.
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; render(); });
  }

  function render() {
    const samples = state.samples.filter(Boolean);
    const xs = samples.map((s) => s.second);
    const perSecond = (count, s) => (s.elapsed_s > 0 ? count / s.elapsed_s : 0);

    const noData = ended() ? "No data recorded" : undefined;
    const rps = [{ label: "completed/s", values: samples.map((s) => s.rps) }];
    if (isOpen) {
      // the open model's schedule against what the generator managed to send
      rps.push({ label: "sent/s", color: "#ae3ec9", values: samples.map((s) => perSecond(s.started, s)) },
               { label: "target/s", color: "#868e96", dash: [6, 4], width: 1.5,
                 values: samples.map((s) => targetRate(s.second - 1 + s.elapsed_s / 2)) });
    }
    charts.rps.update(xs, rps, noData);
    charts.latency.update(xs, ["p50", "p90", "p99", "max"].map((k, i) => ({
      label: k, color: ["#2b8a3e", "#1971c2", "#e8590c", "#c92a2a"][i],
      values: samples.map((s) => (s.completed ? s.latency_ms[k] : null)),
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

    renderNumbers(samples);
    renderProgress(samples);
    renderHealth(samples);
    renderErrors();
    renderSummary();
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
      const etas = [];
      if (isNum(spec.requests)) {
        fractions.push(t.requests / spec.requests);
        const recent = samples.slice(-5).filter((s) => s.elapsed_s > 0);
        const rate = recent.length
          ? recent.reduce((a, s) => a + s.completed, 0) / recent.reduce((a, s) => a + s.elapsed_s, 0)
          : t.rps;
        if (rate > 0) etas.push((spec.requests - t.requests) / rate);
      }
      if (isNum(limit)) {
        fractions.push(t.duration_s / limit);
        etas.push(limit - t.duration_s);
      }
      // The run stops at whichever limit comes first.
      fraction = Math.min(1, Math.max(0, ...fractions));
      if (state.status === "finished") {
        fraction = 1;
        text = `done in ${fmt.duration(t.duration_s)}`;
      } else if (ended()) {
        text = `${state.status} at ${Math.floor(100 * fraction)}% after ${fmt.duration(t.duration_s)}`;
      } else {
        const eta = etas.length ? Math.max(0, Math.min(...etas)) : null;
        text = `${Math.floor(100 * fraction)}%` + (eta != null ? ` · ETA ${fmt.duration(eta)}` : "");
      }
    }
    bar.style.width = `${(100 * fraction).toFixed(1)}%`;
    bar.className = `progress-bar status-${state.status}`;
    document.getElementById("progress").setAttribute("aria-valuenow", Math.round(100 * fraction));
    setText("progress-text", text);
  }

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

  function renderErrors() {
    const t = totals();
    const rows = [];
    if (t) {
      for (const [cls, count] of Object.entries(t.error_classes || {}).sort((a, b) => b[1] - a[1])) {
        rows.push([cls, count, (t.error_samples || {})[cls] || ""]);
      }
      for (const [code, count] of Object.entries(t.status_codes || {})) {
        if (Number(code) >= 400) rows.push([`HTTP ${code}`, count, `the target answered ${code}`]);
      }
    }
    const body = document.querySelector("#error-table tbody");
    const key = JSON.stringify(rows);
    if (body.dataset.key === key) return;
    body.dataset.key = key;
    body.replaceChildren(...(rows.length
      ? rows.map(([cls, count, sample]) => el("tr", {},
          el("td", { class: "mono", text: cls }), el("td", { class: "num", text: fmt.int(count) }),
          el("td", { class: "sample", text: sample })))
      : [el("tr", { class: "empty" }, el("td", { colspan: "3", text: "No errors." }))]));
  }

  function renderSummary() {
    const summary = state.summary;
    const section = document.getElementById("summary");
    if (!summary) { section.hidden = true; return; }
    section.hidden = false;
    for (const node of section.querySelectorAll("[data-summary]")) {
      const value = pick(summary, node.dataset.summary);
      const text = (fmt[node.dataset.format] || String)(value);
      if (node.textContent !== text) node.textContent = text;
    }
    const body = document.querySelector("#status-table tbody");
    const codes = Object.entries(summary.status_codes || {});
    body.replaceChildren(...(codes.length
      ? codes.map(([code, n]) => el("tr", {}, el("td", { text: code }), el("td", { class: "num", text: fmt.int(n) })))
      : [el("tr", { class: "empty" }, el("td", { colspan: "2", text: "No responses." }))]));
    const { xs, ys } = Charts.curvePoints(summary.percentile_curve);
    charts.curve.update(summary.requests ? xs : [], [{ label: "latency", values: ys }]);
  }

  function renderStatus() {
    const badge = document.getElementById("status");
    badge.textContent = state.status;
    badge.className = `badge status-${state.status}`;
    document.getElementById("stop").hidden = ended();
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
      if (active && active.getAttribute("href") === `/runs/${run.id}`) active.remove();
    }
    scheduleRender();
  }

  // --- data sources --------------------------------------------------------------------

  function handle(msg) {
    if (msg.type === "snapshot") {
      state.samples[msg.sample.second - 1] = msg.sample;
      state.totals = msg.totals;
      if (state.status === "queued") { state.status = "running"; renderStatus(); }
      scheduleRender();
    } else if (msg.type === "status") {
      state.status = msg.status;
      renderStatus();
    } else if (msg.type === "done") {
      state.status = msg.status;
      state.summary = msg.summary || state.summary;
      state.error = msg.error || null;
      renderStatus();
    }
  }

  let attempts = 0;
  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}/api/runs/${run.id}/ws`);
    let fresh = true;
    socket.addEventListener("message", (event) => {
      const msg = JSON.parse(event.data);
      if (fresh) {
        // The server replays the whole series on every connection: start from it.
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
      const current = await api(`/api/runs/${run.id}`);
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
      const { run: stored, samples } = await api(`/api/runs/${run.id}/series`);
      state.samples = [];
      for (const s of samples) state.samples[s.second - 1] = s;
      state.summary = stored.summary;
      state.status = stored.status;
      state.error = stored.error_message;
    } catch (error) {
      state.error = `Could not load the stored samples: ${error.message}`;
    }
    renderStatus();
  }

  // --- stop ----------------------------------------------------------------------------

  document.getElementById("stop").addEventListener("click", async (event) => {
    const button = event.currentTarget;
    button.disabled = true;
    button.textContent = "Stopping…";
    try {
      await api(`/api/runs/${run.id}/stop`, { method: "POST" });
    } catch (error) {
      button.disabled = false;
      button.textContent = "Stop";
      const message = document.getElementById("run-message");
      message.textContent = `Could not stop the run: ${error.message}`;
      message.hidden = false;
    }
  });

  renderStatus();
  if (ended()) loadStored();
  else connect();
})();
