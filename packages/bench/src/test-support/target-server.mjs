// A loopback HTTP target for the bench tests, run in its own process so it can really die and so
// its CPU is not charged to the generator. Configured by the JSON in argv[2]; prints its port.
import { createHash } from "node:crypto";
import http from "node:http";

const config = JSON.parse(process.argv[2] ?? "{}");
const backends = config.backends ?? [];
const backendDelayMs = config.backendDelayMs ?? {};
let served = 0;
let firstAt = 0;
let lastRequest = {};
const perBackend = {};
// How many requests arrived with each shape: method, path, framing headers and body digest.
const requests = {};

const server = http.createServer((req, res) => {
  if (req.url === "/__stats") {
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ served, perBackend, lastRequest, requests }));
    return;
  }
  // The whole body is read before answering, as a real service does.
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => answer(req, res, Buffer.concat(chunks)));
  // A request cut off mid-body (the generator stopped) is not a request; it must not crash the target.
  req.on("error", () => {});
});

/** `METHOD PATH cl=<Content-Length header> te=<Transfer-Encoding> bytes=<received> sha256=<hex>`. */
function requestSignature(method, path, contentLength, transferEncoding, body) {
  const digest = createHash("sha256").update(body).digest("hex");
  return `${method} ${path} cl=${contentLength ?? "-"} te=${transferEncoding ?? "-"} bytes=${body.length} sha256=${digest}`;
}

function answer(req, res, body) {
  served++;
  lastRequest = { method: req.method, url: req.url, headers: req.headers, body: body.toString("utf8") };
  const signature = requestSignature(
    req.method,
    req.url,
    req.headers["content-length"],
    req.headers["transfer-encoding"],
    body,
  );
  requests[signature] = (requests[signature] ?? 0) + 1;
  const now = Date.now();
  if (!firstAt) {
    firstAt = now;
    if (config.dieAfterMs) setTimeout(() => process.exit(0), config.dieAfterMs);
    if (config.downAfterMs) setTimeout(goDown, config.downAfterMs);
  }
  if (config.drip) {
    // Headers at once, then one body byte every 100 ms, never finishing.
    res.writeHead(200, { "content-type": "text/plain" });
    const timer = setInterval(() => res.write("x"), 100);
    res.on("close", () => clearInterval(timer));
    return;
  }
  let delay = 0;
  if (config.stallEvery && served % config.stallEvery === 0) delay = config.stallMs ?? 200;
  const cold = Boolean(config.slowForMs) && now - firstAt < config.slowForMs;
  if (cold) delay = Math.max(delay, config.slowDelayMs ?? 50);
  const headers = { "content-type": "text/plain" };
  // Names the phase that served the request, so a test can tell cold answers from warm ones exactly.
  if (config.labelCold) headers[config.backendHeader ?? "X-Served-By"] = cold ? "cold" : "warm";
  if (config.connectionClose) headers.connection = "close";
  if (backends.length) {
    const name = backends[served % backends.length];
    headers[config.backendHeader ?? "X-Served-By"] = name;
    perBackend[name] = (perBackend[name] ?? 0) + 1;
    delay += backendDelayMs[name] ?? 0;
  }
  const reply = () => {
    res.writeHead(config.status ?? 200, headers);
    res.end("ok\n");
  };
  if (delay > 0) setTimeout(reply, delay);
  else reply();
}
server.keepAliveTimeout = 30_000;

// A restart: stop listening, drop every connection, listen again on the same port after downForMs.
function goDown() {
  const { port } = server.address();
  server.close();
  server.closeAllConnections();
  setTimeout(() => server.listen(port, "127.0.0.1"), config.downForMs ?? 1000);
}

// `port`: come back on the port a killed predecessor used (a backend restarted behind a load balancer).
server.listen(config.port ?? 0, "127.0.0.1", () => {
  process.stdout.write(`${server.address().port}\n`);
});
