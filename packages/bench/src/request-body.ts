import { readFile, stat } from "node:fs/promises";
import { BenchOptionError } from "./errors.js";
import type { RequestBody } from "./types.js";

/** A body is held in memory and written whole with every request; past this it is a mistake, not a benchmark. */
export const MAX_BODY_BYTES = 64 * 1024 * 1024;

/** autocannon 9 builds each connection's request (headers + body) into its own buffer: the copies must fit in memory. */
export const CLOSED_LOOP_BODY_MEMORY_BYTES = 1024 * 1024 * 1024;

/** Methods whose requests carry no body: a body given with them is a mistake, not something to send. */
const BODYLESS_METHODS = new Set(["GET", "HEAD"]);

/** Headers labgate writes itself from the body; given by hand they would contradict it. */
const FRAMING_HEADER = /^(content-length|transfer-encoding)$/i;

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Checks the request body against the method and headers and settles its Content-Type. The body
 * itself never goes into a message: it may be large or hold credentials.
 */
export function resolveBody(
  body: string | Buffer | undefined,
  method: string,
  headers: Record<string, string>,
): RequestBody | null {
  for (const name of Object.keys(headers)) {
    if (FRAMING_HEADER.test(name)) {
      throw new BenchOptionError(
        `Request header "${name}" cannot be set by hand.`,
        "labgate sets Content-Length from the body (--body / --body-file) and does not use chunked encoding; remove that --header.",
      );
    }
  }
  if (body === undefined) return null;
  if (typeof body !== "string" && !Buffer.isBuffer(body)) {
    throw new BenchOptionError(
      "The request body must be a string or a Buffer.",
      "Pass --body TEXT or --body-file PATH.",
    );
  }
  if (BODYLESS_METHODS.has(method)) {
    throw new BenchOptionError(
      `A request body was given with ${method}, which sends none.`,
      `Add -m POST (or PUT, PATCH) to send the body, e.g. --method POST --body '{"text": "hi"}'; or leave --body/--body-file out to measure ${method} requests.`,
      { method },
    );
  }
  const data = typeof body === "string" ? Buffer.from(body, "utf8") : body;
  if (data.length === 0) {
    throw new BenchOptionError(
      "The request body is empty.",
      `Give the body to send (a file with content for --body-file), or leave --body/--body-file out to send ${method} requests without one.`,
    );
  }
  if (data.length > MAX_BODY_BYTES) {
    throw new BenchOptionError(
      `The request body is ${data.length} bytes; at most ${MAX_BODY_BYTES} (64 MiB) can be sent.`,
      "Use a smaller body: it is held in memory and sent whole with every request.",
      { bodyBytes: data.length },
    );
  }
  const given = Object.entries(headers).find(([name]) => name.toLowerCase() === "content-type")?.[1];
  return {
    data,
    bytes: data.length,
    contentType: given ?? inferContentType(data),
    contentTypeInferred: given === undefined,
  };
}

/**
 * autocannon -b and k6 send no Content-Type unless told (curl -d sends form encoding). It is inferred
 * here because a JSON API given a JSON body without `application/json` usually answers 400 or 415,
 * and the run would measure error pages. Only a body that parses as JSON is called JSON.
 */
export function inferContentType(data: Buffer): string {
  let text: string;
  try {
    text = utf8.decode(data);
  } catch {
    return "application/octet-stream";
  }
  try {
    JSON.parse(text);
    return "application/json";
  } catch {
    return "text/plain; charset=utf-8";
  }
}

/** Reads `--body-file PATH` (like autocannon -i); a missing, unreadable or oversized file is an exit-2 error. */
export async function loadBodyFile(path: string): Promise<Buffer> {
  const hint =
    "Pass the path of a file holding the request body, e.g. --body-file body.json, or give the body inline with --body.";
  let size: number;
  try {
    const info = await stat(path);
    if (!info.isFile()) {
      throw new BenchOptionError(`--body-file ${path} is not a regular file.`, hint, { bodyFile: path });
    }
    size = info.size;
  } catch (error) {
    if (error instanceof BenchOptionError) throw error;
    throw unreadable(path, error, hint);
  }
  if (size > MAX_BODY_BYTES) {
    throw new BenchOptionError(
      `--body-file ${path} is ${size} bytes; at most ${MAX_BODY_BYTES} (64 MiB) can be sent.`,
      "Use a smaller body: it is held in memory and sent whole with every request.",
      { bodyFile: path, bodyBytes: size },
    );
  }
  try {
    return await readFile(path);
  } catch (error) {
    throw unreadable(path, error, hint);
  }
}

function unreadable(path: string, error: unknown, hint: string): BenchOptionError {
  const code = (error as NodeJS.ErrnoException).code;
  const why =
    code === "ENOENT"
      ? "does not exist"
      : code === "EACCES"
        ? "is not readable (permission denied)"
        : `cannot be read (${code ?? (error as Error).message})`;
  return new BenchOptionError(`--body-file ${path} ${why}.`, hint, { bodyFile: path }, error);
}
