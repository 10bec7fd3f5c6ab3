import type { OneContextVersion } from "../context-versions.js";
import type { SimHypervisor } from "./hypervisor.js";
import { OneSimulator, type OneSimulatorOptions } from "./one-simulator.js";

export interface StartOneSimulatorOptions {
  /** Address to listen on (loopback by default; port 0 picks a free one). */
  host?: string;
  port?: number;
  oneVersion?: OneContextVersion;
  /** Default oneadmin / "opennebula". */
  user?: string;
  password?: string;
  /** What hosts do with VMs (default: nothing, pure simulation). */
  hypervisor?: SimHypervisor;
  /** A monitoring round every this many ms (default 500), besides the one each info call makes. */
  transitionMs?: number;
  /** Hosts registered at start (default: one MONITORED container host named "localhost"). */
  hosts?: OneSimulatorOptions["hosts"];
}

export interface RunningOneSimulator {
  endpoint: string;
  session: string;
  version: string;
  simulator: OneSimulator;
  stop(): Promise<void>;
}

/** Starts a simulated OpenNebula front-end (what `labgate sim opennebula` serves). */
export async function startOneSimulator(
  options: StartOneSimulatorOptions = {},
): Promise<RunningOneSimulator> {
  const user = options.user ?? "oneadmin";
  const password = options.password ?? "opennebula";
  const simulator = new OneSimulator({
    users: { [user]: password },
    oneVersion: options.oneVersion ?? "6.8",
    transitionMs: options.transitionMs ?? 500,
    hosts: options.hosts ?? [{ name: "localhost" }],
    ...(options.hypervisor ? { hypervisor: options.hypervisor } : {}),
  });
  const endpoint = await simulator.start(options.port ?? 0, options.host ?? "127.0.0.1");
  return {
    endpoint,
    session: `${user}:${password}`,
    version: simulator.version,
    simulator,
    stop: () => simulator.stop(),
  };
}
