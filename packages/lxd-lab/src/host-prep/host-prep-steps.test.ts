import type { Runner } from "@labgate/core";
import { describe, expect, it } from "vitest";
import type { LabStep, StepContext } from "../engine/step.js";
import { hostPrepSteps } from "./host-prep-steps.js";
import { FakeHost, FakeHostRegistry, memoryContext } from "./test-support/fake-host.js";
import type { HostPrepOptions } from "./types.js";

/** What the engine does with each step: check, then apply + verify when not done. */
async function runSteps(steps: LabStep[], ctx: StepContext): Promise<Record<string, "skipped" | "applied">> {
  const outcome: Record<string, "skipped" | "applied"> = {};
  for (const step of steps) {
    const found = await step.actions.check(ctx);
    if (found.done) {
      outcome[step.description.id] = "skipped";
      continue;
    }
    await step.actions.apply(ctx, found);
    await step.actions.verify(ctx);
    outcome[step.description.id] = "applied";
  }
  return outcome;
}

/** apply with what check finds now, as the engine runs it. */
async function applyChecked(step: LabStep, ctx: StepContext): Promise<void> {
  await step.actions.apply(ctx, await step.actions.check(ctx));
}

function options(host: FakeHost, extra: Partial<HostPrepOptions> = {}): HostPrepOptions {
  return {
    runner: host,
    hostName: "192.168.3.20",
    hosts: new FakeHostRegistry(host),
    pollIntervalMs: 1,
    errorGraceMs: 20,
    monitorTimeoutMs: 2_000,
    restartTimeoutMs: 500,
    ...extra,
  };
}

const byId = (steps: LabStep[], id: string): LabStep => {
  const step = steps.find((s) => s.description.id === id);
  if (!step) throw new Error(`no step ${id}`);
  return step;
};

describe("hostPrepSteps (plan)", () => {
  it("is pure: builds the steps without running anything on the host", () => {
    const host = new FakeHost();
    const steps = hostPrepSteps(options(host));
    expect(steps.map((s) => s.description.id)).toEqual([
      "host-lxd",
      "host-oneadmin-lxd-group",
      "host-snap-home",
      "host-restart-opennebula",
      "host-add",
      "host-monitored",
    ]);
    expect(host.calls).toEqual([]);
    expect(byId(steps, "host-oneadmin-lxd-group").description.calls.map((c) => c.display)).toContain(
      "sudo -n -- usermod -aG lxd oneadmin",
    );
    expect(hostPrepSteps({ runner: host }).map((s) => s.description.id)).not.toContain("host-add");
  });

  it("accepts a lazy runner (resolved only when a step runs)", async () => {
    const host = new FakeHost({ snapd: "2.61.3", oneadminInLxd: true, oneadminHome: "/home/oneadmin" });
    let resolved = 0;
    const steps = hostPrepSteps({
      runner: (): Runner => {
        resolved++;
        return host;
      },
    });
    expect(resolved).toBe(0);
    await byId(steps, "host-oneadmin-lxd-group").actions.check(memoryContext());
    expect(resolved).toBe(1);
  });
});

