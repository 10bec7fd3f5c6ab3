import { describe, expect, it } from "vitest";
import { configFileDrift, haproxyLiveDrift, parseHaproxyLiveView } from "../haproxy/live-config.js";
import { haproxyOptionsFromSpec, renderHaproxyConfig } from "../haproxy/render-config.js";
import { renderLocalHaproxyConfig } from "../providers/local/lb-step.js";
import { expectedDetectionMs, labHealthCheck } from "./health-check.js";
import { parseSpecText } from "./load-lab-spec.js";
import { parseLabSpec } from "./parse-lab-spec.js";

const refused = (raw: unknown, source = "lab.yaml") => {
  try {
    parseLabSpec(raw, source);
  } catch (error) {
    const e = error as { message: string; hint?: string; exitCode: number; code: string };
    return { message: e.message, hint: e.hint ?? "", exitCode: e.exitCode, code: e.code };
  }
  throw new Error(`${JSON.stringify(raw)} was accepted`);
};

describe("faults: in the lab spec", () => {
  it("keeps the faults as written, in YAML and JSON alike", () => {
    const yaml = parseSpecText(
      [
        "faults:",
        '  - "stop app2 at 2s for 2s"',
        '  - "drain app1 at 1s for 1s"',
        "bench:",
        "  duration: 6s",
      ].join("\n"),
      "lab.yaml",
    );
    expect(yaml.faults).toEqual(["stop app2 at 2s for 2s", "drain app1 at 1s for 1s"]);
    const json = parseSpecText(
      JSON.stringify({
        faults: ["stop app2 at 2s for 2s", "drain app1 at 1s for 1s"],
        bench: { duration: "6s" },
      }),
      "lab.json",
    );
    expect(json.faults).toEqual(yaml.faults);
    expect(parseLabSpec({}, "lab.yaml").faults).toBeUndefined();
  });

  it.each([
    [
      { faults: "stop app2 at 1s for 1s" },
      "lab.yaml: faults: must be a list of faults",
      'faults: ["stop app2',
    ],
    [{ faults: [{ action: "stop" }] }, "lab.yaml: faults[0]: an object is not a fault", "--fault form"],
    [
      { faults: ["stop app2 at 1s for 1s", "explode app1 at 1s for 1s"] },
      "lab.yaml: faults[1]: Fault 'explode app1 at 1s for 1s': unknown action 'explode'",
      "stop|kill|pause|drain|maint",
    ],
    [
      { faults: ["stop app2 at 1 for 1s"] },
      "lab.yaml: faults[0]: Fault 'stop app2 at 1 for 1s': start offset '1' needs a unit",
      "e.g. 'stop app2 at 5s for 10s'",
    ],
    [
      { faults: ["stop app3 at 1s for 1s"] },
      "lab.yaml: faults[0]: 'stop app3 at 1s for 1s' acts on app3, which is not one of the lab's apps (app1, app2)",
      "apps.namePrefix and apps.count",
    ],
    [
      { apps: { namePrefix: "web" }, faults: ["stop app2 at 1s for 1s"] },
      "acts on app2, which is not one of the lab's apps (web1, web2)",
      "Name one of the apps",
    ],
    [
      { faults: ["stop app2 at 4s for 2s"] },
      "lab.yaml: faults[0]: 'stop app2 at 4s for 2s' ends at 6s, after the measured run ends at 5s (bench.duration)",
      "lengthen bench.duration",
    ],
    [
      {
        bench: { duration: "10s" },
        faults: ["drain app1 at 1s for 1s", "stop app2 at 1s for 3s", "kill app2 at 3s for 1s"],
      },
      "lab.yaml: faults[2]: 'kill app2 at 3s for 1s' overlaps faults[1] ('stop app2 at 1s for 3s') on app2",
      "Start it at 4s or later",
    ],
    [
      { slos: ["errors<1%", "detection<3s"] },
      'lab.yaml: slos[1]: "detection<3s" is measured in fault windows, and the spec has no faults',
      "Add faults:",
    ],
  ])("%j is refused at parse time: %s", (raw, message, hint) => {
    const e = refused(raw);
    expect(e.message).toContain(message);
    expect(e.hint).toContain(hint);
    expect(e).toMatchObject({ code: "LAB_SPEC_INVALID", exitCode: 2 });
  });

  it("faults on different apps may overlap; one app's faults may follow each other", () => {
    const spec = parseLabSpec(
      {
        bench: { duration: "8s" },
        faults: ["stop app2 at 1s for 2s", "drain app1 at 1s for 2s", "kill app2 at 3s for 1s"],
      },
      "lab.yaml",
    );
    expect(spec.faults).toHaveLength(3);
  });
});

