/** @module Small hand-written SVG charts for the evaluation report: grouped bars with interval whiskers, and horizontal bars. */

export interface Bar {
  readonly series: string;
  readonly value: number;
  readonly lower?: number;
  readonly upper?: number;
}

export interface BarGroup {
  readonly label: string;
  readonly bars: readonly Bar[];
}

const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1'];
const font = (size = 11) => `font-family="system-ui, sans-serif" font-size="${size}"`;

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const r2 = (x: number) => Math.round(x * 100) / 100;

/** Width of one character at the labels' size, in px: an estimate, as a browser lays text out. */
const CHAR_W = 6.5;
/** Turned labels slant this much; the longest that fits under the plot area, in characters. */
const TURN_DEG = 25;
const TURNED_CHARS = 36;

/**
 * A label's text element, cut to `max` characters with an ellipsis when longer (the whole label
 * then in its tooltip): a long model or feature name otherwise ran off the figure's edge.
 */
function labelText(label: string, max: number, attributes: string): string {
  const cut = label.length > max;
  const shown = cut ? `${label.slice(0, Math.max(1, max - 1))}…` : label;
  return `<text ${attributes}>${cut ? `<title>${escapeXml(label)}</title>` : ''}${escapeXml(shown)}</text>`;
}

/** A "nice" axis maximum (1, 2, 2.5 or 5 times a power of ten) at or above `x`. */
export function niceMax(x: number): number {
  if (!(x > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= x) return m * p;
  return 10 * p;
}

/**
 * Vertical bars, one group per label and one bar per series inside it, each with its interval as
 * a whisker. Bars with a non-finite value are left out. The y axis starts at 0 (or below it when a
 * value is negative).
 */
export function barChart(title: string, groups: readonly BarGroup[], options: { width?: number; height?: number; digits?: number } = {}): string {
  const width = options.width ?? 640, height = options.height ?? 300;
  const digits = options.digits ?? 3;
  const series = [...new Set(groups.flatMap((g) => g.bars.map((b) => b.series)))];
  const right = 12;
  const n = Math.max(1, groups.length);
  let left = 48;
  // Labels wider than their group turn 25° so that neighbours do not overlap, cut to what fits below the plot.
  const rotate = Math.max(0, ...groups.map((g) => g.label.length)) * CHAR_W > (width - left - right) / n;
  const longest = Math.max(0, ...groups.map((g) => Math.min(g.label.length, TURNED_CHARS)));
  if (rotate && groups.length > 0) {
    // The first group's turned label ends at its group's middle and reaches back this far: the left margin makes room for it.
    const reach = Math.min(groups[0]!.label.length, TURNED_CHARS) * CHAR_W * Math.cos((TURN_DEG * Math.PI) / 180) + 4;
    left = Math.max(left, Math.ceil((reach - (width - right) / (2 * n)) / (1 - 1 / (2 * n))));
  }
  const groupW = (width - left - right) / n;
  const m = { left, right, top: 34 + (series.length > 1 ? 16 : 0), bottom: rotate ? 30 + Math.min(100, longest * 3) : 44 };
  const plotH = height - m.top - m.bottom;
  const finite = groups.flatMap((g) => g.bars).filter((b) => Number.isFinite(b.value));
  const top = niceMax(Math.max(0, ...finite.map((b) => Math.max(b.value, Number.isFinite(b.upper) ? b.upper! : b.value))));
  const least = Math.min(0, ...finite.map((b) => Math.min(b.value, Number.isFinite(b.lower) ? b.lower! : b.value)));
  const bottom = least < 0 ? -niceMax(-least) : 0;
  const y = (v: number) => r2(m.top + plotH * (1 - (v - bottom) / (top - bottom)));
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(title)}">`,
    `<text x="${width / 2}" y="16" text-anchor="middle" ${font(13)} font-weight="600">${escapeXml(title)}</text>`,
  ];
  for (let t = 0; t <= 5; t++) {
    const v = bottom + ((top - bottom) * t) / 5;
    parts.push(`<line x1="${m.left}" x2="${width - m.right}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`);
    parts.push(`<text x="${m.left - 4}" y="${y(v) + 4}" text-anchor="end" ${font()}>${escapeXml(String(r2(v * 1000) / 1000))}</text>`);
  }
  parts.push(`<line x1="${m.left}" x2="${width - m.right}" y1="${y(0)}" y2="${y(0)}" stroke="#333"/>`);
  const barW = (groupW * 0.75) / Math.max(1, series.length);
  groups.forEach((g, gi) => {
    const x0 = m.left + gi * groupW + groupW * 0.125;
    const lx = r2(m.left + (gi + 0.5) * groupW), ly = height - m.bottom + 16;
    const turn = rotate ? ` transform="rotate(-${TURN_DEG} ${lx} ${ly})"` : '';
    parts.push(labelText(g.label, rotate ? TURNED_CHARS : Infinity, `x="${lx}" y="${ly}" text-anchor="${rotate ? 'end' : 'middle'}"${turn} ${font()}`));
    for (const b of g.bars) {
      if (!Number.isFinite(b.value)) continue;
      const si = series.indexOf(b.series);
      const x = r2(x0 + si * barW);
      const yTop = Math.min(y(b.value), y(0)), h = r2(Math.abs(y(b.value) - y(0)));
      parts.push(`<rect x="${x}" y="${yTop}" width="${r2(barW - 2)}" height="${h}" fill="${PALETTE[si % PALETTE.length]}"><title>${escapeXml(`${g.label} ${b.series}: ${b.value.toFixed(digits + 1)}`)}</title></rect>`);
      const cx = r2(x + (barW - 2) / 2);
      let labelY = y(b.value) - 4;
      if (Number.isFinite(b.lower) && Number.isFinite(b.upper)) {
        const lo = y(b.lower!), hi = y(b.upper!);
        parts.push(`<path d="M${cx} ${lo}V${hi}M${r2(cx - 4)} ${lo}H${r2(cx + 4)}M${r2(cx - 4)} ${hi}H${r2(cx + 4)}" stroke="#222" fill="none"/>`);
        labelY = Math.min(labelY, hi - 4);
      }
      parts.push(`<text x="${cx}" y="${r2(labelY)}" text-anchor="middle" ${font(10)}>${b.value.toFixed(digits)}</text>`);
    }
  });
  if (series.length > 1) {
    series.forEach((s, si) => {
      const x = m.left + si * 110;
      parts.push(`<rect x="${x}" y="26" width="10" height="10" fill="${PALETTE[si % PALETTE.length]}"/><text x="${x + 14}" y="35" ${font()}>${escapeXml(s)}</text>`);
    });
  }
  parts.push('</svg>');
  return parts.join('\n');
}

