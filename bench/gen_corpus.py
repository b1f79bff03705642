#!/usr/bin/env python3
"""Deterministic benchmark corpus for sealpub: image.tar, fp16.bin, sparse.bin.

image.tar  a `docker save`-like archive (legacy layout: <id>/VERSION, <id>/json,
           <id>/layer.tar, <config>.json, manifest.json, repositories) whose
           layers are real POSIX tars of the regular files, directories and
           symlinks under /usr, in sorted order, with fixed mtime/uid/gid/uname.
           If /usr holds too little, the list is walked again under a renamed
           prefix with a different mtime. Deterministic for a given machine
           state: it reads the machine's own /usr, so installing packages
           changes it (the printed sha256 tells).
fp16.bin   IEEE half-precision "weights": tensors drawn from N(0, sigma) with a
           few different sigmas (embeddings, attention/MLP, norms near 1.0).
           A pool of gaussian blocks is drawn once with random.Random(seed);
           each 4 MiB output block is a pool block rotated by a random even
           offset whose low mantissa byte is XORed with fresh PRNG bytes, so no
           two blocks repeat and deflate never sees a match it should not.
sparse.bin mostly zeros (a sparse file on disk) with a few islands of random,
           text-like and fp16-like bytes.

stdlib only. Prints one line per file: sha256, size, name.
"""

import argparse
import hashlib
import io
import json
import os
import random
import stat
import struct
import sys
import tarfile
import time

MIB = 1 << 20
SEED = 0x5EA1_0B0B
MTIME = 1_700_000_000  # fixed: 2023-11-14
BLOCK = 4 * MIB        # fp16 output block


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(8 * MIB)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


# ---------------------------------------------------------------- image.tar

