import {
  CommandFailedError,
  commandWords,
  displayCommandLine,
  type Runner,
  type RunOptions,
  type RunResult,
} from "@labgate/core";
import type { ResourceRecord, StepContext } from "../../engine/step.js";
import { compareVersions, overrideSetsHome } from "../parse.js";
import { ENVIRON_SCRIPT } from "../probes.js";
import type { HostRecord, HostRegistry } from "../types.js";

const SNAP_SOCKET = "/var/snap/lxd/common/lxd/unix.socket";
const APT_SOCKET = "/var/lib/lxd/unix.socket";
const OVERRIDE = "/etc/systemd/system/opennebula.service.d/override.conf";

export interface FakeHostSetup {
  /** snapd version, or undefined when snapd is not installed. */
  snapd?: string;
  lxd?: "none" | "snap" | "apt";
  lxdRunning?: boolean;
  oneadminHome?: string;
  oneadminInLxd?: boolean;
  /** oned already restarted after joining lxd. */
  onedHasLxdGroup?: boolean;
  homedirs?: string[];
  /** false: an LXD node without OpenNebula's front-end (no oned, no opennebula unit). */
  frontend?: boolean;
}

interface Call {
  command: string;
  args: readonly string[];
  options: RunOptions;
  line: string;
}

/**
 * A model of an OpenNebula host that answers the commands host preparation runs, with the behaviour that
 * matters: group membership reaches oned only on restart, the override only after daemon-reload, snapd
 * < 2.59 rejects `homedirs`, snap-confined lxc refuses homes outside /home. Unknown commands exit 127.
 */
export class FakeHost implements Runner {
  readonly target = "fake-host";
  readonly calls: Call[] = [];
  snapd: string | undefined;
  lxd: "none" | "snap" | "apt";
  lxdRunning: boolean;
  homedirs: string[];
  readonly groups = new Map<string, { gid: number; members: string[] }>();
  readonly users = new Map<string, { uid: number; gid: number; home: string }>();
  readonly files = new Map<string, string>();
  readonly dirs = new Map<string, string>();
  loadedHome: string | undefined;
  readonly frontend: boolean;
  oned: { pid: number; groups: number[]; env: Record<string, string> } | undefined;
  #nextPid = 4000;

  constructor(setup: FakeHostSetup = {}) {
    this.snapd = setup.snapd;
    this.lxd = setup.lxd ?? "snap";
    this.lxdRunning = setup.lxdRunning ?? this.lxd !== "none";
    this.homedirs = setup.homedirs ?? [];
    this.users.set("oneadmin", { uid: 9869, gid: 9869, home: setup.oneadminHome ?? "/var/lib/one" });
    this.groups.set("oneadmin", { gid: 9869, members: [] });
    if (this.lxd !== "none")
      this.groups.set("lxd", { gid: 998, members: setup.oneadminInLxd ? ["oneadmin"] : [] });
    this.frontend = setup.frontend ?? true;
    if (this.frontend) this.#startOned();
    if (setup.onedHasLxdGroup === false && this.oned) this.oned.groups = [9869];
  }

