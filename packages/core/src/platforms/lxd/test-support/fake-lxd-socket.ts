import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";

export type FakeHandler = (
  req: IncomingMessage,
  body: Buffer,
) => { status: number; json?: unknown; raw?: string; contentType?: string } | undefined;

/**
 * An HTTP server on a unix socket in a temp dir that answers with LXD's envelopes, for the error
 * paths a real daemon cannot be made to take on demand (404s, failed operations, timeouts).
 */
export async function startFakeLxd(handler: FakeHandler): Promise<{
  socketPath: string;
  requests: string[];
  /** "METHOD url body" of every request, to check nothing was built from a bad answer. */
  sent: string[];
  close(): Promise<void>;
}> {
  const dir = await mkdtemp(join(tmpdir(), "labgate-fake-lxd-"));
  const socketPath = join(dir, "unix.socket");
  const requests: string[] = [];
  const sent: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      requests.push(`${req.method} ${req.url}`);
      sent.push(`${req.method} ${req.url} ${Buffer.concat(chunks).toString("utf8")}`);
      const answer = handler(req, Buffer.concat(chunks)) ?? {
        status: 404,
        json: { type: "error", error: "not found", error_code: 404 },
      };
      res.writeHead(answer.status, {
        "content-type": answer.contentType ?? (answer.raw !== undefined ? "text/plain" : "application/json"),
      });
      res.end(answer.raw ?? JSON.stringify(answer.json));
    });
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return {
    socketPath,
    requests,
    sent,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export const sync = (metadata: unknown) => ({
  status: 200,
  json: { type: "sync", status: "Success", status_code: 200, metadata },
});
export const asyncOp = (id: string) => ({
  status: 202,
  json: {
    type: "async",
    status: "Operation created",
    status_code: 100,
    operation: `/1.0/operations/${id}`,
    metadata: { id, status: "Running" },
  },
});
export const operation = (id: string, status: string, extra: Record<string, unknown> = {}) =>
  sync({
    id,
    class: "task",
    description: "Creating instance",
    status,
    status_code: status === "Success" ? 200 : status === "Running" ? 103 : 400,
    err: "",
    may_cancel: false,
    ...extra,
  });
