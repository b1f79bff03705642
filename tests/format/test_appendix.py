"""Appendix A of docs/FORMAT.md: every printed value is checked with the reference reader and sealpub.

An implementer is promised that the appendix alone is enough; this test reads
the values back out of the Markdown (not from the code that wrote them) and
recomputes each one: the container's SHA-256, the header length and artifact
id, H, the payload key, the nonces, the decrypted members and the plaintext.
Every single-byte change of each container must be rejected by both readers.
"""
import base64
import hashlib
import io
import os
import re
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import reference_reader as rr  # noqa: E402
from test_reference_reader import HAVE_SEALPUB, SEALPUB  # noqa: E402

DOC = os.path.join(os.path.dirname(os.path.dirname(HERE)), "docs", "FORMAT.md")


def vectors():
    with open(DOC, encoding="utf-8") as f:
        text = f.read()
    body = text[text.index("<!-- appendix-vectors -->") : text.index("<!-- /appendix-vectors -->")]
    out = []
    for sec in re.split(r"^### ", body, flags=re.M)[1:]:
        def one(pattern):
            m = re.search(pattern, sec)
            assert m, f"{sec.splitlines()[0]}: no match for {pattern}"
            return m.group(1)
        hexblock = re.search(r"```\n(.*?)```", sec, re.S).group(1)
        plain_hex = re.search(r"plaintext \(\d+ bytes\): hex `([0-9a-f]*)`", sec)
        plain_rep = re.search(r"plaintext \((\d+) bytes\): `b'(.*?)'` × (\d+), SHA-256 `([0-9a-f]{64})`", sec)
        out.append({
            "label": sec.splitlines()[0],
            "key": bytes.fromhex(one(r"file key \(hex\): `([0-9a-f]{64})`")),
            "key_b64": one(r"file key \(registry, base64\): `([A-Za-z0-9+/=]+)`"),
            "artifact_id": bytes.fromhex(one(r"artifact_id: `([0-9a-f]{32})`")),
            "hlen": int(one(r"header length: (\d+)")),
            "H": bytes.fromhex(one(r"H = SHA-256\(header\): `([0-9a-f]{64})`")),
            "payload_key": bytes.fromhex(one(r"payload key: `([0-9a-f]{64})`")),
            "nonces": [(int(i), bytes.fromhex(h)) for i, h in re.findall(r"data record (\d+): `([0-9a-f]{24})`", sec)],
            "final_nonce": (int(one(r"final record \(n = (\d+)\)")), bytes.fromhex(one(r"final record \(n = \d+\): `([0-9a-f]{24})`"))),
            "members": [bytes.fromhex(h) for h in re.findall(r"gzip member of data record \d+ \(\d+ bytes, hex\): `([0-9a-f]+)`", sec)],
            "plain": bytes.fromhex(plain_hex.group(1)) if plain_hex else None,
            "plain_rep": plain_rep.groups() if plain_rep else None,
            "enc": bytes.fromhex("".join(hexblock.split())),
            "enc_sha": one(r"container \(\d+ bytes, SHA-256 `([0-9a-f]{64})`"),
        })
    return out


def sealpub_open(enc, key_b64):
    with tempfile.TemporaryDirectory() as d:
        ef, kf = os.path.join(d, "c.enc"), os.path.join(d, "k")
        with open(ef, "wb") as f:
            f.write(enc)
        with open(kf, "w") as f:
            f.write(key_b64)
        return subprocess.run([SEALPUB, "open", ef, "--key-file", kf, "-o", "-", "--quiet"], capture_output=True)


class TestAppendix(unittest.TestCase):
    def test_there_are_vectors(self):
        self.assertEqual(len(vectors()), 3)

    def test_every_value(self):
        for v in vectors():
            with self.subTest(vector=v["label"]):
                enc = v["enc"]
                self.assertEqual(hashlib.sha256(enc).hexdigest(), v["enc_sha"])
                self.assertEqual(base64.b64decode(v["key_b64"]), v["key"])
                header = rr.parse_header(io.BytesIO(enc).read)
                self.assertEqual(header.length, v["hlen"])
                self.assertEqual(header.artifact_id, v["artifact_id"])
                self.assertEqual(hashlib.sha256(enc[: v["hlen"]]).digest(), v["H"])
                self.assertEqual(rr.hkdf_sha256(v["key"], v["artifact_id"], rr.KDF_INFO), v["payload_key"])
                for i, n in v["nonces"]:
                    self.assertEqual(rr.nonce(i, False), n)
                self.assertEqual(rr.nonce(v["final_nonce"][0], True), v["final_nonce"][1])
                out, members = io.BytesIO(), []
                rr.open_stream(io.BytesIO(enc), v["key"], sink=out.write, on_member=members.append)
                self.assertEqual(members, v["members"])
                plain = out.getvalue()
                if v["plain_rep"]:
                    size, unit, times, digest = v["plain_rep"]
                    unit = unit.encode().decode("unicode_escape").encode()
                    self.assertEqual(plain, unit * int(times))
                    self.assertEqual(len(plain), int(size))
                    self.assertEqual(hashlib.sha256(plain).hexdigest(), digest)
                else:
                    self.assertEqual(plain, v["plain"] or b"")
                if HAVE_SEALPUB:
                    p = sealpub_open(enc, v["key_b64"])
                    self.assertEqual(p.returncode, 0, p.stderr)
                    self.assertEqual(p.stdout, plain)

    def test_every_byte_flipped_is_rejected(self):
        for v in vectors():
            enc = v["enc"]
            for pos in range(len(enc)):
                bad = bytearray(enc)
                bad[pos] ^= 0x01
                with self.subTest(vector=v["label"], byte=pos):
                    with self.assertRaises(rr.FormatError):
                        rr.open_stream(io.BytesIO(bytes(bad)), v["key"])
                    if HAVE_SEALPUB:
                        self.assertNotEqual(sealpub_open(bytes(bad), v["key_b64"]).returncode, 0)


if __name__ == "__main__":
    unittest.main()
