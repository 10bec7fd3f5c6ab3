import {
  instanceStateCall,
  type LxdClient,
  type LxdStateOptions,
  PreconditionError,
  pollUntil,
} from "@labgate/core";
import type { StepContext } from "../engine/step.js";
import { FaultActionError, HaproxyRuntimeError } from "../errors.js";
import { LB_STATS_SOCKET } from "../haproxy/lb-cloud-init.js";
import { haproxyBackendName } from "../haproxy/render-config.js";
import { probeServedBy } from "../providers/lxd/lab-payloads.js";
import { type LxdInstancePlan, type LxdLabOptions, lxdLabOptions } from "../providers/lxd/lxd-lab-options.js";
import { recordedAddress } from "../providers/lxd/lxd-runtime.js";
import type { LabSpec } from "../spec/lab-spec.js";
import type { FaultActuator, FaultHandle } from "./fault-runner.js";
import type { FaultSpec } from "./fault-spec.js";
import { faultTargetApp } from "./fault-target.js";
import { assertSafeRuntimeCommand } from "./haproxy-runtime.js";
import {
  type LinkCommand,
  netemAddCommand,
  netemDeleteCommand,
  netemFault,
  netemShowCommand,
} from "./netem-fault.js";
import { haproxyAdminFault } from "./process-fault.js";

/** The NIC every lab container has on the lab bridge (instance-step.ts instanceDevices). */
export const LXD_LAB_NIC = "eth0";

/**
 * Fault actions on the LXD lab, all through LXD's REST API: stop / kill = PUT state stop (force for
 * kill), pause = freeze; drain / maint through HAProxy's runtime API socket inside the LB container;
 * delay / loss = tc netem on the backend's eth0 inside its container. Each undo reads the live state
 * back (instance status, `show servers state`, `tc qdisc show`) and is a no-op when nothing is left
 * to undo. Throws before anything runs when a target is not one of the lab's apps.
 */
export function lxdFaultActuator(ctx: StepContext, client: LxdClient): FaultActuator {
  const o = lxdLabOptions(ctx.spec);
  return (fault: FaultSpec): FaultHandle => {
    const app = lxdFaultTarget(o, fault);
    switch (fault.action) {
      case "stop":
      case "kill":
        return instanceStopFault(fault, app, {
          client,
          ready: (signal) =>
            probeServedBy(
              `http://${recordedAddress(ctx, app.instance, "faults").ip}:${app.port}/health`,
              [app.instance],
              signal,
            ),
          timeoutMs: o.timeoutMs,
        });
      case "pause":
        return instanceFreezeFault(app, client);
      case "drain":
      case "maint":
        return haproxyAdminFault(fault, {
          socketPath: lxdLbRuntimeApi(client, o.lb.instance),
          backend: haproxyBackendName(ctx.spec.name),
          server: app.instance,
        });
      default:
        return netemFault(fault, app.instance, LXD_LAB_NIC, lxdExecIn(client, app.instance));
    }
  };
}

/** The lab app a fault names, by its short name (app2) or its instance name (<lab>-app2). */
export function lxdFaultTarget(o: LxdLabOptions, fault: FaultSpec): LxdInstancePlan {
  return faultTargetApp(o.lab, o.apps, fault, (a) => a.instance);
}

/** Runs an argument array inside an instance (LXD exec, no shell). */
export function lxdExecIn(client: LxdClient, instance: string): LinkCommand {
  return (command) => client.exec(instance, command, { timeoutMs: 15_000 });
}

/**
 * Sends one runtime API command to the HAProxy inside the LB container: python3 (in labgate's images,
 * and needed by cloud-init) connects to the socket there; the command travels as an argument, never
 * through a shell.
 */
export function lxdLbRuntimeApi(client: LxdClient, lbInstance: string): (command: string) => Promise<string> {
  return async (command) => {
    const r = await client.exec(lbInstance, lbRuntimeArgv(command), { timeoutMs: 15_000 });
    if (r.exitCode !== 0) {
      throw new HaproxyRuntimeError(
        "HAPROXY_RUNTIME_UNREACHABLE",
        `HAProxy runtime API ${LB_STATS_SOCKET} in ${lbInstance} did not answer '${command}' (exit ${r.exitCode}): ${r.stderr.trim().slice(-300)}`,
        `Check that HAProxy runs in ${lbInstance} (\`lxc exec ${lbInstance} -- systemctl status haproxy\`); \`labgate lab up\` repairs the LB.`,
        { instance: lbInstance, command, exitCode: r.exitCode },
      );
    }
    return r.stdout;
  };
}

