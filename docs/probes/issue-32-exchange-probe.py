"""Issue 32's exchange probe: while `anode train --workers 2` runs, strangers connect to every port
the process listens on, over and over (silent, garbage, a rank followed by a 12,345-byte message,
a NaN checksum-shaped message), holding their connections open. The run must end exactly as an
undisturbed run of the same command does.

Run from the repository root after a build:
  python3 docs/probes/issue-32-exchange-probe.py [data archive]
"""
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

data = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/cifar10-jpg.tar.gz"
work = tempfile.mkdtemp()


def command(name):
    return ["./anode", "train", "--workers", "2", "--data", data, "--train-limit", "256",
            "--test-limit", "64", "--batch", "64", "--width", "0.125", "--epochs", "2",
            "--no-progress", "--checkpoint", f"{work}/{name}.ckpt", "--metrics", f"{work}/{name}.csv"]


def listening(pid):
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True).stdout
    ports = set()
    for line in out.splitlines():
        if f"pid={pid}," in line:
            address = line.split()[3]
            ports.add((address.rsplit(":", 1)[0].strip("[]"), int(address.rsplit(":", 1)[1])))
    return ports


def stranger(host, port, kind, held):
    try:
        s = socket.create_connection((host if host not in ("*", "0.0.0.0") else "127.0.0.1", port), 2)
        if kind == "garbage":
            s.sendall(os.urandom(12345))
        elif kind == "rank":
            s.sendall(struct.pack(">ii", 1, 12345) + bytes(12345))
        elif kind == "nan":
            s.sendall(struct.pack(">ii", 1, 8) + struct.pack(">d", float("nan")))
        held.append(s)
    except OSError:
        pass


def run(name, disturb):
    p = subprocess.Popen(command(name), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    held, seen, addresses = [], set(), set()
    while disturb and p.poll() is None:
        for host, port in listening(p.pid):
            addresses.add(host)
            for kind in ("silent", "garbage", "rank", "nan"):
                threading.Thread(target=stranger, args=(host, port, kind, held), daemon=True).start()
            seen.add(port)
        time.sleep(0.2)
    out = p.communicate()[0]
    for s in held:
        s.close()
    return p.returncode, out, seen, addresses, len(held)


code_a, out_a, _, _, _ = run("quiet", False)
code_b, out_b, ports, addresses, n = run("disturbed", True)
rows_a = open(f"{work}/quiet.csv").read().splitlines()[1:] if code_a == 0 else []
rows_b = open(f"{work}/disturbed.csv").read().splitlines()[1:] if code_b == 0 else []
strip = lambda rows: [",".join(r.split(",")[:-4]) for r in rows]  # without time, pace and memory
print(f"undisturbed: exit {code_a}; disturbed: exit {code_b}, {n} stranger connections held on "
      f"{len(ports)} ports, listening on {sorted(addresses)}")
print("metrics equal (all but time and memory columns):", strip(rows_a) == strip(rows_b) and rows_a != [])
for r in strip(rows_b):
    print("  ", r[-80:])
