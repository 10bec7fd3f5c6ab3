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
  }
  let delay = 0;
  if (config.stallEvery && served % config.stallEvery === 0) delay = config.stallMs ?? 200;
  if (config.slowForMs && now - firstAt < config.slowForMs) delay = Math.max(delay, config.slowDelayMs ?? 50);
  const headers = { "content-type": "text/plain" };
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
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`${server.address().port}\n`);
});
