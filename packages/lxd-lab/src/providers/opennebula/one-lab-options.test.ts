import { ExitCode, type LabgateError } from "@labgate/core";
import { describe, expect, it } from "vitest";
import type { LabSpec } from "../../spec/lab-spec.js";
import { oneLabOptions } from "./one-lab-options.js";

const spec = (providerOptions: Record<string, unknown>): LabSpec => ({
  name: "lab",
  provider: "opennebula",
  network: { cidr: "192.168.3.0/24", dhcp: false },
  apps: { count: 2, ports: [8000, 8001], namePrefix: "app" },
  lb: { port: 8080, statsPort: 8404, name: "lb" },
  image: "ubuntu:22.04",
  slos: [],
  providerOptions,
});

describe("oneLabOptions", () => {
  it("fills the documented defaults", () => {
    const o = oneLabOptions(spec({ host: "192.168.3.10" }));
    expect(o).toMatchObject({
      vnetName: "vnet-lxd",
      appTemplate: "tpl-app",
      lbTemplate: "tpl-lb",
      imageName: "labgate-ubuntu-22.04",
      hostDriver: "auto",
      bridge: "lxdbr0",
      connection: { host: "192.168.3.10" },
    });
    expect(o.apps.map((a) => a.vmName)).toEqual(["lab-app1", "lab-app2"]);
  });

  it("refuses a misspelt option instead of silently using the default", () => {
    let error: LabgateError | undefined;
    try {
      oneLabOptions(spec({ host: "192.168.3.10", sesion: "oneadmin:x", hostname: "h1" }));
    } catch (e) {
      error = e as LabgateError;
    }
    expect(error?.code).toBe("ONE_OPTION_INVALID");
    expect(error?.exitCode).toBe(ExitCode.INVALID_INPUT);
    expect(error?.message).toContain("sesion, hostname");
    expect(error?.hint).toContain("hostName");
    // The value of a misspelt session key is a secret too: it never reaches the message.
    expect(JSON.stringify(error)).not.toContain("oneadmin:x");
  });

  it("names every option of the wrong type at once, instead of silently using its default", () => {
    let error: LabgateError | undefined;
    try {
      oneLabOptions(
        spec({ host: "h", datastoreId: "1", hostDriver: "kvm", ssh: { host: "192.168.3.20", port: "22" } }),
      );
    } catch (e) {
      error = e as LabgateError;
    }
    expect(error?.code).toBe("ONE_OPTION_INVALID");
    expect(error?.exitCode).toBe(ExitCode.INVALID_INPUT);
    expect(error?.message).toBe(
      'providerOptions.hostDriver: is not lxd, lxc or auto, got "kvm"; providerOptions.datastoreId: is not a whole number of at least 0, got "1"; providerOptions.ssh.port: is not a whole number from 1 to 65535, got "22".',
    );
    expect(error?.hint).toContain("Give providerOptions.ssh.port as a whole number from 1 to 65535");
  });

  it("reads ssh with its defaults, and refuses ssh without a host", () => {
    expect(oneLabOptions(spec({ host: "h", ssh: { host: "192.168.3.20" } })).ssh).toEqual({
      host: "192.168.3.20",
      user: "root",
      port: 22,
    });
    expect(() => oneLabOptions(spec({ host: "h", ssh: { user: "root" } }))).toThrow(
      "providerOptions.ssh.host: is missing.",
    );
  });

  it("exports the image from the marketplace by default and validates a given lxd:// PATH like lxd_downloader.sh", () => {
    expect(oneLabOptions(spec({ host: "h" })).imageSource).toEqual({ kind: "market", app: "ubuntu_jammy" });
    const complete =
      "lxd://https://images.linuxcontainers.org/images/ubuntu/jammy/amd64/default/20261201_07:42/rootfs.tar.xz?size=2048&filesystem=ext4&format=raw";
    expect(oneLabOptions(spec({ host: "h", imagePath: complete })).imageSource).toEqual({
      kind: "path",
      path: complete,
    });
    const refused = (path: string) => {
      try {
        oneLabOptions(spec({ host: "h", imagePath: path }));
      } catch (e) {
        return e as LabgateError;
      }
      throw new Error(`accepted ${path}`);
    };
    // The old default: a directory, no archive, no size.
    const dir = refused("lxd://https://images.linuxcontainers.org/images/ubuntu/jammy/amd64/default/");
    expect(dir.code).toBe("ONE_IMAGE_PATH_INVALID");
    expect(dir.exitCode).toBe(ExitCode.INVALID_INPUT);
    expect(dir.message).toMatch(/names no archive/);
    expect(dir.hint).toMatch(/rootfs\.tar\.xz\?size=/);
    expect(refused(complete.replace(/\?.*$/, "")).message).toMatch(/no \?size=N/);
    expect(refused(complete.replace("size=2048", "size=big")).message).toMatch(
      /size=big is not a positive number/,
    );
    expect(refused(complete.replace("/ubuntu/", "/plan9/")).message).toMatch(/no OpenNebula context package/);
  });
});
