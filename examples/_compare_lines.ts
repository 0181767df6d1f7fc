// Compares printed lines with PyTorch's: words must match exactly, numbers
// within float32 noise (a relative 1e-4 by default, or 2 units of the last
// printed digit).

/** Null when the lines agree, else the first difference. `relative` loosens numbers to that fraction. */
export function compareLines(
  actual: readonly string[],
  expected: readonly string[],
  options: { relative?: number } = {},
): string | null {
  const relative = options.relative ?? 1e-4;
  if (actual.length !== expected.length) {
    return `printed ${actual.length} lines, PyTorch printed ${expected.length}:\n${actual.join("\n")}`;
  }
  const NUMBER = /-?\d+(?:\.\d+)?(?:e[+-]?\d+)?/g;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i], e = expected[i];
    if (a.replace(NUMBER, "#").replace(/\s+/g, " ") !== e.replace(NUMBER, "#").replace(/\s+/g, " ")) {
      return `line ${i + 1}: "${a}" but PyTorch printed "${e}"`;
    }
    const an = a.match(NUMBER) ?? [], en = e.match(NUMBER) ?? [];
    for (let k = 0; k < en.length; k++) {
      const x = Number(an[k]), y = Number(en[k]);
      const decimals = (en[k].split(".")[1] ?? "").replace(/e.*/, "").length;
      if (Math.abs(x - y) > Math.max(relative * Math.abs(y), 2 * 10 ** -decimals)) {
        return `line ${i + 1}: ${an[k]} where PyTorch printed ${en[k]} ("${a}" vs "${e}")`;
      }
    }
  }
  return null;
}
