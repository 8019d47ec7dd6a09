// Showing times in the org's time zone and numbers exactly as the API sends them.
//
// Times: every date and time is shown, and every date-time input is read, in the org's
// zone (from /auth/config), whatever zone the phone is set to. "Now" is the server's
// clock (also from /auth/config), so default times and countdowns agree with the rules.
// Numbers: money and percentages are decimal strings and are never put through a float.

import { t } from "./i18n.js";

let zone = "Asia/Shanghai";
let skewMs = 0;
const formatters = new Map();

/** The org's zone and the server's clock, from GET /auth/config. */
export function configureTime(config) {
  zone = config.timezone || zone;
  if (config.now) skewMs = Date.parse(config.now) - Date.now();
  formatters.clear();
}

/** Milliseconds since the epoch by the server's clock. */
export function serverNow() {
  return Date.now() + skewMs;
}

function formatter() {
  if (!formatters.has(zone)) {
    formatters.set(
      zone,
      new Intl.DateTimeFormat("en-US", {
        timeZone: zone,
        hourCycle: "h23",
        year: "numeric",
        month: "2-digit",
        day: "2-digit",
        hour: "2-digit",
        minute: "2-digit",
        second: "2-digit",
        weekday: "short",
      }),
    );
  }
  return formatters.get(zone);
}

/** The wall-clock parts of an instant in the org's zone. */
export function orgParts(ms) {
  const parts = {};
  for (const { type, value } of formatter().formatToParts(new Date(ms))) parts[type] = value;
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour) % 24,
    minute: Number(parts.minute),
    second: Number(parts.second),
    weekday: parts.weekday,
  };
}

const pad = (n, width = 2) => String(n).padStart(width, "0");

/** "2026-03-10 09:30" in the org's zone; "—" for nothing. */
export function dateTime(iso) {
  if (!iso) return "—";
  const p = orgParts(Date.parse(iso));
  return `${p.year}-${pad(p.month)}-${pad(p.day)} ${pad(p.hour)}:${pad(p.minute)}`;
}

/** "09:30" in the org's zone. */
export function timeOfDay(iso) {
  if (!iso) return "—";
  const p = orgParts(Date.parse(iso));
  return `${pad(p.hour)}:${pad(p.minute)}`;
}

/** "2026-03-10": the org's date of an instant (default: the server's now). */
export function orgDate(ms = serverNow()) {
  const p = orgParts(ms);
  return `${p.year}-${pad(p.month)}-${pad(p.day)}`;
}

/** "2026-03": the org's month of the server's now. */
export function orgMonth(ms = serverNow()) {
  const p = orgParts(ms);
  return `${p.year}-${pad(p.month)}`;
}

/** The value of a datetime-local input showing ``ms`` in the org's zone. */
export function toInputValue(ms) {
  const p = orgParts(ms);
  return `${p.year}-${pad(p.month)}-${pad(p.day)}T${pad(p.hour)}:${pad(p.minute)}`;
}

/** Minutes east of UTC the org's zone is at instant ``ms``. */
function offsetAt(ms) {
  const p = orgParts(ms);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return Math.round((asUtc - Math.floor(ms / 1000) * 1000) / 60000);
}

/**
 * A datetime-local value ("2026-03-10T09:30"), read as wall-clock time in the org's zone,
 * as an ISO 8601 string with that zone's offset ("2026-03-10T09:30:00+08:00"); null when
 * the value is not a date and time. Two passes settle the offset across a DST change.
 */
export function fromInputValue(value) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(value || "");
  if (!m) return null;
  const wall = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0));
  let offset = offsetAt(wall);
  offset = offsetAt(wall - offset * 60000);
  const sign = offset < 0 ? "-" : "+";
  const abs = Math.abs(offset);
  return `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6] || "00"}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

// ---------------------------------------------------------------- decimals

/** A decimal string in plain notation ("3.0E+5" -> "300000"), digits kept exact. */
export function plainDecimal(text) {
  const raw = String(text).trim();
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(raw);
  if (!m || m[4] === undefined) return raw;
  const [, sign, int, frac = ""] = m;
  let digits = int + frac;
  let point = int.length + Number(m[4]);
  if (point <= 0) {
    digits = "0".repeat(1 - point) + digits;
    point = 1;
  }
  if (point > digits.length) digits += "0".repeat(point - digits.length);
  const whole = digits.slice(0, point).replace(/^0+(?=\d)/, "");
  const fraction = digits.slice(point).replace(/0+$/, "");
  return sign + whole + (fraction ? `.${fraction}` : "");
}

/** "1234567.50" -> "1,234,567.50"; "—" for nothing. */
export function money(text) {
  if (text === null || text === undefined || text === "") return "—";
  const plain = plainDecimal(text);
  const [whole, fraction] = plain.split(".");
  const withCommas = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return fraction === undefined ? withCommas : `${withCommas}.${fraction}`;
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

const UNITS = [
  ["dur_d", 86400],
  ["dur_h", 3600],
  ["dur_min", 60],
  ["dur_s", 1],
];

/**
 * "2小时5分" / "2 h 5 min": the largest unit of a duration in seconds and, when not zero,
 * the one below it ("10天", never "10天1秒").
 */
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return t("no_data");
  const left = Math.abs(Math.round(seconds));
  // As the policy writes durations: days only from two days up ("24小时", "3天").
  const found = UNITS.findIndex(([key, size]) => left >= (key === "dur_d" ? 2 * size : size));
  const at = found === -1 ? UNITS.length - 1 : found;
  const [key, size] = UNITS[at];
  const parts = [t(key, { n: Math.floor(left / size) })];
  const below = UNITS[at + 1];
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
