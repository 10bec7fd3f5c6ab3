import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InvalidInputError, isValidIpv4, LxdClient, PreconditionError } from "@labgate/core";
import {
  LxdSimHypervisor,
  type RunningOneSimulator,
  SIM_DEFAULT_IMAGE,
  type SimOneVersion,
  startOneSimulator,
} from "@labgate/core/simulators";
import type { Command } from "commander";
import { createOutput } from "../output.js";
import { type LabIo, processIo } from "./lab-context.js";
import { LXD_SOCKET_HELP } from "./lxd-socket-help.js";

export interface SimOpenNebulaFlags {
  listen?: string;
  lxd?: boolean;
  oneVersion?: string;
  image?: string;
  socket?: string;
  user?: string;
  json?: boolean;
}

const VERSIONS: readonly SimOneVersion[] = ["6.8", "6.10.0", "6.10.5", "7.0"];

export interface SimOpenNebulaResult {
  endpoint: string;
  version: string;
  oneVersion: SimOneVersion;
  user: string;
  /** ONE_AUTH file with user:password (mode 0600), removed when the simulator stops. */
  authFile: string;
  lxd: { image: string; socket: string | undefined; sessionId: string } | null;
}

/** `labgate sim opennebula`: a simulated OpenNebula front-end, optionally running its VMs in real LXD containers. */
export function registerSimCommands(program: Command): void {
  const sim = program.command("sim").description("Simulated platforms to rehearse labs against.");
  sim
    .command("opennebula")
    .description(
      "Serve a simulated OpenNebula front-end (XML-RPC at /RPC2) that behaves like the chosen release: states,\n" +
        "errors, asynchronous terminate, marketplace, image downloader rules. With --lxd every VM is a real LXD\n" +
        "container named one-<ID> on a bridge per virtual network, its CONTEXT applied by the guest the way the\n" +
        "release's context package does. Runs until Ctrl-C (or SIGTERM), then removes every container and bridge\n" +
        "it created.",
    )
    .option("--listen <address:port>", "where to serve XML-RPC", "127.0.0.1:2633")
    .option("--lxd", "run VMs as real LXD containers on this machine")
    .option("--one-version <version>", `behave like OpenNebula ${VERSIONS.join(" | ")}`, "6.8")
    .option("--image <alias>", `LXD image of the containers (with --lxd; default ${SIM_DEFAULT_IMAGE})`)
    .option("--socket <path>", LXD_SOCKET_HELP)
    .option("--user <name>", "the simulator's admin user", "oneadmin")
    .option("--json", "print the endpoint and auth file as JSON on stdout")
    .action(async (flags: SimOpenNebulaFlags) => {
      process.exitCode = await simOpenNebulaCommand(flags);
    });
}

export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:]+)\]|([^:]+)):(\d{1,5})$/.exec(value.trim());
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (!m || !host || !(isValidIpv4(host) || m[1] || host === "localhost") || port > 65535) {
    throw new InvalidInputError(
      "SIM_LISTEN_INVALID",
      `--listen ${JSON.stringify(value)} is not ADDRESS:PORT.`,
      {
        hint: "e.g. --listen 127.0.0.1:2633 (port 0 picks a free one).",
      },
    );
  }
  return { host, port };
}

function parseVersion(value: string | undefined): SimOneVersion {
  const v = (value ?? "6.8") as SimOneVersion;
  if (!VERSIONS.includes(v)) {
    throw new InvalidInputError(
      "SIM_VERSION_INVALID",
      `--one-version ${JSON.stringify(value)} is not simulated.`,
      {
        hint: `Choose one of ${VERSIONS.join(", ")} (6.8: addon-context, lxd driver; 6.10.x/7.0: one-apps context, lxc driver).`,
      },
    );
  }
  return v;
}

/**
 * Starts the simulator, prints where it is and how to log in, then serves until `io.signal` (or SIGINT /
 * SIGTERM) and cleans up. Returns the exit code.
 */
