// One measured figure as results.json stores it: the value with its unit, the reference measured in the
// same run and the ratio to it, and the target (on the value or on the ratio) with whether it was met.
import { round } from "./stats.mjs";

const OPS = {
  "<=": (a, b) => a <= b,
  "<": (a, b) => a < b,
  ">=": (a, b) => a >= b,
  ">": (a, b) => a > b,
};

/**
 * figure({id, name, value, unit, reference: {name, value, unit}, target: {on, op, limit, text}, details})
 * `target` is optional (informational figures); `on` is "value" (default) or "ratio".
 */
export function figure({ id, name, value, unit, reference, target, details }) {
  const ratio =
    reference && Number.isFinite(reference.value) && reference.value !== 0 ? value / reference.value : null;
  let pass = null;
  if (target) {
    const subject = target.on === "ratio" ? ratio : value;
    pass = subject !== null && Number.isFinite(subject) && OPS[target.op](subject, target.limit);
  }
  return {
    id,
    name,
    value: round(value, 3),
    unit,
    ...(reference ? { reference: { ...reference, value: round(reference.value, 3) } } : {}),
    ratio: ratio === null ? null : round(ratio, 3),
    ...(target
      ? { target: { on: target.on ?? "value", op: target.op, limit: target.limit, text: target.text } }
      : {}),
    pass,
    ...(details ? { details } : {}),
  };
}

/** A benchmark that could not produce its figures: a failed figure with the reason. */
export function failedFigure(id, name, err) {
  return {
    id,
    name,
    value: null,
    unit: null,
    ratio: null,
    target: { on: "value", op: "ran", limit: null, text: "the benchmark completes" },
    pass: false,
    error: err instanceof Error ? err.message : String(err),
  };
}
