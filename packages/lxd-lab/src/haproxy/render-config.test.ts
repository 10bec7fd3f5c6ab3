import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { buildAppCloudInit } from "../payload/app-cloud-init.js";
import { readSentimentAppFiles } from "../payload/sentiment-app.js";
import { defaultLabSpec } from "../spec/default-lab-spec.js";
import { detectHaproxy } from "./haproxy-binary.js";
import { buildLbCloudInit, LB_CONFIG_STAGING_PATH, LB_FALLBACK_CONFIG_PATH } from "./lb-cloud-init.js";
import { type HaproxyConfigOptions, haproxyOptionsFromSpec, renderHaproxyConfig } from "./render-config.js";
import { parseHaproxyStatsCsv } from "./stats-csv.js";
import { assertValidHaproxyConfig, checkHaproxyConfig } from "./validate-config.js";

const base: HaproxyConfigOptions = {
  labName: "demo",
  bindAddress: "127.0.0.1",
  port: 8080,
  statsPort: 8404,
  backends: [
    { name: "app1", address: "127.0.0.1", port: 8000 },
    { name: "app2", address: "127.0.0.1", port: 8001 },
  ],
};

describe("renderHaproxyConfig", () => {
  it("renders round robin, HTTP health checks, servers, the header rule and stats", () => {
    const text = renderHaproxyConfig({ ...base, prometheus: true });
    expect(text).toContain("    bind 127.0.0.1:8080\n");
    expect(text).toContain("    balance roundrobin\n");
    expect(text).toContain("    option httpchk GET /health HTTP/1.1\n");
    expect(text).toContain("    http-check send hdr Host labgate-check\n");
    expect(text).toContain("    http-check expect status 200\n");
    expect(text).toContain("    server app1 127.0.0.1:8000 check inter 1000ms fall 2 rise 1\n");
    expect(text).toContain("    server app2 127.0.0.1:8001 check inter 1000ms fall 2 rise 1\n");
    expect(text).toContain(
      "http-response set-header X-Served-By %[srv_name] if !{ res.hdr(X-Served-By) -m found }",
    );
    expect(text).toContain("    bind 127.0.0.1:8404\n");
    expect(text).toContain("http-request use-service prometheus-exporter if { path /metrics }");
    expect(text).toContain("    stats uri /stats\n");
    expect(text).toContain("log stdout format raw");
    expect(renderHaproxyConfig({ ...base, prometheus: true })).toBe(text);
  });

  it("honours the per-backend header mode", () => {
    expect(renderHaproxyConfig({ ...base, servedByHeader: "always" })).toMatch(
      /set-header X-Served-By %\[srv_name\]\n/,
    );
    expect(renderHaproxyConfig({ ...base, servedByHeader: "never" })).not.toContain("X-Served-By");
    expect(renderHaproxyConfig(base)).not.toContain("prometheus-exporter");
  });

  it("builds options from a lab spec (LB instance binds all interfaces)", () => {
    const spec = defaultLabSpec();
    const o = haproxyOptionsFromSpec(spec, [{ name: "app1", address: "10.20.0.30", port: 8000 }]);
    expect(o).toMatchObject({ labName: "demo", bindAddress: "0.0.0.0", port: 8080, statsPort: 8404 });
    expect(renderHaproxyConfig(o)).toContain("    bind :8080\n");
  });

  it("rejects unusable options with a clear error", () => {
    expect(() => renderHaproxyConfig({ ...base, backends: [] })).toThrow(/at least one app server/);
    expect(() => renderHaproxyConfig({ ...base, statsPort: 8080 })).toThrow(/must differ/);
    expect(() => renderHaproxyConfig({ ...base, port: 70000 })).toThrow(/not a TCP port/);
    expect(() =>
      renderHaproxyConfig({
        ...base,
        backends: [{ name: "app 1; rm -rf /", address: "127.0.0.1", port: 1 }],
      }),
    ).toThrow(/backends\[0\]\.name/);
    expect(() =>
      renderHaproxyConfig({
        ...base,
        backends: [...base.backends, { name: "app1", address: "127.0.0.1", port: 9 }],
      }),
    ).toThrow(/used twice/);
    expect(() => renderHaproxyConfig({ ...base, healthPath: "/he alth" })).toThrow(/healthPath/);
  });

  it("refuses digits-and-dots that are no IPv4 address, which libc would read as octal or not at all", () => {
    const backend = (address: string) => ({ ...base, backends: [{ name: "app1", address, port: 8000 }] });
    expect(() => renderHaproxyConfig(backend("010.0.0.1"))).toThrow(
      expect.objectContaining({
        code: "HAPROXY_OPTIONS_INVALID",
        message: expect.stringMatching(/backends\[0\]\.address: "010\.0\.0\.1" .*leading zero/),
        cause: expect.objectContaining({ code: "INVALID_ADDRESS" }),
      }),
    );
    expect(() => renderHaproxyConfig(backend("256.1.1.1"))).toThrow(
      /backends\[0\]\.address: .*larger than 255/,
    );
    expect(() => renderHaproxyConfig(backend("10.0.1"))).toThrow(/four dot-separated numbers/);
    expect(() => renderHaproxyConfig({ ...base, bindAddress: "127.0.0.01" })).toThrow(
      /bindAddress: .*leading zero/,
    );
    // A valid address needs no resolver; a host name does.
    expect(renderHaproxyConfig(backend("10.0.0.1"))).not.toContain("init-addr");
    expect(renderHaproxyConfig(backend("app1.lab.invalid"))).toContain(
      "default-server init-addr last,libc,none",
    );
  });
});

