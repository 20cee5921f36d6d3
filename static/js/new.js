/* New run form: show the rate and stages inputs only for the open model, and the help
   of the chosen engine; load files into the list's textareas; preview the first requests.
   The server validates everything (app/spec.py); the requests mode needs no script (the
   stylesheet hides the unchosen side, the server ignores it). */
"use strict";

/** Pure helpers (no DOM), also called by the browser tests through page.evaluate. */
const NewRunForm = (() => {
  /** The targets format of a file name: app/workload/targets.py format_for_path. */
  function formatForName(name) {
    const lower = name.toLowerCase();
    if (lower.endsWith(".har")) return "har";
    if (lower.endsWith(".jsonl") || lower.endsWith(".ndjson")) return "jsonl";
    return "vegeta";
  }

  /** Bytes for people, as app/web/form.py format_size writes them. */
  function size(bytes) {
    if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
    if (bytes >= 2 ** 10) return `${(bytes / 2 ** 10).toFixed(1)} KiB`;
    return `${bytes} B`;
  }

  /** In list mode the server shows the targets' errors by the targets textarea
      (app/web/form.py field_errors): the same for the preview's. */
  function placeErrors(errors, mode) {
    if (mode !== "list") return { ...errors };
    const placed = {};
    for (const [name, message] of Object.entries(errors)) {
      if (name === "url") placed.targets_text ??= "paste a list of targets or choose a file";
      else if (name === "targets") placed.targets_text ??= message;
      else placed[name] ??= message;
    }
    return placed;
  }

  return { formatForName, size, placeErrors };
})();