/** The command, run inside an LB instance, that sends one runtime API command to its HAProxy and prints the answer. */
export function lbRuntimeArgv(command: string): string[] {
  assertSafeRuntimeCommand(command);
  return ["python3", "-c", RUNTIME_CLIENT_PY, LB_STATS_SOCKET, command];
}

/** One command to a unix socket, the answer to stdout (HAProxy answers, then closes: management.txt). */
const RUNTIME_CLIENT_PY = [
  "import socket, sys",
  "s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)",
  "s.settimeout(5)",
  "s.connect(sys.argv[1])",
  "s.sendall(sys.argv[2].encode() + b'\\n')",
  "out = b''",
  "while True:",
  "    chunk = s.recv(65536)",
  "    if not chunk:",
  "        break",
  "    out += chunk",
  "sys.stdout.write(out.decode())",
].join("\n");

interface StopDeps {
  client: LxdClient;
  /** undefined when the app answers its health check with its own name, else what was seen. */
  ready: (signal: AbortSignal) => Promise<string | undefined>;
  timeoutMs: number;
}

/**
 * stop: PUT state {"action":"stop"} (init gets SIGPWR and ends every process), kill: the same with
 * force (LXD kills the container at once). Done when LXD reports Stopped. Undo starts it when it is not
 * running and waits until the app answers again (the image's boot hooks restore its address and app).
 */
/** What stop and kill send (and the gate shows): kill forces, stop gives init 30 s to shut down. */
function stopOptions(fault: FaultSpec): LxdStateOptions {
  return { force: fault.action === "kill", timeoutSeconds: 30 };
}

function instanceStopFault(fault: FaultSpec, app: LxdInstancePlan, deps: StopDeps): FaultHandle {
  const { client } = deps;
  const name = app.instance;
  return {
    async apply() {
      await assertRunning(client, name, fault.action === "kill" ? "killed" : "stopped");
      await client.setInstanceState(name, "stop", { ...stopOptions(fault), timeoutMs: 60_000 });
      const after = (await client.getInstance(name))?.status;
      if (after !== "Stopped") throw notInEffect(name, after, "stopped");
    },
    async undo() {
      const status = (await client.getInstance(name))?.status;
      if (status === undefined) {
        throw new FaultActionError(
          "FAULT_TARGET_STATE",
          `${name} is missing, so it cannot be started again`,
          "`labgate lab up` recreates it.",
          { instance: name },
        );
      }
      if (status === "Frozen") await client.setInstanceState(name, "unfreeze", { timeoutMs: 30_000 });
      else if (status !== "Running") await client.setInstanceState(name, "start", { timeoutMs: 60_000 });
      const live = (await client.getInstance(name))?.status;
      if (live !== "Running") throw notInEffect(name, live, "started");
      await waitReady(name, deps);
    },
  };
}

async function waitReady(name: string, deps: StopDeps): Promise<void> {
  await pollUntil(
    `${name} to answer again`,
    () => deps.ready(AbortSignal.timeout(5_000)),
    (problem) => problem === undefined,
    {
      timeoutMs: deps.timeoutMs,
      intervalMs: 200,
      timedOut: (problem) =>
        new FaultActionError(
          "FAULT_NOT_READY",
          `${name} runs again but its app does not answer: ${problem}`,
          `Look at the app inside it (\`lxc exec ${name} -- journalctl -b\`); \`labgate lab up\` repairs it.`,
          { instance: name, problem, timeoutMs: deps.timeoutMs },
        ),
    },
  );
}

/** A fault acts only on a running instance: its live status, read before anything changes. */
async function assertRunning(client: LxdClient, name: string, done: string): Promise<void> {
  const status = (await client.getInstance(name))?.status ?? "missing";
  if (status !== "Running") {
    throw new FaultActionError(
      "FAULT_TARGET_STATE",
      `${name} is ${status}, so it cannot be ${done}`,
      "Bring the lab back first (`labgate lab up`), then run the faults again.",
      { instance: name, status },
    );
  }
}

/** LXD accepted a state change but the instance's live status is not the one it asked for. */
function notInEffect(name: string, status: string | undefined, did: string): FaultActionError {
  return new FaultActionError(
    "FAULT_NOT_IN_EFFECT",
    `${name} is ${status ?? "missing"} after LXD ${did} it`,
    `Look at the instance (\`lxc info ${name} --show-log\`); \`labgate lab up\` brings the lab back.`,
    { instance: name, status: status ?? "missing" },
  );
}

