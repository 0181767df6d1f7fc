// Helpers shared by the optimizers and schedulers: PyTorch's snake_case state-dict keys, Python-style
// number formatting for error messages and reprs, and warnings.

// Names whose PyTorch spelling does not follow the camelCase <-> snake_case rule.
const CAMEL_TO_SNAKE: Readonly<Record<string, string>> = { TMax: "T_max" };
const SNAKE_TO_CAMEL: Readonly<Record<string, string>> = { T_max: "TMax" };

/** `weightDecay` -> `weight_decay`, `_stepCount` -> `_step_count`, `TMax` -> `T_max`. */
export function toSnake(key: string): string {
  return CAMEL_TO_SNAKE[key] ?? key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** `weight_decay` -> `weightDecay`, `_step_count` -> `_stepCount`; camelCase keys pass unchanged. */
export function toCamel(key: string): string {
  if (SNAKE_TO_CAMEL[key] !== undefined) return SNAKE_TO_CAMEL[key];
  const lead = /^_*/.exec(key)![0];
  return lead + key.slice(lead.length).replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/**
 * A number as Python's `repr(float)` writes it where that differs from JavaScript: exponents from 1e16 up
 * and below 1e-4, with two exponent digits (`1e-08`). Integers print without `.0`: JavaScript cannot tell
 * `1` from `1.0`.
 */
export function pyNumber(x: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? "nan" : x > 0 ? "inf" : "-inf";
  if (x === 0 || (Number.isInteger(x) && Math.abs(x) < 1e16)) return String(x);
  const [mantissa, expText] = x.toExponential().split("e");
  const exp = Number(expText);
  if (exp >= -4 && exp < 16) return String(x);
  const digits = String(Math.abs(exp)).padStart(2, "0");
  return `${mantissa}e${exp < 0 ? "-" : "+"}${digits}`;
}

/** A value as Python prints it in a repr: `True`, `None`, tuples in parentheses. */
export function pyRepr(value: unknown): string {
  if (value === null || value === undefined) return "None";
  if (typeof value === "boolean") return value ? "True" : "False";
  if (typeof value === "number") return pyNumber(value);
  if (typeof value === "string") return value;
  if (Array.isArray(value)) return `(${value.map(pyRepr).join(", ")}${value.length === 1 ? "," : ""})`;
  return String(value);
}

const warned = new Set<string>();

/** Prints a warning once per message, as Python's default warning filter does per call site. */
export function warnOnce(message: string): void {
  if (warned.has(message)) return;
  warned.add(message);
  console.warn(`UserWarning: ${message}`);
}

/** Forgets the warnings printed so far (for tests). */
export function resetWarnings(): void {
  warned.clear();
}