/** Horizontal bars, largest first as given (feature importance). */
export function horizontalBarChart(title: string, rows: readonly { readonly label: string; readonly value: number }[], options: { width?: number } = {}): string {
  const width = options.width ?? 640, rowH = 18;
  const labelW = Math.min(260, 8 + CHAR_W * Math.max(4, ...rows.map((r) => r.label.length)));
  const fits = Math.floor((labelW - 8) / CHAR_W);
  const m = { left: labelW, right: 70, top: 30 };
  const height = m.top + rows.length * rowH + 10;
  const max = Math.max(...rows.map((r) => r.value), 0) || 1;
  const plotW = width - m.left - m.right;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(title)}">`,
    `<text x="${width / 2}" y="16" text-anchor="middle" ${font(13)} font-weight="600">${escapeXml(title)}</text>`,
  ];
  rows.forEach((r, i) => {
    const yy = m.top + i * rowH;
    const w = r2((plotW * Math.max(0, r.value)) / max);
    parts.push(labelText(r.label, fits, `x="${m.left - 6}" y="${yy + 12}" text-anchor="end" ${font()}`));
    parts.push(`<rect x="${m.left}" y="${yy + 2}" width="${w}" height="${rowH - 4}" fill="${PALETTE[0]}"/>`);
    parts.push(`<text x="${r2(m.left + w + 4)}" y="${yy + 12}" ${font(10)}>${escapeXml(r.value.toPrecision(3))}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}