describe("host preparation on a snap LXD host", () => {
  it("new snapd: adds the group, sets homedirs, restarts, adds the host, reaches MONITORED; a re-run changes nothing", async () => {
    const host = new FakeHost({ snapd: "2.61.3" });
    const registry = new FakeHostRegistry(host);
    const ctx = memoryContext();
    const outcome = await runSteps(hostPrepSteps(options(host, { hosts: registry })), ctx);
    expect(outcome).toEqual({
      "host-lxd": "skipped",
      "host-oneadmin-lxd-group": "applied",
      "host-snap-home": "applied",
      "host-restart-opennebula": "applied",
      "host-add": "applied",
      "host-monitored": "applied",
    });
    expect(host.mutations()).toEqual([
      "sudo -n -- usermod -aG lxd oneadmin",
      "sudo -n -- snap set system homedirs=/var/lib",
      "sudo -n -- systemctl restart opennebula",
    ]);
    expect(host.files.size).toBe(0);
    expect((await registry.findHost("192.168.3.20"))?.stateName).toBe("MONITORED");
    expect(ctx.records.map((r) => `${r.kind}:${r.id}`)).toEqual([
      "group-membership:oneadmin:lxd",
      "snap-homedirs:system",
      "one-host:0",
    ]);

    const before = host.mutations().length;
    const again = await runSteps(hostPrepSteps(options(host, { hosts: registry })), ctx);
    expect(Object.values(again).every((o) => o === "skipped")).toBe(true);
    expect(host.mutations().length).toBe(before);
    expect(registry.hosts.size).toBe(1);
  });

  it("keeps existing homedirs entries when adding /var/lib", async () => {
    const host = new FakeHost({ snapd: "2.60", homedirs: ["/srv/homes"], oneadminInLxd: true });
    await runSteps([byId(hostPrepSteps(options(host)), "host-snap-home")], memoryContext());
    expect(host.homedirs).toEqual(["/srv/homes", "/var/lib"]);
  });

  it("old snapd (2.58): writes the systemd override, creates /home/oneadmin, daemon-reloads before restarting", async () => {
    const host = new FakeHost({ snapd: "2.58.3" });
    const registry = new FakeHostRegistry(host);
    const outcome = await runSteps(hostPrepSteps(options(host, { hosts: registry })), memoryContext());
    expect(outcome["host-snap-home"]).toBe("applied");
    const m = host.mutations();
    expect(m).not.toContain("sudo -n -- snap set system homedirs=/var/lib");
    expect(m).toContain("sudo -n -- install -d -o oneadmin -g oneadmin -m 0750 /home/oneadmin");
    expect(m.indexOf("sudo -n -- systemctl daemon-reload")).toBeLessThan(
      m.indexOf("sudo -n -- systemctl restart opennebula"),
    );
    expect(host.files.get("/etc/systemd/system/opennebula.service.d/override.conf")).toMatch(
      /^\[Service\]\nEnvironment=HOME=\/home\/oneadmin$/m,
    );
    expect(host.dirs.get("/home/oneadmin")).toBe("oneadmin");
    expect(host.oned?.env.HOME).toBe("/home/oneadmin");
    expect((await registry.findHost("192.168.3.20"))?.stateName).toBe("MONITORED");
  });

  it("old snapd: an override lacking HOME is extended, not replaced", async () => {
    const host = new FakeHost({ snapd: "2.54", oneadminInLxd: true });
    host.dirs.set("/etc/systemd/system/opennebula.service.d", "root");
    host.files.set(
      "/etc/systemd/system/opennebula.service.d/override.conf",
      "[Service]\nLimitNOFILE=65536\n",
    );
    await runSteps([byId(hostPrepSteps(options(host)), "host-snap-home")], memoryContext());
    const content = host.files.get("/etc/systemd/system/opennebula.service.d/override.conf") ?? "";
    expect(content).toContain("LimitNOFILE=65536");
    expect(content).toContain("Environment=HOME=/home/oneadmin");
  });

  it("undo removes only what the steps added", async () => {
    const host = new FakeHost({ snapd: "2.61.3" });
    const ctx = memoryContext();
    const steps = hostPrepSteps(options(host));
    await runSteps(steps, ctx);
    for (const step of [...steps].reverse()) await step.actions.undo(ctx);
    expect(host.groups.get("lxd")?.members).toEqual([]);
    expect(host.homedirs).toEqual([]);
    expect(ctx.records).toEqual([]);

    const member = new FakeHost({ snapd: "2.61.3", oneadminInLxd: true, homedirs: ["/var/lib"] });
    const ctx2 = memoryContext();
    const steps2 = hostPrepSteps(options(member));
    await runSteps(steps2, ctx2);
    for (const step of [...steps2].reverse()) await step.actions.undo(ctx2);
    expect(member.groups.get("lxd")?.members).toEqual(["oneadmin"]);
    expect(member.homedirs).toEqual(["/var/lib"]);
    expect(member.mutations()).toEqual([]);
  });
});

