#!/usr/bin/env bash
# The test command for a fresh machine: set up, then build, lint, typecheck and run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --with-prometheus
pnpm -s build
pnpm -s lint
pnpm -s typecheck
mkdir -p reports
rm -f reports/vitest*.json
# Two runs side by side, one per core: the chaos files (virtual time only, so a busy machine changes
# how long they take, not what they find) at a lower priority, and everything else, whose wall-clock
# tests keep first call on the CPU. One vitest with two workers could put two wall-clock files on the
# cores at once. Their reports are added up into reports/vitest.json. The chaos files get four
# workers: a seed spends about a third of its wall time waiting for the API to fall quiet before
# virtual time moves, and two more workers fill that wait (200 seeds alone: 334 s with two, 163 s with four).
set +e
nice -n 10 pnpm -s vitest run chaos/ --maxWorkers=4 --reporter=dot --reporter=json --outputFile.json=reports/vitest-chaos.json \
  > reports/chaos.log 2>&1 &
chaos=$!
pnpm -s vitest run --exclude 'chaos/**' --reporter=default --reporter=json --outputFile.json=reports/vitest-main.json
main_status=$?
wait "$chaos"
chaos_status=$?
set -e
echo '--- chaos files (virtual time), run alongside:'
tail -n 25 reports/chaos.log
node -e '
  const fs = require("node:fs");
  const parts = ["reports/vitest-main.json", "reports/vitest-chaos.json"].filter((f) => fs.existsSync(f)).map((f) => JSON.parse(fs.readFileSync(f, "utf8")));
  const sum = (k) => parts.reduce((n, p) => n + (p[k] || 0), 0);
  const merged = { ...parts[0], testResults: parts.flatMap((p) => p.testResults || []), success: parts.length === 2 && parts.every((p) => p.success) };
  for (const k of ["numTotalTests", "numPassedTests", "numFailedTests", "numPendingTests", "numTodoTests", "numTotalTestSuites", "numPassedTestSuites", "numFailedTestSuites", "numPendingTestSuites"]) merged[k] = sum(k);
  if (parts.length < 2) merged.numFailedTests += 1; // a run that left no report failed
  fs.writeFileSync("reports/vitest.json", JSON.stringify(merged));
  console.log(`${merged.numPassedTests} passed, ${merged.numFailedTests} failed (chaos files and the rest together)`);
'
[ "$main_status" -eq 0 ] && [ "$chaos_status" -eq 0 ]
