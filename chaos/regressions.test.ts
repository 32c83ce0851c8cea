// Every bug the chaos runner found, as the scenario that found it (pinned here, so a change to the
// generator cannot move it), checked against every invariant. Named after the bug, not the seed.
import { type ChaosScenario, type ControllerLatency, REALISTIC_LATENCY, runChaos } from '@kanary/testkit';
import { expect, it } from 'vitest';
import { routers } from './routers.ts';

/** `seed` drives the cluster's randomness (which requests a fault window fails): the one that found it. */
function regression(
  name: string,
  scenario: ChaosScenario,
  phase: 'succeeded' | 'aborted' | 'failed',
  seed = 1,
  controllerLatency: ControllerLatency = 0,
): void {
  it(name, async () => {
    const report = await runChaos({ seed, scenario, routers, controllerLatency });
    expect(report.violations.map((v) => `${v.invariant}: ${v.detail}`)).toEqual([]);
    expect(report.phase).toBe(phase);
    // A hang guard: wall time depends on what else runs on the machine, virtual time does not.
  }, 300_000);
}

regression(
  'a replica-ratio step to 100% is not held for the stable it empties itself (it hung the plugin example under load)',
  {
    replicas: 5,
    weights: [100],
    pauseMs: 30_000,
    headerRoute: false,
    neverReady: false,
    skewMs: 0,
    strategy: 'replicaRatio',
    router: 'replicas',
    disturbances: [{ at: 59_989, kind: 'stall', ms: 1_013 }],
  },
  'succeeded',
);

regression(
  'a driver that lost its lease in an outage drives again within seconds of its end (it came back 15 s late, with users on a deleted canary)',
  {
    replicas: 4,
    weights: [20, 50, 75],
    pauseMs: 60_000,
    headerRoute: false,
    neverReady: false,
    skewMs: 0,
    strategy: 'weighted',
    router: 'istio',
    disturbances: [
      { at: 102_842, kind: 'outage', ms: 29_998 },
      { at: 142_984, kind: 'deleteCanary' },
    ],
  },
  'aborted',
);

regression(
  'users are moved off a deleted stable even when the canary had no share yet (it left every request failing)',
  {
    replicas: 2,
    weights: [10],
    pauseMs: 60_000,
    headerRoute: false,
    neverReady: true,
    skewMs: 0,
    strategy: 'weighted',
    router: 'istio',
    disturbances: [
      { at: 1_154, kind: 'control', control: 'promote' },
      { at: 36_669, kind: 'deleteStable', restoreAfter: 33_010 },
      { at: 74_527, kind: 'outage', ms: 18_460 },
    ],
  },
  'aborted',
);

/** A canary deleted mid-release, then the target's image changed by hand (`kubectl set image`). */
const setImageAfterDeletedCanary: ChaosScenario = {
  replicas: 1,
  weights: [20, 75],
  pauseMs: 30_000,
  headerRoute: true,
  neverReady: false,
  skewMs: 0,
  strategy: 'headerMatch',
  router: 'istio',
  disturbances: [
    { at: 2_667, kind: 'crash' },
    { at: 15_217, kind: 'deleteCanary' },
    { at: 17_147, kind: 'faults', ms: 2_487, rate: 0.28997104556267467 },
    { at: 67_571, kind: 'setImage' },
  ],
};

regression(
  'a held rollout keeps watching: a changed target after a deleted canary routes users to the target and starts again on it (every request failed while held)',
  setImageAfterDeletedCanary,
  'succeeded',
);

regression(
  'a Lease taken by hand during promotion is taken back once it expires (the driver stopped for good with 100% on the canary)',
  {
    replicas: 3,
    weights: [25, 60],
    pauseMs: 30_000,
    headerRoute: false,
    neverReady: false,
    skewMs: -120_000,
    strategy: 'weighted',
    router: 'gateway',
    disturbances: [
      { at: 10, kind: 'control', control: 'promoteFull' },
      { at: 15, kind: 'stealLease' },
    ],
  },
  'succeeded',
);

regression(
  'a Lease edited twice by hand on a slow API server does not look like a live driver (nobody drove the release again)',
  {
    replicas: 4,
    weights: [10],
    pauseMs: 60_000,
    headerRoute: true,
    neverReady: false,
    skewMs: 3_000,
    strategy: 'headerMatch',
    router: 'gateway',
    disturbances: [
      { at: 3, kind: 'slowApi', ms: 30_265, delayMs: 166 },
      { at: 15, kind: 'slowApi', ms: 56_330, delayMs: 1_487 },
      { at: 40_692, kind: 'stealLease' },
      { at: 51_836, kind: 'stealLease' },
    ],
  },
  'succeeded',
);