describe("decisions that skip work", () => {
  it("apt LXD, oneadmin already in lxd and oned already restarted: nothing changes", async () => {
    const host = new FakeHost({ lxd: "apt", oneadminInLxd: true });
    const steps = hostPrepSteps(options(host));
    const ctx = memoryContext();
    const details: Record<string, string | undefined> = {};
    for (const s of steps.slice(0, 4)) details[s.description.id] = (await s.actions.check(ctx)).detail;
    expect(details["host-snap-home"]).toBe("not needed: LXD is not a snap: no confinement");
    expect(details["host-restart-opennebula"]).toMatch(/runs with groups 9869 998/);
    const outcome = await runSteps(steps, ctx);
    expect(outcome["host-oneadmin-lxd-group"]).toBe("skipped");
    expect(outcome["host-restart-opennebula"]).toBe("skipped");
    expect(host.mutations()).toEqual([]);
  });

  it("oneadmin in lxd but oned started before: the restart step is needed, and verify catches a skipped restart", async () => {
    const host = new FakeHost({
      snapd: "2.61.3",
      oneadminInLxd: true,
      onedHasLxdGroup: false,
      oneadminHome: "/home/oneadmin",
    });
    const restart = byId(hostPrepSteps(options(host)), "host-restart-opennebula");
    const check = await restart.actions.check(memoryContext());
    expect(check.done).toBe(false);
    expect(check.detail).toMatch(/started before oneadmin joined lxd/);
    await expect(restart.actions.verify(memoryContext())).rejects.toMatchObject({
      code: "STEP_FAILED",
      stepId: "host-restart-opennebula",
    });
    await applyChecked(restart, memoryContext());
    await restart.actions.verify(memoryContext());
  });

  it("an LXD node without the front-end needs no restart (drivers log in fresh over SSH)", async () => {
    const host = new FakeHost({ snapd: "2.61.3", frontend: false, oneadminHome: "/home/oneadmin" });
    const outcome = await runSteps(hostPrepSteps({ runner: host }), memoryContext());
    expect(outcome["host-restart-opennebula"]).toBe("skipped");
    expect(host.mutations()).toEqual(["sudo -n -- usermod -aG lxd oneadmin"]);
  });

  it("the restart step also wants a restart when the override's HOME has not reached oned", async () => {
    const host = new FakeHost({ snapd: "2.58", oneadminInLxd: true });
    host.dirs.set("/etc/systemd/system/opennebula.service.d", "root");
    host.files.set(
      "/etc/systemd/system/opennebula.service.d/override.conf",
      "[Service]\nEnvironment=HOME=/home/oneadmin\n",
    );
    const check = await byId(hostPrepSteps(options(host)), "host-restart-opennebula").actions.check(
      memoryContext(),
    );
    expect(check).toMatchObject({ done: false });
    expect(check.detail).toMatch(/HOME=\/var\/lib\/one, the override sets \/home\/oneadmin/);
  });

  it("installs LXD from the snap when snapd is there, from apt otherwise", async () => {
    const snapHost = new FakeHost({ snapd: "2.61.3", lxd: "none" });
    await runSteps([byId(hostPrepSteps(options(snapHost)), "host-lxd")], memoryContext());
    expect(snapHost.mutations()).toEqual([
      "sudo -n -- snap install lxd",
      "sudo -n -- snap start --enable lxd",
      "sudo -n -- lxd waitready --timeout=60",
    ]);

    const aptHost = new FakeHost({ lxd: "none" });
    await runSteps([byId(hostPrepSteps(options(aptHost)), "host-lxd")], memoryContext());
    expect(aptHost.mutations()).toEqual([
      "sudo -n -- env DEBIAN_FRONTEND=noninteractive apt-get install -y lxd",
      "sudo -n -- systemctl enable --now lxd.socket lxd.service",
      "sudo -n -- lxd waitready --timeout=60",
    ]);
    expect(aptHost.lxdRunning).toBe(true);
  });

  it("an installed but stopped LXD is started, not reinstalled", async () => {
    const host = new FakeHost({ snapd: "2.61.3", lxd: "snap", lxdRunning: false });
    const step = byId(hostPrepSteps(options(host)), "host-lxd");
    expect((await step.actions.check(memoryContext())).detail).toMatch(/does not answer/);
    await runSteps([step], memoryContext());
    expect(host.mutations()).toEqual([
      "sudo -n -- snap start --enable lxd",
      "sudo -n -- lxd waitready --timeout=60",
    ]);
  });

  it("refuses to add oneadmin to a missing lxd group", async () => {
    const host = new FakeHost({ lxd: "none" });
    await expect(
      applyChecked(byId(hostPrepSteps(options(host)), "host-oneadmin-lxd-group"), memoryContext()),
    ).rejects.toThrow(/lxd group does not exist/);
  });
});

