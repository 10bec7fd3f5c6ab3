import { describe, expect, it } from "vitest";
import { isLabOwner, labOwner, ownerProblem, parseLabOwner } from "./owner.js";

describe("lab owners", () => {
  it("one form: lab:<lab> for the lab's own address, lab:<lab>/<machine> for a machine's", () => {
    expect(labOwner("demo")).toBe("lab:demo");
    expect(labOwner("demo", "demo-app1")).toBe("lab:demo/demo-app1");
    expect(ownerProblem(labOwner("demo", "demo-app1"))).toBeUndefined();
  });

  it("reads back what it writes", () => {
    expect(parseLabOwner(labOwner("demo"))).toEqual({ lab: "demo" });
    expect(parseLabOwner(labOwner("demo", "demo-lb"))).toEqual({ lab: "demo", machine: "demo-lb" });
    expect(isLabOwner("lab:demo/demo-lb", "demo", "demo-lb")).toBe(true);
    expect(isLabOwner("lab:demo", "demo")).toBe(true);
  });

  it("recognises the OpenNebula labs' older lab:<lab>:<vm> (the VM's short name) as the machine <lab>-<vm>", () => {
    expect(parseLabOwner("lab:demo:app1")).toEqual({ lab: "demo", machine: "demo-app1" });
    expect(isLabOwner("lab:demo:app1", "demo", "demo-app1")).toBe(true);
    expect(isLabOwner("lab:demo:app1", "demo", "demo-app2")).toBe(false);
  });

  it("tells labs, machines and other owners apart", () => {
    expect(isLabOwner("lab:demo/demo-app1", "demo2", "demo-app1")).toBe(false);
    expect(isLabOwner("lab:demo/demo-app1", "demo")).toBe(false);
    expect(isLabOwner("lab:demo", "demo", "demo-app1")).toBe(false);
    expect(parseLabOwner("deploy/lxd/web1")).toBeUndefined();
    expect(parseLabOwner("lab:")).toBeUndefined();
    expect(parseLabOwner("laboratory:demo")).toBeUndefined();
  });
});