regression(
  'an abort sent from a clock behind the cluster is timed from when it arrived, not from its own timestamp (a false abort-restores)',
  {
    replicas: 5,
    weights: [20, 80],
    pauseMs: 10_000,
    headerRoute: false,
    neverReady: false,
    skewMs: -3_000,
    strategy: 'blueGreen',
    router: 'service',
    disturbances: [
      { at: 7_558, kind: 'deleteStable', restoreAfter: 58_559 },
      { at: 14_050, kind: 'setImage' },
      { at: 39_544, kind: 'stealLease' },
      { at: 49_703, kind: 'setImage' },
    ],
  },
  'aborted',
);

regression(
  'a canary that starts crash-looping during promotion is rolled back within a poll (users got 503 until the progress deadline)',
  {
    replicas: 4,
    weights: [100],
    pauseMs: 30_000,
    headerRoute: false,
    neverReady: false,
    skewMs: -3_000,
    strategy: 'weighted',
    router: 'gateway',
    disturbances: [
      { at: 32_747, kind: 'crashCanary' },
      { at: 39_934, kind: 'outage', ms: 19_887 },
    ],
  },
  'aborted',
);

regression(
  "a person scaling the stable after a driver's new term is not a stale driver's write (a false single-writer)",
  {
    replicas: 5,
    weights: [10],
    pauseMs: 60_000,
    headerRoute: false,
    neverReady: false,
    skewMs: 0,
    strategy: 'replicaRatio',
    router: 'replicas',
    disturbances: [
      { at: 16, kind: 'stall', ms: 39_007 },
      { at: 72_842, kind: 'scaleStable', replicas: 3 },
    ],
  },
  'succeeded',
);

regression(
  'closing a successor that waited for the Lease through an outage ends (the runner hung on it outside virtual time)',
  {
    replicas: 4,
    weights: [10, 25, 75],
    pauseMs: 10_000,
    headerRoute: true,
    neverReady: false,
    skewMs: -3_000,
    strategy: 'headerMatch',
    router: 'nginx',
    disturbances: [
      { at: 28_409, kind: 'control', control: 'promoteFull' },
      { at: 33_607, kind: 'crashCanary' },
      { at: 40_629, kind: 'outage', ms: 23_224 },
      { at: 41_140, kind: 'crash' },
    ],
  },
  'succeeded',
);

regression(
  "a replica-ratio abort after promotion began puts the stable's own template back before moving pods (it waited on the canary's crashing template and failed)",
  {
    replicas: 4,
    weights: [30, 60],
    pauseMs: 10_000,
    headerRoute: false,
    neverReady: false,
    skewMs: -3_000,
    strategy: 'replicaRatio',
    router: 'replicas',
    disturbances: [
      { at: 47_046, kind: 'outage', ms: 6_564 },
      { at: 50_000, kind: 'crashCanary' },
    ],
  },
  'aborted',
);

regression(
  "a person's `kubectl set image` whose new pods are not ready yet: users stay on the pods they reach until the new ones serve (Kanary re-pointed everyone at a revision with no ready pod)",
  {
    replicas: 3,
    weights: [25],
    pauseMs: 10_000,
    headerRoute: false,
    neverReady: false,
    skewMs: 120_000,
    strategy: 'weighted',
    router: 'istio',
    disturbances: [
      { at: 7_131, kind: 'setImage' },
      { at: 20_858, kind: 'slowApi', ms: 39_051, delayMs: 436 },
    ],
  },
  'succeeded',
);

regression(
  'ingress-nginx promotion: the stable Service follows the promoted pods before the canary Ingress goes (every request 503 between the two writes, seen by the check at every write)',
  {
    replicas: 4,
    weights: [25],
    pauseMs: 10_000,
    headerRoute: false,
    neverReady: false,
    skewMs: 0,
    strategy: 'weighted',
    router: 'nginx',
    disturbances: [],
  },
  'succeeded',
);

regression(
  'a rolling update paused by a person mid-burst still stops at its step (the Deployment rolled every pod to the new version)',
  {
    replicas: 4,
    weights: [50],
    pauseMs: 10_000,
    headerRoute: false,
    neverReady: false,
    skewMs: 0,
    strategy: 'rolling',
    router: 'deployment',
    disturbances: [
      { at: 12, kind: 'control', control: 'pause' },
      { at: 35_452, kind: 'setImage' },
    ],
  },
  'aborted',
);

