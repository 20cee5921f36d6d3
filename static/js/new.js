/* New run form: show the rate and stages inputs only for the open model, and the help
   of the chosen engine. The server validates everything (app/spec.py). */
"use strict";

(() => {
  const form = document.getElementById("run-form");
  if (!form) return;

  function syncModel() {
    const open = form.querySelector('input[name="model"]:checked')?.value === "open";
    for (const input of form.querySelectorAll("[data-open-only]")) {
      input.closest(".field").hidden = !open;
    }
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
  for (const f of document.querySelectorAll("form[method=post]")) {
    f.addEventListener("submit", () => {
      for (const button of document.querySelectorAll("form[method=post] button[type=submit]")) {
        button.disabled = true;
      }
    });
  }

  // Put the cursor on the first field the server complained about.
  const invalid = form.querySelector(".field.invalid input, .field.invalid textarea, .field.invalid select");
  if (invalid) invalid.focus();
})();
