import { createConnection } from "node:net";
import { HaproxyRuntimeError } from "../errors.js";

/**
 * Sends one command to HAProxy's runtime API (the `stats socket` in global) and returns its answer.
 * Without `prompt` mode HAProxy answers one command and closes the connection (management.txt,
 * "Unix Socket commands"); an empty answer means success for `set server`.
 */
export function haproxyRuntimeCommand(
  socketPath: string,
  command: string,
  timeoutMs = 3_000,
): Promise<string> {
  try {
    assertSafeRuntimeCommand(command);
  } catch (error) {
    return Promise.reject(error);
  }
  return new Promise((resolve, reject) => {
    const sock = createConnection({ path: socketPath });
    let out = "";
    const timer = setTimeout(
      () =>
        sock.destroy(
          new HaproxyRuntimeError(
            "HAPROXY_RUNTIME_TIMEOUT",
            `HAProxy runtime API ${socketPath} did not answer '${command}' within ${timeoutMs} ms.`,
            "Check that HAProxy runs and is not stuck (`show info` on the same socket); then run again.",
            { socketPath, command, timeoutMs },
          ),
        ),
      timeoutMs,
    );
    sock.setEncoding("utf8");
    sock.on("connect", () => sock.end(`${command}\n`));
    sock.on("data", (chunk: string) => {
      out += chunk;
    });
    sock.on("error", (error) => {
      clearTimeout(timer);
      if (error instanceof HaproxyRuntimeError) return reject(error);
      reject(
        new HaproxyRuntimeError(
          "HAPROXY_RUNTIME_UNREACHABLE",
          `HAProxy runtime API ${socketPath} cannot be reached: ${error.message}`,
          "Check that HAProxy runs with `stats socket " +
            socketPath +
            " level admin` in its global section and that this user may open the socket.",
          { socketPath, command, errno: (error as NodeJS.ErrnoException).code },
          error,
        ),
      );
    });
    sock.on("close", (hadError) => {
      clearTimeout(timer);
      if (!hadError) resolve(out);
    });
  });
}

/**
 * HAProxy splits runtime commands on ';' and newlines, so one of those inside a name would run a
 * second command; labgate never sends such a command.
 */
export function assertSafeRuntimeCommand(command: string): void {
  if (!/[\n;]/.test(command)) return;
  throw new HaproxyRuntimeError(
    "HAPROXY_RUNTIME_UNSAFE_COMMAND",
    `Refusing the HAProxy runtime command ${JSON.stringify(command)}: it contains ';' or a newline, which HAProxy would run as a second command.`,
    "Backend and server names may not contain ';' or newlines: rename them in the lab spec.",
    { command },
  );
}

export type HaproxyServerAdminState = "ready" | "drain" | "maint";

/**
 * Where runtime commands go: a local socket path, or a function that delivers one command and returns
 * HAProxy's answer (e.g. run inside an LB container that holds the socket).
 */
export type HaproxyRuntimeApi = string | ((command: string) => Promise<string>);

function send(api: HaproxyRuntimeApi, command: string): Promise<string> {
  return typeof api === "string" ? haproxyRuntimeCommand(api, command) : api(command);
}

/** `set server <backend>/<server> state <ready|drain|maint>`; throws with HAProxy's words on refusal. */
export async function setHaproxyServerState(
  socketPath: HaproxyRuntimeApi,
  backend: string,
  server: string,
  state: HaproxyServerAdminState,
): Promise<void> {
  const answer = (await send(socketPath, `set server ${backend}/${server} state ${state}`)).trim();
  // Success is silent; "No such backend.", "No such server.", "Permission denied" etc. are not.
  if (answer !== "") {
    throw new HaproxyRuntimeError(
      "HAPROXY_RUNTIME_REFUSED",
      `HAProxy refused 'set server ${backend}/${server} state ${state}': ${answer}`,
      "Check that the backend and server exist in the running HAProxy (`show servers state`) and that the stats socket has `level admin`.",
      { backend, server, state, answer },
    );
  }
}

/** The admin-relevant columns of `show servers state <backend>` for one server. */
export interface HaproxyServerRuntimeState {
  /** srv_op_state: 0 stopped, 1 starting, 2 running, 3 stopping. */
  opState: number;
  /** srv_admin_state bit field: 0x01 forced maint, 0x08 forced drain (server.h SRV_ADMF_*). */
  adminState: number;
}

export async function haproxyServerState(
  socketPath: HaproxyRuntimeApi,
  backend: string,
  server: string,
): Promise<HaproxyServerRuntimeState | undefined> {
  const text = await send(socketPath, `show servers state ${backend}`);
  const lines = text.split("\n");
  const header = lines.find((l) => l.startsWith("# be_id"));
  if (!header) {
    throw new HaproxyRuntimeError(
      "HAPROXY_RUNTIME_BAD_ANSWER",
      `HAProxy's answer to 'show servers state ${backend}' has no '# be_id' header: ${text.trim().slice(0, 200)}`,
      "Check that the backend exists in the running HAProxy and that the socket is HAProxy's stats socket.",
      { backend, answer: text.trim().slice(0, 200) },
    );
  }
  const cols = header.slice(2).split(" ");
  for (const line of lines) {
    if (line.startsWith("#") || line.trim() === "") continue;
    const cells = line.split(" ");
    if (cells[cols.indexOf("srv_name")] !== server) continue;
    return {
      opState: Number(cells[cols.indexOf("srv_op_state")]),
      adminState: Number(cells[cols.indexOf("srv_admin_state")]),
    };
  }
  return undefined;
}
