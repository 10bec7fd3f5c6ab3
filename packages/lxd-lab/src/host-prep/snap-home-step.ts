import { dirname } from "node:path/posix";
import type { Step, StepContext } from "../engine/step.js";
import { StepFailedError } from "../errors.js";
import { overrideSetsHome, overrideWithHome, SNAPD_HOMEDIRS_MIN, snapdSupportsHomedirs } from "./parse.js";
import { lxdIsSnap, ownerOf, probeHomedirs, probeSnapd, probeUser, readHostFile } from "./probes.js";
import { show } from "./show.js";
import { type HostCommandRunner, OVERRIDE_DIR, OVERRIDE_FILE, type ResolvedHostPrep } from "./types.js";

const ID = "host-snap-home";

export type SnapHomeFix =
  | { kind: "not-needed"; done: true; reason: string }
  | { kind: "homedirs"; done: boolean; snapd: string; home: string; dir: string; current: string[] }
  | {
      kind: "override";
      done: boolean;
      snapd: string;
      home: string;
      file: string;
      existing: string | undefined;
      homeOwner: string | undefined;
    };

/**
 * Decides how oneadmin's home outside /home is made acceptable to snap-confined `lxc`:
 * snapd ≥ 2.59 → `snap set system homedirs=<parent of home>`; older → a systemd override giving
 * OpenNebula HOME=/home/oneadmin.
 */
export async function decideSnapHomeFix(
  runner: HostCommandRunner,
  o: ResolvedHostPrep,
): Promise<SnapHomeFix> {
  const snapd = await probeSnapd(runner);
  if (!snapd || !(await lxdIsSnap(runner)))
    return { kind: "not-needed", done: true, reason: "LXD is not a snap: no confinement" };
  const user = await probeUser(runner, o.user);
  if (!user) {
    throw new StepFailedError(
      ID,
      `User ${o.user} does not exist on the host: is OpenNebula installed there?`,
      {
        hint: "Install the OpenNebula node packages (opennebula-node-lxd / opennebula-node-lxc) on the host.",
      },
    );
  }
  if (user.home.startsWith("/home/"))
    return { kind: "not-needed", done: true, reason: `${o.user}'s home ${user.home} is under /home` };
  if (snapdSupportsHomedirs(snapd)) {
    const current = await probeHomedirs(runner);
    const dir = dirname(user.home);
    return { kind: "homedirs", done: current.includes(dir), snapd, home: user.home, dir, current };
  }
  const file = OVERRIDE_FILE(o.service);
  const existing = await readHostFile(runner, file);
  const homeOwner = await ownerOf(runner, o.overrideHome);
  const done = existing !== undefined && overrideSetsHome(existing, o.overrideHome) && homeOwner === o.user;
  return { kind: "override", done, snapd, home: user.home, file, existing, homeOwner };
}

function detail(fix: SnapHomeFix, o: ResolvedHostPrep): string {
  switch (fix.kind) {
    case "not-needed":
      return `not needed: ${fix.reason}`;
    case "homedirs":
      return `snapd ${fix.snapd}, ${o.user}'s home ${fix.home}; homedirs=${fix.current.join(",") || "(unset)"}${fix.done ? "" : `, needs ${fix.dir}`}`;
    case "override":
      return `snapd ${fix.snapd} (< ${SNAPD_HOMEDIRS_MIN}, no homedirs), ${o.user}'s home ${fix.home}; override ${fix.existing === undefined ? "missing" : overrideSetsHome(fix.existing, o.overrideHome) ? "sets HOME" : "lacks HOME"}, ${o.overrideHome} ${fix.homeOwner ? `owned by ${fix.homeOwner}` : "missing"}`;
  }
}