(() => {
  const { el } = Stampede;
  const form = document.getElementById("run-form");
  if (!form) return;
  const limits = JSON.parse(form.dataset.limits || "{}");

  // The prefilled count is the closed model's default: left in an open run it would stop
  // the run before its rate or stages play out (1,000 requests end `10s:100, 10s:500`
  // after 12 s). So it leaves with the closed model, and comes back with it if untouched.
  // Only on the fresh form (data-defaults): a count the person typed or ran before stays.
  const requests = form.querySelector("#f-requests");
  const closedDefault = "defaults" in form.dataset ? requests.defaultValue : "";

  function isOpen() {
    return form.querySelector('input[name="model"]:checked')?.value === "open";
  }

  function mode() {
    return form.querySelector('input[name="mode"]:checked')?.value || "one";
  }

  function syncModel(event) {
    const open = isOpen();
    for (const input of form.querySelectorAll("[data-open-only]")) {
      input.closest(".field").hidden = !open;
    }
    if (!event || !closedDefault) return;         // on a switch, not on load
    if (open && requests.value === closedDefault) requests.value = "";
    else if (!open && requests.value === "") requests.value = closedDefault;
  }

  function syncEngine() {
    const engine = form.querySelector("#f-engine").value;
    for (const item of form.querySelectorAll(".engine-help [data-engine]")) {
      item.hidden = item.dataset.engine !== engine;
    }
  }

  for (const radio of form.querySelectorAll('input[name="model"]')) radio.addEventListener("change", syncModel);
  form.querySelector("#f-engine").addEventListener("change", syncEngine);
  syncModel();
  syncEngine();

  // --- errors next to their inputs (the server's, and the preview's) ----------------------

  function clearErrors() {
    for (const node of form.querySelectorAll(".field-error")) node.remove();
    for (const field of form.querySelectorAll(".field.invalid")) {
      field.classList.remove("invalid");
      for (const input of field.querySelectorAll("[aria-invalid]")) {
        input.removeAttribute("aria-invalid");
        describe(input, `${field.dataset.field}-error`, false);
      }
    }
  }

  function describe(input, id, on) {
    const ids = (input.getAttribute("aria-describedby") || "").split(" ").filter((x) => x && x !== id);
    if (on) ids.push(id);
    if (ids.length) input.setAttribute("aria-describedby", ids.join(" "));
    else input.removeAttribute("aria-describedby");
  }

  /** Show one message under a field, as the server renders it (_partials.html field_error). */
  function showError(name, message) {
    const field = form.querySelector(`[data-field="${CSS.escape(name)}"]`);
    if (!field) return false;
    field.classList.add("invalid");
    const id = `${name}-error`;
    field.querySelector(`#${CSS.escape(id)}`)?.remove();
    field.append(el("p", { class: "field-error", id, text: message }));
    const input = field.querySelector(`#f-${CSS.escape(name)}`) || field.querySelector("input:not([type=hidden]), select, textarea");
    if (input) {
      input.setAttribute("aria-invalid", "true");
      describe(input, id, true);
    }
    return true;
  }

  // --- files into the list's textareas -------------------------------------------------------

  /** Each textarea a file can fill: a small file is loaded into it to read and edit; a
      bigger one (laying out 10 MiB in a textarea takes Chromium seconds) is sent as the
      file, with the textarea off meanwhile. */
  const fileInputs = [];
  for (const field of form.querySelectorAll("[data-file-text]")) {
    const name = field.dataset.field;
    const textarea = field.querySelector("textarea");
    const input = field.querySelector('input[type="file"]');
    const status = field.querySelector(".file-status");
    const clear = field.querySelector("[data-clear-file]");
    const entry = { name, field, textarea, input, status, file: null };
    fileInputs.push(entry);

    function useTextarea(text) {
      entry.file = null;
      input.value = "";
      clear.hidden = true;
      textarea.disabled = false;
      if (text !== undefined) textarea.value = text;
    }

    function dropKept() {
      // a new file or text replaces what Run again kept from the stored run
      for (const node of field.querySelectorAll("[data-kept]")) node.remove();
    }

    input.addEventListener("change", async () => {
      const file = input.files[0];
      status.textContent = "";
      if (!file) { useTextarea(); return; }
      let kind = "data";
      if (name === "targets_text") {
        kind = NewRunForm.formatForName(file.name);
        form.querySelector("#f-targets_format").value = kind;
      }
      const limit = limits[kind];
      if (limit && file.size > limit) {
        useTextarea();
        showError(name, `the file ${file.name} is ${NewRunForm.size(file.size)}, above the ` +
                        `limit of ${NewRunForm.size(limit)} for ${kind === "data" ? "a data" : `a ${kind} targets`} file`);
        return;
      }
      dropKept();
      if (file.size <= limits.edit) {
        // fatal: a file that is not UTF-8 goes as the file, so the server names its line
        const text = await file.arrayBuffer().then((b) => new TextDecoder("utf-8", { fatal: true }).decode(b))
          .catch(() => null);
        if (text !== null) {
          useTextarea(text);
          status.textContent = `Loaded ${file.name} (${NewRunForm.size(file.size)}) into the box.`;
          return;
        }
      }
      entry.file = file;
      textarea.value = "";
      textarea.disabled = true;       // a disabled textarea is not posted: the file is
      clear.hidden = false;
      status.textContent = `${file.name} (${NewRunForm.size(file.size)}) will be sent as the file` +
        (file.size > limits.edit ? ": too big to show here." : ": it is not UTF-8 text.");
    });
    clear.addEventListener("click", () => {
      useTextarea("");
      status.textContent = "";
      textarea.focus();
    });
    textarea.addEventListener("input", dropKept, { once: true });
  }

  // --- preview -------------------------------------------------------------------------------

  const LOAD_FIELDS = ["name", "requests", "duration", "concurrency", "engine", "workers",
                       "timeout", "connect_timeout"];
  const ONE_FIELDS = ["url", "method", "headers", "body"];
  const LIST_FIELDS = ["targets_format", "targets_host", "order", "seed", "data_order"];

  /** POST /api/preview's JSON, from the form as the server would read it (form.read_form). */
  async function specFromForm() {
    const value = (name) => form.elements[name]?.value ?? "";
    const spec = {};
    for (const name of LOAD_FIELDS) spec[name] = value(name);
    for (const name of ["keepalive", "verify_tls"]) spec[name] = form.querySelector(`#f-${name}`).checked;
    if (isOpen()) {
      spec.rate = value("rate");
      spec.stages = value("stages");
    }
    if (mode() === "one") {
      for (const name of ONE_FIELDS) spec[name] = value(name);
      return { spec, missing: null };
    }
    for (const name of LIST_FIELDS) spec[name] = value(name);
    let missing = null;
    for (const entry of fileInputs) {
      const text = entry.file ? await entry.file.text() : entry.textarea.value;
      if (!text.trim() && entry.field.querySelector("input[data-kept]")) missing = entry.name;
      spec[entry.name] = text;
    }
    return { spec, missing };
  }

  const previewButton = document.getElementById("preview-button");
  const previewSection = document.getElementById("preview");
  const previewBody = document.getElementById("preview-body");
  const previewStatus = document.getElementById("preview-status");
  previewButton.hidden = false;

  async function preview() {
    previewButton.disabled = true;
    previewSection.hidden = false;
    previewBody.replaceChildren(el("p", { class: "preview-note", text: "Rendering the first requests…" }));
    previewStatus.textContent = "";
    try {
      const { spec, missing } = await specFromForm();
      if (missing) {
        previewBody.replaceChildren(el("p", { class: "notice info", text:
          `The ${missing === "data_csv" ? "data" : "targets"} kept from the run you are running ` +
          "again are too big to load into this page, so they cannot be previewed; they are sent " +
          "when you start the run. Load the file to preview it." }));
        return;
      }
      const response = await fetch(form.dataset.preview, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(spec),
      });
      const answer = await response.json().catch(() => ({}));
      clearErrors();
      if (response.ok) showPreview(answer);
      else if (answer.errors) showPreviewErrors(NewRunForm.placeErrors(answer.errors, mode()));
      else throw new Error(answer.error || `${response.status} ${response.statusText}`);
    } catch (error) {
      previewBody.replaceChildren(el("p", { class: "notice error", text: `Could not preview: ${error.message}` }));
    } finally {
      previewStatus.textContent = previewBody.firstChild ? previewBody.firstChild.textContent : "";
      previewButton.disabled = false;
    }
  }
  previewButton.addEventListener("click", preview);

  function showPreviewErrors(errors) {
    const names = Object.keys(errors);
    for (const name of names) showError(name, errors[name]);
    previewBody.replaceChildren(el("div", { class: "notice error", id: "preview-errors" },
      `Nothing to preview: fix ${names.length} field${names.length > 1 ? "s" : ""}: `,
      ...names.flatMap((name, i) => [
        el("a", { href: `#f-${name}`, text: name }), i < names.length - 1 ? ", " : "."])));
  }

  function showPreview(answer) {
    const { fmt } = Stampede;
    const duration = form.elements.duration.value.trim();
    let total;
    if (answer.count == null) total = `as many requests as the target answers in ${duration || "the time given"}`;
    else if (duration && !isOpen()) total = `${fmt.int(answer.count)} requests in total, or fewer if the duration (${duration}) ends first`;
    else total = `${fmt.int(answer.count)} request${answer.count === 1 ? "" : "s"} in total`;
    const facts = [total,
      `${fmt.int(answer.targets)} target${answer.targets === 1 ? "" : "s"}`,
      `${fmt.int(answer.names.length)} endpoint name${answer.names.length === 1 ? "" : "s"}`];
    if (answer.rows != null) facts.push(`${fmt.int(answer.rows)} data row${answer.rows === 1 ? "" : "s"}`);
    const list = el("ol", { class: "preview-requests", start: "0" },
      ...answer.requests.map(requestItem));
    previewBody.replaceChildren(
      el("p", { class: "preview-total", id: "preview-total", text: `${facts.join(" · ")}.` }),
      el("p", { class: "preview-note", text: answer.requests.length
        ? `The first ${answer.requests.length === 1 ? "request" : `${answer.requests.length} requests`}:`
        : "No request would be sent." }),
      list);
  }

  /** One request as text: request line, headers, blank line, body (all escaped by el). */
  function requestItem(r) {
    let body = "";
    if (r.body_b64 !== undefined) body = `(binary body, ${NewRunForm.size(r.body_bytes)}, base64)\n${r.body_b64}`;
    else body = r.body;
    if (r.body_truncated) body += `\n… (${NewRunForm.size(r.body_bytes)} in all)`;
    const lines = [`${r.method} ${r.url}`, ...r.headers.map(([k, v]) => `${k}: ${v}`)];
    if (body) lines.push("", body);
    return el("li", { class: "preview-request", "data-index": String(r.index) },
      el("div", { class: "preview-name" }, el("span", { class: "badge", text: `#${r.index}` }), " ", r.name),
      el("pre", { class: "pre", text: lines.join("\n") }));
  }

  // One click, one run: a second submit while the first is on its way would hit "a run is active".
  // Disabled after the submit event, not in it: a disabled submitter drops its own
  // name=value from the post ("Start anyway" carries accept_warning that way).
  for (const f of document.querySelectorAll("form[method=post]")) {
    f.addEventListener("submit", () => {
      setTimeout(() => {
        for (const button of document.querySelectorAll("button[type=submit]")) button.disabled = true;
      }, 0);
    });
  }

  // Put the cursor on the first field the server complained about.
  const invalid = form.querySelector(".field.invalid input:not([type=hidden]), .field.invalid textarea, .field.invalid select");
  if (invalid) invalid.focus();
})();
