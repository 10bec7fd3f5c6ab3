import { dirname } from "node:path/posix";
import type { StepDescription } from "../engine/plan-step.js";
import type { LabStep, ResourceRecord } from "../engine/step.js";
import { StepFailedError } from "../errors.js";
import { type HostCall, hostCall, runHostCall } from "./host-call.js";
import { overrideSetsHome, overrideWithHome, SNAPD_HOMEDIRS_MIN, snapdSupportsHomedirs } from "./parse.js";
import { lxdIsSnap, ownerOf, probeHomedirs, probeSnapd, probeUser, readHostFile } from "./probes.js";
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

const sudo = { sudo: true } as const;
const HOMEDIRS = "snap-homedirs";
const OVERRIDE = "systemd-override";

/** The host's snap and systemd commands of this step, each the argv it runs and the line it shows. */
function snapHomeCalls(o: ResolvedHostPrep) {
  const file = OVERRIDE_FILE(o.service);
  return {
    snapVersion: hostCall("snap", ["version"], {}, { kind: "probe" }),
    passwd: hostCall("getent", ["passwd", o.user], {}, { kind: "probe" }),
    setHomedirs: (value: string, note?: string) =>
      hostCall("snap", ["set", "system", `homedirs=${value}`], sudo, note ? { note } : {}),
    unsetHomedirs: hostCall("snap", ["unset", "system", "homedirs"], sudo),
    homeDir: (note?: string) =>
      hostCall(
        "install",
        ["-d", "-o", o.user, "-g", o.user, "-m", "0750", o.overrideHome],
        sudo,
        note ? { note } : {},
      ),
    overrideDir: hostCall("install", ["-d", "-m", "0755", OVERRIDE_DIR(o.service)], sudo),
    writeFile: (path: string, note?: string) => hostCall("tee", [path], sudo, note ? { note } : {}),
    removeFile: (path: string) => hostCall("rm", ["-f", "--", path], sudo),
    daemonReload: hostCall("systemctl", ["daemon-reload"], sudo),
    file,
  };
}

/** One host command of the fix or its undo, with what it writes to stdin. */
interface HostWrite {
  run: HostCall;
  input?: string;
  /** The record this write finishes undoing, forgotten once it ran. */
  forget?: { kind: string; id: string };
}

/** What apply runs for the fix check found: nothing, the homedirs setting, or the override. */
function fixWrites(o: ResolvedHostPrep, fix: SnapHomeFix): HostWrite[] {
  const c = snapHomeCalls(o);
  if (fix.kind === "not-needed" || fix.done) return [];
  if (fix.kind === "homedirs") return [{ run: c.setHomedirs([...fix.current, fix.dir].join(",")) }];
  const writes: HostWrite[] = [];
  if (fix.homeOwner !== o.user) writes.push({ run: c.homeDir() });
  if (fix.existing === undefined || !overrideSetsHome(fix.existing, o.overrideHome)) {
    writes.push(
      { run: c.overrideDir },
      { run: c.writeFile(fix.file), input: overrideWithHome(fix.existing ?? "", o.overrideHome) },
      { run: c.daemonReload },
    );
  }
  return writes;
}

/** What undo runs for what this step recorded: the previous homedirs, the previous override (or none). */
function undoWrites(o: ResolvedHostPrep, records: (kind: string) => ResourceRecord[]): HostWrite[] {
  const c = snapHomeCalls(o);
  const writes: HostWrite[] = [];
  for (const r of records(HOMEDIRS)) {
    const previous = String(r.data?.["previous"] ?? "");
    const forget = { kind: HOMEDIRS, id: r.id };
    writes.push({ run: previous ? c.setHomedirs(previous) : c.unsetHomedirs, forget });
  }
  for (const r of records(OVERRIDE)) {
    const previous = r.data?.["previous"];
    writes.push(
      typeof previous === "string"
        ? { run: c.writeFile(r.id), input: previous }
        : { run: c.removeFile(r.id) },
      { run: c.daemonReload, forget: { kind: OVERRIDE, id: r.id } },
    );
  }
  return writes;
}

/** snap-confined lxc refuses a home outside /home: allow it (snapd ≥ 2.59) or give OpenNebula HOME=/home/oneadmin. */
export function snapHomeStep(o: ResolvedHostPrep): LabStep<SnapHomeFix> {
  const c = snapHomeCalls(o);
  const description: StepDescription = {
    id: ID,
    title: `snap confinement accepts ${o.user}'s home`,
    why: `OpenNebula's ${o.user} has its home in /var/lib/one. The LXD snap's lxc refuses to run for users whose home is outside /home ("cannot create user data directory"), so monitoring fails even with the right group. snapd 2.59 and later can be told about other home roots (snap set system homedirs); with older snapd, OpenNebula gets HOME=${o.overrideHome} through a systemd override instead.`,
    calls: [
      c.snapVersion.call,
      c.passwd.call,
      c.setHomedirs("/var/lib", `snapd >= ${SNAPD_HOMEDIRS_MIN}`).call,
      c.homeDir("older snapd:").call,
      c.overrideDir.call,
      c.writeFile(c.file, `[Service] Environment=HOME=${o.overrideHome}`).call,
      c.daemonReload.call,
    ],
    diagnostics: [
      "snap version",
      "snap get system homedirs",
      `systemctl cat ${o.service}`,
      `sudo -u ${o.user} env HOME=${o.overrideHome} lxc version`,
    ],
  };
  return {
    description,
    // Once checked, the calls apply makes for what was found; for undo, the reverse of what was recorded.
    current: (ctx, found) => ({
      ...description,
      ...(found?.facts
        ? { calls: [c.snapVersion.call, c.passwd.call, ...fixWrites(o, found.facts).map((w) => w.run.call)] }
        : {}),
      undoCalls: undoWrites(o, (kind) => ctx.resources(kind)).map((w) => w.run.call),
    }),
    actions: {
      async check(ctx) {
        const fix = await decideSnapHomeFix(o.runner(ctx), o);
        return { done: fix.done, detail: detail(fix, o), facts: fix };
      },
      async apply(ctx, found) {
        const fix = found.facts;
        const writes = fixWrites(o, fix);
        if (writes.length === 0) return;
        // Intent first: what was there before, so undo can put it back.
        if (fix.kind === "homedirs")
          await ctx.record({
            kind: HOMEDIRS,
            id: "system",
            stepId: ID,
            data: { previous: fix.current.join(",") },
          });
        if (fix.kind === "override")
          await ctx.record({
            kind: OVERRIDE,
            id: fix.file,
            stepId: ID,
            data: { previous: fix.existing ?? null },
          });
        const runner = o.runner(ctx);
        for (const w of writes)
          await runHostCall(runner, w.run, {
            signal: ctx.signal,
            ...(w.input === undefined ? {} : { input: w.input }),
          });
      },
      async verify(ctx) {
        const fix = await decideSnapHomeFix(o.runner(ctx), o);
        if (!fix.done)
          throw new StepFailedError(ID, `The snap home fix is not in place: ${detail(fix, o)}.`, {
            hint: "Run the commands of this step by hand and read their errors.",
          });
      },
      async undo(ctx) {
        const runner = o.runner(ctx);
        for (const w of undoWrites(o, (kind) => ctx.resources(kind))) {
          await runHostCall(runner, w.run, {
            signal: ctx.signal,
            ...(w.input === undefined ? {} : { input: w.input }),
          });
          if (w.forget) await ctx.forget(w.forget.kind, w.forget.id);
        }
      },
    },
  };
}
