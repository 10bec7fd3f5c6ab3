import { DEFAULT_LXD_SOCKETS } from "@labgate/core";

/** Every --socket option's help, read from the one list of LXD sockets core tries (lxdSocketCandidates). */
export const LXD_SOCKET_HELP = `LXD's unix socket (default: $LXD_SOCKET, $LXD_DIR/unix.socket, else ${DEFAULT_LXD_SOCKETS.join(" or ")})`;
