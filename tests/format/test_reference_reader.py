"""test_reference_reader.py: the test vectors and negative cases of docs/FORMAT.md, against the independent
Python reader and against `sealpub open`.

Run: python3 -m unittest discover -s tests/format -v
Env: SEALPUB_BIN (default /work/main/build/sealpub, else build/sealpub next to
this tree); the sealpub half of each test is skipped if the binary is missing.
"""
import base64
import glob
import gzip
import hashlib
import io
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest
import zlib

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VECTORS = os.path.join(ROOT, "tests", "data", "vectors")
sys.path.insert(0, HERE)
import reference_reader as rr  # noqa: E402


def _default_bin():
    for cand in ("/work/main/build/sealpub", os.path.join(ROOT, "build", "sealpub")):
        if os.access(cand, os.X_OK):
            return cand
    return "/work/main/build/sealpub"


SEALPUB = os.environ.get("SEALPUB_BIN") or _default_bin()
HAVE_SEALPUB = os.access(SEALPUB, os.X_OK)


class Vector:
    def __init__(self, name):
        self.name = name
        with open(os.path.join(VECTORS, name + ".enc"), "rb") as f:
            self.enc = f.read()
        with open(os.path.join(VECTORS, name + ".key")) as f:
            self.key_b64 = f.read().strip()
        with open(os.path.join(VECTORS, name + ".plain"), "rb") as f:
            self.plain = f.read()
        self.key = base64.b64decode(self.key_b64)
        self.layout = Layout(self.enc)


class Layout:
    """Where things are in a valid container (parsed independently of the reader under test)."""

    def __init__(self, enc):
        (meta_len,) = struct.unpack_from("<H", enc, 32)
        self.header_len = 34 + meta_len
        self.chunk_size = struct.unpack_from("<I", enc, 12)[0]
        self.records = []  # (offset, body_len) of data records
        off = self.header_len
        while True:
            (word,) = struct.unpack_from("<I", enc, off)
            if word & 0x80000000:
                break
            self.records.append((off, word))
            off += 4 + word
        self.final_offset = off
        self.final_len = word & 0x7FFFFFFF
        self.footer_offset = off + 4 + self.final_len
        assert self.footer_offset + 24 == len(enc)

    def record_bytes(self, enc, k):
        off, blen = self.records[k]
        return enc[off : off + 4 + blen]


_vectors = {}


def vector(name):
    if name not in _vectors:
        _vectors[name] = Vector(name)
    return _vectors[name]


def vector_names():
    return sorted(os.path.basename(p)[:-4] for p in glob.glob(os.path.join(VECTORS, "*.enc")))


def py_open(data, key):
    """The streaming reader, in process. Returns the plaintext or raises FormatError."""
    out = io.BytesIO()
    rr.open_stream(io.BytesIO(data), key, sink=out.write)
    return out.getvalue()


