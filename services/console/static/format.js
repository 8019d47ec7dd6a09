// Showing numbers exactly as the API sends them, and durations. Decimals (money and
// percentages) are strings and are never put through a float. Times in the org's zone and
// the server's clock are common-format.js (the metrics dashboard shows times the same way);
// they are passed on from here so every screen imports its formatting from one module.

import { DURATION_UNITS, grouped, pad, plainDecimal, serverNow } from "./common-format.js";
import { t } from "./i18n.js";

export {
  configureTime,
  dateTime,
  fromInputValue,
  orgDate,
  orgMonth,
  serverNow,
  timeOfDay,
  toInputValue,
} from "./common-format.js";

// ---------------------------------------------------------------- decimals

/** "1234567.50" -> "1,234,567.50"; "—" for nothing. */
export function money(text) {
  if (text === null || text === undefined || text === "") return "—";
  return grouped(text);
}

/** A decimal string as [BigInt of its digits, scale], or null when it is not a number. */
export function parseDecimal(text) {
  const m = /^\s*([+-]?)(\d+)(?:\.(\d*))?\s*$|^\s*([+-]?)\.(\d+)\s*$/.exec(String(text ?? ""));
  if (!m) return null;
  const sign = m[1] ?? m[4] ?? "";
  const int = m[2] ?? "0";
  const frac = m[3] ?? m[5] ?? "";
  return [BigInt(`${sign}${int}${frac}` || "0"), frac.length];
}

function scaled([digits, scale], to) {
  return digits * 10n ** BigInt(to - scale);
}

/** Hundredths of ``numerator / denominator``, rounded half away from zero (Python's HALF_UP). */
function hundredths(numerator, denominator) {
  const negative = numerator < 0n !== denominator < 0n;
  const n = numerator < 0n ? -numerator : numerator;
  const d = denominator < 0n ? -denominator : denominator;
  let q = n / d;
  if ((n % d) * 2n >= d) q += 1n;
  return negative ? -q : q;
}

function fromHundredths(q) {
  const negative = q < 0n;
  const abs = negative ? -q : q;
  const text = `${abs / 100n}.${String(abs % 100n).padStart(2, "0")}`;
  return negative ? `-${text}` : text;
}

/**
 * The concession of a quote, (target - deal) / target x 100 with 2 decimals, exactly as
 * the tasks service computes it; null until both prices are numbers and target > 0.
 */
export function concessionPct(target, deal) {
  const t0 = parseDecimal(target);
  const d0 = parseDecimal(deal);
  if (!t0 || !d0) return null;
  const scale = Math.max(t0[1], d0[1]);
  const tv = scaled(t0, scale);
  const dv = scaled(d0, scale);
  if (tv <= 0n) return null;
  return fromHundredths(hundredths((tv - dv) * 10000n, tv));
}

/** Whether a percentage string is strictly above a threshold string ("12.01" > "12"). */
export function above(pct, threshold) {
  const a = parseDecimal(pct);
  const b = parseDecimal(threshold);
  if (!a || !b) return false;
  const scale = Math.max(a[1], b[1]);
  return scaled(a, scale) > scaled(b, scale);
}

/** Characters as the services count them: code points of the trimmed text. */
export function charCount(text) {
  return [...String(text ?? "").trim()].length;
}

// ---------------------------------------------------------------- durations

/**
 * "2小时5分" / "2 h 5 min": the largest unit of a duration in seconds and, when not zero,
 * the one below it ("10天", never "10天1秒").
 */
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return t("no_data");
  const left = Math.abs(Math.round(seconds));
  // As the policy writes durations: days only from two days up ("24小时", "3天").
  const found = DURATION_UNITS.findIndex(([key, size]) => left >= (key === "dur_d" ? 2 * size : size));
  const at = found === -1 ? DURATION_UNITS.length - 1 : found;
  const [key, size] = DURATION_UNITS[at];
  const parts = [t(key, { n: Math.floor(left / size) })];
  const below = DURATION_UNITS[at + 1];
  if (below) {
    const count = Math.floor((left % size) / below[1]);
    if (count) parts.push(t(below[0], { n: count }));
  }
  return parts.join(t("dur_join"));
}

/** "1:59:58", or "2天 03:04:05" beyond a day: a countdown that ticks every second. */
export function clockText(seconds) {
  let left = Math.max(0, Math.floor(Math.abs(seconds)));
  const days = Math.floor(left / 86400);
  left %= 86400;
  const text = `${Math.floor(left / 3600)}:${pad(Math.floor((left % 3600) / 60))}:${pad(left % 60)}`;
  return days ? `${t("dur_d", { n: days })} ${text}` : text;
}

/** "3 天前" / "3 days ago" from the server's now; "从未" / "never" for nothing. */
export function ago(iso) {
  if (!iso) return t("never");
  const seconds = (serverNow() - Date.parse(iso)) / 1000;
  if (seconds < 60) return t("just_now");
  return t("ago", { d: duration(seconds) });
}

/** The exact sum of decimal strings (blank ones count 0); null if one is not a number. */
export function decimalSum(values) {
  const parsed = values.map((v) => (String(v ?? "").trim() === "" ? [0n, 0] : parseDecimal(v)));
  if (parsed.some((p) => p === null)) return null;
  const scale = Math.max(0, ...parsed.map((p) => p[1]));
  const total = parsed.reduce((sum, p) => sum + scaled(p, scale), 0n);
  return fromScaled(total, scale);
}

/** ``a - b`` of two decimal strings, exactly; null if one is not a number. */
export function decimalDifference(a, b) {
  const x = parseDecimal(a);
  const y = parseDecimal(b);
  if (!x || !y) return null;
  const scale = Math.max(x[1], y[1]);
  return fromScaled(scaled(x, scale) - scaled(y, scale), scale);
}

function fromScaled(value, scale) {
  const negative = value < 0n;
  const digits = String(negative ? -value : value).padStart(scale + 1, "0");
  const text = scale ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits;
  return (negative ? "-" : "") + plainDecimal(text);
}
