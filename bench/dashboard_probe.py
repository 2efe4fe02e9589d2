"""What the dashboard benchmark measures inside the page, installed before the page's own
script runs (Playwright `add_init_script`).

Times are epoch milliseconds (`performance.timeOrigin + performance.now()`): the browser and
the load generator run on the same machine, on the same clock, so the time an event's POST
was answered and the time its student appeared can be subtracted. "Painted" is the first task
after the next animation frame: the frame's rendering has run by then.
"""

from __future__ import annotations

from typing import Any

from playwright.async_api import Page

PROBE_SCRIPT = """
(() => {
  const probe = { shown: {}, clicks: [], longTasks: [] };
  window.__benchProbe = probe;
  const now = () => performance.timeOrigin + performance.now();
  const afterPaint = (record) =>
    requestAnimationFrame(() => {
      const channel = new MessageChannel();
      channel.port1.onmessage = () => record(now());
      channel.port2.postMessage(null);
    });
  // A student in Needs attention: first seen per student and kind (a stuck item may turn
  // into a help item in place).
  const note = (item) => {
    const key = `${item.dataset.studentId}:${item.dataset.kind}`;
    if (!item.dataset.studentId || !item.dataset.kind || key in probe.shown) return;
    const inserted = now();
    probe.shown[key] = { inserted, painted: null };
    afterPaint((painted) => { probe.shown[key].painted = painted; });
  };
  const scan = (node) => {
    if (node.nodeType !== Node.ELEMENT_NODE) return;
    if (node.matches(".attention-item")) note(node);
    for (const item of node.querySelectorAll(".attention-item")) note(item);
  };
  const watch = () => {
    const list = document.querySelector("#attention-list") ?? document.body;
    new MutationObserver((records) => {
      for (const record of records) {
        if (record.type === "attributes") scan(record.target);
        else for (const node of record.addedNodes) scan(node);
      }
    }).observe(list, {
      subtree: true,
      childList: true,
      attributes: true,
      attributeFilter: ["data-kind", "data-student-id"],
    });
    scan(list);
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", watch);
  else watch();
  new PerformanceObserver((entries) => {
    for (const entry of entries.getEntries()) {
      probe.longTasks.push([performance.timeOrigin + entry.startTime, entry.duration]);
    }
  }).observe({ type: "longtask", buffered: true });
  // A filter click: from the input event to the first frame painted with the filter applied.
  document.addEventListener(
    "click",
    (event) => {
      const button = event.target.closest?.("button[data-filter]");
      if (!button) return;
      const started = performance.timeOrigin + event.timeStamp;
      const check = () =>
        afterPaint((painted) => {
          if (button.getAttribute("aria-pressed") === "true") {
            probe.clicks.push({ filter: button.dataset.filter, started, painted });
          } else check();
        });
      check();
    },
    true,
  );
})();
"""


async def shown(page: Page) -> dict[str, dict[str, float | None]]:
    """`"<student id>:<kind>"` -> when that item entered Needs attention and was painted."""
    result: dict[str, dict[str, float | None]] = await page.evaluate("window.__benchProbe.shown")
    return result


async def clicks(page: Page) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = await page.evaluate("window.__benchProbe.clicks")
    return result


async def long_tasks(page: Page) -> list[tuple[float, float]]:
    """(start, duration) of each task over 50 ms, in epoch milliseconds."""
    result: list[list[float]] = await page.evaluate("window.__benchProbe.longTasks")
    return [(start, duration) for start, duration in result]


async def totals(page: Page) -> dict[str, int]:
    """The header's totals as the page shows them (`[data-total]`, digits only)."""
    result: dict[str, int] = await page.eval_on_selector_all(
        "[data-total]",
        "nodes => Object.fromEntries(nodes.map(node => "
        "[node.dataset.total, Number(node.textContent.replace(/[^0-9]/g, ''))]))",
    )
    return result