/** pause: PUT state {"action":"freeze"} (cgroup freezer: every process stops, sockets stay); undo unfreezes. */
function instanceFreezeFault(app: LxdInstancePlan, client: LxdClient): FaultHandle {
  const name = app.instance;
  return {
    async apply() {
      await assertRunning(client, name, "paused");
      await client.setInstanceState(name, "freeze", { timeoutMs: 30_000 });
      const after = (await client.getInstance(name))?.status;
      if (after !== "Frozen") throw notInEffect(name, after, "froze");
    },
    async undo() {
      const status = (await client.getInstance(name))?.status;
      if (status !== "Frozen") return;
      await client.setInstanceState(name, "unfreeze", { timeoutMs: 30_000 });
      const after = (await client.getInstance(name))?.status;
      if (after !== "Running") throw notInEffect(name, after, "unfroze");
    },
  };
}

/**
 * delay/loss need the kernel's netem qdisc (sch_netem), which some kernels leave out. Asked once, before
 * any fault runs, on a throwaway veth pair inside the container (the backend's own eth0 is not touched).
 * Throws FAULT_NETEM_UNAVAILABLE when the kernel says the qdisc kind is unknown.
 */
export async function assertLxdNetem(
  client: LxdClient,
  spec: LabSpec,
  faults: readonly FaultSpec[],
): Promise<void> {
  const o = lxdLabOptions(spec);
  const link = faults.filter((f) => f.action === "delay" || f.action === "loss");
  const first = link[0];
  if (!first) return;
  const instance = lxdFaultTarget(o, first).instance;
  const r = await client.exec(instance, ["sh", "-c", NETEM_PROBE_SH], { timeoutMs: 15_000 });
  if (r.exitCode === 0 || !/qdisc kind is unknown/i.test(r.stderr)) return;
  throw new PreconditionError(
    "FAULT_NETEM_UNAVAILABLE",
    `Fault '${first.text}' needs tc netem, and the kernel running lab "${spec.name}" has no netem qdisc ` +
      `(tc in ${instance}: ${r.stderr.trim().split("\n")[0]}).`,
    {
      hint:
        "Load it on the LXD host (`modprobe sch_netem`) or use a kernel built with CONFIG_NET_SCH_NETEM; " +
        "stop, kill, pause, drain and maint work without it.",
      details: { faults: link.map((f) => f.text), instance },
    },
  );
}

const NETEM_PROBE_SH = [
  "ip link add lgnetem0 type veth peer name lgnetem1 || exit 0",
  "tc qdisc add dev lgnetem0 root netem delay 1ms",
  "r=$?",
  "ip link del lgnetem0",
  "exit $r",
].join("\n");

/** What the gate shows for a fault on an LXD lab: the REST calls and commands that do it and undo it. */
export function lxdFaultCalls(spec: LabSpec, fault: FaultSpec): { apply: string; undo: string } {
  const o = lxdLabOptions(spec);
  const app = o.apps.find((a) => a.name === fault.target || a.instance === fault.target);
  const name = app?.instance ?? fault.target;
  const exec = (instance: string, argv: string[]) =>
    `POST /1.0/instances/${instance}/exec ${JSON.stringify({ command: argv })}`;
  const runtime = (admin: string) =>
    `POST /1.0/instances/${o.lb.instance}/exec python3 → ${LB_STATS_SOCKET}: set server ${haproxyBackendName(spec.name)}/${name} state ${admin}`;
  switch (fault.action) {
    case "stop":
    case "kill":
      return {
        apply: instanceStateCall(name, "stop", stopOptions(fault)),
        undo: `${instanceStateCall(name, "start")}; GET http://<${name} address>:${app?.port ?? "<port>"}/health until 200`,
      };
    case "pause":
      return { apply: instanceStateCall(name, "freeze"), undo: instanceStateCall(name, "unfreeze") };
    case "drain":
    case "maint":
      return { apply: runtime(fault.action), undo: runtime("ready") };
    default:
      return {
        apply: exec(name, netemAddCommand(fault, LXD_LAB_NIC)),
        undo: `${exec(name, netemShowCommand(LXD_LAB_NIC))}; if netem: ${exec(name, netemDeleteCommand(LXD_LAB_NIC))}`,
      };
  }
}