/** snap-confined lxc refuses a home outside /home: allow it (snapd ≥ 2.59) or give OpenNebula HOME=/home/oneadmin. */
export function snapHomeStep(o: ResolvedHostPrep): Step {
  const file = OVERRIDE_FILE(o.service);
  return {
    id: ID,
    title: `snap confinement accepts ${o.user}'s home`,
    why: `OpenNebula's ${o.user} has its home in /var/lib/one. The LXD snap's lxc refuses to run for users whose home is outside /home ("cannot create user data directory"), so monitoring fails even with the right group. snapd 2.59 and later can be told about other home roots (snap set system homedirs); with older snapd, OpenNebula gets HOME=${o.overrideHome} through a systemd override instead.`,
    commands: [
      show("snap", ["version"]),
      show("getent", ["passwd", o.user]),
      `${show("snap", ["set", "system", "homedirs=/var/lib"], { sudo: true })}   # snapd >= ${SNAPD_HOMEDIRS_MIN}`,
      `${show("install", ["-d", "-o", o.user, "-g", o.user, "-m", "0750", o.overrideHome], { sudo: true })}   # older snapd:`,
      `${show("tee", [file], { sudo: true })}   # [Service] Environment=HOME=${o.overrideHome}`,
      show("systemctl", ["daemon-reload"], { sudo: true }),
    ],
    async check(ctx) {
      const fix = await decideSnapHomeFix(o.runner(ctx), o);
      return { done: fix.done, detail: detail(fix, o) };
    },
    async apply(ctx) {
      const runner = o.runner(ctx);
      const fix = await decideSnapHomeFix(runner, o);
      if (fix.done) return;
      const opts = { sudo: true, signal: ctx.signal } as const;
      if (fix.kind === "homedirs") {
        const value = [...fix.current, fix.dir].join(",");
        await ctx.record({
          kind: "snap-homedirs",
          id: "system",
          stepId: ID,
          data: { previous: fix.current.join(",") },
        });
        await runner.run("snap", ["set", "system", `homedirs=${value}`], opts);
        return;
      }
      if (fix.kind !== "override") return;
      await ctx.record({
        kind: "systemd-override",
        id: file,
        stepId: ID,
        data: { previous: fix.existing ?? null },
      });
      if (fix.homeOwner !== o.user) {
        await runner.run("install", ["-d", "-o", o.user, "-g", o.user, "-m", "0750", o.overrideHome], opts);
      }
      if (fix.existing === undefined || !overrideSetsHome(fix.existing, o.overrideHome)) {
        await runner.run("install", ["-d", "-m", "0755", OVERRIDE_DIR(o.service)], opts);
        await runner.run("tee", [file], {
          ...opts,
          input: overrideWithHome(fix.existing ?? "", o.overrideHome),
        });
        await runner.run("systemctl", ["daemon-reload"], opts);
      }
    },
    async verify(ctx) {
      const fix = await decideSnapHomeFix(o.runner(ctx), o);
      if (!fix.done)
        throw new StepFailedError(ID, `The snap home fix is not in place: ${detail(fix, o)}.`, {
          hint: "Run the commands of this step by hand and read their errors.",
        });
    },
    async undo(ctx: StepContext) {
      const runner = o.runner(ctx);
      const opts = { sudo: true, signal: ctx.signal } as const;
      for (const r of ctx.resources("snap-homedirs")) {
        const previous = String(r.data?.previous ?? "");
        if (previous) await runner.run("snap", ["set", "system", `homedirs=${previous}`], opts);
        else await runner.run("snap", ["unset", "system", "homedirs"], opts);
        await ctx.forget("snap-homedirs", r.id);
      }
      for (const r of ctx.resources("systemd-override")) {
        const previous = r.data?.previous;
        if (typeof previous === "string") await runner.run("tee", [r.id], { ...opts, input: previous });
        else await runner.run("rm", ["-f", "--", r.id], opts);
        await runner.run("systemctl", ["daemon-reload"], opts);
        await ctx.forget("systemd-override", r.id);
      }
    },
    diagnostics: [
      "snap version",
      "snap get system homedirs",
      `systemctl cat ${o.service}`,
      `sudo -u ${o.user} env HOME=${o.overrideHome} lxc version`,
    ],
  };
}
