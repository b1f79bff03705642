#!/usr/bin/env python3
"""relay.py: a byte-exact relay between a client and a real server, for tests.

Not a mock: every byte comes from the real server; the relay only watches or
cuts. Used to record what crosses a registry link (it_registry_tls.sh) and to
kill the Docker engine at a chosen point of a stream (it_docker.sh).

Usage: relay.py LISTEN UPSTREAM [--record FILE] [--kill-pid PID --kill-after BYTES]
  LISTEN, UPSTREAM: unix:PATH, or tcp:PORT (127.0.0.1; LISTEN tcp:0 picks a
  free port). With --port-file F the listening port is written to F (renamed
  into place, so it appears whole).
  --record FILE: appends every byte that crosses, both ways.
  --kill-pid/--kill-after: SIGKILLs PID once more than BYTES of answers have
  passed to the client, and prints "killed".
Prints "ready" once listening."""
import argparse
import os
import signal
import socket
import threading

a = argparse.ArgumentParser()
a.add_argument("listen")
a.add_argument("upstream")
a.add_argument("--port-file")
a.add_argument("--record")
a.add_argument("--kill-pid", type=int)
a.add_argument("--kill-after", type=int, default=0)
args = a.parse_args()
lock = threading.Lock()
answered = 0
killed = threading.Event()


def endpoint(spec, listen):
    kind, _, where = spec.partition(":")
    if kind == "unix":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if listen:
            s.bind(where)
        else:
            s.connect(where)
        return s
    if listen:
        s = socket.socket()
        s.bind(("127.0.0.1", int(where)))
        return s
    return socket.create_connection(("127.0.0.1", int(where)))


def pump(src, dst, from_client):
    global answered
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if args.record:
                with lock, open(args.record, "ab") as f:
                    f.write(data)
            dst.sendall(data)
            if not from_client and args.kill_pid:
                with lock:
                    answered += len(data)
                    if answered > args.kill_after and not killed.is_set():
                        os.kill(args.kill_pid, signal.SIGKILL)
                        killed.set()
                        print("killed", flush=True)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


srv = endpoint(args.listen, True)
srv.listen(16)
if args.port_file:
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(srv.getsockname()[1]))
    os.rename(args.port_file + ".tmp", args.port_file)
print("ready", flush=True)
while True:
    client, _ = srv.accept()
    upstream = endpoint(args.upstream, False)
    threading.Thread(target=pump, args=(client, upstream, True), daemon=True).start()
    threading.Thread(target=pump, args=(upstream, client, False), daemon=True).start()
