import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";

export interface SimRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage["headers"];
  /** Form fields (x-www-form-urlencoded) or the parsed JSON body. */
  form: Record<string, string>;
  json: unknown;
  raw: string;
}

export interface SimReply {
  status: number;
  statusMessage?: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** Raw text body (XML). */
  text?: string;
}

/** A loopback HTTP server for simulators: 127.0.0.1 only, a free port, every request recorded. */
export async function startSim(
  handle: (req: SimRequest) => SimReply | Promise<SimReply>,
  tls?: { key: string; cert: string },
): Promise<{
  url: string;
  requests: SimRequest[];
  close(): Promise<void>;
}> {
  const requests: SimRequest[] = [];
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      const type = String(req.headers["content-type"] ?? "");
      let json: unknown;
      let form: Record<string, string> = {};
      if (type.includes("json") && raw) json = JSON.parse(raw);
      else if (type.includes("x-www-form-urlencoded")) form = Object.fromEntries(new URLSearchParams(raw));
      const simReq: SimRequest = {
        method: req.method ?? "GET",
        path: decodeURIComponent(url.pathname),
        query: url.searchParams,
        headers: req.headers,
        form,
        json,
        raw,
      };
      requests.push(simReq);
      try {
        const reply = await handle(simReq);
        const isText = reply.text !== undefined;
        const payload = isText
          ? (reply.text as string)
          : reply.body === undefined
            ? ""
            : JSON.stringify(reply.body);
        res.writeHead(reply.status, reply.statusMessage ?? "", {
          "content-type": isText ? "text/xml;charset=UTF-8" : "application/json;charset=UTF-8",
          ...reply.headers,
        });
        res.end(payload);
      } catch (error) {
        res.writeHead(500, "simulator error", { "content-type": "application/json" });
        res.end(JSON.stringify({ error: String(error) }));
      }
    });
  };
  const server: Server = tls ? createHttpsServer(tls, listener) : createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${tls ? "https" : "http"}://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
