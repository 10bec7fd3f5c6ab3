import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const src = (pkg: string) => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url));

export default defineConfig({
  resolve: {
    // Tests always run against the sources of sibling packages, never a stale dist/.
    alias: {
      "@labgate/core": src("core"),
      "@labgate/bench": src("bench"),
      "@labgate/lxd-lab": src("lxd-lab"),
    },
  },
  test: {
    include: ["packages/*/src/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
  },
});
