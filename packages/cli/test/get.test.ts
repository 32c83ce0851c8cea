import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { join } from 'node:path';
import { EXIT, main } from '@kanary/cli';
import type { Cluster } from '@kanary/testkit';
import { afterEach, expect, it } from 'vitest';
import { istioRelease, istioShop } from './support/istio-shop.ts';

/**
 * `kanary get` and `get -w` against the emulator while another process (the built bin) drives
 * the release: one look in-process, the watch as a real process in a log (plain blocks) and on a
 * pseudo-terminal (`script`), where it redraws in place and answers keys. Wall clock, real HTTP.
 */
let cluster: Cluster | undefined;
const children: ChildProcessWithoutNullStreams[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  await cluster?.close();
});

const bin = join(import.meta.dirname, '../dist/bin.js');

async function setup() {
  const shop = await istioShop({ 'web:1': 0.01, 'web:2': 0.01 });
  cluster = shop.cluster;
  const c = cluster;
  const { kubeconfig } = shop;
  const file = istioRelease(shop.dir, {
    image: 'web:2',
    prometheusUrl: c.prometheusUrl,
    steps: [
      { setWeight: 30 },
      { setHeaderRoute: { name: 'testers', match: [{ headers: [{ name: 'x-tester', exact: 'yes' }] }] } },
      { pause: {} },
    ],
  });
  const driver = spawn(process.execPath, [
    bin,
    'run',
    '-f',
    file,
    '--kubeconfig',
    kubeconfig,
    '--lease-duration',
    '3s',
  ]);
  children.push(driver);
  let out = '';
  await new Promise<void>((resolve, reject) => {
    driver.stdout.on('data', (d) => {
      out += d;
      if (out.includes('waiting for a human')) resolve();
    });
    driver.on('exit', (code) => reject(new Error(`kanary run exited ${code}: ${out}`)));
  });
  return { c, kubeconfig, file, driver };
}

async function kanary(argv: string[]) {
  let out = '';
  let err = '';
  const code = await main(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t), env: {} });
  return { code, out, err };
}