  #startOned(): void {
    const user = this.users.get("oneadmin");
    if (!user) return;
    const groups = [
      user.gid,
      ...[...this.groups.values()].filter((g) => g.members.includes("oneadmin")).map((g) => g.gid),
    ];
    this.oned = {
      pid: this.#nextPid++,
      groups: [...new Set(groups)],
      env: {
        PATH: "/usr/bin:/bin",
        HOME: this.loadedHome ?? user.home,
        ONE_PASSWORD: "fake-secret-pw",
        LANG: "C.UTF-8",
      },
    };
  }

  /** Would `lxc` work for oneadmin with these groups and HOME? Returns the error lxc would print, or undefined. */
  lxcProblem(groups: number[], home: string): string | undefined {
    if (this.lxd === "none") return "lxc: command not found";
    const socket = this.lxd === "snap" ? SNAP_SOCKET : APT_SOCKET;
    if (this.lxd === "snap" && !home.startsWith("/home/")) {
      const covered =
        this.snapd !== undefined &&
        compareVersions(this.snapd, "2.59") >= 0 &&
        this.homedirs.some((d) => home.startsWith(`${d}/`));
      if (!covered)
        return "Sorry, home directories outside of /home are not currently supported. \nSee https://forum.snapcraft.io/t/11209 for details.";
    }
    if (!this.lxdRunning) return undefined;
    const lxd = this.groups.get("lxd");
    if (!lxd || !groups.includes(lxd.gid))
      return `Error: Get "http://unix.socket/1.0": dial unix ${socket}: connect: permission denied`;
    return undefined;
  }

  /** What oned's monitoring sees, as OpenNebula would record it in the host's ERROR. */
  monitorProblem(): string | undefined {
    if (!this.oned) return "oned is not running";
    return this.lxcProblem(this.oned.groups, this.oned.env.HOME ?? "/");
  }

  describe(command: string, args: readonly string[], options: RunOptions = {}): string {
    return displayCommandLine(commandWords(command, args, options), options.cwd);
  }

  /** Commands that change the host, in order. */
  mutations(): string[] {
    const readOnly =
      /^(sudo -n (-u oneadmin )?-- )?(env \S+ )?(getent|snap version|snap list|snap get|lxc version|lxd --version|test|cat|stat|pgrep|sh -c|onehost show|tail|getfacl|systemctl cat)\b/;
    return this.calls.map((c) => c.line).filter((l) => !readOnly.test(l));
  }

  async close(): Promise<void> {}

  async run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    const line = this.describe(command, args, options);
    this.calls.push({ command, args, options, line });
    const [exitCode, stdout, stderr] = this.#answer(command, [...args], options);
    if (exitCode !== 0 && !options.allowFailure)
      throw new CommandFailedError(line, exitCode, stderr.trim(), this.target);
    return { stdout, stderr, exitCode, command: line, durationMs: 0 };
  }

  #answer(command: string, args: string[], options: RunOptions): [number, string, string] {
    const root = options.sudo === true;
    const key = [command, ...args].join(" ");
    const user = this.users.get("oneadmin");
    switch (command) {
      case "snap": {
        if (!this.snapd) return [127, "", "sh: 1: snap: not found\n"];
        if (key === "snap version")
          return [0, `snap    ${this.snapd}\nsnapd   ${this.snapd}\nseries  16\nubuntu  22.04\n`, ""];
        if (key === "snap list lxd")
          return this.lxd === "snap"
            ? [0, "Name  Version  Rev  Tracking\nlxd   5.21.1  28463  5.21/stable\n", ""]
            : [1, "", "error: no matching snaps installed\n"];
        if (key === "snap get system homedirs")
          return this.homedirs.length
            ? [0, `${this.homedirs.join(",")}\n`, ""]
            : [1, "", 'error: snap "core" has no "homedirs" configuration option\n'];
        if (!root) return [1, "", "error: access denied (try with sudo)\n"];
        if (args[0] === "set" && args[1] === "system" && args[2]?.startsWith("homedirs=")) {
          if (compareVersions(this.snapd, "2.59") < 0)
            return [
              1,
              "",
              'error: cannot perform the following tasks:\n- Run configure hook of "core" snap (unsupported system option: "homedirs")\n',
            ];
          this.homedirs = args[2].slice("homedirs=".length).split(",").filter(Boolean);
          return [0, "", ""];
        }
        if (key === "snap unset system homedirs") {
          this.homedirs = [];
          return [0, "", ""];
        }
        if (key === "snap install lxd") {
          this.lxd = "snap";
          if (!this.groups.has("lxd")) this.groups.set("lxd", { gid: 998, members: [] });
          this.lxdRunning = true;
          return [0, "lxd 5.21.1 from Canonical✓ installed\n", ""];
        }
        if (key === "snap start --enable lxd") {
          if (this.lxd !== "snap") return [1, "", 'error: snap "lxd" not found\n'];
          this.lxdRunning = true;
          return [0, "Started.\n", ""];
        }
        return [1, "", `error: unknown command "${args[0]}"\n`];
      }
      case "apt-get":
        if (!root)
          return [
            100,
            "",
            "E: Could not open lock file /var/lib/dpkg/lock-frontend - open (13: Permission denied)\n",
          ];
        if (key === "apt-get install -y lxd") {
          if (options.env?.DEBIAN_FRONTEND !== "noninteractive")
            return [1, "", "debconf: unable to initialize frontend: Dialog\n"];
          this.lxd = "apt";
          if (!this.groups.has("lxd")) this.groups.set("lxd", { gid: 998, members: [] });
          return [0, "Setting up lxd (5.0.2-5) ...\n", ""];
        }
        return [100, "", "E: Invalid operation\n"];
      case "lxd":
        if (this.lxd === "none") return [127, "", "sh: 1: lxd: not found\n"];
        if (key === "lxd --version") return [0, this.lxd === "snap" ? "5.21.1\n" : "5.0.2\n", ""];
        if (args[0] === "waitready")
          return this.lxdRunning
            ? [0, "", ""]
            : [
                1,
                "",
                'Error: LXD still not running after 60s timeout (Get "http://unix.socket/1.0": dial unix: connect: no such file or directory)\n',
              ];
        return [1, "", "Error: unknown command\n"];
      case "lxc": {
        if (this.lxd === "none") return [127, "", "sh: 1: lxc: not found\n"];
        const version = this.lxd === "snap" ? "5.21.1" : "5.0.2";
        let problem: string | undefined;
        if (options.sudoUser === "oneadmin" && user) {
          const groups = [
            user.gid,
            ...[...this.groups.values()].filter((g) => g.members.includes("oneadmin")).map((g) => g.gid),
          ];
          problem = this.lxcProblem(groups, options.env?.HOME ?? user.home);
        } else if (!root) problem = "permission denied";
        if (problem) return [1, "", `${problem}\n`];
        return [
          0,
          `Client version: ${version}\nServer version: ${this.lxdRunning ? version : "unreachable"}\n`,
          "",
        ];
      }
      case "test": {
        const socket = this.lxd === "snap" ? SNAP_SOCKET : this.lxd === "apt" ? APT_SOCKET : undefined;
        return args[0] === "-S" && this.lxdRunning && args[1] === socket ? [0, "", ""] : [1, "", ""];
      }
      case "getent": {
        if (args[0] === "group") {
          const g = this.groups.get(args[1] ?? "");
          return g ? [0, `${args[1]}:x:${g.gid}:${g.members.join(",")}\n`, ""] : [2, "", ""];
        }
        const u = this.users.get(args[1] ?? "");
        return u ? [0, `${args[1]}:x:${u.uid}:${u.gid}::${u.home}:/bin/bash\n`, ""] : [2, "", ""];
      }
      case "usermod": {
        if (!root) return [1, "", "usermod: Permission denied.\n"];
        const group = this.groups.get(args[1] ?? "");
        if (args[0] !== "-aG" || !group) return [6, "", `usermod: group '${args[1]}' does not exist\n`];
        if (!group.members.includes(args[2] ?? "")) group.members.push(args[2] ?? "");
        return [0, "", ""];
      }
      case "gpasswd": {
        const group = this.groups.get(args[2] ?? "");
        if (!root || args[0] !== "-d" || !group) return [3, "", "gpasswd: error\n"];
        group.members = group.members.filter((m) => m !== args[1]);
        return [0, `Removing user ${args[1]} from group ${args[2]}\n`, ""];
      }
      case "cat": {
        const path = args[args.length - 1] ?? "";
        const proc = /^\/proc\/(\d+)\/status$/.exec(path);
        if (proc) {
          if (!this.oned || Number(proc[1]) !== this.oned.pid)
            return [1, "", `cat: ${path}: No such file or directory\n`];
          return [0, `Name:\toned\nPid:\t${this.oned.pid}\nGroups:\t${this.oned.groups.join(" ")} \n`, ""];
        }
        const content = this.files.get(path);
        return content === undefined
          ? [1, "", `cat: ${path}: No such file or directory\n`]
          : [0, content, ""];
      }
      case "sh": {
        if (
          args[0] === "-c" &&
          args[1] === ENVIRON_SCRIPT &&
          root &&
          this.oned &&
          args[3] === String(this.oned.pid)
        ) {
          return [
            0,
            Object.entries(this.oned.env)
              .map(([k, v]) => `${k}=${v}\n`)
              .join(""),
            "",
          ];
        }
        return [1, "", "sh: cannot open /proc/environ\n"];
      }
      case "stat": {
        const owner = this.dirs.get(args[args.length - 1] ?? "");
        return owner ? [0, `${owner}\n`, ""] : [1, "", "stat: cannot statx: No such file or directory\n"];
      }
      case "install": {
        if (!root) return [1, "", "install: Permission denied\n"];
        const owner = args.includes("-o") ? args[args.indexOf("-o") + 1] : "root";
        this.dirs.set(args[args.length - 1] ?? "", owner ?? "root");
        return [0, "", ""];
      }
      case "tee": {
        const path = args[0] ?? "";
        const dir = path.slice(0, path.lastIndexOf("/"));
        if (!root || !this.dirs.has(dir)) return [1, "", `tee: ${path}: No such file or directory\n`];
        this.files.set(path, options.input ?? "");
        return [0, options.input ?? "", ""];
      }
      case "rm":
        this.files.delete(args[args.length - 1] ?? "");
        return [0, "", ""];
      case "systemctl": {
        if (key === "systemctl cat -- opennebula.service") {
          return this.frontend
            ? [0, "# /lib/systemd/system/opennebula.service\n[Service]\nExecStart=/usr/bin/oned -f\n", ""]
            : [1, "", "No files found for opennebula.service.\n"];
        }
        if (!root) return [1, "", "Failed: Interactive authentication required.\n"];
        if (key === "systemctl daemon-reload") {
          const content = this.files.get(OVERRIDE);
          this.loadedHome =
            content && overrideSetsHome(content, "/home/oneadmin") ? "/home/oneadmin" : undefined;
          return [0, "", ""];
        }
        if (key === "systemctl restart opennebula" && this.frontend) {
          this.#startOned();
          return [0, "", ""];
        }
        if (args[0] === "enable" && args.includes("--now") && this.lxd === "apt") {
          this.lxdRunning = true;
          return [0, "", ""];
        }
        return [5, "", `Failed to ${args[0]}: Unit not found.\n`];
      }
      case "pgrep":
        return this.oned && key === "pgrep -o -x oned" ? [0, `${this.oned.pid}\n`, ""] : [1, "", ""];
      case "onehost":
        return [0, `HOST ${args[1]} INFORMATION\nSTATE          : ERROR\nIM_MAD         : lxd\n`, ""];
      case "tail":
        return [0, `[Z0][InM][D]: Monitoring host 0\n[Z0][InM][E]: ${this.monitorProblem() ?? "ok"}\n`, ""];
      case "getfacl":
        return [
          0,
          `# file: ${args[1]}\n# owner: root\n# group: lxd\nuser::rw-\ngroup::rw-\nother::---\n`,
          "",
        ];
      default:
        return [127, "", `sh: 1: ${command}: not found\n`];
    }
  }
}

