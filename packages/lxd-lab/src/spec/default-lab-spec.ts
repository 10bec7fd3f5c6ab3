import type { LabSpec } from "./lab-spec.js";

/** Defaults every spec starts from; a lab.json only needs to say what differs. */
export const LAB_SPEC_DEFAULTS = {
  name: "demo",
  provider: "local",
  appCount: 2,
  firstAppPort: 8000,
  namePrefix: "app",
  lbPort: 8080,
  statsPort: 8404,
  lbName: "lb",
  localCidr: "127.0.0.0/8",
  image: "ubuntu:22.04",
  slos: ["p99<250ms", "errors<1%"],
} as const;

/** The built-in lab used when no lab.json / lab.yaml exists: two apps and HAProxy on this machine. */
export function defaultLabSpec(): LabSpec {
  const d = LAB_SPEC_DEFAULTS;
  return {
    name: d.name,
    provider: d.provider,
    network: { cidr: d.localCidr, dhcp: false },
    apps: {
      count: d.appCount,
      ports: Array.from({ length: d.appCount }, (_, i) => d.firstAppPort + i),
      namePrefix: d.namePrefix,
    },
    lb: { port: d.lbPort, statsPort: d.statsPort, name: d.lbName },
    image: d.image,
    slos: [...d.slos],
  };
}
