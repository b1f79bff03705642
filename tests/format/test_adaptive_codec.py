"""test_adaptive_codec.py: containers whose chunks the default level compressed with different codecs
(libdeflate, ISA-L, stored, chosen per chunk from its content) read back with the independent Python
reader and with `sealpub open`, and the choice is the same for the same input.

Run: python3 -m unittest discover -s tests/format -v   (or this file alone)
Env: SEALPUB_BIN as for test_reference_reader.py. Without the binary the test is skipped, except
under CI=true or SEALPUB_REQUIRE_SERVICES=1, where it fails.
"""
import gzip
import io
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import reference_reader as rr  # noqa: E402
from test_reference_reader import HAVE_SEALPUB, SEALPUB  # noqa: E402

MIB = 1 << 20
REQUIRED = os.environ.get("CI") == "true" or os.environ.get("SEALPUB_REQUIRE_SERVICES") == "1"
WORDS = ["layer", "sha256", "manifest", "json", "usr", "lib", "config", "the", "of", "\n"]


def text(n, seed):
    rng = random.Random(seed)
    out = bytearray()
    while len(out) < n:
        out += " ".join(rng.choice(WORDS) for _ in range(4096)).encode() + b" "
    return bytes(out[:n])


def weights(n, seed):
    """fp16-like: a random low byte, a high byte from a few exponents (entropy coding pays, matching does not)."""
    rng = random.Random(seed)
    lo = rng.randbytes(n // 2)
    hi = bytes(rng.choices(range(0x20, 0x28), weights=[64, 32, 16, 8, 4, 2, 1, 1], k=n // 2))
    out = bytearray(n)
    out[0::2] = lo
    out[1::2] = hi
    return bytes(out)


def noise(n, seed):
    return random.Random(seed).randbytes(n)


def zeros(n, seed):
    return bytes(n)


class AdaptiveCodecTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not HAVE_SEALPUB:
            if REQUIRED:
                raise AssertionError(f"sealpub binary not found at {SEALPUB} (CI requires it)")
            raise unittest.SkipTest(f"no sealpub binary at {SEALPUB}")
        cls.tmp = tempfile.TemporaryDirectory()
        cls.home = os.path.join(cls.tmp.name, "home")
        cls.env = {k: v for k, v in os.environ.items()
                   if not k.startswith(("SEALPUB_", "PG")) and k != "DATABASE_URL"}
        cls.env["SEALPUB_HOME"] = cls.home
        cls.version = 0

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def publish(self, name, data, *extra):
        """Publishes data at the default level with 1 MiB chunks; returns (json, container bytes, key)."""
        type(self).version += 1
        version = str(type(self).version)
        path = os.path.join(self.tmp.name, name + ".bin")
        with open(path, "wb") as f:
            f.write(data)
        p = subprocess.run([SEALPUB, "publish", path, "--name", name, "--stage", "dev", "--version", version,
                            "--chunk-size", "1M", "--threads", "2", "--json", *extra],
                           env=self.env, capture_output=True)
        self.assertEqual(p.returncode, 0, p.stderr.decode(errors="replace"))
        out = json.loads(p.stdout)
        db = sqlite3.connect(os.path.join(self.home, "registry.db"))
        try:
            key_b64, wrap, obj = db.execute(
                "SELECT encryption_key, key_wrap, object_key FROM resources WHERE resource_name=? AND version=?",
                (name, version)).fetchone()
        finally:
            db.close()
        self.assertEqual(wrap, "none", "the test runs without a KEK")
        with open(os.path.join(self.home, "objects", obj), "rb") as f:
            enc = f.read()
        return out, enc, rr.decode_key(key_b64), os.path.join(self.home, "objects", obj)

    def read_back(self, enc, key, obj, plain):
        """Both readers give plain back; returns the decrypted gzip members."""
        members, sink = [], io.BytesIO()
        rr.open_stream(io.BytesIO(enc), key, sink=sink.write, on_member=members.append)
        self.assertEqual(sink.getvalue(), plain, "the Python reader's plaintext differs")
        # §13: the members, concatenated, are one multi-member gzip file of the input.
        self.assertEqual(gzip.decompress(b"".join(members)), plain)
        out = os.path.join(self.tmp.name, "opened")
        p = subprocess.run([SEALPUB, "open", obj, "-o", out, "--quiet"], env=self.env, capture_output=True)
        self.assertEqual(p.returncode, 0, p.stderr.decode(errors="replace"))
        with open(out, "rb") as f:
            self.assertEqual(f.read(), plain, "sealpub open's plaintext differs")
        os.unlink(out)
        return members

    def check_counts(self, out, deflated, fast, stored):
        got = (out["chunks_deflated"], out["chunks_fast"], out["chunks_stored"])
        self.assertEqual(got, (deflated, fast, stored), "chunks deflated/fast/stored")
        self.assertEqual(sum(got), out["chunks"])

    def test_alternating_classes_chunk_by_chunk(self):
        # text, weights, random, zeros twice, then a short text chunk below the probe's 512 KiB.
        gens = [text, weights, noise, zeros] * 2
        plain = b"".join(g(MIB, i) for i, g in enumerate(gens)) + text(300 * 1024, 99)
        out, enc, key, obj = self.publish("alt", plain)
        members = self.read_back(enc, key, obj, plain)
        self.assertEqual(len(members), 9)
        self.check_counts(out, deflated=3, fast=4, stored=2)
        stored = [rr.is_stored_only(m) for m in members]
        self.assertEqual(stored, [False, False, True, False] * 2 + [False])
        # The same input again: the same codec for every chunk, the same members byte for byte
        # (keys, nonces and the container's bytes differ; the decrypted members may not).
        out2, enc2, key2, obj2 = self.publish("alt", plain)
        self.assertEqual(self.read_back(enc2, key2, obj2, plain), members)
        self.check_counts(out2, deflated=3, fast=4, stored=2)
        self.assertNotEqual(enc, enc2)
        self.assertEqual(len(enc), len(enc2))

    def test_all_zeros_and_a_one_byte_tail(self):
        plain = bytes(3 * MIB + 1)
        out, enc, key, obj = self.publish("zeros", plain)
        members = self.read_back(enc, key, obj, plain)
        self.assertEqual(len(members), 4)
        self.check_counts(out, deflated=0, fast=3, stored=1)  # one byte cannot shrink: stored
        self.assertLess(len(enc), 64 * 1024)

    def test_exact_chunks_of_weights_and_of_noise(self):
        plain = weights(2 * MIB, 5)
        out, enc, key, obj = self.publish("weights", plain)
        self.read_back(enc, key, obj, plain)
        self.check_counts(out, deflated=0, fast=2, stored=0)
        self.assertLess(out["stored_size"], 0.9 * len(plain))  # compressed, not stored
        plain = noise(2 * MIB, 6)
        out, enc, key, obj = self.publish("noise", plain)
        self.read_back(enc, key, obj, plain)
        self.check_counts(out, deflated=0, fast=0, stored=2)
        # The store guarantee: stored chunks cost only their framing, never expansion by deflate.
        self.assertLess(out["stored_size"], len(plain) + 4096)

    def test_explicit_level_10_does_not_adapt(self):
        plain = weights(MIB, 7) + zeros(MIB, 0)
        out, enc, key, obj = self.publish("l10", plain, "--level", "10")
        self.read_back(enc, key, obj, plain)
        self.check_counts(out, deflated=2, fast=0, stored=0)


if __name__ == "__main__":
    unittest.main()
