import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePorts } from "../test-support/free-ports.js";
import { headerValue, httpProbe } from "../verify/http-probe.js";
import {
  readSentimentAppFiles,
  SENTIMENT_APP_FILES,
  sentimentAppDir,
  sentimentAppEntry,
} from "./sentiment-app.js";

describe("sentiment app payload", () => {
  it("is found from src (and the same relative URL from dist) with every shipped file", async () => {
    for (const name of SENTIMENT_APP_FILES) expect(existsSync(join(sentimentAppDir(), name))).toBe(true);
    const files = await readSentimentAppFiles();
    expect(files.map((f) => f.name)).toEqual([...SENTIMENT_APP_FILES]);
    expect(files.find((f) => f.name === "lexicon.txt")?.content.split("\n").length).toBeGreaterThan(400);
  });

  it("passes its Python unit tests (model on labelled sentences)", async () => {
    const result = await execa("python3", ["-m", "unittest", "discover", "-s", "tests", "-t", ".", "-v"], {
      cwd: sentimentAppDir(),
      all: true,
      reject: false,
      env: { PYTHONDONTWRITEBYTECODE: "1" },
    });
    expect(result.all).toMatch(/OK/);
    expect(result.exitCode).toBe(0);
  });
});

describe("sentiment app over HTTP", () => {
  let child: ChildProcess;
  let base: string;
  let stderr = "";

  beforeAll(async () => {
    const [port] = await freePorts(1);
    base = `http://127.0.0.1:${port}`;
    child = spawn(
      "python3",
      [sentimentAppEntry(), "--name", "unit-app", "--host", "127.0.0.1", "--port", String(port)],
      {
        env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" },
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    child.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await httpProbe(`${base}/health`, { timeoutMs: 500 });
        break;
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`app did not start: ${stderr}`, { cause: error });
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  });

  afterAll(() => {
    if (child.exitCode === null) child.kill("SIGKILL");
  });

  it("answers /health and / with JSON and X-Served-By", async () => {
    const health = await httpProbe(`${base}/health`);
    expect(health.status).toBe(200);
    expect(headerValue(health, "x-served-by")).toBe("unit-app");
    expect(JSON.parse(health.body)).toMatchObject({ status: "ok", instance: "unit-app" });
    const info = await httpProbe(`${base}/`);
    expect(JSON.parse(info.body)).toMatchObject({ service: "labgate-sentiment", instance: "unit-app" });
    expect(JSON.parse(info.body).model.words).toBeGreaterThan(400);
  });

  it("predicts labels with the lexicon model", async () => {
    const cases = [
      ["The new release is fantastic and very fast!", "positive"],
      ["This is not good, it keeps crashing.", "negative"],
      ["The invoice was sent on Tuesday.", "neutral"],
    ] as const;
    for (const [text, label] of cases) {
      const res = await httpProbe(`${base}/predict`, { method: "POST", body: JSON.stringify({ text }) });
      expect(res.status).toBe(200);
      expect(headerValue(res, "x-served-by")).toBe("unit-app");
      const body = JSON.parse(res.body);
      expect(body.label).toBe(label);
      expect(typeof body.score).toBe("number");
      expect(body.instance).toBe("unit-app");
    }
  });

  it("rejects bad JSON and missing or non-string text with a JSON 400", async () => {
    for (const body of [
      "{not json",
      JSON.stringify({ txt: "x" }),
      JSON.stringify({ text: 42 }),
      "[1,2]",
      "",
    ]) {
      const res = await httpProbe(`${base}/predict`, { method: "POST", body });
      expect(res.status, body).toBe(400);
      expect(headerValue(res, "x-served-by")).toBe("unit-app");
      expect(JSON.parse(res.body).error).toMatch(/bad_json|bad_request/);
    }
  });

  it("answers unknown paths with a JSON 404 and wrong methods with 405", async () => {
    const missing = await httpProbe(`${base}/nope`);
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body).error).toBe("not_found");
    expect(headerValue(missing, "x-served-by")).toBe("unit-app");
    const wrong = await httpProbe(`${base}/predict`);
    expect(wrong.status).toBe(405);
  });

  it("HEAD answers like GET without a body; OPTIONS is a JSON 405 naming the allowed methods", async () => {
    const head = await httpProbe(`${base}/health`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.body).toBe("");
    expect(headerValue(head, "x-served-by")).toBe("unit-app");
    const options = await httpProbe(`${base}/`, { method: "OPTIONS" });
    expect(options.status).toBe(405);
    expect(headerValue(options, "allow")).toBe("GET, HEAD, POST");
    expect(headerValue(options, "x-served-by")).toBe("unit-app");
    expect(JSON.parse(options.body).error).toBe("method_not_allowed");
  });

  it("errors raised by http.server itself are JSON with X-Served-By too (a header over 64 KiB: 431)", async () => {
    const port = new URL(base).port;
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect({ host: "127.0.0.1", port: Number(port) }, () =>
        socket.write(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(70_000)}\r\n\r\n`),
      );
      let got = "";
      socket.on("data", (c: Buffer) => {
        got += c.toString();
      });
      socket.on("end", () => resolve(got));
      socket.on("error", reject);
    });
    const [head = "", body = ""] = raw.split("\r\n\r\n");
    expect(head).toMatch(/^HTTP\/1\.1 431 /);
    expect(head).toMatch(/^X-Served-By: unit-app$/m);
    expect(head).toMatch(/^Content-Type: application\/json$/m);
    expect(JSON.parse(body)).toMatchObject({ error: "request_header_fields_too_large" });
  });

  it("answers back-to-back keep-alive requests without a Nagle / delayed-ACK stall", async () => {
    // Headers and body go out in two writes. With Nagle's algorithm on, the body waits for the
    // client's ACK of the headers, which Linux delays by >= 40 ms: every keep-alive answer after the
    // first few would take 40 ms and a benchmark would measure TCP, not the model.
    const body = JSON.stringify({ text: "Fast delivery and a great fit, but the zipper broke." });
    const request = `POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    const socket = connect({ host: "127.0.0.1", port: Number(new URL(base).port) });
    await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
    const times: number[] = [];
    try {
      for (let i = 0; i < 30; i++) {
        const started = performance.now();
        await new Promise<void>((resolve, reject) => {
          let got = "";
          const onData = (c: Buffer) => {
            got += c.toString();
            const end = got.indexOf("\r\n\r\n");
            const length = Number(/^Content-Length: (\d+)$/im.exec(got)?.[1] ?? Number.NaN);
            if (end >= 0 && Buffer.byteLength(got) >= end + 4 + length) {
              socket.off("data", onData);
              expect(got).toMatch(/^HTTP\/1\.1 200 /);
              resolve();
            }
          };
          socket.on("data", onData);
          socket.once("error", reject);
          socket.write(request);
        });
        times.push(performance.now() - started);
      }
    } finally {
      socket.destroy();
    }
    times.sort((a, b) => a - b);
    // The stall is at least 40 ms per answer; a prediction on loopback takes about 1 ms.
    expect(times[15], times.map((t) => t.toFixed(1)).join(" ")).toBeLessThan(20);
  });

  it("stops cleanly on SIGTERM", async () => {
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(stderr).toMatch(/stopped/);
  });
});
