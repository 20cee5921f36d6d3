/* History: pick 2-4 runs to compare (in the order picked: the first is the baseline)
   and delete a run after confirming, keeping the run count true. Sorting, filtering and
   paging are plain links. */
"use strict";

(() => {
  const { api } = Stampede;
  const MIN = 2;
  const MAX = 4;
  const table = document.getElementById("runs");
  const button = document.getElementById("compare");
  const count = document.getElementById("selected-count");
  const message = document.getElementById("history-message");
  const runCount = document.getElementById("run-count");
  let picked = [];   // run ids in the order they were ticked

  /** "54 runs" (or "54 runs matching" under a filter), as the server wrote it. */
  function showCount(total) {
    runCount.dataset.total = String(total);
    runCount.textContent = `${Stampede.fmt.int(total)} run${total === 1 ? "" : "s"}` +
      (runCount.dataset.matching ? " matching" : "");
  }

  /** The last row of the page deleted: say so, and where the other runs are. */
  function showEmptyPage() {
    const body = table.tBodies[0];
    if (body.rows.length) return;
    const columns = table.tHead.rows[0].cells.length;
    const total = Number(runCount.dataset.total);
    const firstPage = new URLSearchParams(location.search);    // same filters and sort
    firstPage.delete("page");
    const href = location.pathname + (firstPage.size ? `?${firstPage}` : "");
    const cell = total
      ? Stampede.el("td", { colspan: String(columns) }, "No runs left on this page. ",
          Stampede.el("a", { href, text: "Show the others" }), ".")
      : Stampede.el("td", { colspan: String(columns), text: "No runs left." });
    body.append(Stampede.el("tr", { class: "empty" }, cell));
  }

  function sync() {
    const n = picked.length;
    button.disabled = n < MIN || n > MAX;
    count.textContent = n > MAX ? `${n} selected (at most ${MAX})` : `${n} selected`;
    for (const box of table.querySelectorAll("input.pick")) {
      box.closest("tr").classList.toggle("picked", box.checked);
    }
  }

  table.addEventListener("change", (event) => {
    const box = event.target;
    if (!box.matches("input.pick")) return;
    picked = picked.filter((id) => id !== box.value);
    if (box.checked) picked.push(box.value);
    sync();
  });

  button.addEventListener("click", () => {
    if (picked.length >= MIN && picked.length <= MAX) {
      location.href = `/compare?ids=${picked.map(encodeURIComponent).join(",")}`;
    }
  });

  table.addEventListener("click", async (event) => {
    const del = event.target.closest("button.delete");
    if (!del || del.disabled) return;
    if (!confirm(`Delete ${del.dataset.name} and all its samples? This cannot be undone.`)) return;
    del.disabled = true;
    try {
      await api(`/api/runs/${encodeURIComponent(del.dataset.runId)}`, { method: "DELETE" });
      const row = del.closest("tr");
      picked = picked.filter((id) => id !== del.dataset.runId);
      row.remove();
      showCount(Math.max(0, Number(runCount.dataset.total) - 1));
      showEmptyPage();
      message.hidden = true;
      sync();
    } catch (error) {
      del.disabled = false;
      message.textContent = `Could not delete ${del.dataset.name}: ${error.message}`;
      message.hidden = false;
    }
  });

  // Back/forward cache may restore ticked boxes: start from what is on screen.
  picked = [...table.querySelectorAll("input.pick:checked")].map((box) => box.value);
  sync();
})();