regression(
  'a retry after an abort is a new attempt: its promotion is not judged against the old abort (the watcher blamed it)',
  {
    replicas: 3,
    weights: [50, 60],
    pauseMs: 10_000,
    headerRoute: false,
    neverReady: false,
    skewMs: 0,
    strategy: 'blueGreen',
    router: 'service',
    disturbances: [
      { at: 2_826, kind: 'control', control: 'abort' },
      { at: 8_229, kind: 'control', control: 'retry' },
    ],
  },
  'succeeded',
);

regression(
  'a step skipped while a rolling burst is under way is refused until its pods are in place (the Deployment rolled every pod while the next pause waited)',
  {
    replicas: 3,
    weights: [25, 50, 60],
    pauseMs: 30_000,
    headerRoute: false,
    neverReady: false,
    skewMs: 0,
    strategy: 'rolling',
    router: 'deployment',
    disturbances: [
      { at: 1, kind: 'control', control: 'skipStep' },
      { at: 119_182, kind: 'setImage' },
    ],
  },
  'succeeded',
);

regression(
  'users are moved off a deleted stable during promotion too (half of them failed for two minutes while the promotion waited for it to return)',
  {
    replicas: 1,
    weights: [30, 50],
    pauseMs: 30_000,
    headerRoute: false,
    neverReady: false,
    skewMs: -3_000,
    strategy: 'weighted',
    router: 'nginx',
    disturbances: [
      { at: 52_621, kind: 'crash' },
      { at: 67_038, kind: 'deleteStable', restoreAfter: 119_989 },
      { at: 89_990, kind: 'stall', ms: 59_985 },
    ],
  },
  'succeeded',
);

regression(
  "a person's emergency 0% on ingress-nginx's canary Ingress, with the stable deleted, is theirs (the watcher blamed Kanary)",
  {
    replicas: 1,
    weights: [60],
    pauseMs: 30_000,
    headerRoute: true,
    neverReady: false,
    skewMs: 0,
    strategy: 'headerMatch',
    router: 'nginx',
    disturbances: [
      { at: 21_935, kind: 'deleteStable', restoreAfter: 116_193 },
      { at: 51_176, kind: 'routeZero' },
    ],
  },
  'aborted',
);

regression(
  'a green that crash-loops after the switch rolls back to blue before blue is scaled down (blue was scaled down under it: succeeded over a full outage)',
  {
    replicas: 5,
    weights: [25, 75],
    pauseMs: 10_000,
    headerRoute: false,
    neverReady: false,
    skewMs: 3_000,
    strategy: 'blueGreen',
    router: 'service',
    disturbances: [
      { at: 3_095, kind: 'outage', ms: 9_622 },
      { at: 5_865, kind: 'deleteStable', restoreAfter: 11_208 },
      { at: 15_537, kind: 'crashCanary' },
      { at: 44_511, kind: 'scaleStable', replicas: 5 },
    ],
  },
  'aborted',
);

regression(
  'a rolling step whose re-pause fails is tried again within a second (failed re-pauses backed off 8 and 16 s while every pod rolled)',
  {
    replicas: 3,
    weights: [10],
    pauseMs: 60_000,
    headerRoute: false,
    neverReady: false,
    skewMs: -120_000,
    strategy: 'rolling',
    router: 'deployment',
    disturbances: [
      { at: 4, kind: 'scaleStable', replicas: 3 },
      { at: 9, kind: 'faults', ms: 59_999, rate: 0.4999999999999998 },
      { at: 9, kind: 'outage', ms: 29_988 },
      { at: 89_998, kind: 'setImage' },
    ],
  },
  'succeeded',
  2212,
);

regression(
  'a rolling step rounded up to every pod stays reached when a person scales the Deployment up (the watcher lowered the bound)',
  {
    replicas: 1,
    weights: [75],
    pauseMs: 10_000,
    headerRoute: false,
    neverReady: false,
    skewMs: 0,
    strategy: 'rolling',
    router: 'deployment',
    disturbances: [{ at: 3_344, kind: 'scaleStable', replicas: 4 }],
  },
  'succeeded',
);

regression(
  // Ended `failed` while an abort routed users to the stable before putting its own template back:
  // the stable, re-created by a person with the promoted (crash-looping) template, never served.
  'a promotion whose canary and re-created stable both crash-loop aborts to the original template, and is not blamed for capacity meanwhile (nothing could serve)',
  {
    replicas: 1,
    weights: [20, 25],
    pauseMs: 10_000,
    headerRoute: true,
    neverReady: false,
    skewMs: 0,
    strategy: 'headerMatch',
    router: 'gateway',
    disturbances: [
      { at: 22_967, kind: 'deleteStable', restoreAfter: 105_945 },
      { at: 42_106, kind: 'setImage' },
      { at: 48_898, kind: 'crashCanary' },
    ],
  },
  'aborted',
  2727,
);