describe("a host that stays in ERROR", () => {
  it("collects onehost show, oned.log, getfacl, lxc as oneadmin and oned's environment (redacted), and names the cause", async () => {
    // Group added, but the restart is skipped: oned still lacks the group, so monitoring fails.
    const host = new FakeHost({ snapd: "2.61.3", oneadminHome: "/home/oneadmin" });
    const registry = new FakeHostRegistry(host);
    const steps = hostPrepSteps(options(host, { hosts: registry }));
    const ctx = memoryContext();
    await runSteps([byId(steps, "host-oneadmin-lxd-group"), byId(steps, "host-add")], ctx);
    host.groups.get("lxd")?.members.splice(0); // and someone removed the membership again
    const error = await applyChecked(byId(steps, "host-monitored"), ctx).then(
      () => undefined,
      (e: Error & { code?: string; hint?: string; details?: Record<string, unknown> }) => e,
    );
    expect(error?.code).toBe("STEP_FAILED");
    expect(error?.message).toMatch(/stayed in ERROR/);
    expect(error?.message).toContain("permission denied");
    const commands = host.calls.map((c) => c.line);
    expect(commands).toContain("sudo -n -u oneadmin -- onehost show 192.168.3.20");
    expect(commands).toContain("sudo -n -- tail -n 40 /var/log/one/oned.log");
    expect(commands).toContain("sudo -n -- getfacl -p /var/snap/lxd/common/lxd/unix.socket");
    expect(commands).toContain("sudo -n -u oneadmin -- env HOME=/home/oneadmin lxc version");
    expect(commands.some((c) => c.startsWith("sudo -n -- sh -c "))).toBe(true);
    const shown = ctx.logs.join("\n");
    expect(shown).toContain("group: lxd");
    expect(shown).toContain("HOME=/home/oneadmin");
    expect(shown).toContain("ONE_PASSWORD=***");
    expect(shown).not.toContain("fake-secret-pw");
    expect(error?.hint).toMatch(/cannot open the LXD socket/);
  });

  it("points at the snap home fix when lxc refuses oneadmin's home", async () => {
    const host = new FakeHost({ snapd: "2.58", oneadminInLxd: true });
    const registry = new FakeHostRegistry(host);
    const steps = hostPrepSteps(options(host, { hosts: registry, overrideHome: "/var/lib/one" }));
    const ctx = memoryContext();
    await applyChecked(byId(steps, "host-add"), ctx);
    const error = (await applyChecked(byId(steps, "host-monitored"), ctx).catch((e: unknown) => e)) as {
      hint?: string;
      message: string;
    };
    expect(error.message).toContain("outside of /home");
    expect(error.hint).toMatch(/snap home fix/);
  });
});

describe("the calls a step shows are the calls it makes", () => {
  /** Runs each step as the engine does; returns the commands each showed at its gate (after check) and at undo. */
  async function shownAndMade(host: FakeHost) {
    const ctx = memoryContext();
    const steps = hostPrepSteps(options(host));
    const shown: string[] = [];
    for (const step of steps) {
      const found = await step.actions.check(ctx);
      if (found.done) continue;
      const d = step.current?.(ctx, found) ?? step.description;
      shown.push(
        ...d.calls.filter((c) => c.kind === "command").map((c) => c.display.replace(/ {3}# .*$/, "")),
      );
      await step.actions.apply(ctx, found);
      await step.actions.verify(ctx);
    }
    const applied = host.mutations();
    const undoShown: string[] = [];
    for (const step of [...steps].reverse()) {
      if (!ctx.records.some((r) => r.stepId === step.description.id)) continue;
      const d = step.current?.(ctx) ?? step.description;
      undoShown.push(...(d.undoCalls ?? []).map((c) => c.display));
      await step.actions.undo(ctx);
    }
    return { shown, applied, undoShown, undone: host.mutations().slice(applied.length) };
  }

  it("new snapd with other homedirs already set: the homedirs value shown is the one set, and undo's reverse is shown", async () => {
    const r = await shownAndMade(new FakeHost({ snapd: "2.61.3", homedirs: ["/srv/homes"] }));
    expect(r.applied).toContain("sudo -n -- snap set system homedirs=/srv/homes,/var/lib");
    expect(r.applied).toEqual(r.shown);
    expect(r.undone).toContain("sudo -n -- snap set system homedirs=/srv/homes");
    expect(r.undone).toEqual(r.undoShown);
  });

  it("old snapd: the override's directory, file and daemon-reload shown are those written, and removed again", async () => {
    const r = await shownAndMade(new FakeHost({ snapd: "2.58.3" }));
    expect(r.applied).toContain("sudo -n -- tee /etc/systemd/system/opennebula.service.d/override.conf");
    expect(r.applied).toEqual(r.shown);
    expect(r.undone).toContain("sudo -n -- rm -f -- /etc/systemd/system/opennebula.service.d/override.conf");
    expect(r.undone).toEqual(r.undoShown);
  });

  it("no LXD and no snapd: the apt install shown is the one run (not the snap one)", async () => {
    const r = await shownAndMade(new FakeHost({ lxd: "none" }));
    expect(r.shown[0]).toBe("sudo -n -- env DEBIAN_FRONTEND=noninteractive apt-get install -y lxd");
    expect(r.shown.some((c) => c.includes("snap install"))).toBe(false);
    expect(r.applied).toEqual(r.shown);
  });
});
