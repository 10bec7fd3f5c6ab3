// A loopback HTTP target for the bench tests, run in its own process so it can really die and so
// its CPU is not charged to the generator. Configured by the JSON in argv[2]; prints its port.
import http from "node:http";

const config = JSON.parse(process.argv[2] ?? "{}");
const backends = config.backends ?? [];
const backendDelayMs = config.backendDelayMs ?? {};
let served = 0;
let firstAt = 0;
let lastRequest = {};
const perBackend = {};

const server = http.createServer((req, res) => {
  if (req.url === "/__stats") {
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ served, perBackend, lastRequest }));
    return;
  }
  served++;
  lastRequest = { method: req.method, headers: req.headers };
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
});
server.keepAliveTimeout = 30_000;

// A restart: stop listening, drop every connection, listen again on the same port after downForMs.
function goDown() {
  const { port } = server.address();
  server.close();
  server.closeAllConnections();
  setTimeout(() => server.listen(port, "127.0.0.1"), config.downForMs ?? 1000);
}

server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`${server.address().port}\n`);
});