/** A child's output until `done` says so (20 s at most). */
function until(child: ChildProcessWithoutNullStreams, done: (out: string) => boolean): Promise<string> {
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out; output so far:\n${out}`)), 20_000);
    child.stdout.on('data', (d) => {
      out += d;
      if (done(out)) {
        clearTimeout(timer);
        resolve(out);
      }
    });
  });
}

const exited = (child: ChildProcessWithoutNullStreams) =>
  new Promise<number | null>((resolve) =>
    child.exitCode !== null ? resolve(child.exitCode) : child.on('exit', (code) => resolve(code)),
  );

it('one look: step, both sides with image and pods, the routing in the VirtualService, verdicts, a live driver, the next commands', async () => {
  const { c, kubeconfig, file, driver } = await setup();
  const look = await kanary(['get', 'web', '-n', 'shop', '--kubeconfig', kubeconfig]);
  expect(look.code).toBe(EXIT.ok);
  const o = look.out;
  expect(o).toMatch(/^Name\s+shop\/web$/m);
  expect(o).toMatch(/^Strategy\s+weighted \(Istio\)$/m);
  expect(o).toMatch(/^Phase\s+paused: waiting for a person to promote$/m);
  expect(o).toMatch(/^Step\s+3\/3 pause until promoted$/m);
  expect(o).toMatch(/^Stable\s+web\s+web:1 rev \d+\s+4\/4 ready$/m);
  expect(o).toMatch(/^Canary\s+web-canary\s+web:2 rev \d+\s+\d+\/\d+ ready$/m);
  expect(o).toMatch(/^Routing\s+canary 30% in the objects$/m);
  expect(o).toMatch(/^\s+route testers: header x-tester = "yes" → 100% to the canary$/m);
  expect(o).toMatch(/^Analysis\s+background running/m);
  // The verdict in words: the judge's numbers are one key (or -o json) away.
  expect(o).toMatch(/^\s+errors: \w/m);
  expect(o).not.toMatch(/e-value|nodata|\be \d/);
  expect(o).toMatch(
    /^Driver\s+kanary-\S+ \(epoch \d+\), alive, last heard (just now|\d+s ago) \(lease 3s\)$/m,
  );
  expect(o).toMatch(/^Next\s+kanary promote web -n shop\s+— go on to the next step$/m);
  expect(o).toMatch(/^\s+kanary abort web -n shop\s+— roll back to stable now$/m);

  // By file, the commands name the file; JSON carries the numbers and the lease.
  const byFile = await kanary(['get', '-f', file, '--kubeconfig', kubeconfig]);
  expect(byFile.out).toContain(`kanary promote -f ${file}`);
  const json = JSON.parse(
    (await kanary(['get', 'web', '-n', 'shop', '--kubeconfig', kubeconfig, '-o', 'json'])).out,
  );
  expect(json.routing.canaryWeight).toBe(30);
  expect(json.sides.canary.images).toEqual(['web:2']);
  expect(json.lease.free).toBe(false);

  // A hand edit of the weight shows as what the objects hold, beside what Kanary wrote.
  const vs = c.get('VirtualService', 'shop', 'web', 'networking.istio.io') as unknown as {
    spec: { http: Array<{ name?: string; route: Array<{ weight?: number }> }> };
  };
  const main_ = vs.spec.http.find((r) => r.route.length === 2);
  expect(main_).toBeDefined();
  if (main_?.route[0] && main_.route[1]) {
    main_.route[0].weight = 60;
    main_.route[1].weight = 40;
  }
  c.apply(vs as never);
  const edited = await kanary(['get', 'web', '-n', 'shop', '--kubeconfig', kubeconfig]);
  expect(edited.out).toMatch(/^Routing\s+canary 40% in the objects \(the state says 30%/m);

  // The driver gone without a word: its lease goes silent, and get says who can take over.
  driver.kill('SIGKILL');
  await exited(driver);
  await new Promise((r) => setTimeout(r, 4_000));
  const silent = await kanary(['get', 'web', '-n', 'shop', '--kubeconfig', kubeconfig]);
  expect(silent.out).toMatch(
    /^Driver\s+kanary-\S+ \(epoch \d+\), silent for \d+s \(lease 3s\): gone — `kanary run` or the agent takes it over$/m,
  );
  // Abort by name, as get suggests: nobody drives, so it is carried out here from the saved wiring.
  const aborted = await kanary([
    'abort',
    'web',
    '-n',
    'shop',
    '--kubeconfig',
    kubeconfig,
    '--lease-duration',
    '3s',
  ]);
  expect(aborted.out).toBe('shop/web: traffic is back on stable (aborted)\n');
  expect(aborted.code).toBe(EXIT.ok);
  const after = await kanary(['get', 'web', '-n', 'shop', '--kubeconfig', kubeconfig]);
  expect(after.out).toMatch(/^Phase\s+aborted$/m);
  expect(after.out).toMatch(/^Next\s+kanary retry -f FILE\s+— start this release again$/m);
  const missing = await kanary(['get', 'nope', '-n', 'shop', '--kubeconfig', kubeconfig]);
  expect(missing.code).toBe(EXIT.notFound);
  expect(missing.err).toMatch(/no rollout shop\/nope/);
}, 60_000);

it('get -w in a log prints a block per change and exits 0 once promoted; on a terminal it redraws in place, d shows the numbers, q quits', async () => {
  const { kubeconfig, driver } = await setup();
  const k = ['--kubeconfig', kubeconfig];

  // On a pseudo-terminal: `script` gives the bin a TTY and passes our keys to it.
  const tty = spawn('script', [
    '-qfec',
    `${process.execPath} ${bin} get web -n shop -w --interval 200ms ${k.join(' ')}`,
    '/dev/null',
  ]);
  children.push(tty);
  // Drawn again and again; pressed once the judge has data to show numbers for.
  const drawn = await until(
    tty,
    (o) => o.split('\u001b[H\u001b[2J').length > 2 && o.includes('no sign of regression'),
  );
  expect(drawn).toMatch(/d: show the numbers · q: quit/);
  expect(drawn).toMatch(/Phase\s+paused: waiting for a person to promote/);
  tty.stdin.write('d');
  const withNumbers = await until(tty, (o) => o.includes('d: hide the numbers'));
  expect(withNumbers).toMatch(/^\s+value /m);
  tty.stdin.write('q');
  expect(await exited(tty)).toBe(EXIT.interrupted);

  // In a log (no TTY): plain blocks, no escape codes, one per change; exits by the outcome.
  const log = spawn(process.execPath, [bin, 'get', 'web', '-n', 'shop', '-w', '--interval', '200ms', ...k]);
  children.push(log);
  await until(log, (o) => o.includes('Phase'));
  // Promoted by name, as `get` suggests: no file needed for a control that only records.
  const promoted = await kanary(['promote', 'web', '-n', 'shop', ...k]);
  expect(promoted.code).toBe(EXIT.ok);
  expect(promoted.out).toMatch(/^promote recorded in shop\/web's state/);
  const out = await until(log, (o) => /Phase\s+succeeded$/m.test(o));
  expect(await exited(log)).toBe(EXIT.ok);
  expect(out).not.toContain('\u001b');
  const blocks = out.split(/^--- \d{4}-\d\d-\d\dT[\d:.]+Z$/m).filter((b) => b.trim());
  expect(blocks.length).toBeGreaterThanOrEqual(2);
  // A block only when something changed: no two in a row alike.
  for (let i = 1; i < blocks.length; i++) expect(blocks[i]).not.toBe(blocks[i - 1]);
  expect(blocks.at(-1)).toMatch(/^Canary\s+web-canary: removed \(the release has ended\)$/m);
  expect(blocks.at(-1)).toMatch(/^Stable\s+web\s+web:2 rev \d+\s+4\/4 ready$/m);
  expect(blocks.at(-1)).toMatch(/^Next\s+kanary undo -f FILE\s+— release the previous version again/m);
  expect(await exited(driver)).toBe(EXIT.ok);
}, 60_000);
