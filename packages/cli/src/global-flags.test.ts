import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ExitCode } from "@labgate/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { seedPoolConfig } from "../../core/src/ip-pool/test-support/seed-network.js";
import { parseProbeTimeout } from "./commands/lab.js";
import { outputMode } from "./output.js";
import { runCliInProcess as cli } from "./test-support/in-process-cli.js";

// The ledger is the subject; 192.168.x is data only and nothing is probed.
const CONFIG = { probe: "none", networks: [{ ...seedPoolConfig().networks[0], dns: [] }] };

let dir: string;
let pools: string;
let state: string;
const savedNoColor = process.env.NO_COLOR;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "labgate-global-flags-"));
  pools = join(dir, "pools.json");
  state = join(dir, "state.json");
  await writeFile(pools, JSON.stringify(CONFIG));
  delete process.env.NO_COLOR;
});
afterEach(async () => {
  if (savedNoColor === undefined) delete process.env.NO_COLOR;
  else process.env.NO_COLOR = savedNoColor;
  await rm(dir, { recursive: true, force: true });
});

const allocate = (...flags: string[]) =>
  cli(["ip", "allocate", "--network", "192.168.3.0/24", "--owner", "web1", "--json", ...flags]);

describe("the IP pool flags are --ip-pools/--ip-state everywhere, as deploy names them", () => {
  it("the new names work and are what help shows; the old ones are hidden", async () => {
    const r = await allocate("--ip-pools", pools, "--ip-state", state);
    expect(r.code).toBe(ExitCode.OK);
    expect(JSON.parse(r.stdout).ip).toBe("192.168.3.30");
    expect(r.stderr).not.toContain("deprecated");
    expect(await readFile(state, "utf8")).toContain("web1");

    for (const sub of ["allocate", "list", "reconcile", "migrate"]) {
      const help = await cli(["ip", sub, "--help"]);
      expect(help.stdout, sub).toContain("--ip-pools <file>");
      expect(help.stdout, sub).toContain("--ip-state <file>");
      expect(help.stdout, sub).not.toMatch(/--config|--state\b/);
    }
  });

  it("--config/--state still work, with one deprecation line each on stderr, and mean the same", async () => {
    const r = await allocate("--config", pools, "--state", state);
    expect(r.code).toBe(ExitCode.OK);
    expect(JSON.parse(r.stdout).ip).toBe("192.168.3.30");
    const notes = r.stderr.split("\n").filter((l) => l.includes("deprecated"));
    expect(notes).toEqual([
      "note: --config is deprecated; use --ip-pools (same meaning).",
      "note: --state is deprecated; use --ip-state (same meaning).",
    ]);
    // The same ledger: the owner gets its address back rather than a second one.
    const again = await allocate("--ip-pools", pools, "--ip-state", state);
    expect(JSON.parse(again.stdout).ip).toBe("192.168.3.30");
    // Old and new naming the same file is no conflict.
    expect((await allocate("--config", pools, "--ip-pools", pools, "--ip-state", state)).code).toBe(
      ExitCode.OK,
    );
  });

  it("an old and a new name that disagree exit 2 naming both, before anything is written", async () => {
    const other = join(dir, "other.json");
    const r = await allocate("--ip-pools", pools, "--ip-state", state, "--state", other);
    expect(r.code).toBe(ExitCode.INVALID_INPUT);
    expect(r.stderr).toContain("FLAG_ALIAS_CONFLICT");
    expect(r.stderr).toContain(`--state "${other}" and --ip-state "${state}"`);
    expect(r.stderr).toContain("what to do: Give only --ip-state <file>.");
    await expect(readFile(state, "utf8")).rejects.toThrow();
    await expect(readFile(other, "utf8")).rejects.toThrow();
  });
});

describe("global --quiet, --verbose, --no-color", () => {
  it("--quiet keeps the data on stdout and errors on stderr, and drops info lines", async () => {
    const files = ["--ip-pools", pools, "--ip-state", state];
    await allocate(...files);
    const loud = await cli(["ip", "list", ...files]);
    expect(loud.stderr).toContain("1 address recorded");
    for (const args of [
      ["--quiet", "ip", "list", ...files],
      ["ip", "list", ...files, "-q"],
    ]) {
      const quiet = await cli(args);
      expect(quiet.code).toBe(ExitCode.OK);
      expect(quiet.stdout).toBe(loud.stdout);
      expect(quiet.stdout).toContain("192.168.3.30");
      expect(quiet.stderr).toBe("");
    }
    const bad = await cli(["--quiet", "ip", "list", ...files, "--network", "not-a-cidr"]);
    expect(bad.code).toBe(ExitCode.INVALID_INPUT);
    expect(bad.stderr).toMatch(/^error \[/);
  });

  it("--verbose adds diagnostics (the pool and ledger used); --quiet with --verbose is a usage error", async () => {
    const files = ["--ip-pools", pools, "--ip-state", state];
    const plain = await cli(["ip", "list", ...files]);
    const verbose = await cli(["ip", "list", ...files, "--verbose"]);
    expect(verbose.stdout).toBe(plain.stdout);
    expect(plain.stderr).not.toContain("IP pool:");
    expect(verbose.stderr).toContain(`IP pool: ${pools}; ledger: ${state}`);
    const both = await cli(["--quiet", "--verbose", "ip", "list", ...files]);
    expect(both.code).toBe(ExitCode.INVALID_INPUT);
    expect(both.stderr).toMatch(/quiet.*verbose|verbose.*quiet/);
  });

  it("--no-color and NO_COLOR turn colour and terminal control codes off; neither leaves them on", async () => {
    const files = ["--ip-pools", pools, "--ip-state", state];
    await cli(["ip", "list", ...files]);
    expect(outputMode()).toMatchObject({ color: true, quiet: false, verbose: false });
    await cli(["--no-color", "ip", "list", ...files]);
    expect(outputMode().color).toBe(false);
    await cli(["ip", "list", ...files]);
    expect(outputMode().color).toBe(true);
    process.env.NO_COLOR = "1";
    await cli(["ip", "list", ...files]);
    expect(outputMode().color).toBe(false);
    // no-color.org: an empty NO_COLOR does not count.
    process.env.NO_COLOR = "";
    await cli(["ip", "list", ...files]);
    expect(outputMode().color).toBe(true);
  });
});

describe("--timeout is a duration everywhere (bench's syntax; a bare number is seconds)", () => {
  it("lab status --timeout takes 3s, 3 and 500ms, and refuses what is no duration or out of bounds with exit 2", async () => {
    expect(parseProbeTimeout("3s")).toBe(3000);
    expect(parseProbeTimeout("3")).toBe(3000);
    expect(parseProbeTimeout("500ms")).toBe(500);
    for (const bad of ["soon", "2m", "50ms", ""]) {
      const r = await cli(["lab", "status", "--timeout", bad, "--state-dir", join(dir, "none")]);
      expect(r.code, bad).toBe(ExitCode.INVALID_INPUT);
      expect(r.stderr, bad).toContain("INVALID_FLAG");
      expect(r.stderr, bad).toContain("what to do: Pass e.g. --timeout 3s");
    }
  });
});
