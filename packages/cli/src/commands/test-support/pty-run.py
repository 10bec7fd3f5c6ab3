"""Drives a command through a real pseudo-terminal: waits for expected text, then sends input or a
signal (Ctrl-C as the terminal's INTR character). Prints {"output", "exitCode"} as JSON.
Usage: python3 pty-run.py '<json: {"argv": [...], "cwd": "...", "script": [{"expect": "...", "send": "y\\n"} | {"expect": "...", "intr": true}], "timeout": 20}>'"""
import json, os, pty, select, signal, sys, time

spec = json.loads(sys.argv[1])
pid, fd = pty.fork()
if pid == 0:
    os.chdir(spec["cwd"])
    os.execvp(spec["argv"][0], spec["argv"])

output = b""
deadline = time.time() + spec.get("timeout", 20)

def read_some(wait):
    global output
    r, _, _ = select.select([fd], [], [], wait)
    if not r:
        return True
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        return False
    if not chunk:
        return False
    output += chunk
    return True

alive = True
pos = 0
for step in spec["script"]:
    needle = step["expect"].encode()
    while alive and output.find(needle, pos) < 0 and time.time() < deadline:
        alive = read_some(0.1)
    found = output.find(needle, pos)
    if found < 0:
        break
    pos = found + len(needle)
    if step.get("intr"):
        os.write(fd, b"\x03")
    else:
        os.write(fd, step["send"].encode())

# Read until the child closes the terminal (EIO/EOF) or time runs out.
while alive and time.time() < deadline:
    alive = read_some(0.1)
timed_out = alive
if timed_out:
    os.kill(pid, signal.SIGKILL)
_, status = os.waitpid(pid, 0)
code = os.waitstatus_to_exitcode(status)
print(json.dumps({"output": output.decode("utf-8", "replace"), "exitCode": code, "timedOut": timed_out}))
