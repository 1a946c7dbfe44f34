// The time range control: presets (15m, 1h, 24h, 7d) and an absolute from/to.

import { h } from "./dom.js";
import { PRESETS, absolute, presetOf, resolve, toLocalInput } from "./timerange.js";

let counter = 0;

/** Returns {el, set(range)}; onChange({from, to}) when the person picks a range. */
export function createRangePicker({ onChange }) {
  const n = ++counter;
  const select = h("select", { id: `range-${n}`, class: "range-preset", "aria-label": "Time range" },
    PRESETS.map((p) => h("option", { value: p.value }, p.label)),
    h("option", { value: "custom" }, "Custom range…"),
  );
  const fromInput = h("input", { type: "datetime-local", step: "1", id: `range-from-${n}`, required: true });
  const toInput = h("input", { type: "datetime-local", step: "1", id: `range-to-${n}`, required: true });
  const problem = h("span", { class: "range-problem", role: "alert" });
  const custom = h("form", { class: "range-custom", hidden: true },
    h("label", { for: fromInput.id }, "From"), fromInput,
    h("label", { for: toInput.id }, "To"), toInput,
    h("button", { type: "submit" }, "Apply"),
    problem,
  );
  const el = h("div", { class: "range-picker" },
    h("label", { for: select.id, class: "sr-only" }, "Time range"), select, custom);

  let range = null;

  function fill(current) {
    const { from, to } = resolve(current);
    fromInput.value = toLocalInput(from);
    toInput.value = toLocalInput(to);
  }

  select.addEventListener("change", () => {
    if (select.value === "custom") {
      fill(range);
      custom.hidden = false;
      fromInput.focus();
      return;
    }
    custom.hidden = true;
    onChange({ from: `-${select.value}`, to: "now" });
  });
  custom.addEventListener("submit", (event) => {
    event.preventDefault();
    const from = new Date(fromInput.value).getTime();
    const to = new Date(toInput.value).getTime();
    if (!(from < to)) {
      problem.textContent = "“From” must be before “To”.";
      return;
    }
    problem.textContent = "";
    onChange(absolute(from, to));
  });

  return {
    el,
    set(next) {
      range = next;
      const preset = presetOf(next);
      select.value = preset || "custom";
      custom.hidden = Boolean(preset);
      problem.textContent = "";
      if (!preset) fill(next);
    },
  };
}
