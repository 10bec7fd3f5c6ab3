import { execFileSync } from "node:child_process";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseFault } from "./fault-spec.js";
import { type LinkCommand, netemFault, parseRootNetem } from "./netem-fault.js";

describe("parseRootNetem (tc qdisc show output)", () => {
  it("reads the root netem's delay and loss, and nothing from other qdiscs", () => {
    expect(parseRootNetem("qdisc netem 8001: root refcnt 2 limit 1000 delay 200ms\n")).toEqual({
      delayMs: 200,
    });
    expect(parseRootNetem("qdisc netem 8002: root refcnt 2 limit 1000 loss 5%\n")).toEqual({ lossPct: 5 });
    expect(parseRootNetem("qdisc netem 8003: root refcnt 2 limit 1000 delay 1s\n")).toEqual({
      delayMs: 1000,
    });
    expect(parseRootNetem("qdisc netem 8004: root refcnt 2 limit 1000 delay 250us loss 0.5%")).toEqual({
      delayMs: 0.25,
      lossPct: 0.5,
    });
    expect(parseRootNetem("qdisc noqueue 0: root refcnt 2\n")).toBeUndefined();
    expect(parseRootNetem("qdisc netem 8005: parent 1:1 limit 1000 delay 200ms\n")).toBeUndefined();
    expect(parseRootNetem("")).toBeUndefined();
  });
});

/**
 * The netem fault with the real tc on a real kernel, in a network namespace this test creates (its
 * loopback is the link). Kernels without sch_netem (this project's CI kernel has none) take the
 * refusal path; kernels with it take the apply/undo path. Needs root for `ip netns`.
 */
const isRoot = process.getuid?.() === 0;
describe.skipIf(!isRoot)("netemFault with the real tc in a namespace", () => {
  const ns = `lgt-flt-nt${process.pid % 100000}`;
  const inNs: LinkCommand = async (argv) => {
    const r = await execa("ip", ["netns", "exec", ns, ...argv], { reject: false });
    return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
  };
  let kernelHasNetem = false;

  beforeAll(async () => {
    execFileSync("ip", ["netns", "add", ns]);
    execFileSync("ip", ["netns", "exec", ns, "ip", "link", "set", "lo", "up"]);
    const probe = await inNs(["tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"]);
    kernelHasNetem = probe.exitCode === 0;
    if (kernelHasNetem) await inNs(["tc", "qdisc", "del", "dev", "lo", "root"]);
  });
  afterAll(() => {
    execFileSync("ip", ["netns", "del", ns]);
  });

  it("applies delay and undoes it (read back from tc), or says the kernel has no netem; undo is idempotent", async () => {
    const fault = netemFault(parseFault("delay 200ms app2 at 0s for 1s"), ns, "lo", inNs);
    if (!kernelHasNetem) {
      await expect(fault.apply()).rejects.toThrow(/qdisc kind is unknown.*load sch_netem on the host/);
      await expect(fault.apply()).rejects.toMatchObject({ code: "FAULT_COMMAND_FAILED", exitCode: 5 });
    } else {
      await fault.apply();
      expect(parseRootNetem((await inNs(["tc", "qdisc", "show", "dev", "lo", "root"])).stdout)).toEqual({
        delayMs: 200,
      });
      // A second fault on the same link is refused, and its undo leaves the first one's qdisc alone.
      const other = netemFault(parseFault("loss 5% app2 at 0s for 1s"), ns, "lo", inNs);
      await expect(other.apply()).rejects.toThrow(/already has a netem qdisc/);
      await expect(other.apply()).rejects.toMatchObject({ code: "FAULT_NOT_OURS", exitCode: 4 });
      await other.undo();
      expect((await inNs(["tc", "qdisc", "show", "dev", "lo", "root"])).stdout).toMatch(/netem/);
    }
    await fault.undo();
    await fault.undo();
    expect((await inNs(["tc", "qdisc", "show", "dev", "lo", "root"])).stdout).not.toMatch(/netem/);
  });
});
