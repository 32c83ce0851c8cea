// The shrinker, exercised on a real seed: it must find the smallest schedule that still "fails".
import { scenarioOf, shrinkChaos } from '@kanary/testkit';
import { expect, it } from 'vitest';
import { routers } from './routers.ts';

it('shrinkChaos reduces a schedule to the one disturbance that makes it fail', async () => {
  // Seed 350 (this generator): faults, a slow API, a crash, then the canary crash-looping. Asked to
  // keep "the canary crash-looped", the shrinker must drop the other three.
  const shrunk = await shrinkChaos({
    seed: 350,
    routers,
    fails: (r) => r.covered.includes('crashCanary'),
  });
  expect(scenarioOf(350).disturbances.length).toBeGreaterThan(1);
  expect(shrunk?.scenario.disturbances.map((d) => d.kind)).toEqual(['crashCanary']);
  expect(shrunk?.runs).toBeGreaterThan(1);
}, 180_000);
