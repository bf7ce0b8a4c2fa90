/**
 * @module Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time and inclusive time by
 * function, heaviest first. `node --import tsx bench/profile-summary.ts <file.cpuprofile> [top=40]`
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
  /** Samples by source line (1-based) of the function's script. */
  readonly positionTicks?: readonly { readonly line: number; readonly ticks: number }[];
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const [file, topArg] = process.argv.slice(2);
if (!file) throw new Error('usage: profile-summary.ts <file.cpuprofile> [top]');
const top = Number(topArg ?? 40) || 40;
const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;

const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const label = (n: ProfileNode) => `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*\/(src|bench|node_modules)\//, '$1/')}:${n.callFrame.lineNumber + 1}`;

const selfUs = new Map<number, number>();
for (let i = 0; i < p.samples.length; i++) {
  const id = p.samples[i] as number;
  selfUs.set(id, (selfUs.get(id) ?? 0) + (p.timeDeltas[i] ?? 0));
}
const self = new Map<string, number>();
const total = new Map<string, number>();
let all = 0;
for (const [id, us] of selfUs) {
  all += us;
  const n = byId.get(id) as ProfileNode;
  self.set(label(n), (self.get(label(n)) ?? 0) + us);
  // Inclusive: once per distinct function on the stack (recursion counted once).
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const l = label(byId.get(cur) as ProfileNode);
    if (seen.has(l)) continue;
    seen.add(l);
    total.set(l, (total.get(l) ?? 0) + us);
  }
}
const show = (title: string, m: Map<string, number>) => {
  console.log(`\n${title} (of ${(all / 1000).toFixed(0)} ms)`);
  for (const [l, us] of [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${(us / 1000).toFixed(0).padStart(8)} ms ${((100 * us) / all).toFixed(1).padStart(5)}%  ${l}`);
  }
};
show('self time', self);
show('inclusive time', total);

// Lines: V8 counts samples per line of the code it ran (tsx's output; profile a bundle built
// with esbuild to get lines that read as source).
const lines = new Map<string, number>();
let ticks = 0;
for (const n of p.nodes) {
  for (const t of n.positionTicks ?? []) {
    const l = `${n.callFrame.url.replace(/^.*\//, '')}:${t.line} ${n.callFrame.functionName || '(anonymous)'}`;
    lines.set(l, (lines.get(l) ?? 0) + t.ticks);
    ticks += t.ticks;
  }
}
console.log(`\nsamples by line (of ${ticks})`);
for (const [l, n] of [...lines.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${String(n).padStart(8)} ${((100 * n) / ticks).toFixed(1).padStart(5)}%  ${l}`);
