import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT, main } from '@kanary/cli';
import { parseDuration } from '@kanary/core';
import type { Cluster } from '@kanary/testkit';
import { type DefaultTreeAdapterMap, parse } from 'parse5';
import { afterEach, expect, it } from 'vitest';
import { istioRelease, istioShop } from './support/istio-shop.ts';

/**
 * `kanary report` on finished rollouts against the emulator and its Prometheus query API: the HTML
 * parsed, its charts and decision points found, and every time in it checked against the saved
 * state's clock.
 */
type Element = DefaultTreeAdapterMap['element'];
type ChildNode = DefaultTreeAdapterMap['childNode'];

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.close();
});

async function kanary(argv: string[]) {
  let out = '';
  let err = '';
  const code = await main(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t), env: {} });
  return { code, out, err };
}

const all = (node: { childNodes?: ChildNode[] }, tag: string): Element[] =>
  (node.childNodes ?? []).flatMap((c) => [
    ...('tagName' in c && c.tagName === tag ? [c] : []),
    ...all(c as { childNodes?: ChildNode[] }, tag),
  ]);
const text = (node: { childNodes?: ChildNode[] }): string =>
  (node.childNodes ?? [])
    .map((c) =>
      c.nodeName === '#text' ? (c as { value: string }).value : text(c as { childNodes?: ChildNode[] }),
    )
    .join('');
const attr = (e: Element, name: string) => e.attrs.find((a) => a.name === name)?.value;

const release = (dir: string, image: string, prometheusUrl: string) =>
  istioRelease(dir, {
    image,
    prometheusUrl,
    // Long enough for the emulator's Prometheus, which scrapes every 5 s, to see both sides.
    steps: [
      { setWeight: 20 },
      { pause: { duration: '8s' } },
      { setWeight: 50 },
      { pause: { duration: '8s' } },
    ],
  });

it('writes the report of a promoted and of a rolled-back release: charts, decision points, timeline, one clock', async () => {
  const shop = await istioShop({ 'web:1': 0.01, 'web:2': 0.01, 'web:3': 0.5 });
  cluster = shop.cluster;
  const c = cluster;
  const { dir, kubeconfig } = shop;
  const k = ['--kubeconfig', kubeconfig];

  expect((await kanary(['run', '-f', release(dir, 'web:2', c.prometheusUrl), ...k])).code).toBe(EXIT.ok);
  const good = join(dir, 'good.html');
  // By name: the Prometheus address comes from the saved wiring.
  const written = await kanary(['report', 'web', '-n', 'shop', '--html', good, ...k]);
  expect(written.err).toBe('');
  expect(written.out).toBe(`wrote ${good}\n`);
  const state = JSON.parse((await kanary(['status', 'web', '-n', 'shop', '-o', 'json', ...k])).out);
  const doc = parse(readFileSync(good, 'utf8'));
  const body = text(doc);
  expect(body).toMatch(/Promoted at \+\d/);
  const svgs = all(doc, 'svg');
  expect(svgs).toHaveLength(3);
  const captions = all(doc, 'figcaption').map(text);
  expect(captions).toEqual([
    expect.stringMatching(/^Canary weight/),
    'Error rate (5xx share)',
    'Mean latency (ms)',
  ]);
  // Every chart has its lines with points, Prometheus' series included.
  for (const svg of svgs) {
    const lines = all(svg, 'polyline');
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect((attr(l, 'points') ?? '').split(' ').length).toBeGreaterThan(1);
  }
  // Both sides measured (the emulator's Prometheus scrapes every 5 s, hence the longer pauses).
  for (const svg of svgs.slice(1))
    expect(all(svg, 'polyline').map((l) => text(l))).toEqual(['canary', 'stable']);
  // The requested weight steps through 20% and 50% to 100% (the chart's y is 0–100%).
  const marks = all(svgs[0] as Element, 'line')
    .map((l) => all(l, 'title').map(text)[0])
    .filter((t): t is string => t !== undefined);
  expect(marks).toEqual(
    expect.arrayContaining([
      expect.stringMatching(/^step 1: set weight 20% at \+/),
      expect.stringMatching(/^step 3: set weight 50% at \+/),
      expect.stringMatching(/^promotion at \+/),
    ]),
  );
  // One clock: every offset in the timeline is its own time (in its title) minus the start, both
  // from the saved state.
  const rows = all(doc, 'tr')
    .slice(1)
    .filter((r) => all(r, 'td').length === 3);
  expect(rows.length).toBe(state.history.length);
  const t0 = state.startedAt as number;
  rows.forEach((row, i) => {
    const cell = all(row, 'td')[0] as Element;
    const at = Date.parse(attr(cell, 'title') ?? '');
    expect(at).toBe(state.history[i].at);
    const offset = text(cell);
    expect(offset).toMatch(/^\+/);
    expect(Math.abs(parseDuration(offset.slice(1)) - (at - t0))).toBeLessThan(1_000);
  });
  expect(body).toContain(`Started ${new Date(t0).toISOString()}`);

  // A bad canary: rolled back on the analysis, said and marked.
  expect((await kanary(['run', '-f', release(dir, 'web:3', c.prometheusUrl), ...k])).code).toBe(
    EXIT.rolledBack,
  );
  const bad = join(dir, 'bad.html');
  expect(
    (await kanary(['report', '-f', release(dir, 'web:3', c.prometheusUrl), '--html', bad, ...k])).code,
  ).toBe(EXIT.ok);
  const badDoc = parse(readFileSync(bad, 'utf8'));
  expect(text(badDoc)).toMatch(/Rolled back at \+\d[^(]*\(analysis\)/);
  const titles = all(badDoc, 'title').map(text);
  expect(titles).toEqual(expect.arrayContaining([expect.stringMatching(/^abort \(analysis: .*\) at \+/)]));
  expect(all(badDoc, 'svg')).toHaveLength(3);

  // Prometheus unreachable: said, and the report still written from the state.
  const offline = await kanary([
    'report',
    'web',
    '-n',
    'shop',
    '--prometheus',
    'http://127.0.0.1:1',
    '--html',
    bad,
    ...k,
  ]);
  expect(offline.code).toBe(EXIT.ok);
  expect(offline.err).toMatch(/could not read Prometheus at http:\/\/127\.0\.0\.1:1/);
  expect(all(parse(readFileSync(bad, 'utf8')), 'svg')).toHaveLength(1);
  expect((await kanary(['report', 'nope', '-n', 'shop', ...k])).code).toBe(EXIT.notFound);
}, 90_000);
