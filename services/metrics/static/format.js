// Showing the API's numbers. Values are decimal strings and are shown as sent (never
// through a float); only chart geometry turns them into numbers. Times, and the decimal
// helpers the console uses too, are in common-format.js.

import { DURATION_UNITS, grouped, plainDecimal } from "./common-format.js";
import { t } from "./i18n.js";

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

/** "2小时5分" / "2 h 5 min": the two largest units of a duration in seconds. */
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return t("no_data");
  let left = Math.abs(Math.round(seconds));
  const parts = [];
  for (const [key, size] of DURATION_UNITS) {
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

/** "+12.50" / "-40.00" for changes in points. */
export function signed(text) {
  if (text === null || text === undefined) return "—";
  const plain = plainDecimal(text);
  return plain.startsWith("-") || plain.startsWith("+") ? plain : `+${plain}`;
}
