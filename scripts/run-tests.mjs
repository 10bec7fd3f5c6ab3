#!/usr/bin/env node
// The one test command (README and .ci/run): lint, build every package, type-check the tests, run every
// test, and close with a plain "Tests: N passed, N failed, N skipped" line that CI can read.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";

const env = { ...process.env, TURBO_TELEMETRY_DISABLED: "1" };
const run = (cmd, args) => spawnSync(cmd, args, { stdio: "inherit", env }).status ?? 1;

const lintStatus = run("npx", ["biome", "check", "."]);
if (lintStatus !== 0) {
  console.error("Lint failed: `npm run format` fixes formatting; the rest is listed above.");
  process.exit(lintStatus);
}

const buildStatus = run("npx", ["turbo", "run", "build", "--output-logs=errors-only"]);
if (buildStatus !== 0) {
  console.error("Build failed: fix the TypeScript errors above, then run `npm test` again.");
  process.exit(buildStatus);
}

// Packages compile without their tests; this checks the tests' types too (vitest only strips them).
const typeStatus = run("npx", ["tsc", "-p", "tsconfig.test.json"]);
if (typeStatus !== 0) {
  console.error("Type errors in the tests (above): fix them, then run `npm test` again.");
  process.exit(typeStatus);
}

mkdirSync("test-results", { recursive: true });
const report = "test-results/vitest.json";
const status = run("npx", [
  "vitest",
  "run",
  "--reporter=default",
  "--reporter=json",
  `--outputFile.json=${report}`,
  ...process.argv.slice(2),
]);

if (existsSync(report)) {
  const r = JSON.parse(readFileSync(report, "utf8"));
  const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  console.log(`Tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
  if (r.numTotalTests === 0) {
    console.error("No test ran: that is a failure, not a pass.");
    process.exit(1);
  }
}
process.exit(status);
