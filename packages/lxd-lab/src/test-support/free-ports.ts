// The one free-port helper lives in core's test support; lxd-lab tests keep importing it from here.
export { freePorts } from "../../../core/src/test-support/free-ports.js";