describe("rendered configs pass the real haproxy -c", () => {
  it("detects the installed HAProxy", async () => {
    const info = await detectHaproxy();
    expect(info.major).toBeGreaterThanOrEqual(2);
    expect(typeof info.prometheus).toBe("boolean");
  });

  it("a haproxy that cannot run is HAPROXY_MISSING (exit 4) with the spawn error as cause", async () => {
    const missing = "/nonexistent/labgate-test/haproxy";
    await expect(detectHaproxy(missing)).rejects.toMatchObject({
      code: "HAPROXY_MISSING",
      exitCode: 4,
      message: expect.stringContaining(`${missing} -vv failed`),
      cause: { code: "ENOENT" },
    });
  });

  const variants: [string, Partial<HaproxyConfigOptions>][] = [
    ["local default", {}],
    ["all interfaces, always header", { bindAddress: "0.0.0.0", servedByHeader: "always" }],
    [
      "no header rule, tuned checks",
      { servedByHeader: "never", checkIntervalMs: 500, fall: 3, rise: 2, maxconn: 100 },
    ],
    [
      "host names and IPv6 backends",
      {
        backends: [
          { name: "app1", address: "app1.lab.invalid", port: 8000 },
          { name: "app2", address: "::1", port: 8001 },
        ],
      },
    ],
    [
      "custom timeouts and health path",
      { healthPath: "/healthz", timeouts: { connectMs: 500, serverMs: 5_000 } },
    ],
  ];
  for (const [name, extra] of variants) {
    it(name, async () => {
      const info = await detectHaproxy();
      await assertValidHaproxyConfig(renderHaproxyConfig({ ...base, ...extra, prometheus: info.prometheus }));
    });
  }

  it("reports haproxy's own error for a broken config", async () => {
    const broken = renderHaproxyConfig(base).replace("balance roundrobin", "balance no-such-algorithm");
    const result = await checkHaproxyConfig(broken);
    expect(result.valid).toBe(false);
    expect(result.output).toMatch(/no-such-algorithm|balance/);
    await expect(assertValidHaproxyConfig(broken)).rejects.toMatchObject({ code: "HAPROXY_CONFIG_INVALID" });
  });
});

