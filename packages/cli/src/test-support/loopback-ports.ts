// The one free-port helper lives in core's test support; cli tests keep importing it from here.
export { freePorts, isFree } from "../../../core/src/test-support/free-ports.js";
