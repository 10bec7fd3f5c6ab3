/** Tiny dependency-free SVG charts for the self-contained HTML report. */
import { escapeXml } from "@labgate/core/text";

export interface LineSeries {
  name: string;
  color: string;
  /** A null y breaks the line: no data there (e.g. no response in that interval). */
  points: Array<[number, number | null]>;
  dashed?: boolean;
}

export interface LineChartOptions {
  title: string;
  yLabel: string;
  series: LineSeries[];
  /** x → tick label; default prints the number. */
  xTicks?: Array<{ x: number; label: string }>;
  xLabel: string;
  /** Shaded x ranges (e.g. warm-ups, fault windows); `caption` also writes the label at the top of the range. */
  shades?: Array<{ from: number; to: number; label: string; className?: string; caption?: boolean }>;
  /** Fixed x range: charts of one run share one time axis. Default: the data's range. */
  xDomain?: [number, number];
  /** The y scale is fitted to points for which this is true (others are clipped at the top, marked). */
  yScaleFrom?: (x: number) => boolean;
  width?: number;
  height?: number;
}

/** The plot area starts below the title and the legend row: legends never sit inside the plot. */
const PAD = { left: 64, right: 32, top: 46, bottom: 42 };

export function lineChart(o: LineChartOptions): string {
  const width = o.width ?? 760;
  const height = o.height ?? 260;
  const all = o.series.flatMap((s) => s.points).filter((p): p is [number, number] => p[1] !== null);
  const title = `<text x="${PAD.left}" y="18" class="title">${escapeXml(o.title)}</text>`;
  const plotW = width - PAD.left - PAD.right;
  const plotH = height - PAD.top - PAD.bottom;
  if (all.length === 0) {
    return svg(
      width,
      height,
      `${title}<rect x="${PAD.left}" y="${PAD.top}" width="${plotW}" height="${plotH}" class="plot-area" fill="none"/><text x="${width / 2}" y="${height / 2}" text-anchor="middle" class="muted">no data</text>`,
      o.title,
    );
  }
  const shades = (o.shades ?? []).filter((s) => s.to > s.from);
  const xs = all.map((p) => p[0]);
  const [xMin, xMaxRaw] = o.xDomain ?? [
    Math.min(...xs, ...shades.map((s) => s.from)),
    Math.max(...xs, ...shades.map((s) => s.to)),
  ];
  const xMax = Math.max(xMaxRaw, xMin + 1e-9);
  const scaled = o.yScaleFrom ? all.filter((p) => o.yScaleFrom!(p[0])) : all;
  const yMax = niceCeil(Math.max(...(scaled.length ? scaled : all).map((p) => p[1]), 1e-9));
  const sx = (x: number) => PAD.left + ((x - xMin) / (xMax - xMin || 1)) * plotW;
  const sy = (y: number) => PAD.top + plotH - (Math.min(y, yMax) / yMax) * plotH;
  const parts: string[] = [title];
  parts.push(
    `<rect x="${PAD.left}" y="${PAD.top}" width="${plotW}" height="${plotH}" class="plot-area" fill="none"/>`,
  );
  let captions = 0;
  for (const shade of shades) {
    const from = Math.max(xMin, shade.from);
    const to = Math.min(xMax, shade.to);
    if (to <= from) continue;
    parts.push(
      `<rect x="${f(sx(from))}" y="${PAD.top}" width="${f(sx(to) - sx(from))}" height="${plotH}" class="${shade.className ?? "shade"}"><title>${escapeXml(shade.label)}</title></rect>`,
    );
    // Captions stack downwards so two faults close together stay readable.
    if (shade.caption)
      parts.push(
        `<text x="${f(sx(from) + 3)}" y="${PAD.top + 12 + 12 * (captions++ % 3)}" class="shade-caption">${escapeXml(shade.label)}</text>`,
      );
  }
  for (let i = 0; i <= 4; i++) {
    const v = (yMax * i) / 4;
    parts.push(
      `<line x1="${PAD.left}" x2="${width - PAD.right}" y1="${f(sy(v))}" y2="${f(sy(v))}" class="grid"/>`,
      `<text x="${PAD.left - 6}" y="${f(sy(v) + 4)}" text-anchor="end" class="tick">${fmt(v)}</text>`,
    );
  }
  const ticks = o.xTicks ?? defaultTicks(xMin, xMax);
  for (const t of ticks) {
    parts.push(
      `<text x="${f(sx(t.x))}" y="${height - PAD.bottom + 16}" text-anchor="middle" class="tick x-tick">${escapeXml(t.label)}</text>`,
    );
  }
  parts.push(
    `<text x="${PAD.left + plotW / 2}" y="${height - 6}" text-anchor="middle" class="axis">${escapeXml(o.xLabel)}</text>`,
    `<text transform="translate(14 ${PAD.top + plotH / 2}) rotate(-90)" text-anchor="middle" class="axis">${escapeXml(o.yLabel)}</text>`,
    `<line x1="${PAD.left}" x2="${PAD.left}" y1="${PAD.top}" y2="${PAD.top + plotH}" class="frame"/>`,
    `<line x1="${PAD.left}" x2="${width - PAD.right}" y1="${PAD.top + plotH}" y2="${PAD.top + plotH}" class="frame"/>`,
  );
  const legend: Array<{ name: string; color: string; dashed: boolean }> = [];
  let clipped = false;
  for (const s of o.series) {
    legend.push({ name: s.name, color: s.color, dashed: Boolean(s.dashed) });
    const d = s.points
      .map((p, j) => {
        if (p[1] === null) return "";
        const move = j === 0 || s.points[j - 1]![1] === null ? "M" : "L";
        return `${move}${f(sx(p[0]))},${f(sy(p[1]))}`;
      })
      .filter(Boolean)
      .join(" ");
    if (!d) continue;
    parts.push(
      `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ""}><title>${escapeXml(s.name)}</title></path>`,
    );
    const present = s.points.filter((p): p is [number, number] => p[1] !== null);
    for (const p of present.length <= 120 ? present : []) {
      if (p[1] > yMax) {
        clipped = true;
        parts.push(
          `<path d="M${f(sx(p[0]) - 4)},${f(PAD.top + 7)} L${f(sx(p[0]))},${f(PAD.top)} L${f(sx(p[0]) + 4)},${f(PAD.top + 7)} Z" fill="${s.color}" class="off-scale"><title>${escapeXml(`${s.name} ${fmt(p[1])} (off scale)`)}</title></path>`,
        );
      } else if (!s.dashed) {
        parts.push(`<circle cx="${f(sx(p[0]))}" cy="${f(sy(p[1]))}" r="2.5" fill="${s.color}"/>`);
      }
    }
  }
  // Legend row between the title and the plot area.
  let lx = PAD.left;
  for (const item of legend) {
    parts.push(
      `<g class="legend-item"><rect x="${lx}" y="26" width="10" height="10" fill="${item.color}"/><text x="${lx + 14}" y="35" class="legend">${escapeXml(item.name)}${item.dashed ? " (dashed)" : ""}</text></g>`,
    );
    lx += 24 + (item.name.length + (item.dashed ? 9 : 0)) * 6.5;
  }
  if (clipped)
    parts.push(
      `<text x="${width - PAD.right}" y="35" text-anchor="end" class="muted">▲ off scale (warm-up)</text>`,
    );
  return svg(width, height, parts.join(""), o.title);
}

