// Times in the org's time zone and decimals exactly as the API sends them; shared by the
// metrics dashboard and the console.
//
// Times: every date and time is shown, and every date-time input is read, in the org's
// zone, whatever zone the phone or PC is set to. The console learns the zone's name from
// /auth/config (configureTime); the metrics API names no zone, only the offsets its period
// bounds carry, so the dashboard sets that offset (setOrgOffset). "Now" is the server's
// clock where the app knows it (configureTime), so default times and countdowns agree with
// the rules. Decimals (money, percentages) are strings and never go through a float.

// The zone of deploy/policy.yaml, until the app has asked the server; an IANA name, or
// a fixed offset in minutes east of UTC.
let zone = "Asia/Shanghai";
let skewMs = 0;
const formatters = new Map();

/** The org's zone and the server's clock, from the console's GET /auth/config. */
export function configureTime(config) {
  zone = config.timezone || zone;
  if (config.now) skewMs = Date.parse(config.now) - Date.now();
  formatters.clear();
}

/** The org's zone as a fixed offset, in minutes east of UTC (see offsetMinutes). */
export function setOrgOffset(minutes) {
  zone = minutes;
}

/** Minutes east of UTC of an ISO time's offset ("+08:00" -> 480, "Z" -> 0). */
export function offsetMinutes(iso) {
  const m = /([+-])(\d{2}):?(\d{2})$/.exec(iso || "");
  if (!m) return 0;
  const minutes = Number(m[2]) * 60 + Number(m[3]);
  return m[1] === "-" ? -minutes : minutes;
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

const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/** The wall-clock parts of an instant in the org's zone. */
export function orgParts(ms) {
  if (typeof zone === "number") {
    // A fixed offset: the wall clock is UTC shifted by it.
    const shifted = new Date(ms + zone * 60000);
    return {
      year: shifted.getUTCFullYear(),
      month: shifted.getUTCMonth() + 1,
      day: shifted.getUTCDate(),
      hour: shifted.getUTCHours(),
      minute: shifted.getUTCMinutes(),
      second: shifted.getUTCSeconds(),
      weekday: WEEKDAYS[shifted.getUTCDay()],
    };
  }
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

export const pad = (n, width = 2) => String(n).padStart(width, "0");

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

/** "1234567.50" -> "1,234,567.50". */
export function grouped(text) {
  const plain = plainDecimal(text);
  const [whole, fraction] = plain.split(".");
  const withCommas = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return fraction === undefined ? withCommas : `${withCommas}.${fraction}`;
}

// ---------------------------------------------------------------- durations

/** The units a duration is written in, largest first: keys of each app's dictionary. */
export const DURATION_UNITS = [
  ["dur_d", 86400],
  ["dur_h", 3600],
  ["dur_min", 60],
  ["dur_s", 1],
];