regression(
  'a stable deleted while green is still being made: users go to green once it serves (with controllers that react late, its revision was unknown and users got 503 for 46 s)',
  {
    replicas: 1,
    weights: [50, 75, 100],
    pauseMs: 30_000,
    headerRoute: false,
    neverReady: false,
    skewMs: 0,
    strategy: 'blueGreen',
    router: 'service',
    disturbances: [
      { at: 6, kind: 'deleteStable', restoreAfter: 51_684 },
      { at: 119_995, kind: 'control', control: 'abort' },
    ],
  },
  'aborted',
  79,
  REALISTIC_LATENCY,
);

regression(
  'a target changed before the controller made its ReplicaSet is held until its pods serve (routing was pinned to the old pods it was replacing, and the restart never learnt the new revision)',
  setImageAfterDeletedCanary,
  'succeeded',
  1,
  REALISTIC_LATENCY,
);

regression(
  'a blue-green release whose Lease was taken by a process that never drove still retires blue (nobody retired it, nor watched green)',
  {
    replicas: 4,
    weights: [60, 75],
    pauseMs: 60_000,
    headerRoute: false,
    neverReady: false,
    skewMs: 3_000,
    strategy: 'blueGreen',
    router: 'service',
    disturbances: [
      { at: 64_860, kind: 'stealLease' },
      { at: 68_369, kind: 'setImage' },
      { at: 81_769, kind: 'setImage' },
      { at: 115_158, kind: 'crashCanary' },
    ],
  },
  'succeeded',
  3301,
);

regression(
  'a green that stops serving before blue is scaled down rolls the release back (it stayed succeeded while every request failed)',
  {
    replicas: 1,
    weights: [60],
    pauseMs: 60_000,
    headerRoute: false,
    neverReady: false,
    skewMs: -120_000,
    strategy: 'blueGreen',
    router: 'service',
    disturbances: [
      { at: 61_238, kind: 'stealLease' },
      { at: 71_496, kind: 'crashCanary' },
    ],
  },
  'aborted',
  4450,
);

regression(
  "a person scaling the stable down under a replica-ratio step: the canary shrinks to the step's share and the release holds (the canary served half the users at a 20% step)",
  {
    replicas: 4,
    weights: [20, 50, 60],
    pauseMs: 60_000,
    headerRoute: false,
    neverReady: false,
    skewMs: 0,
    strategy: 'replicaRatio',
    router: 'replicas',
    disturbances: [
      { at: 9_198, kind: 'scaleStable', replicas: 1 },
      { at: 185_496, kind: 'slowApi', ms: 58_931, delayMs: 806 },
      { at: 208_245, kind: 'setImage' },
    ],
  },
  // The person's `set image` restarts the release on their 1-replica Deployment, where a 20% step
  // leaves a side without a pod: it waits for more replicas, then the progress deadline aborts it
  // (it used to record 20% with no canary pod).
  'aborted',
  3690,
);

regression(
  "a rolling step's burst on an API 1.7 s slow per request stops at its step (the pause landed after the new pod was available, and every pod rolled)",
  {
    replicas: 2,
    weights: [20, 100],
    pauseMs: 60_000,
    headerRoute: false,
    neverReady: false,
    skewMs: 0,
    strategy: 'rolling',
    router: 'deployment',
    disturbances: [
      { at: 15, kind: 'slowApi', ms: 22_170, delayMs: 1_659 },
      { at: 45_691, kind: 'stall', ms: 15_661 },
      { at: 149_985, kind: 'scaleStable', replicas: 1 },
    ],
  },
  'succeeded',
  5223,
);

regression(
  "a crash-looping canary whose revision was never recorded is not counted ready through the stable's pods: users go back to the stable once it returns (they stayed on the canary's 503s until a person aborted)",
  {
    replicas: 4,
    weights: [20, 100],
    pauseMs: 10_000,
    headerRoute: true,
    neverReady: false,
    skewMs: -3_000,
    strategy: 'headerMatch',
    router: 'istio',
    disturbances: [
      { at: 189, kind: 'deleteStable', restoreAfter: 97_812 },
      { at: 27_056, kind: 'crashCanary' },
      { at: 40_719, kind: 'stealLease' },
      { at: 48_946, kind: 'control', control: 'promote' },
    ],
  },
  'aborted',
  699,
  REALISTIC_LATENCY,
);

