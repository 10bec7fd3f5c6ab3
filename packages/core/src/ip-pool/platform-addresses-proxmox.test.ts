import { describe, expect, it } from "vitest";
import { ipconfigAddress } from "./platform-addresses-proxmox.js";

describe("ipconfigAddress (qemu-server ipconfigN)", () => {
  it("takes the IPv4 address of ip=, in any position, and nothing else", () => {
    expect(ipconfigAddress("ip=192.168.3.20/24,gw=192.168.3.1")).toBe("192.168.3.20");
    expect(ipconfigAddress("gw=192.168.3.1,ip=192.168.3.21/24")).toBe("192.168.3.21");
    expect(ipconfigAddress("ip6=fd00::5/64,ip=10.0.0.7/8")).toBe("10.0.0.7");
    expect(ipconfigAddress("ip=dhcp")).toBeUndefined();
    expect(ipconfigAddress("ip6=auto")).toBeUndefined();
    expect(ipconfigAddress("gw=10.0.0.1")).toBeUndefined();
    expect(ipconfigAddress("ip=300.1.1.1/24")).toBeUndefined();
  });
});