export async function simOpenNebulaCommand(
  flags: SimOpenNebulaFlags,
  io: LabIo = processIo(),
): Promise<number> {
  const out = createOutput(Boolean(flags.json), io);
  const { host, port } = parseListen(flags.listen ?? "127.0.0.1:2633");
  const oneVersion = parseVersion(flags.oneVersion);
  const user = flags.user ?? "oneadmin";
  let hypervisor: LxdSimHypervisor | undefined;
  let lxd: SimOpenNebulaResult["lxd"] = null;
  if (flags.lxd) {
    const client = new LxdClient(flags.socket ? { socketPath: flags.socket } : {});
    const image = flags.image ?? SIM_DEFAULT_IMAGE;
    if (!(await client.resolveImageAlias(image))) {
      throw new PreconditionError(
        "SIM_IMAGE_MISSING",
        `LXD has no image ${image} for the simulator's containers.`,
        {
          hint: "Build it first: `labgate image build --yes` (offline, from the Debian mirror).",
        },
      );
    }
    hypervisor = new LxdSimHypervisor({ client, image, log: (m) => out.info(m) });
    lxd = { image, socket: flags.socket, sessionId: hypervisor.sessionId };
  }
  const authDir = await mkdtemp(join(tmpdir(), "labgate-one-sim-"));
  const authFile = join(authDir, "one_auth");
  // Random, as oned's install generates oneadmin's (~oneadmin/.one/one_auth); it is handed over in the file
  // only. A fixed word would also be redacted wherever it appears, e.g. in `provider: opennebula`.
  const password = randomBytes(12).toString("base64url");
  let running: RunningOneSimulator | undefined;
  try {
    await writeFile(authFile, `${user}:${password}\n`, { mode: 0o600 });
    running = await startOneSimulator({
      host,
      port,
      oneVersion,
      user,
      password,
      ...(hypervisor ? { hypervisor } : {}),
    });
    const result: SimOpenNebulaResult = {
      endpoint: running.endpoint,
      version: running.version,
      oneVersion,
      user,
      authFile,
      lxd,
    };
    out.result(result, formatSim);
    out.info(
      `OpenNebula ${running.version} simulator serving; Ctrl-C stops it${hypervisor ? " and removes its containers and bridges" : ""}.`,
    );
    await untilStopped(io);
    out.info("stopping the simulator...");
  } finally {
    await running?.stop();
    const left = hypervisor?.created();
    await hypervisor?.close();
    if (left && (left.containers.length || left.bridges.length))
      out.info(`removed ${[...left.containers, ...left.bridges].join(", ")}`);
    await rm(authDir, { recursive: true, force: true });
  }
  return 0;
}

export function formatSim(r: SimOpenNebulaResult): string {
  return [
    `OpenNebula simulator (${r.oneVersion} behaviour, oned ${r.version}) at ${r.endpoint}`,
    r.lxd
      ? `VMs run as LXD containers one-<ID> from ${r.lxd.image}`
      : "VMs are simulated only (add --lxd for real containers)",
    "Use it from another shell:",
    `  export ONE_XMLRPC=${r.endpoint}`,
    `  export ONE_AUTH=${r.authFile}`,
    `  labgate lab up --spec examples/lab-opennebula-sim.yaml   # providerOptions.endpoint: ${r.endpoint}`,
  ].join("\n");
}

/** Resolves on io.signal, or on SIGINT / SIGTERM when the command owns the process. */
function untilStopped(io: LabIo): Promise<void> {
  return new Promise((resolve) => {
    if (io.signal) {
      if (io.signal.aborted) return resolve();
      io.signal.addEventListener("abort", () => resolve(), { once: true });
      return;
    }
    const stop = () => {
      process.removeListener("SIGINT", stop);
      process.removeListener("SIGTERM", stop);
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}
