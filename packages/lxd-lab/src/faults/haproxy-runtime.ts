import { createConnection } from "node:net";

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
  if (/[\n;]/.test(command)) {
    return Promise.reject(
      new Error(`refusing a runtime command with ';' or a newline: ${JSON.stringify(command)}`),
    );
  }
  return new Promise((resolve, reject) => {
    const sock = createConnection({ path: socketPath });
    let out = "";
    const timer = setTimeout(
      () =>
        sock.destroy(new Error(`HAProxy runtime API ${socketPath} did not answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    sock.setEncoding("utf8");
    sock.on("connect", () => sock.end(`${command}\n`));
    sock.on("data", (chunk: string) => {
      out += chunk;
    });
    sock.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    sock.on("close", (hadError) => {
      clearTimeout(timer);
      if (!hadError) resolve(out);
    });
  });
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
  if (answer !== "")
    throw new Error(`HAProxy refused 'set server ${backend}/${server} state ${state}': ${answer}`);
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
  if (!header)
    throw new Error(`unexpected answer to 'show servers state ${backend}': ${text.trim().slice(0, 200)}`);
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