describe("cloud-init user-data", () => {
  it("LB: #cloud-config with only write_files + runcmd, configs valid for haproxy -c", async () => {
    const spec = defaultLabSpec();
    const userData = buildLbCloudInit(
      haproxyOptionsFromSpec(spec, [
        { name: "app1", address: "10.20.0.30", port: 8000 },
        { name: "app2", address: "10.20.0.31", port: 8001 },
      ]),
    );
    expect(userData.startsWith("#cloud-config\n")).toBe(true);
    const doc = parse(userData) as { write_files: { path: string; content: string }[]; runcmd: string[] };
    expect(Object.keys(doc).sort()).toEqual(["runcmd", "write_files"]);
    const byPath = new Map(doc.write_files.map((f) => [f.path, f.content]));
    const primary = byPath.get(LB_CONFIG_STAGING_PATH) ?? "";
    const fallback = byPath.get(LB_FALLBACK_CONFIG_PATH) ?? "";
    expect(primary).toContain("prometheus-exporter");
    expect(fallback).not.toContain("prometheus-exporter");
    expect(primary).toContain("server app2 10.20.0.31:8001 check");
    // Faults drain / disable servers through this socket inside the LB instance (faults/lxd-faults.ts).
    expect(primary).toContain("stats socket /run/haproxy/admin.sock mode 600 level admin");
    const info = await detectHaproxy();
    if (info.prometheus) await assertValidHaproxyConfig(primary);
    await assertValidHaproxyConfig(fallback);
    expect(doc.runcmd).toEqual(["sh /usr/local/sbin/labgate-lb-setup.sh"]);
    const script = byPath.get("/usr/local/sbin/labgate-lb-setup.sh") ?? "";
    expect(script).toContain("apt-get install -y");
    expect(script).toContain("haproxy -c -f");
    expect(script).toContain("systemctl restart haproxy");
    expect(script).toContain("mkdir -p /run/haproxy");
  });

  it("app: ships the payload byte for byte, a unit and a start script", async () => {
    const files = await readSentimentAppFiles();
    const userData = buildAppCloudInit({ name: "app2", port: 8001, files });
    const doc = parse(userData) as {
      write_files: { path: string; content: string; encoding?: string }[];
      runcmd: string[];
    };
    expect(Object.keys(doc).sort()).toEqual(["runcmd", "write_files"]);
    // Decoded as cloud-init does: `encoding: b64` content is base64 of the file's bytes.
    const byPath = new Map(
      doc.write_files.map((f) => [
        f.path,
        f.encoding === "b64" ? Buffer.from(f.content, "base64").toString("utf8") : f.content,
      ]),
    );
    for (const f of files) expect(byPath.get(`/opt/labgate/sentiment-app/${f.name}`)).toBe(f.content);
    // Text beyond ASCII (the lexicon's em dash) travels base64, which no datasource re-decodes wrongly.
    const lexicon = doc.write_files.find((f) => f.path.endsWith("/lexicon.txt"));
    expect(lexicon?.encoding).toBe("b64");
    expect(doc.write_files.find((f) => f.path.endsWith("labgate-app-setup.sh"))?.encoding).toBeUndefined();
    const unit = byPath.get("/etc/systemd/system/labgate-sentiment.service") ?? "";
    expect(unit).toContain(
      "ExecStart=/usr/bin/python3 /opt/labgate/sentiment-app/app.py --name app2 --host 0.0.0.0 --port 8001",
    );
    expect(byPath.get("/usr/local/sbin/labgate-app-setup.sh")).toContain("nohup python3");
    expect(() => buildAppCloudInit({ name: "bad name", port: 1, files })).toThrow(/not a valid name/);
  });
});

describe("parseHaproxyStatsCsv", () => {
  it("keeps server rows with status and check result", () => {
    const csv = [
      "# pxname,svname,qcur,status,check_status,check_code,last_chk,stot,type,",
      "demo_http,FRONTEND,,OPEN,,,,12,0,",
      "demo_apps,app1,0,UP,L7OK,200,,6,2,",
      "demo_apps,app2,0,DOWN,L4CON,,Connection refused,6,2,",
      "demo_apps,BACKEND,0,UP,,,,12,1,",
      "",
    ].join("\n");
    expect(parseHaproxyStatsCsv(csv)).toEqual([
      {
        proxy: "demo_apps",
        server: "app1",
        status: "UP",
        checkStatus: "L7OK",
        checkDetail: "200",
        totalSessions: 6,
      },
      {
        proxy: "demo_apps",
        server: "app2",
        status: "DOWN",
        checkStatus: "L4CON",
        checkDetail: "Connection refused",
        totalSessions: 6,
      },
    ]);
  });
});