regression(
  "a green that crash-loops after the stable came back is not counted ready through blue's pods (users stayed on green's 503s)",
  {
    replicas: 3,
    weights: [10, 80],
    pauseMs: 10_000,
    headerRoute: false,
    neverReady: false,
    skewMs: 120_000,
    strategy: 'blueGreen',
    router: 'service',
    disturbances: [
      { at: 7, kind: 'deleteStable', restoreAfter: 5_015 },
      { at: 10, kind: 'control', control: 'skipStep' },
      { at: 11_728, kind: 'crashCanary' },
    ],
  },
  'aborted',
  1205,
  REALISTIC_LATENCY,
);

regression(
  "users move onto a person's new revision only once its pods are in the Service's Endpoints (they were moved when the pods turned ready, before the data plane knew them: 503s)",
  {
    replicas: 3,
    weights: [30],
    pauseMs: 30_000,
    headerRoute: true,
    neverReady: false,
    skewMs: 0,
    strategy: 'headerMatch',
    router: 'istio',
    disturbances: [
      { at: 0, kind: 'stealLease' },
      { at: 30_667, kind: 'setImage' },
    ],
  },
  'succeeded',
  1286,
  REALISTIC_LATENCY,
);

regression(
  "a replica-ratio canary cut to no pod by a person's scale-down records no canary share (the next look held the release again for an 'unready' canary)",
  {
    replicas: 4,
    weights: [25, 50],
    pauseMs: 30_000,
    headerRoute: false,
    neverReady: false,
    skewMs: 0,
    strategy: 'replicaRatio',
    router: 'replicas',
    disturbances: [{ at: 27_018, kind: 'scaleStable', replicas: 1 }],
  },
  'aborted',
  1820,
  REALISTIC_LATENCY,
);

regression(
  "a replica-ratio move cut short by skipStep is recorded as the weight the pods give, not taken for a person's scale (the release held for a drift Kanary had made)",
  {
    replicas: 4,
    weights: [30, 100],
    pauseMs: 30_000,
    headerRoute: false,
    neverReady: false,
    skewMs: -120_000,
    strategy: 'replicaRatio',
    router: 'replicas',
    disturbances: [
      { at: 39_342, kind: 'control', control: 'skipStep' },
      { at: 57_053, kind: 'control', control: 'retry' },
    ],
  },
  'succeeded',
  4112,
  REALISTIC_LATENCY,
);

regression(
  "the canary taking every user during promotion follows a person's scale-up of the stable (4 canary pods served everyone for 6 s while the stable was scaled to 7)",
  {
    replicas: 4,
    weights: [10, 60],
    pauseMs: 60_000,
    headerRoute: false,
    neverReady: false,
    skewMs: -120_000,
    strategy: 'weighted',
    router: 'gateway',
    disturbances: [
      { at: 124_167, kind: 'scaleStable', replicas: 7 },
      { at: 124_796, kind: 'setImage' },
    ],
  },
  'succeeded',
  8330,
  REALISTIC_LATENCY,
);

regression(
  "an operator's promotion sent while its own abort still waits is driven by one loop at a time (two loops under one holder took the lease from each other, thousands of epochs in one instant)",
  {
    replicas: 3,
    weights: [30],
    pauseMs: 10_000,
    headerRoute: false,
    neverReady: true,
    skewMs: 3_000,
    strategy: 'weighted',
    router: 'gateway',
    disturbances: [
      { at: 2, kind: 'control', control: 'abort' },
      { at: 15, kind: 'control', control: 'promoteFull' },
      { at: 35_963, kind: 'setImage' },
    ],
  },
  'aborted',
  8416,
  REALISTIC_LATENCY,
);

regression(
  "a person scaling a rolling update's Deployment down while the old pods retire scales the retirement with it (the allowance, a number of pods, let every old pod go: a 60% step served every user)",
  {
    replicas: 5,
    weights: [60],
    pauseMs: 60_000,
    headerRoute: false,
    neverReady: false,
    skewMs: 0,
    strategy: 'rolling',
    router: 'deployment',
    disturbances: [
      { at: 13, kind: 'control', control: 'resume' },
      { at: 8_363, kind: 'scaleStable', replicas: 3 },
      { at: 38_938, kind: 'scaleStable', replicas: 6 },
    ],
  },
  'succeeded',
  15525,
);
