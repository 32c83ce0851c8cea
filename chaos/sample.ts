// The chaos sample CI runs with the tests: seeds [from, from + count), each a test of its own,
// failing with the invariants it broke and the command that replays it.
import { runChaos } from '@kanary/testkit';
import { expect, it } from 'vitest';
import { routers } from './routers.ts';

export function chaosSample(from: number, count: number): void {
  for (let seed = from; seed < from + count; seed++) {
    it(`seed ${seed}`, async () => {
      const report = await runChaos({ seed, routers });
      const broken = report.violations.map(
        (v) => `${v.invariant} at +${((v.at - report.startedAt) / 1000).toFixed(1)}s: ${v.detail}`,
      );
      expect(broken, `replay with: pnpm chaos --seed ${seed} --replay (ended at ${report.where})`).toEqual(
        [],
      );
      expect(['succeeded', 'aborted']).toContain(report.phase);
      // A guard against a hang, not a speed goal: a seed is 1–16 s of wall time alone and several
      // times that beside the rest of the suite on two cores (virtual time decides what it finds).
    }, 300_000);
  }
}
