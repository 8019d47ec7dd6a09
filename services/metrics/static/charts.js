// SVG gauges and trend charts, drawn from the API's figures.

import { figureText, figureValue } from "./format.js";
import { t, title } from "./i18n.js";

const SVG = "http://www.w3.org/2000/svg";

export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined) el.setAttribute(name, String(value));
  }
  for (const child of children) {
    if (child !== null && child !== undefined) {
      el.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
  }
  return el;
}

/** data-* attributes naming the figure an element shows (read by tests and BI scrapers). */
export function figureData(figure) {
  return {
    "data-measure": figure.measure,
    "data-node": figure.node_id,
    "data-period": figure.period,
    "data-value": figureValue(figure),
    "data-health": figure.health ?? "",
  };
}

function number(text) {
  return text === null || text === undefined ? null : Number(text);
}

// Gauge geometry: a half circle from the left (0%) over the top to the right (100%).
const CX = 100;
const CY = 100;
const R = 80;

function pointAt(pct) {
  const angle = Math.PI * (1 - Math.min(Math.max(pct, 0), 100) / 100);
  return [CX + R * Math.cos(angle), CY - R * Math.sin(angle)];
}

function arc(fromPct, toPct) {
  const [x0, y0] = pointAt(fromPct);
  const [x1, y1] = pointAt(toPct);
  return `M ${x0.toFixed(2)} ${y0.toFixed(2)} A ${R} ${R} 0 0 1 ${x1.toFixed(2)} ${y1.toFixed(2)}`;
}

/** A half-circle gauge of one indicator with its threshold marked. */
export function gauge(figure) {
  const value = number(figure.value);
  const threshold = number(figure.threshold_pct);
  const health = figure.health ?? "no_data";
  const label = `${title(figure)}: ${figureText(figure)}`;
  const root = svg("svg", {
    class: `gauge-svg health-${health}`,
    viewBox: "0 0 200 118",
    role: "img",
    "aria-label": label,
  });
  root.append(svg("path", { class: "gauge-track", d: arc(0, 100) }));
  if (value !== null && value > 0) {
    root.append(svg("path", { class: "gauge-bar", d: arc(0, Math.min(value, 100)) }));
  }
  if (threshold !== null) {
    const angle = Math.PI * (1 - threshold / 100);
    const inner = [CX + (R - 16) * Math.cos(angle), CY - (R - 16) * Math.sin(angle)];
    const outer = [CX + (R + 14) * Math.cos(angle), CY - (R + 14) * Math.sin(angle)];
    root.append(
      svg("line", {
        class: "gauge-threshold",
        x1: inner[0].toFixed(2),
        y1: inner[1].toFixed(2),
        x2: outer[0].toFixed(2),
        y2: outer[1].toFixed(2),
      }),
    );
  }
  root.append(
    svg(
      "text",
      {
        class: "gauge-value figure-value",
        x: CX,
        y: CY - 12,
        "text-anchor": "middle",
        ...figureData(figure),
      },
      figureText(figure),
    ),
  );
  root.append(svg("text", { class: "gauge-scale", x: 20, y: 114, "text-anchor": "middle" }, "0"));
  root.append(svg("text", { class: "gauge-scale", x: 180, y: 114, "text-anchor": "middle" }, "100"));
  return root;
}

/** A small line chart of a measure over periods, with its threshold as a dashed line. */
export function trendChart(points) {
  const width = 320;
  const height = 140;
  const left = 34;
  const right = 10;
  const top = 12;
  const bottom = 24;
  const values = points.map((p) => number(p.value));
  const threshold = points.length ? number(points[0].threshold_pct) : null;
  const highest = Math.max(100, threshold ?? 0, ...values.filter((v) => v !== null));
  const x = (i) =>
    points.length === 1
      ? left + (width - left - right) / 2
      : left + (i * (width - left - right)) / (points.length - 1);
  const y = (v) => top + (1 - v / highest) * (height - top - bottom);
  const measure = points.length ? points[0].measure : "";
  const root = svg("svg", {
    class: "trend-svg",
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": points.length ? `${title(points[0])} · ${t("trends")}` : t("trends"),
    "data-measure": measure,
  });
  for (const tick of [0, 50, 100]) {
    root.append(
      svg("line", { class: "trend-grid", x1: left, x2: width - right, y1: y(tick), y2: y(tick) }),
      svg("text", { class: "trend-axis", x: left - 6, y: y(tick) + 4, "text-anchor": "end" }, `${tick}%`),
    );
  }
  if (threshold !== null) {
    root.append(
      svg("line", {
        class: "trend-threshold",
        x1: left,
        x2: width - right,
        y1: y(threshold),
        y2: y(threshold),
      }),
    );
  }
  // A period without data breaks the line rather than dropping it to 0.
  let run = [];
  const runs = [];
  values.forEach((v, i) => {
    if (v === null) {
      if (run.length) runs.push(run);
      run = [];
    } else {
      run.push(`${x(i).toFixed(1)},${y(v).toFixed(1)}`);
    }
  });
  if (run.length) runs.push(run);
  for (const line of runs) {
    root.append(svg("polyline", { class: "trend-line", points: line.join(" ") }));
  }
  points.forEach((point, i) => {
    const v = values[i];
    const tip = svg("title", {}, `${point.period}: ${figureText(point)}`);
    const health = point.health ?? "no_data";
    if (v === null) {
      root.append(
        svg(
          "text",
          {
            class: "trend-point trend-nodata",
            x: x(i),
            y: y(0) - 3,
            "text-anchor": "middle",
            ...figureData(point),
          },
          "×",
          tip,
        ),
      );
    } else {
      root.append(
        svg(
          "circle",
          {
            class: `trend-point health-${health}`,
            cx: x(i).toFixed(1),
            cy: y(v).toFixed(1),
            r: 4,
            ...figureData(point),
          },
          tip,
        ),
      );
    }
    root.append(
      svg(
        "text",
        { class: "trend-axis", x: x(i), y: height - 6, "text-anchor": "middle" },
        shortPeriod(point.period),
      ),
    );
  });
  return root;
}

/** "2026-03" -> "03", "2026-W10" -> "W10", "2026-03-02" -> "03-02", "2026-Q1" -> "Q1". */
export function shortPeriod(label) {
  const m = /^\d{4}-(.+)$/.exec(label);
  return m ? m[1] : label;
}