def usr_entries(root="/usr", max_file=64 * MIB):
    """Sorted, deterministic list of (relpath, lstat) under root."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            p = os.path.join(dirpath, name)
            if ".dpkg-" in name:  # half-installed package files come and go
                continue
            try:
                st = os.lstat(p)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                if st.st_size > max_file or not os.access(p, os.R_OK):
                    continue
            elif not (stat.S_ISDIR(st.st_mode) or stat.S_ISLNK(st.st_mode)):
                continue
            out.append((p, st))
    out.sort(key=lambda e: e[0])
    return out


def tarinfo_for(arcname, st, mtime):
    ti = tarfile.TarInfo(arcname)
    ti.mode = stat.S_IMODE(st.st_mode)
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = "root"
    ti.mtime = mtime
    if stat.S_ISDIR(st.st_mode):
        ti.type = tarfile.DIRTYPE
    elif stat.S_ISLNK(st.st_mode):
        ti.type = tarfile.SYMTYPE
    else:
        ti.type = tarfile.REGTYPE
    return ti


class UsrStream:
    """Yields (TarInfo, bytes|None) forever: /usr in order, then again renamed."""

    def __init__(self, entries):
        self.entries = entries
        self.pass_no = 0
        self.i = 0

    def next(self):
        while True:
            if self.i >= len(self.entries):
                self.i = 0
                self.pass_no += 1
            p, st = self.entries[self.i]
            self.i += 1
            rel = p.lstrip("/")
            if self.pass_no:
                # A later pass: other path prefix and mtime, same bytes (as a
                # rebuilt image on top of another base would look).
                rel = "opt/rebuild%d/%s" % (self.pass_no, rel)
            ti = tarinfo_for(rel, st, MTIME + 86400 * self.pass_no)
            if ti.type == tarfile.SYMTYPE:
                try:
                    ti.linkname = os.readlink(p)
                except OSError:
                    continue
                return ti, None
            if ti.type == tarfile.DIRTYPE:
                return ti, None
            try:
                with open(p, "rb") as f:
                    data = f.read()
            except OSError:
                continue
            ti.size = len(data)
            return ti, data


def write_layer(path, stream, target):
    """Writes one layer tar of about target bytes; returns its sha256 hex."""
    with open(path, "wb") as raw:
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
            written = 0
            while written < target:
                ti, data = stream.next()
                if data is not None and written and written + len(data) > target + MIB:
                    continue  # keeps each layer near its share at small scales
                if data is None:
                    t.addfile(ti)
                    written += 512
                else:
                    t.addfile(ti, io.BytesIO(data))
                    written += 512 + (len(data) + 511) // 512 * 512
    return sha256_file(path)


def add_bytes(t, name, data, mtime=MTIME):
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    ti.mtime = mtime
    ti.mode = 0o644
    ti.uname = ti.gname = ""
    t.addfile(ti, io.BytesIO(data))


def gen_image(out, size):
    entries = usr_entries()
    if not entries:
        sys.exit("gen_corpus: nothing readable under /usr")
    stream = UsrStream(entries)
    # Layer shares of a typical application image: base OS, toolchain and
    # libraries, runtime, app dependencies, app, config.
    shares = [0.08, 0.30, 0.24, 0.20, 0.13, 0.05]
    tmp = out + ".layers"
    os.makedirs(tmp, exist_ok=True)
    layers = []  # (layer id, diff_id, tmp path)
    parent = ""
    for n, share in enumerate(shares):
        lp = os.path.join(tmp, "layer%d.tar" % n)
        diff = write_layer(lp, stream, int(size * share))
        # Legacy v1 layer ids chain the parent id, as docker save does.
        lid = hashlib.sha256(("%s\n%s" % (parent, diff)).encode()).hexdigest()
        layers.append((lid, diff, lp))
        parent = lid

    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(MTIME))
    config = {
        "architecture": "amd64", "os": "linux", "created": created,
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                   "Cmd": ["/bin/sh"], "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + d for _, d, _ in layers]},
        "history": [{"created": created, "created_by": "/bin/sh -c #(nop) layer %d" % i}
                    for i in range(len(layers))],
    }
    config_b = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    config_id = hashlib.sha256(config_b).hexdigest()
    manifest = [{"Config": config_id + ".json", "RepoTags": ["sealpub/bench:latest"],
                 "Layers": ["%s/layer.tar" % lid for lid, _, _ in layers]}]
    repositories = {"sealpub/bench": {"latest": layers[-1][0]}}

    with tarfile.open(out, mode="w", format=tarfile.PAX_FORMAT) as t:
        parent = None
        for lid, diff, lp in layers:
            d = tarfile.TarInfo(lid)
            d.type, d.mode, d.mtime, d.uname, d.gname = tarfile.DIRTYPE, 0o755, MTIME, "", ""
            t.addfile(d)
            add_bytes(t, lid + "/VERSION", b"1.0")
            lj = {"id": lid, "created": created, "os": "linux"}
            if parent:
                lj["parent"] = parent
            add_bytes(t, lid + "/json", json.dumps(lj, sort_keys=True).encode())
            ti = tarfile.TarInfo(lid + "/layer.tar")
            ti.size, ti.mtime, ti.mode, ti.uname, ti.gname = os.path.getsize(lp), MTIME, 0o644, "", ""
            with open(lp, "rb") as f:
                t.addfile(ti, f)
            os.unlink(lp)
            parent = lid
        add_bytes(t, config_id + ".json", config_b)
        add_bytes(t, "manifest.json", json.dumps(manifest).encode())
        add_bytes(t, "repositories", json.dumps(repositories).encode())
    os.rmdir(tmp)


# ---------------------------------------------------------------- fp16.bin

def gauss_half_block(rng, n_vals, sigma, mean=0.0):
    vals = [rng.gauss(mean, sigma) for _ in range(n_vals)]
    return struct.pack("<%de" % n_vals, *vals)


def xor_low_bytes(block, rnd):
    """block XOR (rnd AND 0x00ff repeated): touches only the low mantissa byte."""
    n = len(block)
    mask = int.from_bytes(b"\xff\x00" * (n // 2), "little")
    x = int.from_bytes(block, "little") ^ (int.from_bytes(rnd, "little") & mask)
    return x.to_bytes(n, "little")


def gen_fp16(out, size):
    rng = random.Random(SEED)
    # (sigma, mean, share of tensors): embeddings / attention / MLP / norms.
    kinds = [(0.02, 0.0, 4), (0.035, 0.0, 6), (0.012, 0.0, 5), (0.25, 1.0, 1)]
    pool = [gauss_half_block(rng, BLOCK // 2, s, m) for s, m, _ in kinds]
    schedule = [i for i, (_, _, w) in enumerate(kinds) for _ in range(w)]
    written = 0
    with open(out, "wb") as f:
        while written < size:
            k = schedule[rng.randrange(len(schedule))]
            base = pool[k]
            off = rng.randrange(BLOCK // 2) * 2
            blk = base[off:] + base[:off]
            blk = xor_low_bytes(blk, rng.randbytes(BLOCK))
            if rng.random() < 0.5 and kinds[k][1] == 0.0:
                # flip every sign: a different tensor of the same distribution
                x = int.from_bytes(blk, "little") ^ int.from_bytes(b"\x00\x80" * (BLOCK // 2), "little")
                blk = x.to_bytes(BLOCK, "little")
            n = min(BLOCK, size - written)
            f.write(blk[:n])
            written += n


# ---------------------------------------------------------------- sparse.bin

def gen_sparse(out, size):
    rng = random.Random(SEED + 1)
    with open(out, "wb") as f:
        f.truncate(size)
        n_islands = 24
        for i in range(n_islands):
            length = min(rng.choice([4096, 65536, 300_000, MIB]), size // (4 * n_islands) or 4096)
            pos = (size // n_islands) * i + rng.randrange(max(1, size // n_islands - length))
            pos &= ~4095
            kind = i % 3
            if kind == 0:
                data = rng.randbytes(length)
            elif kind == 1:
                words = [b"layer", b"weight", b"bias", b"0x%08x" % rng.getrandbits(32), b"\n", b"{", b"}"]
                data = b" ".join(rng.choice(words) for _ in range(length // 4))[:length]
            else:
                data = gauss_half_block(rng, length // 2, 0.02)
            f.seek(pos)
            f.write(data)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every size (0.1 = quick)")
    ap.add_argument("--image-mib", type=float, default=1024)
    ap.add_argument("--fp16-mib", type=float, default=512)
    ap.add_argument("--sparse-mib", type=float, default=512)
    ap.add_argument("--only", choices=["image", "fp16", "sparse"], action="append")
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    jobs = [("image", "image.tar", gen_image, a.image_mib),
            ("fp16", "fp16.bin", gen_fp16, a.fp16_mib),
            ("sparse", "sparse.bin", gen_sparse, a.sparse_mib)]
    for key, name, fn, mib in jobs:
        if a.only and key not in a.only:
            continue
        path = os.path.join(a.outdir, name)
        size = int(mib * a.scale * MIB) & ~1  # even: whole fp16 values
        t0 = time.monotonic()
        fn(path + ".tmp", size)
        os.replace(path + ".tmp", path)
        dt = time.monotonic() - t0
        print("%s  %12d  %s  (%.1fs)" % (sha256_file(path), os.path.getsize(path), name, dt), flush=True)


if __name__ == "__main__":
    main()
