import { checkDeployment, type DeploySpec } from "@labgate/core";
import { describe, expect, it } from "vitest";
import { PLATFORM_OPTIONS } from "../../core/src/deploy-rules/test-support/platform-options.js";
import { AwsAdapter } from "./aws.js";
import { AzureAdapter } from "./azure.js";

// Moved from core's deploy-rules/rules.test.ts with the adapters: core's rules judged with these adapters' capabilities.
const OPTIONS = { aws: PLATFORM_OPTIONS.aws, azure: PLATFORM_OPTIONS.azure };

const cloud = (platform: "aws" | "azure", over: Partial<DeploySpec> = {}): DeploySpec => ({
  name: "vm1",
  os: { family: "linux", distro: "ubuntu" },
  cores: 2,
  memory_mib: 2048,
  platform_options: OPTIONS,
  image: { ref: platform === "aws" ? "ami-0123456789abcdef0" : "Canonical:ubuntu:22_04-lts:latest" },
  network: {},
  ssh_authorized_keys: ["ssh-ed25519 AAAA k"],
  ...over,
});

const adapter = (platform: "aws" | "azure", spec: DeploySpec) =>
  platform === "aws" ? new AwsAdapter({ spec, env: {} }) : new AzureAdapter({ spec, env: {} });

// [case, platform, spec, codes that must appear, codes that must not appear]
const CASES: [string, "aws" | "azure", DeploySpec, string[], string[]][] = [
  ["aws defaults to DHCP", "aws", cloud("aws"), [], ["STATIC_ADDRESS_REQUIRED", "CLOUD_IP_WITHOUT_STATIC"]],
  [
    "aws ip without static",
    "aws",
    cloud("aws", { network: { ip: "10.0.1.5" } }),
    ["CLOUD_IP_WITHOUT_STATIC"],
    [],
  ],
  [
    "azure static without ip",
    "azure",
    cloud("azure", { network: { static: true } }),
    ["CLOUD_STATIC_WITHOUT_ADDRESS"],
    [],
  ],
  [
    "aws static with a cidr but no ip: the cloud's addresses are not in labgate's pool",
    "aws",
    cloud("aws", { network: { static: true, cidr: "10.0.1.0/24" } }),
    ["CLOUD_STATIC_WITHOUT_ADDRESS"],
    [],
  ],
  [
    "aws static with just an ip is complete",
    "aws",
    cloud("aws", { network: { static: true, ip: "10.0.1.50" } }),
    [],
    ["CLOUD_STATIC_WITHOUT_ADDRESS", "CLOUD_IP_WITHOUT_STATIC", "STATIC_NETWORK_INCOMPLETE"],
  ],
  [
    "azure gateway/dns are ignored",
    "azure",
    cloud("azure", { network: { gateway: "10.0.0.1" } }),
    ["CLOUD_GATEWAY_DNS_IGNORED"],
    [],
  ],
  [
    "aws cannot clone templates",
    "aws",
    cloud("aws", { template_id: "9000" }),
    ["TEMPLATE_NOT_SUPPORTED"],
    [],
  ],
];

describe("deployment rules on the cloud platforms", () => {
  it.each(CASES)("%s", (_name, platform, spec, present, absent) => {
    const codes = checkDeployment(spec, adapter(platform, spec)).map((f) => f.code);
    for (const code of present) expect(codes).toContain(code);
    for (const code of absent) expect(codes).not.toContain(code);
  });

  it("every finding has a stable code, a severity, a message and a fix", () => {
    for (const [, platform, spec] of CASES) {
      for (const f of checkDeployment(spec, adapter(platform, spec))) {
        expect(f.code).toMatch(/^[A-Z][A-Z0-9_]+$/);
        expect(["error", "warning", "info"]).toContain(f.severity);
        expect(f.message.length).toBeGreaterThan(10);
        expect(f.fix.length).toBeGreaterThan(2);
      }
    }
  });
});