class SealpubRunner:
    def __init__(self, test):
        self.test = test

    def open(self, data, key_b64, expect_ok):
        """Runs `sealpub open` on data; checks the exit status and that a failure leaves no output."""
        with tempfile.TemporaryDirectory() as d:
            enc, keyf, out = os.path.join(d, "c.enc"), os.path.join(d, "k"), os.path.join(d, "out")
            with open(enc, "wb") as f:
                f.write(data)
            with open(keyf, "w") as f:
                f.write(key_b64 + "\n")
            p = subprocess.run([SEALPUB, "open", enc, "--key-file", keyf, "-o", out, "--quiet"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            left = sorted(set(os.listdir(d)) - {"c.enc", "k"})
            if expect_ok:
                self.test.assertEqual(p.returncode, 0, p.stderr.decode(errors="replace"))
                with open(out, "rb") as f:
                    return f.read()
            self.test.assertNotEqual(p.returncode, 0, "sealpub open accepted a bad container")
            self.test.assertEqual(left, [], "sealpub open left output behind after failing")
            self.test.assertTrue(p.stderr.strip(), "sealpub open failed without a message")
            return p.stderr.decode(errors="replace")


def flip(data, pos, mask=0x01):
    b = bytearray(data)
    b[pos] ^= mask
    return bytes(b)


class ReaderTest(unittest.TestCase):
    def assert_rejected(self, data, key_b64, label, sealpub=True):
        with self.subTest(case=label, reader="python"):
            with self.assertRaises(rr.FormatError, msg=label):
                py_open(data, base64.b64decode(key_b64))
        if sealpub and HAVE_SEALPUB:
            with self.subTest(case=label, reader="sealpub"):
                SealpubRunner(self).open(data, key_b64, expect_ok=False)

    def assert_accepted(self, data, key_b64, plain, label, sealpub=True):
        with self.subTest(case=label, reader="python"):
            self.assertEqual(py_open(data, base64.b64decode(key_b64)), plain)
        if sealpub and HAVE_SEALPUB:
            with self.subTest(case=label, reader="sealpub"):
                self.assertEqual(SealpubRunner(self).open(data, key_b64, expect_ok=True), plain)


class TestVectors(ReaderTest):
    def test_vectors_present(self):
        names = vector_names()
        for want in ("empty", "one_byte", "one_chunk_1mib", "two_chunks_1mib_plus_1", "text_2_5mib",
                     "random_1_5mib"):
            self.assertIn(want, names)

    def test_readme_digests(self):
        with open(os.path.join(VECTORS, "README.md")) as f:
            text = f.read()
        for name in vector_names():
            for ext in (".enc", ".key", ".plain"):
                with open(os.path.join(VECTORS, name + ext), "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
                self.assertIn(f"{digest}  {name}{ext}", text)

    def test_open_every_vector(self):
        for name in vector_names():
            v = vector(name)
            self.assert_accepted(v.enc, v.key_b64, v.plain, name)

    def test_cli(self):
        """The reader's command line: success writes OUT; failure exits 1 with one line and writes nothing."""
        v = vector("text_2_5mib")
        script = os.path.join(HERE, "reference_reader.py")
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "out")
            p = subprocess.run([sys.executable, script, os.path.join(VECTORS, "text_2_5mib.enc"),
                                "--key-b64", v.key_b64, "-o", out], capture_output=True)
            self.assertEqual(p.returncode, 0, p.stderr)
            with open(out, "rb") as f:
                self.assertEqual(f.read(), v.plain)
            os.unlink(out)
            bad = os.path.join(d, "bad.enc")
            with open(bad, "wb") as f:
                f.write(v.enc[:-30])
            p = subprocess.run([sys.executable, script, bad, "--key-b64", v.key_b64, "-o", out],
                               capture_output=True)
            self.assertEqual(p.returncode, 1)
            self.assertEqual(len(p.stderr.decode().strip().splitlines()), 1, p.stderr)
            self.assertEqual(sorted(os.listdir(d)), ["bad.enc"])

    def test_index_describes_vector(self):
        for name in vector_names():
            v = vector(name)
            with self.subTest(vector=name):
                ra = rr.RandomAccess(io.BytesIO(v.enc), v.key)
                self.assertEqual(ra.plain_total, len(v.plain))
                self.assertEqual(ra.n, -(-len(v.plain) // ra.header.chunk_size))
                self.assertEqual([e[:2] for e in ra.entries], v.layout.records)

    def test_stored_chunks(self):
        ra = rr.RandomAccess(io.BytesIO(vector("random_1_5mib").enc), vector("random_1_5mib").key)
        self.assertEqual([e[3] for e in ra.entries], [1, 1])
        self.assertEqual(ra.entries[0][1], rr.max_body(1 << 20))  # a stored full chunk is the largest body
        ra = rr.RandomAccess(io.BytesIO(vector("text_2_5mib").enc), vector("text_2_5mib").key)
        self.assertEqual([e[3] for e in ra.entries], [0, 0, 0])


class TestGzipProperty(unittest.TestCase):
    """§13: the decrypted payloads, concatenated, are a multi-member gzip file of the artifact."""

    def members(self, v):
        got = []
        rr.open_stream(io.BytesIO(v.enc), v.key, on_member=got.append)
        return b"".join(got)

    def test_gzip_decompress(self):
        for name in vector_names():
            v = vector(name)
            with self.subTest(vector=name):
                self.assertEqual(gzip.decompress(self.members(v)), v.plain)

    def test_gunzip_binary(self):
        gunzip = shutil.which("gunzip")
        if not gunzip:
            self.skipTest("no gunzip")
        for name in vector_names():
            v = vector(name)
            with self.subTest(vector=name):
                p = subprocess.run([gunzip, "-c"], input=self.members(v), capture_output=True)
                if not v.plain:
                    # n = 0: the concatenation is empty, which is no gzip file (§13).
                    self.assertNotEqual(p.returncode, 0)
                else:
                    self.assertEqual(p.returncode, 0, p.stderr)
                    self.assertEqual(p.stdout, v.plain)


class TestRandomAccess(unittest.TestCase):
    """§11.3: footer -> index -> one chunk."""

    def test_every_chunk_alone(self):
        for name in vector_names():
            v = vector(name)
            ra = rr.RandomAccess(io.BytesIO(v.enc), v.key)
            cs = ra.header.chunk_size
            for k in range(ra.n):
                with self.subTest(vector=name, chunk=k):
                    self.assertEqual(ra.read_chunk(k), v.plain[k * cs : (k + 1) * cs])

    def test_chunk_read_touches_only_that_chunk(self):
        """Chunk 2 reads correctly when chunks 0 and 1 are garbage: it does not depend on them."""
        v = vector("text_2_5mib")
        enc = bytearray(v.enc)
        for k in (0, 1):
            off, blen = v.layout.records[k]
            enc[off + 4 : off + 4 + blen] = bytes(blen)
        ra = rr.RandomAccess(io.BytesIO(bytes(enc)), v.key)
        self.assertEqual(ra.read_chunk(2), v.plain[2 << 20 :])
        for k in (0, 1):
            with self.assertRaises(rr.FormatError):
                ra.read_chunk(k)

    def test_ranges(self):
        v = vector("text_2_5mib")
        ra = rr.RandomAccess(io.BytesIO(v.enc), v.key)
        for a, b in ((0, 1), (1048575, 1048577), (5, 2621440), (2097152, 2621440), (100, 100)):
            with self.subTest(range=(a, b)):
                self.assertEqual(ra.read_range(a, b), v.plain[a:b])

    def test_cli_chunk(self):
        v = vector("two_chunks_1mib_plus_1")
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "c1")
            rc = rr.main([os.path.join(VECTORS, "two_chunks_1mib_plus_1.enc"), "--key-b64", v.key_b64,
                          "--chunk", "1", "-o", out])
            self.assertEqual(rc, 0)
            with open(out, "rb") as f:
                self.assertEqual(f.read(), v.plain[1 << 20 :])

    def test_rejections(self):
        v = vector("text_2_5mib")
        lay = v.layout
        other = vector("one_chunk_1mib")
        cases = {
            "trailing byte": v.enc + b"\n",
            "truncated footer": v.enc[:-1],
            "footer offset": flip(v.enc, lay.footer_offset),
            "footer count": flip(v.enc, lay.footer_offset + 8),
            "footer magic": flip(v.enc, len(v.enc) - 1),
            "final prefix": flip(v.enc, lay.final_offset),
            "index byte": flip(v.enc, lay.final_offset + 4 + 20),
            "final tag": flip(v.enc, lay.footer_offset - 1),
            "header": flip(v.enc, 40),
            "other key": v.enc,
        }
        for label, data in cases.items():
            with self.subTest(case=label):
                with self.assertRaises(rr.FormatError):
                    key = other.key if label == "other key" else v.key
                    rr.RandomAccess(io.BytesIO(data), key)
        # With a good index, a damaged chunk fails only when read.
        off, blen = lay.records[1]
        ra = rr.RandomAccess(io.BytesIO(flip(v.enc, off + 4 + blen // 2)), v.key)
        self.assertEqual(ra.read_chunk(0), v.plain[: 1 << 20])
        with self.assertRaises(rr.FormatError):
            ra.read_chunk(1)
        ra = rr.RandomAccess(io.BytesIO(flip(v.enc, off, 0x02)), v.key)  # record 1's prefix
        with self.assertRaises(rr.FormatError):
            ra.read_chunk(1)


class TestTampering(ReaderTest):
    """§12: every change to a valid container fails, in both readers, and sealpub leaves no output."""

    def test_flip_every_header_byte(self):
        for name in ("text_2_5mib", "empty"):
            v = vector(name)
            for pos in range(v.layout.header_len):
                self.assert_rejected(flip(v.enc, pos), v.key_b64, f"{name}: header byte {pos}")

    def test_flip_chunk_bodies_and_tags(self):
        for name in ("text_2_5mib", "random_1_5mib", "one_byte"):
            v = vector(name)
            for k, (off, blen) in enumerate(v.layout.records):
                body = off + 4
                for label, pos in (("first ciphertext byte", body), ("middle", body + blen // 2),
                                   ("last ciphertext byte", body + blen - 17), ("first tag byte", body + blen - 16),
                                   ("last tag byte", body + blen - 1)):
                    self.assert_rejected(flip(v.enc, pos), v.key_b64, f"{name}: chunk {k} {label}")

    def test_flip_data_record_prefixes(self):
        v = vector("text_2_5mib")
        for k, (off, _) in enumerate(v.layout.records):
            for byte in range(4):
                for mask in (0x01, 0x80):
                    self.assert_rejected(flip(v.enc, off + byte, mask), v.key_b64,
                                         f"chunk {k} prefix byte {byte} ^ {mask:#x}")

    def test_flip_every_final_record_byte(self):
        """The final record's prefix, every index byte (plain_total, count, entries) and its tag."""
        for name in ("text_2_5mib", "empty"):
            v = vector(name)
            for pos in range(v.layout.final_offset, v.layout.footer_offset):
                self.assert_rejected(flip(v.enc, pos), v.key_b64, f"{name}: final record byte {pos}")

    def test_flip_every_footer_byte(self):
        for name in ("text_2_5mib", "empty"):
            v = vector(name)
            for pos in range(v.layout.footer_offset, len(v.enc)):
                self.assert_rejected(flip(v.enc, pos), v.key_b64, f"{name}: footer byte {pos}")

    def test_truncate_at_every_record_boundary(self):
        for name in ("text_2_5mib", "two_chunks_1mib_plus_1", "empty"):
            v = vector(name)
            lay = v.layout
            cuts = {"nothing": 0, "after the magic": 8, "after the fixed header": 34,
                    "after the header": lay.header_len}
            for k, (off, blen) in enumerate(lay.records):
                cuts[f"after chunk {k}"] = off + 4 + blen
                cuts[f"inside chunk {k}'s prefix"] = off + 2
                cuts[f"after chunk {k}'s prefix"] = off + 4
                cuts[f"inside chunk {k}"] = off + 4 + blen // 2
                cuts[f"inside chunk {k}'s tag"] = off + 4 + blen - 8
            cuts.update({"inside the final prefix": lay.final_offset + 3,
                         "inside the index": lay.final_offset + 4 + 10,
                         "inside the final tag": lay.footer_offset - 5,
                         "after the final record": lay.footer_offset,
                         "inside the footer": lay.footer_offset + 12,
                         "last footer byte": len(v.enc) - 1})
            for label, n in cuts.items():
                self.assert_rejected(v.enc[:n], v.key_b64, f"{name}: truncated {label} ({n})")

    def test_truncate_at_every_length(self):
        """Exhaustive for the small vectors: no proper prefix of a container is a container."""
        for name in ("one_byte", "empty"):
            v = vector(name)
            for n in range(len(v.enc)):
                self.assert_rejected(v.enc[:n], v.key_b64, f"{name}: first {n} bytes")

    def test_trailing_bytes(self):
        v = vector("text_2_5mib")
        for extra in (b"\n", b"\x00", v.enc[-24:], v.layout.record_bytes(v.enc, 0)):
            self.assert_rejected(v.enc + extra, v.key_b64, f"{len(extra)} trailing bytes")

    def _rebuild(self, v, order):
        """The container with its data records in the given order (indices into the original records)."""
        lay = v.layout
        body = b"".join(lay.record_bytes(v.enc, k) for k in order)
        return v.enc[: lay.header_len] + body + v.enc[lay.final_offset :]

    def test_drop_duplicate_swap_chunks(self):
        for name in ("text_2_5mib", "random_1_5mib", "two_chunks_1mib_plus_1"):
            v = vector(name)
            n = len(v.layout.records)
            cases = {}
            for k in range(n):
                cases[f"drop chunk {k}"] = [i for i in range(n) if i != k]
                cases[f"duplicate chunk {k}"] = list(range(k + 1)) + [k] + list(range(k + 1, n))
            for k in range(n - 1):
                order = list(range(n))
                order[k], order[k + 1] = order[k + 1], order[k]
                cases[f"swap chunks {k} and {k + 1}"] = order
            cases["reverse"] = list(range(n))[::-1]
            cases["drop all chunks"] = []
            for label, order in cases.items():
                self.assert_rejected(self._rebuild(v, order), v.key_b64, f"{name}: {label}")

    def test_final_flag_moves(self):
        v = vector("text_2_5mib")
        lay = v.layout
        off, _ = lay.records[2]
        self.assert_rejected(flip(v.enc, off + 3, 0x80), v.key_b64, "data record marked final")
        self.assert_rejected(flip(v.enc, lay.final_offset + 3, 0x80), v.key_b64, "final record marked data")
        # Truncate after chunk 1 and append the final record and footer: the end moved earlier.
        data = v.enc[: lay.records[2][0]] + v.enc[lay.final_offset :]
        self.assert_rejected(data, v.key_b64, "final record moved before the last chunk")

    def test_splice_other_header(self):
        v = vector("text_2_5mib")
        for other in ("one_chunk_1mib", "two_chunks_1mib_plus_1", "empty"):
            o = vector(other)
            data = o.enc[: o.layout.header_len] + v.enc[v.layout.header_len :]
            for key, who in ((v.key_b64, "records' key"), (o.key_b64, "header's key")):
                self.assert_rejected(data, key, f"header of {other} with {who}")

    def test_splice_records_between_containers(self):
        a, b = vector("one_chunk_1mib"), vector("two_chunks_1mib_plus_1")
        # b's first (full) chunk in place of a's only chunk, a's final record kept.
        data = a.enc[: a.layout.header_len] + b.layout.record_bytes(b.enc, 0) + a.enc[a.layout.final_offset :]
        self.assert_rejected(data, a.key_b64, "chunk from another container")
        # a's records with b's final record and footer.
        data = a.enc[: a.layout.final_offset] + b.enc[b.layout.final_offset :]
        self.assert_rejected(data, a.key_b64, "final record from another container")
        e1 = vector("empty")
        self.assert_rejected(e1.enc, vector("one_byte").key_b64, "empty container, another key")

    def test_wrong_key(self):
        for name in vector_names():
            v = vector(name)
            for label, key in (("zero key", bytes(32)), ("one bit off", flip(v.key, 31)),
                               ("another vector's key", vector("one_byte" if name != "one_byte" else "empty").key)):
                self.assert_rejected(v.enc, base64.b64encode(key).decode(), f"{name}: {label}")

    def test_object_swapped_between_resources(self):
        """The container of resource B opened with resource A's key (key fetched for A, object swapped)."""
        a, b = vector("text_2_5mib"), vector("random_1_5mib")
        self.assert_rejected(b.enc, a.key_b64, "B's object with A's key")

    def test_failed_open_keeps_existing_output(self):
        if not HAVE_SEALPUB:
            self.skipTest("no sealpub binary")
        v = vector("text_2_5mib")
        with tempfile.TemporaryDirectory() as d:
            enc, keyf, out = (os.path.join(d, x) for x in ("c.enc", "k", "out"))
            with open(enc, "wb") as f:
                f.write(v.enc[:-100])
            with open(keyf, "w") as f:
                f.write(v.key_b64)
            with open(out, "wb") as f:
                f.write(b"previous")
            p = subprocess.run([SEALPUB, "open", enc, "--key-file", keyf, "-o", out, "--quiet"], capture_output=True)
            self.assertNotEqual(p.returncode, 0)
            with open(out, "rb") as f:
                self.assertEqual(f.read(), b"previous")
            self.assertEqual(sorted(os.listdir(d)), ["c.enc", "k", "out"])


# --- Containers forged by a key holder -------------------------------------------------------------
# Valid tags on structures a v1 writer never produces: these test the MUST checks that are not
# cryptographic (§8.2, §9.3). Built with an independent writer below.

def header_bytes(chunk_size, artifact_id, fields, version=1, suite=1, flags=0):
    meta = b"".join(bytes([len(f)]) + f for f in fields)
    return rr.MAGIC + struct.pack("<BBHI", version, suite, flags, chunk_size) + artifact_id + \
        struct.pack("<H", len(meta)) + meta


def gzip_member(data, stored=False, fname=None, level=6):
    if stored:
        blocks, pos = [], 0
        while True:
            piece = data[pos : pos + 65535]
            pos += len(piece)
            final = pos >= len(data)
            blocks.append(bytes([1 if final else 0]) + struct.pack("<HH", len(piece), len(piece) ^ 0xFFFF) + piece)
            if final:
                break
        deflate = b"".join(blocks)
    else:
        c = zlib.compressobj(level, zlib.DEFLATED, -15)
        deflate = c.compress(data) + c.flush()
    flg = 8 if fname else 0
    head = b"\x1f\x8b\x08" + bytes([flg]) + bytes(4) + b"\x00\xff" + (fname + b"\x00" if fname else b"")
    return head + deflate + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)


def seal(file_key, header, members, plain_lens, flags=None, reserved=None, plain_total=None, count=None,
         footer_off_delta=0):
    """An independent writer (§15) with knobs to break the non-cryptographic rules."""
    aid = header[16:32]
    h = hashlib.sha256(header).digest()
    aead = AESGCM(rr.hkdf_sha256(file_key, aid, rr.KDF_INFO))
    out, entries, off = [header], [], len(header)
    for i, m in enumerate(members):
        body = aead.encrypt(rr.nonce(i, False), m, h)
        out.append(struct.pack("<I", len(body)) + body)
        entries.append((off, len(body), plain_lens[i], (flags or [0] * len(members))[i],
                        (reserved or [0] * len(members))[i]))
        off += 4 + len(body)
    n = len(members)
    index = struct.pack("<QQ", sum(plain_lens) if plain_total is None else plain_total, n if count is None else count)
    index += b"".join(struct.pack("<QIIII", *e) for e in entries)
    tag = aead.encrypt(rr.nonce(n, True), b"", h + index)
    out.append(struct.pack("<I", 0x80000000 | (len(index) + 16)) + index + tag)
    out.append(struct.pack("<QQ", off + footer_off_delta, n) + b"SPUBFOOT")
    return b"".join(out)


MIB = 1 << 20
KEY = bytes(range(32))
KEY_B64 = base64.b64encode(KEY).decode()
AID = bytes(range(100, 116))
FIELDS = [b"forged", b"test", b"amd64", b"1"]
HDR = header_bytes(MIB, AID, FIELDS)
FULL = bytes(i % 251 for i in range(MIB))


class TestKeyHolderForgeries(ReaderTest):
    def test_independent_writer_is_accepted(self):
        """Sanity: the forging writer produces containers both readers accept."""
        data = seal(KEY, HDR, [gzip_member(FULL), gzip_member(b"tail", stored=True)], [MIB, 4], flags=[0, 1])
        self.assert_accepted(data, KEY_B64, FULL + b"tail", "independent writer")
        self.assert_accepted(seal(KEY, HDR, [], []), KEY_B64, b"", "independent writer, empty")

    def test_gzip_member_with_fname_is_accepted(self):
        """§8.2: readers SHOULD accept optional gzip header fields."""
        data = seal(KEY, HDR, [gzip_member(b"hello", fname=b"x.txt")], [5])
        self.assert_accepted(data, KEY_B64, b"hello", "member with FNAME")

    def test_structural_rules(self):
        good_tail = gzip_member(b"tail")
        cases = {
            "short chunk before the last": seal(KEY, HDR, [gzip_member(b"short"), good_tail], [5, 4]),
            "empty last chunk": seal(KEY, HDR, [gzip_member(FULL), gzip_member(b"")], [MIB, 0]),
            "only chunk empty": seal(KEY, HDR, [gzip_member(b"")], [0]),
            "chunk larger than chunk_size": seal(KEY, HDR, [gzip_member(FULL + b"x")], [MIB + 1]),
            "bytes after the member": seal(KEY, HDR, [good_tail + b"\x00"], [4]),
            "two members in one chunk": seal(KEY, HDR, [gzip_member(b"ab") + gzip_member(b"cd")], [4]),
            "truncated member": seal(KEY, HDR, [good_tail[:-1]], [4]),
            "bad CRC-32": seal(KEY, HDR, [good_tail[:-8] + bytes(4) + good_tail[-4:]], [4]),
            "bad ISIZE": seal(KEY, HDR, [good_tail[:-4] + struct.pack("<I", 5)], [4]),
            "zlib instead of gzip": seal(KEY, HDR, [zlib.compress(b"tail")], [4]),
            "reserved gzip flag": seal(KEY, HDR, [good_tail[:3] + b"\x20" + good_tail[4:]], [4]),
            "index plain_total wrong": seal(KEY, HDR, [good_tail], [4], plain_total=5),
            "index plain_len wrong": seal(KEY, HDR, [good_tail], [3], plain_total=4),
            "index count wrong": seal(KEY, HDR, [good_tail], [4], count=2),
            "footer offset wrong": seal(KEY, HDR, [good_tail], [4], footer_off_delta=1),
            "header name with '/'": seal(KEY, header_bytes(MIB, AID, [b"a/b", b"t", b"amd64", b"1"]),
                                         [good_tail], [4]),
            "header name starts with '-'": seal(KEY, header_bytes(MIB, AID, [b"-a", b"t", b"amd64", b"1"]),
                                                [good_tail], [4]),
            "header name 129 bytes": seal(KEY, header_bytes(MIB, AID, [b"a" * 129, b"t", b"amd64", b"1"]),
                                          [good_tail], [4]),
            "header stage 65 bytes": seal(KEY, header_bytes(MIB, AID, [b"a", b"t" * 65, b"amd64", b"1"]),
                                          [good_tail], [4]),
            "header with 3 fields": seal(KEY, header_bytes(MIB, AID, [b"a", b"t", b"amd64"]), [good_tail], [4]),
            "header with 5 fields": seal(KEY, header_bytes(MIB, AID, FIELDS + [b"x"]), [good_tail], [4]),
            "header field NUL": seal(KEY, header_bytes(MIB, AID, [b"a\x00", b"t", b"amd64", b"1"]),
                                     [good_tail], [4]),
            "chunk_size below 1 MiB": seal(KEY, header_bytes(MIB - 1, AID, FIELDS), [good_tail], [4]),
            "chunk_size above 64 MiB": seal(KEY, header_bytes(64 * MIB + 1, AID, FIELDS), [good_tail], [4]),
            "header version 2": seal(KEY, header_bytes(MIB, AID, FIELDS, version=2), [good_tail], [4]),
            "header suite 2": seal(KEY, header_bytes(MIB, AID, FIELDS, suite=2), [good_tail], [4]),
            "header flags 1": seal(KEY, header_bytes(MIB, AID, FIELDS, flags=1), [good_tail], [4]),
        }
        for label, data in cases.items():
            self.assert_rejected(data, KEY_B64, label)

    def test_oversized_body_rejected_before_reading(self):
        """§8.4: a prefix above max_body is rejected from the prefix alone (no body follows here)."""
        limit = rr.max_body(MIB)
        data = HDR + struct.pack("<I", limit + 1)
        self.assert_rejected(data, KEY_B64, "body_len = max_body + 1")
        data = HDR + struct.pack("<I", 15)
        self.assert_rejected(data, KEY_B64, "body_len = 15")

    def test_index_reserved_bits(self):
        """§9.1/§9.3: flags bits 1-31 and reserved MUST be 0."""
        m = gzip_member(b"tail")
        for label, kw in (("reserved = 1", {"reserved": [1]}), ("flags bit 1", {"flags": [2]})):
            self.assert_rejected(seal(KEY, HDR, [m], [4], **kw), KEY_B64, label, sealpub=False)

    @unittest.skipUnless(HAVE_SEALPUB, "no sealpub binary")
    def test_index_reserved_bits_sealpub(self):
        """sealpub's reader rejects index entries with reserved flag bits or a non-zero reserved field."""
        m = gzip_member(b"tail")
        SealpubRunner(self).open(seal(KEY, HDR, [m], [4], reserved=[1]), KEY_B64, expect_ok=False)

    def test_stored_flag_must_agree(self):
        """§8.3: every reader MUST verify the stored flag, both ways."""
        for label, m, fl in (("compressed member flagged stored", gzip_member(b"tail" * 50), 1),
                             ("stored member not flagged", gzip_member(b"tail", stored=True), 0)):
            self.assert_rejected(seal(KEY, HDR, [m], [len(zlib.decompress(m, 31))], flags=[fl]), KEY_B64, label)

    def test_gzip_header_flags(self):
        """§8.2: FTEXT ignored, FEXTRA and FNAME/FCOMMENT skipped, FHCRC verified; reserved bits rejected."""
        def member(flg, extra=b"AB\x02\x00xy", hcrc_ok=True, data=b"hello, flags"):
            head = b"\x1f\x8b\x08" + bytes([flg]) + bytes(4) + b"\x00\xff"
            if flg & 4:
                head += struct.pack("<H", len(extra)) + extra
            if flg & 8:
                head += b"name.txt\x00"
            if flg & 16:
                head += b"a comment\x00"
            if flg & 2:
                crc = zlib.crc32(head) & 0xFFFF
                head += struct.pack("<H", crc if hcrc_ok else crc ^ 1)
            c = zlib.compressobj(6, zlib.DEFLATED, -15)
            return head + c.compress(data) + c.flush() + struct.pack("<II", zlib.crc32(data), len(data))
        plain = b"hello, flags"
        for label, m in (("FTEXT", member(1)), ("FEXTRA", member(4)), ("FEXTRA, malformed subfield", member(4, b"\xff")),
                         ("FHCRC", member(2)), ("FNAME and FCOMMENT", member(8 | 16)),
                         ("every optional field", member(1 | 2 | 4 | 8 | 16))):
            self.assert_accepted(seal(KEY, HDR, [m], [len(plain)]), KEY_B64, plain, label)
        for label, m in (("FHCRC wrong", member(2, hcrc_ok=False)),
                         ("FHCRC wrong after every optional field", member(1 | 2 | 4 | 8 | 16, hcrc_ok=False)),
                         ("FEXTRA longer than the member", member(4, b"")[:10] + struct.pack("<H", 60000) + b"x" * 12)):
            self.assert_rejected(seal(KEY, HDR, [m], [len(plain)]), KEY_B64, label)

    def test_stored_layouts(self):
        """§8.3: readers accept any stored layout within max_body (zlib level 0: uneven blocks, an empty final
        block) and flag it stored; a full chunk in that layout exceeds max_body and is rejected."""
        def zlib0(data):
            c = zlib.compressobj(0, zlib.DEFLATED, -15)
            d = c.compress(data) + c.flush()
            return b"\x1f\x8b\x08\x00" + bytes(4) + b"\x00\xff" + d + struct.pack("<II", zlib.crc32(data), len(data))
        short = bytes(range(256)) * 1000
        m = zlib0(short)
        self.assertTrue(rr.is_stored_only(m))
        self.assert_accepted(seal(KEY, HDR, [m], [len(short)], flags=[1]), KEY_B64, short, "zlib level 0, short chunk")
        self.assert_rejected(seal(KEY, HDR, [m], [len(short)], flags=[0]), KEY_B64, "zlib level 0, not flagged")
        full = zlib0(FULL)
        if len(full) + 16 > rr.max_body(MIB):
            self.assert_rejected(seal(KEY, HDR, [full], [MIB], flags=[1]), KEY_B64, "zlib level 0, full chunk")
        exact = gzip_member(FULL, stored=True)
        self.assertEqual(len(exact) + 16, rr.max_body(MIB))
        self.assert_accepted(seal(KEY, HDR, [exact], [MIB], flags=[1]), KEY_B64, FULL, "the mandated layout")


class TestHelpers(unittest.TestCase):
    def test_hkdf_rfc5869_case_1(self):
        ikm, salt = bytes([0x0B] * 22), bytes(range(13))
        info = bytes(range(0xF0, 0xFA))
        okm = rr.hkdf_sha256(ikm, salt, info, 42)
        self.assertEqual(okm.hex(), "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
                                    "34007208d5b887185865")

    def test_nonces(self):
        self.assertEqual(rr.nonce(0, False), bytes(12))
        self.assertEqual(rr.nonce(258, False).hex(), "000000000000000000010200")
        self.assertEqual(rr.nonce(3, True).hex(), "000000000000000000000301")

    def test_max_body(self):
        self.assertEqual(rr.max_body(1 << 20), 1048695)
        self.assertEqual(rr.max_body(4 << 20), 4194663)
        self.assertEqual(rr.max_body(64 << 20), 67114023)

    def test_max_chunks(self):
        self.assertEqual(rr.MAX_CHUNKS, (2**31 - 1 - 32) // 24)


if __name__ == "__main__":
    unittest.main()