export interface Bar {
  label: string;
  value: number;
  text: string;
}

export function barChart(title: string, bars: Bar[], maxValue?: number, width = 760): string {
  const rowH = 26;
  const height = PAD.top + bars.length * rowH + 16;
  const labelW = 140;
  const max = maxValue ?? Math.max(...bars.map((b) => b.value), 1e-9);
  const plotW = width - labelW - 220;
  const parts = [`<text x="8" y="18" class="title">${escapeXml(title)}</text>`];
  bars.forEach((b, i) => {
    const y = PAD.top + i * rowH;
    const w = Math.max(1, (b.value / max) * plotW);
    parts.push(
      `<text x="${labelW - 8}" y="${y + 15}" text-anchor="end" class="tick">${escapeXml(b.label)}</text>`,
      `<rect x="${labelW}" y="${y + 3}" width="${f(w)}" height="${rowH - 8}" class="bar"><title>${escapeXml(`${b.label}: ${b.text}`)}</title></rect>`,
      `<text x="${f(labelW + w + 6)}" y="${y + 15}" class="legend">${escapeXml(b.text)}</text>`,
    );
  });
  return svg(width, height, parts.join(""), title);
}

function svg(width: number, height: number, body: string, label: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${escapeXml(label)}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${body}</svg>`;
}

function defaultTicks(min: number, max: number): Array<{ x: number; label: string }> {
  const step = niceCeil((max - min) / 8 || 1);
  const ticks = [];
  for (let x = Math.ceil(min / step) * step; x <= max + 1e-9; x += step) ticks.push({ x, label: fmt(x) });
  return ticks;
}

function niceCeil(v: number): number {
  const exp = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * exp >= v) return m * exp;
  return 10 * exp;
}

function fmt(v: number): string {
  return Math.abs(v) >= 100 ? String(Math.round(v)) : String(Math.round(v * 100) / 100);
}

function f(v: number): string {
  return v.toFixed(1);
}
