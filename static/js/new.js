/* New run form: show the rate and stages inputs only for the open model, and the help
   of the chosen engine. The server validates everything (app/spec.py). */
"use strict";

(() => {
  const form = document.getElementById("run-form");
  if (!form) return;

  // The prefilled count is the closed model's default: left in an open run it would stop
  // the run before its rate or stages play out (1,000 requests end `10s:100, 10s:500`
  // after 12 s). So it leaves with the closed model, and comes back with it if untouched.
  // Only on the fresh form (data-defaults): a count the person typed or ran before stays.
  const requests = form.querySelector("#f-requests");
  const closedDefault = "defaults" in form.dataset ? requests.defaultValue : "";

  function syncModel(event) {
    const open = form.querySelector('input[name="model"]:checked')?.value === "open";
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
  const invalid = form.querySelector(".field.invalid input, .field.invalid textarea, .field.invalid select");
  if (invalid) invalid.focus();
})();