describe("lb.healthCheck in the lab spec", () => {
  it("reads interval, fall and rise; leaves defaults for what is not given", () => {
    expect(
      parseLabSpec({ lb: { healthCheck: { interval: "200ms", fall: 1 } } }, "lab.yaml").lb.healthCheck,
    ).toEqual({
      intervalMs: 200,
      fall: 1,
      rise: 1,
    });
    const plain = parseLabSpec({}, "lab.yaml");
    expect(plain.lb.healthCheck).toBeUndefined();
    expect(labHealthCheck(plain)).toEqual({ intervalMs: 1_000, fall: 2, rise: 1 });
    expect(expectedDetectionMs({ intervalMs: 1_000, fall: 2, rise: 1 })).toBe(2_000);
  });

  it.each([
    [{ healthCheck: "1s" }, "lab.yaml: lb.healthCheck: must be an object"],
    [{ healthCheck: { interval: 1 } }, "lab.yaml: lb.healthCheck.interval: 1 is not a duration"],
    [{ healthCheck: { interval: "soon" } }, 'lab.yaml: lb.healthCheck.interval: "soon" is not a duration'],
    [
      { healthCheck: { interval: "50ms" } },
      'lab.yaml: lb.healthCheck.interval: "50ms" is outside 100ms to 1m',
    ],
    [{ healthCheck: { interval: "2m" } }, 'lab.yaml: lb.healthCheck.interval: "2m" is outside 100ms to 1m'],
    [
      { healthCheck: { fall: 0 } },
      "lab.yaml: lb.healthCheck.fall: must be a whole number from 1 to 100, got 0",
    ],
    [
      { healthCheck: { rise: 1.5 } },
      "lab.yaml: lb.healthCheck.rise: must be a whole number from 1 to 100, got 1.5",
    ],
    [{ healthCheck: { inter: "1s" } }, "lab.yaml: lb.healthCheck.inter: unknown field"],
  ])("lb %j is refused: %s", (lb, message) => {
    const e = refused({ lb });
    expect(e.message).toContain(message);
    expect(e.exitCode).toBe(2);
  });

  it("is rendered on every server line; the default spec renders what it always did", () => {
    const spec = parseLabSpec({ lb: { healthCheck: { interval: "200ms", fall: 1, rise: 3 } } }, "lab.yaml");
    const backends = [
      { name: "app1", address: "10.20.0.11", port: 8000 },
      { name: "app2", address: "10.20.0.12", port: 8001 },
    ];
    // LXD (lab-payloads.ts) and OpenNebula (one-context.ts) render through haproxyOptionsFromSpec.
    const shared = renderHaproxyConfig(haproxyOptionsFromSpec(spec, backends));
    expect(shared).toContain("server app1 10.20.0.11:8000 check inter 200ms fall 1 rise 3");
    expect(shared).toContain("server app2 10.20.0.12:8001 check inter 200ms fall 1 rise 3");
    const local = renderLocalHaproxyConfig(spec, "127.0.0.1", false);
    expect(local).toContain("server app1 127.0.0.1:8000 check inter 200ms fall 1 rise 3");
    const plain = renderLocalHaproxyConfig(parseLabSpec({}, "lab.yaml"), "127.0.0.1", false);
    expect(plain).toContain("server app1 127.0.0.1:8000 check inter 1000ms fall 2 rise 1");
  });

  it("a changed timing is drift: in the config file, and in the running HAProxy's fall/rise", () => {
    const before = renderLocalHaproxyConfig(parseLabSpec({}, "lab.yaml"), "127.0.0.1", false);
    const fast = parseLabSpec({ lb: { healthCheck: { interval: "200ms", fall: 1 } } }, "lab.yaml");
    const after = renderLocalHaproxyConfig(fast, "127.0.0.1", false);
    expect(configFileDrift("haproxy.cfg", before, after)[0]).toMatch(
      /`server app1 127\.0\.0\.1:8000 check inter 1000ms fall 2 rise 1` \(want `server app1 127\.0\.0\.1:8000 check inter 200ms fall 1 rise 1`\)/,
    );
    // Stats CSV columns as HAProxy 2.6 writes them (management guide 9.1: check_rise, check_fall, addr).
    const csv = [
      "# pxname,svname,status,check_rise,check_fall,addr,algo",
      "demo_apps,app1,UP,1,2,127.0.0.1:8000,",
      "demo_apps,app2,UP,1,2,127.0.0.1:8001,",
      "demo_apps,BACKEND,UP,,,,roundrobin",
    ].join("\n");
    const want = haproxyOptionsFromSpec(fast, [
      { name: "app1", address: "127.0.0.1", port: 8000 },
      { name: "app2", address: "127.0.0.1", port: 8001 },
    ]);
    expect(haproxyLiveDrift(parseHaproxyLiveView(csv), want)).toEqual([
      "the running HAProxy checks app1 with fall 2 (want fall 1)",
      "the running HAProxy checks app2 with fall 2 (want fall 1)",
    ]);
    const same = haproxyOptionsFromSpec(parseLabSpec({}, "lab.yaml"), want.backends);
    expect(haproxyLiveDrift(parseHaproxyLiveView(csv), same)).toEqual([]);
  });
});
