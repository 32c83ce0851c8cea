// The shrinker, exercised on a real seed: it must find the smallest schedule that still "fails".
import { scenarioOf, shrinkChaos } from '@kanary/testkit';
import { expect, it } from 'vitest';
import { routers } from './routers.ts';

it('shrinkChaos reduces a schedule to the one disturbance that makes it fail', async () => {
  // Seed 366 (this generator): two controls from another process and the canary crash-looping. Asked
  // to keep "the canary crash-looped", the shrinker must drop the other two.
  const shrunk = await shrinkChaos({
    seed: 366,
    routers,
    fails: (r) => r.covered.includes('crashCanary'),
  });
  expect(scenarioOf(366).disturbances.length).toBeGreaterThan(1);
  expect(shrunk?.scenario.disturbances.map((d) => d.kind)).toEqual(['crashCanary']);
  expect(shrunk?.runs).toBeGreaterThan(1);
  // About 100 s on an idle core (dozens of full runs of a 7 s seed); several times that beside the
  // other chaos files (four workers) and the rest of the suite: a hang guard, not a speed goal.
}, 900_000);