/** OpenNebula's host pool as the steps see it: a new host is INIT, then MONITORED or ERROR by what oned sees. */
export class FakeHostRegistry implements HostRegistry {
  readonly hosts = new Map<number, HostRecord>();
  #next = 0;
  constructor(readonly host: FakeHost) {}

  async findHost(name: string): Promise<HostRecord | undefined> {
    return [...this.hosts.values()].find((h) => h.name === name);
  }
  async hostAllocate(name: string): Promise<number> {
    const id = this.#next++;
    this.hosts.set(id, { id, name, stateName: "INIT" });
    return id;
  }
  async hostInfo(id: number): Promise<HostRecord> {
    const h = this.hosts.get(id);
    if (!h) throw new Error(`host ${id} not found`);
    if (h.stateName === "INIT") {
      this.hosts.set(id, { ...h, stateName: "MONITORING_INIT" });
      return { ...h };
    }
    const problem = this.host.monitorProblem();
    const next: HostRecord = problem
      ? { id, name: h.name, stateName: "ERROR", error: `Error monitoring host ${h.name}: ${problem}` }
      : { id, name: h.name, stateName: "MONITORED" };
    this.hosts.set(id, next);
    return { ...next };
  }
  async hostDelete(id: number): Promise<void> {
    this.hosts.delete(id);
  }
}

/** A StepContext holding resources in memory. */
export function memoryContext(): StepContext & { logs: string[]; records: ResourceRecord[] } {
  const records: ResourceRecord[] = [];
  const logs: string[] = [];
  return {
    spec: {} as StepContext["spec"],
    stateDir: "/nonexistent",
    signal: new AbortController().signal,
    logs,
    records,
    log: (m) => logs.push(m),
    async record(r) {
      const i = records.findIndex((x) => x.kind === r.kind && x.id === r.id);
      if (i >= 0) records[i] = r;
      else records.push(r);
    },
    async forget(kind, id) {
      const i = records.findIndex((x) => x.kind === kind && x.id === id);
      if (i >= 0) records.splice(i, 1);
    },
    resources: (kind) => records.filter((r) => kind === undefined || r.kind === kind),
  };
}
