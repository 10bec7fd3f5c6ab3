/** Tiny dependency-free SVG charts for the self-contained HTML report. */

export interface LineSeries {
  name: string;
  color: string;
  points: Array<[number, number]>;
}

export interface LineChartOptions {
  title: string;
  yLabel: string;
  series: LineSeries[];
  /** x → tick label; default prints the number. */
  xTicks?: Array<{ x: number; label: string }>;
  xLabel: string;
  /** Shaded x range (e.g. warm-up). */
  shade?: { from: number; to: number; label: string };
  width?: number;
  height?: number;
}

const PAD = { left: 64, right: 32, top: 30, bottom: 42 };

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function lineChart(o: LineChartOptions): string {
  const width = o.width ?? 760;
  const height = o.height ?? 260;
  const all = o.series.flatMap((s) => s.points);
  const title = `<text x="${PAD.left}" y="18" class="title">${escapeXml(o.title)}</text>`;
  if (all.length === 0) {
    return svg(
      width,
      height,
      `${title}<text x="${width / 2}" y="${height / 2}" text-anchor="middle" class="muted">no data</text>`,
      o.title,
    );
  }
  const xs = all.map((p) => p[0]);
  const xMin = Math.min(...xs, o.shade?.from ?? Infinity);
  const xMax = Math.max(...xs, o.shade?.to ?? -Infinity, xMin + 1e-9);
  const yMax = niceCeil(Math.max(...all.map((p) => p[1]), 1e-9));
  const plotW = width - PAD.left - PAD.right;
  const plotH = height - PAD.top - PAD.bottom;
  const sx = (x: number) => PAD.left + ((x - xMin) / (xMax - xMin || 1)) * plotW;
  const sy = (y: number) => PAD.top + plotH - (y / yMax) * plotH;
  const parts: string[] = [title];
  if (o.shade && o.shade.to > o.shade.from) {
    parts.push(
      `<rect x="${f(sx(o.shade.from))}" y="${PAD.top}" width="${f(sx(o.shade.to) - sx(o.shade.from))}" height="${plotH}" class="shade"/>`,
      `<text x="${f(sx(o.shade.from) + 4)}" y="${PAD.top + 12}" class="muted">${escapeXml(o.shade.label)}</text>`,
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
      `<text x="${f(sx(t.x))}" y="${height - PAD.bottom + 16}" text-anchor="middle" class="tick">${escapeXml(t.label)}</text>`,
    );
  }
  parts.push(
    `<text x="${PAD.left + plotW / 2}" y="${height - 6}" text-anchor="middle" class="axis">${escapeXml(o.xLabel)}</text>`,
    `<text transform="translate(14 ${PAD.top + plotH / 2}) rotate(-90)" text-anchor="middle" class="axis">${escapeXml(o.yLabel)}</text>`,
    `<line x1="${PAD.left}" x2="${PAD.left}" y1="${PAD.top}" y2="${PAD.top + plotH}" class="frame"/>`,
    `<line x1="${PAD.left}" x2="${width - PAD.right}" y1="${PAD.top + plotH}" y2="${PAD.top + plotH}" class="frame"/>`,
  );
  o.series.forEach((s, i) => {
    if (s.points.length === 0) return;
    const d = s.points.map((p, j) => `${j === 0 ? "M" : "L"}${f(sx(p[0]))},${f(sy(p[1]))}`).join(" ");
    parts.push(
      `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"><title>${escapeXml(s.name)}</title></path>`,
    );
    for (const p of s.points.length <= 60 ? s.points : []) {
      parts.push(`<circle cx="${f(sx(p[0]))}" cy="${f(sy(p[1]))}" r="2.5" fill="${s.color}"/>`);
    }
    const lx = width - PAD.right - 130;
    parts.push(
      `<rect x="${lx}" y="${PAD.top + 4 + i * 16}" width="10" height="10" fill="${s.color}"/>`,
      `<text x="${lx + 14}" y="${PAD.top + 13 + i * 16}" class="legend">${escapeXml(s.name)}</text>`,
    );
  });
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
