#!/usr/bin/env python3
"""docker_killer.py: relays a client to the real Docker engine's socket and
SIGKILLs the engine once more than KILL_AFTER bytes of answers have passed,
so that the engine really dies in the middle of a stream (it_docker.sh).

Not a mock: every byte comes from the real dockerd; the relay only makes
the moment of death deterministic. Usage: LISTEN_SOCK ENGINE_SOCK KILL_AFTER ENGINE_PID
It prints "killed" on stdout when it has killed the engine."""
import os
import signal
import socket
import sys
import threading

listen_path, engine_path, kill_after, engine_pid = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
relayed = 0
lock = threading.Lock()
killed = threading.Event()


def pump(src, dst, count):
    global relayed
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
            if count:
                with lock:
                    relayed += len(data)
                    if relayed > kill_after and not killed.is_set():
                        os.kill(engine_pid, signal.SIGKILL)
                        killed.set()
                        print("killed", flush=True)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(listen_path)
srv.listen(8)
print("ready", flush=True)
while True:
    client, _ = srv.accept()
    engine = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    engine.connect(engine_path)
    threading.Thread(target=pump, args=(client, engine, False), daemon=True).start()
    threading.Thread(target=pump, args=(engine, client, True), daemon=True).start()
