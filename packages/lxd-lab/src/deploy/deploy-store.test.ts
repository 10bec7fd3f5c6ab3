import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type DeployRecord, writeDeployRecord } from "@labgate/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { deployStepsPath, openDeployPlanStore } from "./deploy-store.js";

const record = (over: Partial<DeployRecord> = {}): DeployRecord => ({
  version: 1,
  ref: { platform: "proxmox", id: "100", name: "web-1" },
  network: { mode: "dhcp" },
  createdAt: "2026-12-07T00:00:00.000Z",
  ...over,
});

describe("a deployment's step progress", () => {
  let dir: string;
  let statePath: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "labgate-deploy-store-"));
    statePath = join(dir, "proxmox-web-1.json");
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("without a record or progress, no step ran", async () => {
    const store = await openDeployPlanStore(statePath);
    expect(store.record).toBeUndefined();
    for (const id of ["reserve-address", "create-node", "wait-running"])
      expect(store.status(id)).toBeUndefined();
  });

  it("a record written without progress (an older labgate, or a kill) still says what ran", async () => {
    await writeDeployRecord(statePath, record({ status: "creating", ipOwner: "deploy/proxmox/web-1" }));
    const interrupted = await openDeployPlanStore(statePath);
    expect(interrupted.status("reserve-address")?.status).toBe("done");
    expect(interrupted.status("create-node")?.status).toBe("interrupted");
    expect(interrupted.status("wait-running")).toBeUndefined();

    await writeDeployRecord(statePath, record());
    const complete = await openDeployPlanStore(statePath);
    // No pool owner: the address did not come from the pool.
    expect(complete.status("reserve-address")).toBeUndefined();
    expect(complete.status("create-node")?.status).toBe("done");
    expect(complete.status("wait-running")?.status).toBe("done");
  });

  it("once a step is marked or forgotten, only the progress file speaks for it (0600, removed when empty)", async () => {
    await writeDeployRecord(statePath, record());
    const store = await openDeployPlanStore(statePath);
    await store.forget("wait-running");
    expect(store.status("wait-running")).toBeUndefined();
    await store.mark("create-node", { status: "undoing" });
    expect(store.status("create-node")?.status).toBe("undoing");
    const file = JSON.parse(await readFile(deployStepsPath(statePath), "utf8"));
    expect(Object.keys(file.steps)).toEqual(["create-node"]);
    expect((await stat(deployStepsPath(statePath))).mode & 0o777).toBe(0o600);
    await store.forget("create-node");
    expect(store.status("create-node")).toBeUndefined();
    await expect(stat(deployStepsPath(statePath))).rejects.toThrow();
  });
});
