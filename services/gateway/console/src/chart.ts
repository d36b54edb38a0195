// Joins over time as a step line, in hand-written SVG (no chart library: a few hundred bytes).

const NS = "http://www.w3.org/2000/svg";

/**
 * Join instants in ms from a campaign's history: `joins[i]` joins in the bucket starting at
 * `startedAtMicros + i * bucketMicros` (placed at the bucket's start).
 */
export function historyTimes(startedAtMicros: bigint, bucketMicros: bigint, joins: number[]): number[] {
  const start = Number(startedAtMicros / 1000n);
  const bucket = Number(bucketMicros / 1000n);
  return joins.flatMap((n, i) => Array<number>(n).fill(start + i * bucket));
}

/**
 * `times` are join instants in ms; draws the running count from `startMs` (default: the first
 * join) to `nowMs`.
 */
export function joinsChart(times: number[], nowMs: number, startMs?: number): SVGSVGElement {
  const W = 320;
  const H = 120;
  const pad = { l: 28, r: 8, t: 8, b: 20 };
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("class", "chart");
  svg.setAttribute("role", "img");
  const sorted = [...times].sort((a, b) => a - b);
  svg.setAttribute("aria-label", `${sorted.length} joins over time`);
  svg.setAttribute("data-testid", "joins-chart");
  svg.dataset.joins = String(sorted.length);
  const start = startMs ?? sorted[0] ?? nowMs - 60_000;
  const end = Math.max(nowMs, start + 1000);
  const maxY = Math.max(sorted.length, 1);
  const x = (t: number) => pad.l + ((t - start) / (end - start)) * (W - pad.l - pad.r);
  const y = (n: number) => H - pad.b - (n / maxY) * (H - pad.t - pad.b);
  let d = `M${x(start)},${y(0)}`;
  sorted.forEach((t, i) => {
    d += ` H${x(t).toFixed(1)} V${y(i + 1).toFixed(1)}`;
  });
  d += ` H${x(end).toFixed(1)}`;
  const axis = el("path", { d: `M${pad.l},${pad.t} V${H - pad.b} H${W - pad.r}`, class: "axis" });
  const line = el("path", { d, class: "line" });
  const top = el("text", { x: pad.l - 4, y: y(maxY) + 4, "text-anchor": "end" }, String(maxY));
  const zero = el("text", { x: pad.l - 4, y: y(0) + 4, "text-anchor": "end" }, "0");
  const fmt = (t: number) => new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  const from = el("text", { x: pad.l, y: H - 4 }, fmt(start));
  const to = el("text", { x: W - pad.r, y: H - 4, "text-anchor": "end" }, fmt(end));
  svg.append(axis, line, top, zero, from, to);
  return svg;
}

function el(name: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}
