/**
 * The canonical text of a Kubernetes resource quantity, as the API server writes it back
 * (`resource.Quantity.String()` in k8s.io/apimachinery): binary suffixes stay binary when the
 * value is a whole number of their unit, decimal values take the largest SI suffix (m, "", k, M,
 * G, T, P, E) that keeps the number whole. `2000m` comes back as `2`, `1000` as `1k`, `0.5` as
 * `500m`, `1536Mi` as `1536Mi`, `2048Mi` as `2Gi`.
 * @see https://github.com/kubernetes/apimachinery/blob/master/pkg/api/resource/quantity.go
 */

const BINARY: readonly [string, bigint][] = [
  ["Ei", 1n << 60n],
  ["Pi", 1n << 50n],
  ["Ti", 1n << 40n],
  ["Gi", 1n << 30n],
  ["Mi", 1n << 20n],
  ["Ki", 1n << 10n],
];
const DECIMAL_EXP: Readonly<Record<string, number>> = { n: -9, u: -6, m: -3, "": 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const DECIMAL_SUFFIX: readonly [number, string][] = [
  [18, "E"],
  [15, "P"],
  [12, "T"],
  [9, "G"],
  [6, "M"],
  [3, "k"],
  [0, ""],
  [-3, "m"],
  [-6, "u"],
  [-9, "n"],
];

/** A quantity as an exact rational: numerator / 10^scale. */
interface Exact {
  readonly numerator: bigint;
  readonly scale: number;
}

function parseNumber(text: string): Exact | undefined {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(text);
  if (!m || (m[2] === "" && (m[3] ?? "") === "")) return undefined;
  const frac = m[3] ?? "";
  const numerator = BigInt(`${m[1]}${m[2] || "0"}${frac}`);
  return { numerator, scale: frac.length };
}

/** Multiplies by 10^exp exactly. */
function shift(x: Exact, exp: number): Exact {
  return exp >= 0 ? { numerator: x.numerator * 10n ** BigInt(exp), scale: x.scale } : { numerator: x.numerator, scale: x.scale - exp };
}

/** The value as numerator/10^scale with `scale <= target`, if exact (trailing zeros removed first). */
function atScale(x: Exact, target: number): bigint | undefined {
  if (x.scale <= target) return x.numerator * 10n ** BigInt(target - x.scale);
  const div = 10n ** BigInt(x.scale - target);
  return x.numerator % div === 0n ? x.numerator / div : undefined;
}

/** Decimal SI text of an exact value (the largest suffix that keeps it whole; below nano it rounds up to n). */
function decimalText(x: Exact): string {
  if (x.numerator === 0n) return "0";
  for (const [exp, suffix] of DECIMAL_SUFFIX) {
    // value = n × 10^exp  ⇔  value × 10^-exp is whole
    const n = atScale(shift(x, -exp), 0);
    if (n !== undefined) return `${n}${suffix}`;
  }
  // Finer than nano: the API server rounds up to the next nano.
  const scaled = shift(x, 9);
  const div = 10n ** BigInt(scaled.scale);
  const n = scaled.numerator / div + (scaled.numerator % div === 0n ? 0n : 1n);
  return `${n}n`;
}

/**
 * The canonical form of `text`, or `undefined` when it is not a quantity. Exponent forms keep
 * their form with the exponent a multiple of three (`1e4` comes back as `10e3`).
 */
export function canonicalQuantity(text: string): string | undefined {
  const m = /^([+-]?[0-9.]+)(Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\d+|[numkMGTPE]?)$/.exec(text);
  if (!m) return undefined;
  const number = parseNumber(m[1] ?? "");
  if (!number) return undefined;
  const suffix = m[2] ?? "";
  const binary = BINARY.find(([s]) => s === suffix);
  if (binary) {
    // Whole number of bytes: the largest binary suffix that divides it (none below 1Ki).
    const bytes = atScale({ numerator: number.numerator * binary[1], scale: number.scale }, 0);
    if (bytes === undefined) return decimalText({ numerator: number.numerator * binary[1], scale: number.scale });
    if (bytes === 0n) return "0";
    for (const [s, unit] of BINARY) if (bytes % unit === 0n) return `${bytes / unit}${s}`;
    return `${bytes}`;
  }
  if (/^[eE]/.test(suffix)) {
    // Exponent form stays an exponent form, with the exponent a multiple of three.
    const value = shift(number, Number(suffix.slice(1)));
    if (value.numerator === 0n) return "0";
    for (const [exp] of DECIMAL_SUFFIX) {
      const n = atScale(shift(value, -exp), 0);
      if (n !== undefined) return exp === 0 ? `${n}` : `${n}e${exp}`;
    }
    return decimalText(value);
  }
  return decimalText(shift(number, DECIMAL_EXP[suffix] ?? 0));
}

/** The numeric value of a quantity (`500m` → 0.5, `4Gi` → 4294967296), or `undefined` when it is not one. */
export function quantityValue(text: string): number | undefined {
  const m = /^([+-]?[0-9.]+)(Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\d+|[numkMGTPE]?)$/.exec(text);
  if (!m) return undefined;
  const n = Number(m[1]);
  if (!Number.isFinite(n)) return undefined;
  const suffix = m[2] ?? "";
  const binary = BINARY.find(([s]) => s === suffix);
  if (binary) return n * Number(binary[1]);
  if (/^[eE]/.test(suffix)) return n * 10 ** Number(suffix.slice(1));
  return n * 10 ** (DECIMAL_EXP[suffix] ?? 0);
}
