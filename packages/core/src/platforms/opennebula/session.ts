import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { OpenNebulaError } from "../../errors.js";
import { ExitCode } from "../../exit-codes.js";
import { registerSecret } from "../../util/redact.js";

/**
 * Where the client talks to and who it is. The session (`user:password`, or `user:token` from
 * `oneuser token-create`) is registered as a secret the moment it is read, so nothing printed
 * afterwards can carry it.
 */
export interface OpenNebulaConnectionConfig {
  /** Full XML-RPC endpoint, e.g. http://192.168.3.10:2633/RPC2. */
  endpoint?: string;
  /** Front-end host name or address; the endpoint becomes http://HOST:2633/RPC2. */
  host?: string;
  /** `user:password` or `user:token`. Prefer the environment or a file over putting it in lab.yaml. */
  session?: string;
  /** Path of a file holding the session (ONE_AUTH format). */
  authFile?: string;
  /** Environment to read ONE_XMLRPC / ONE_SESSION / ONE_AUTH from (default process.env). */
  env?: Record<string, string | undefined>;
}

export interface ResolvedConnection {
  endpoint: string;
  session: string;
  /** Where the session came from, for messages: "config", "ONE_SESSION", "file /root/.one/one_auth". */
  sessionSource: string;
}

export const DEFAULT_XMLRPC_PORT = 2633;

export function resolveEndpoint(config: OpenNebulaConnectionConfig): string {
  const env = config.env ?? process.env;
  const raw = config.endpoint ?? env.ONE_XMLRPC ?? (config.host ? defaultEndpoint(config.host) : undefined);
  if (!raw) {
    throw new OpenNebulaError("ONE_ENDPOINT_MISSING", "No OpenNebula endpoint is configured.", {
      exitCode: ExitCode.INVALID_INPUT,
      hint: "Set providerOptions.endpoint (http://FRONTEND:2633/RPC2) or providerOptions.host in the lab spec, or export ONE_XMLRPC.",
    });
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch (cause) {
    throw new OpenNebulaError("ONE_ENDPOINT_INVALID", `The OpenNebula endpoint "${raw}" is not a URL.`, {
      exitCode: ExitCode.INVALID_INPUT,
      hint: "Use the form http://FRONTEND:2633/RPC2.",
      cause,
    });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new OpenNebulaError(
      "ONE_ENDPOINT_INVALID",
      `The OpenNebula endpoint "${raw}" must be http or https.`,
      {
        exitCode: ExitCode.INVALID_INPUT,
        hint: "Use the form http://FRONTEND:2633/RPC2.",
      },
    );
  }
  return url.toString();
}

export function defaultEndpoint(host: string): string {
  const bracketed = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  return `http://${bracketed}:${DEFAULT_XMLRPC_PORT}/RPC2`;
}

function readAuthFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (cause) {
    throw new OpenNebulaError("ONE_SESSION_MISSING", `Cannot read the OpenNebula auth file ${path}.`, {
      exitCode: ExitCode.INVALID_INPUT,
      hint: "The file must contain one line `user:password` (or `user:token`); check ONE_AUTH or providerOptions.authFile.",
      cause,
    });
  }
  const line =
    text
      .split(/\r?\n/)
      .find((l) => l.trim() !== "")
      ?.trim() ?? "";
  registerSecret(line);
  return line;
}

export function resolveSession(config: OpenNebulaConnectionConfig): { session: string; source: string } {
  const env = config.env ?? process.env;
  let found: { session: string; source: string } | undefined;
  if (config.session) found = { session: config.session, source: "config" };
  else if (env.ONE_SESSION) found = { session: env.ONE_SESSION, source: "ONE_SESSION" };
  else if (config.authFile)
    found = { session: readAuthFile(config.authFile), source: `file ${config.authFile}` };
  else if (env.ONE_AUTH) found = { session: readAuthFile(env.ONE_AUTH), source: `file ${env.ONE_AUTH}` };
  else {
    const fallback = join(env.HOME ?? homedir(), ".one", "one_auth");
    try {
      found = { session: readAuthFile(fallback), source: `file ${fallback}` };
    } catch {
      found = undefined;
    }
  }
  if (!found?.session) {
    throw new OpenNebulaError("ONE_SESSION_MISSING", "No OpenNebula credentials were found.", {
      exitCode: ExitCode.INVALID_INPUT,
      hint: "Export ONE_SESSION=user:password, or ONE_AUTH=/path/to/one_auth, or create ~/.one/one_auth (mode 0600).",
    });
  }
  registerSecret(found.session);
  // Everything after the first colon is the password, spaces included (src/authm: `user:secret`).
  if (!/^[^:\s]+:.*\S/.test(found.session)) {
    throw new OpenNebulaError(
      "ONE_SESSION_INVALID",
      `The OpenNebula session from ${found.source} is not of the form user:password.`,
      {
        exitCode: ExitCode.INVALID_INPUT,
        hint: "Use `user:password` or `user:token` (from `oneuser token-create`).",
      },
    );
  }
  return found;
}

export function resolveConnection(config: OpenNebulaConnectionConfig): ResolvedConnection {
  const endpoint = resolveEndpoint(config);
  const { session, source } = resolveSession(config);
  return { endpoint, session, sessionSource: source };
}
