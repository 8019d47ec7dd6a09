// Showing the API's numbers. Values are decimal strings and are shown as sent (never
// through a float); only chart geometry turns them into numbers.

import { t } from "./i18n.js";

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

/** The figure as shown: "60.00%", "1.25", or "无数据" / "no data" when value is null. */
export function figureText(figure) {
  if (figure.value === null || figure.value === undefined) return t("no_data");
  return figure.shape === "per_record" ? figure.value : `${figure.value}%`;
}

/** The API's exact value for data-value; empty when there is no data. */
export function figureValue(figure) {
  return figure.value === null || figure.value === undefined ? "" : String(figure.value);
}

/** The sums behind a figure: "3 / 5", "1,000,000 / 2,000,000". */
export function sumsText(figure) {
  return `${grouped(figure.numerator)} / ${grouped(figure.denominator)}`;
}

const UNITS = [
  ["dur_d", 86400],
  ["dur_h", 3600],
  ["dur_min", 60],
  ["dur_s", 1],
];

/** "2小时5分" / "2 h 5 min": the two largest units of a duration in seconds. */
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return t("no_data");
  let left = Math.abs(Math.round(seconds));
  const parts = [];
  for (const [key, size] of UNITS) {
    if (left >= size || (key === "dur_s" && parts.length === 0)) {
      parts.push(t(key, { n: Math.floor(left / size) }));
      left %= size;
    }
    if (parts.length === 2) break;
  }
  return parts.join(t("dur_join"));
}

/** Days with one decimal ("42.0 天"); for cycles compared in days. */
export function days(seconds) {
  if (seconds === null || seconds === undefined) return t("no_data");
  return t("days", { n: (Math.round(seconds / 8640) / 10).toFixed(1) });
}

/** Minutes east of UTC of an ISO time's offset ("+08:00" -> 480, "Z" -> 0). */
export function offsetMinutes(iso) {
  const m = /([+-])(\d{2}):?(\d{2})$/.exec(iso || "");
  if (!m) return 0;
  const minutes = Number(m[2]) * 60 + Number(m[3]);
  return m[1] === "-" ? -minutes : minutes;
}

let orgOffset = 0;

/** Times are shown in the company's zone, whose offset the API's period bounds carry. */
export function setOrgOffset(minutes) {
  orgOffset = minutes;
}

/** "2026-03-09 12:24" in the company's zone. */
export function localTime(iso) {
  if (!iso) return "—";
  const shifted = new Date(Date.parse(iso) + orgOffset * 60000);
  const pad = (n) => String(n).padStart(2, "0");
  return (
    `${shifted.getUTCFullYear()}-${pad(shifted.getUTCMonth() + 1)}-${pad(shifted.getUTCDate())}` +
    ` ${pad(shifted.getUTCHours())}:${pad(shifted.getUTCMinutes())}`
  );
}

/** "+12.50" / "-40.00" for changes in points. */
export function signed(text) {
  if (text === null || text === undefined) return "—";
  const plain = plainDecimal(text);
  return plain.startsWith("-") || plain.startsWith("+") ? plain : `+${plain}`;
}
