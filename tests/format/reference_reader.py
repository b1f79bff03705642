#!/usr/bin/env python3
"""reference_reader.py: an independent reader of the sealpub v1 container, written from docs/FORMAT.md alone.

It shares no code with sealpub: Python's hashlib/hmac (SHA-256, HKDF), the
cryptography package's AESGCM and zlib. Section numbers below (§) refer to
docs/FORMAT.md.

  reference_reader.py FILE.enc --key-b64 KEY [-o OUT|-] [--chunk K]

Exit status 0 on success; 1 with one line "reference_reader: error: ..." on
stderr when the container is rejected; 2 on a usage error. With -o, the
output appears under OUT only on success (§11.1). --chunk K reads chunk K
alone through footer and index (§11.3) instead of the whole container.
"""
import argparse
import base64
import binascii
import hashlib
import hmac
import os
import struct
import sys
import tempfile
import zlib

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = bytes([0x89, 0x53, 0x50, 0x55, 0x42, 0x0D, 0x0A, 0x1A])  # §4.1
FOOTER_MAGIC = b"SPUBFOOT"  # §10
HEADER_FIXED = 34
META_MAX = 324
CHUNK_MIN, CHUNK_MAX = 1 << 20, 64 << 20
NAME_MAX, FIELD_MAX = 128, 64
FINAL_FLAG = 0x80000000
TAG = 16
INDEX_FIXED = 16
ENTRY = 24
FOOTER = 24
MAX_CHUNKS = 89478483  # §9.3: (2^31 - 1 - 32) // 24
KDF_INFO = b"sealpub v1 payload key"
ALLOWED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")
# The version may end in semver build metadata: one '+', then these (FORMAT.md 4.2).
BUILD_ALLOWED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-")


class FormatError(Exception):
    """The container is rejected (malformed, truncated, tampered, or the wrong key)."""


def hkdf_sha256(ikm, salt, info, length=32):
    """RFC 5869 with SHA-256."""
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    okm, block, counter = b"", b"", 1
    while len(okm) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        okm += block
        counter += 1
    return okm[:length]


def nonce(i, final):
    """§6: 11-byte big-endian counter, then 0x01 for the final record."""
    return i.to_bytes(11, "big") + (b"\x01" if final else b"\x00")


def max_body(chunk_size):
    """§8.4."""
    return chunk_size + 18 + 5 * (chunk_size // 65535 + 1) + TAG


class Header:
    def __init__(self, raw, version, suite, flags, chunk_size, artifact_id, name, stage, arch, res_version):
        self.raw = raw
        self.version, self.suite, self.flags = version, suite, flags
        self.chunk_size, self.artifact_id = chunk_size, artifact_id
        self.name, self.stage, self.arch, self.res_version = name, stage, arch, res_version

    @property
    def length(self):
        return len(self.raw)


def parse_header(read):
    """§4 and §11.2 step 1. read(n) returns up to n bytes (fewer only at end of input)."""
    fixed = read(HEADER_FIXED)
    if not fixed:
        raise FormatError("empty input: not a sealpub container")
    if fixed[:8] != MAGIC[: len(fixed[:8])]:
        raise FormatError("bad magic: not a sealpub container")
    if len(fixed) < HEADER_FIXED:
        raise FormatError("truncated header")
    version, suite, flags, chunk_size = struct.unpack_from("<BBHI", fixed, 8)
    artifact_id = fixed[16:32]
    (meta_len,) = struct.unpack_from("<H", fixed, 32)
    if version != 1:
        raise FormatError(f"unsupported version {version}")
    if suite != 1:
        raise FormatError(f"unknown suite {suite}")
    if flags != 0:
        raise FormatError(f"unknown header flags 0x{flags:04x}")
    if not CHUNK_MIN <= chunk_size <= CHUNK_MAX:
        raise FormatError(f"chunk_size {chunk_size} out of range")
    if meta_len > META_MAX:
        raise FormatError(f"meta_len {meta_len} too large")
    meta = read(meta_len)
    if len(meta) != meta_len:
        raise FormatError("truncated header")
    fields, pos = [], 0
    for what, limit in (("name", NAME_MAX), ("stage", FIELD_MAX), ("architecture", FIELD_MAX), ("version", FIELD_MAX)):
        if pos >= meta_len:
            raise FormatError(f"metadata ends before the {what}")
        n = meta[pos]
        if n == 0 or n > limit or pos + 1 + n > meta_len:
            raise FormatError(f"invalid {what} length {n}")
        value = meta[pos + 1 : pos + 1 + n]
        main, plus, build = value.partition(b"+") if what == "version" else (value, b"", b"")
        if any(c not in ALLOWED for c in main) or main[:1] in (b".", b"-", b""):
            raise FormatError(f"invalid character in the {what}")
        if plus and (not build or any(c not in BUILD_ALLOWED for c in build)):
            raise FormatError("invalid build metadata in the version")
        fields.append(value.decode("ascii"))
        pos += 1 + n
    if pos != meta_len:
        raise FormatError("trailing bytes in the header metadata")
    return Header(fixed + meta, version, suite, flags, chunk_size, artifact_id, *fields)


def _skip_gzip_header(m):
    """Returns the offset of the DEFLATE data of gzip member m (RFC 1952 §2.3)."""
    if len(m) < 18 or m[0:3] != b"\x1f\x8b\x08":
        raise FormatError("chunk is not a gzip member")
    flg, pos = m[3], 10
    if flg & 0xE0:
        raise FormatError("gzip member has reserved flags")
    if flg & 4:
        if pos + 2 > len(m):
            raise FormatError("bad gzip member header")
        pos += 2 + struct.unpack_from("<H", m, pos)[0]
    for bit in (8, 16):
        if flg & bit:
            end = m.find(b"\x00", pos)
            if end < 0:
                raise FormatError("bad gzip member header")
            pos = end + 1
    if flg & 2:
        pos += 2
    return pos


def is_stored_only(m):
    """§8.3: whether gzip member m is made of stored DEFLATE blocks only."""
    pos = _skip_gzip_header(m)
    while True:
        if pos + 5 > len(m):
            return False
        b = m[pos]
        if (b >> 1) & 3 != 0:
            return False
        length, nlength = struct.unpack_from("<HH", m, pos + 1)
        if length ^ nlength != 0xFFFF:
            return False
        pos += 5 + length
        if b & 1:
            return pos + 8 == len(m)


def inflate_member(m, limit):
    """§8.2: exactly one gzip member filling m, inflating to at most limit bytes (CRC-32/ISIZE checked by zlib)."""
    _skip_gzip_header(m)  # ID, CM, reserved flags: zlib checks them too; this makes the message precise
    d = zlib.decompressobj(wbits=31)
    try:
        out = d.decompress(m, limit)
        while not d.eof:
            tail = d.unconsumed_tail
            if d.decompress(tail, 1):
                raise FormatError(f"chunk inflates to more than chunk_size ({limit})")
            if not tail or d.unconsumed_tail == tail:
                break
    except zlib.error as e:
        raise FormatError(f"chunk is not a valid gzip member ({e})") from None
    if not d.eof:
        raise FormatError("chunk's gzip member is incomplete")
    if d.unused_data:
        raise FormatError("bytes after the chunk's gzip member")
    return out


class Keys:
    def __init__(self, header, file_key):
        if len(file_key) != 32:
            raise FormatError("the file key must be 32 bytes")
        self.h = hashlib.sha256(header.raw).digest()  # §7
        self.aead = AESGCM(hkdf_sha256(file_key, header.artifact_id, KDF_INFO))  # §5

    def open_data(self, i, body):
        try:
            return self.aead.decrypt(nonce(i, False), body, self.h)
        except InvalidTag:
            raise FormatError(f"chunk {i} failed authentication (wrong key, or modified, reordered or spliced)") from None

    def verify_final(self, n, index, tag):
        try:
            self.aead.decrypt(nonce(n, True), tag, self.h + index)
        except InvalidTag:
            raise FormatError("final record failed authentication") from None


def parse_index(index):
    plain_total, count = struct.unpack_from("<QQ", index, 0)
    entries = [struct.unpack_from("<QIIII", index, INDEX_FIXED + ENTRY * i) for i in range((len(index) - INDEX_FIXED) // ENTRY)]
    return plain_total, count, entries


def check_entry_flags(entries):
    for i, (_, _, _, flags, reserved) in enumerate(entries):
        if flags & ~1 or reserved:
            raise FormatError(f"index entry {i} has unknown flags or a non-zero reserved field")


def check_stored_flag(k, flags, stored_only):
    """§8.3: every reader MUST verify the stored flag, both ways."""
    if bool(flags & 1) != stored_only:
        raise FormatError(f"chunk {k}'s stored flag disagrees with its gzip member")


def open_stream(f, file_key, sink=None, on_member=None):
    """§11.2, the streaming algorithm. f: binary file object (read only, no seek).

    sink(bytes) gets each chunk's plaintext (unconfirmed until this returns);
    on_member(bytes) gets each decrypted gzip member. Returns (header, plain_total,
    entries) on success; raises FormatError otherwise."""

    def read(n):
        parts, got = [], 0
        while got < n:
            b = f.read(n - got)
            if not b:
                break
            parts.append(b)
            got += len(b)
        return b"".join(parts)

    header = parse_header(read)  # step 1
    keys = Keys(header, file_key)  # step 2
    cs, limit = header.chunk_size, max_body(header.chunk_size)
    i, offset, total, short, seen, stored = 0, header.length, 0, False, [], []  # step 3
    while True:
        prefix = read(4)  # step 4
        if len(prefix) != 4:
            raise FormatError(f"truncated after {i} chunks: the final record is missing")
        (word,) = struct.unpack("<I", prefix)
        length = word & ~FINAL_FLAG
        if word & FINAL_FLAG:
            break
        if length < TAG or length > limit:  # step 5.1
            raise FormatError(f"record {i} has an impossible length {length}")
        if short:  # 5.2
            raise FormatError(f"record {i} follows a short chunk")
        body = read(length)  # 5.3
        if len(body) != length:
            raise FormatError(f"truncated inside chunk {i}")
        member = keys.open_data(i, body)  # 5.4
        plain = inflate_member(member, cs)  # 5.5
        if not plain:
            raise FormatError(f"chunk {i} is empty")
        short = len(plain) < cs  # 5.6
        seen.append((offset, length, len(plain)))  # 5.7
        stored.append(is_stored_only(member))  # for the stored-flag check (§8.3, §9.3 check 6)
        offset += 4 + length
        total += len(plain)
        i += 1
        if on_member:
            on_member(member)
        if sink:
            sink(plain)  # 5.8
    n = i  # step 6
    if length != INDEX_FIXED + ENTRY * n + TAG:  # 6.1
        raise FormatError(f"final record length {length} does not match {n} chunks")
    body = read(length)  # 6.2
    if len(body) != length:
        raise FormatError("truncated inside the final record")
    index, tag = body[:-TAG], body[-TAG:]
    keys.verify_final(n, index, tag)  # 6.3
    plain_total, count, entries = parse_index(index)  # 6.4
    if count != n or plain_total != total:
        raise FormatError("index disagrees with the records read")
    for k, (e, s) in enumerate(zip(entries, seen)):
        if e[:3] != s:
            raise FormatError(f"index entry {k} disagrees with its record")
    check_entry_flags(entries)
    for k, e in enumerate(entries):
        check_stored_flag(k, e[3], stored[k])
    footer = read(FOOTER)  # 6.5
    if len(footer) != FOOTER:
        raise FormatError("truncated footer")
    f_off, f_n = struct.unpack_from("<QQ", footer, 0)
    if footer[16:] != FOOTER_MAGIC or f_off != offset or f_n != n:
        raise FormatError("footer disagrees with the container")
    if read(1):  # 6.6
        raise FormatError("trailing bytes after the footer")
    return header, total, entries  # 6.7


class RandomAccess:
    """§11.3: footer -> index -> any chunk. f: seekable binary file object."""

    def __init__(self, f, file_key):
        self.f = f
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(0)
        self.header = h = parse_header(f.read)  # step 1
        self.keys = Keys(h, file_key)
        hl, cs = h.length, h.chunk_size
        if size < hl + 4 + 32 + FOOTER:  # step 2
            raise FormatError("container too short for a final record and footer")
        footer = self._pread(size - FOOTER, FOOTER)
        if footer[16:] != FOOTER_MAGIC:
            raise FormatError("no footer magic: truncated or not a sealpub container")
        fo, n = struct.unpack_from("<QQ", footer, 0)
        if n > MAX_CHUNKS:
            raise FormatError("footer chunk count too large")
        ilen = INDEX_FIXED + ENTRY * n
        if fo < hl or size != fo + 4 + ilen + TAG + FOOTER:  # step 3
            raise FormatError("footer does not locate a final record that ends the container")
        rec = self._pread(fo, 4 + ilen + TAG)
        if struct.unpack_from("<I", rec, 0)[0] != FINAL_FLAG | (ilen + TAG):
            raise FormatError("footer does not point at the final record")
        index, tag = rec[4 : 4 + ilen], rec[4 + ilen :]
        self.keys.verify_final(n, index, tag)  # step 4
        plain_total, count, entries = parse_index(index)  # step 5
        if count != n:
            raise FormatError("index count disagrees with the footer")
        expect, limit = hl, max_body(cs)
        for k, (off, blen, plen, _, _) in enumerate(entries):
            if off != expect:
                raise FormatError(f"index entry {k} offset does not follow its predecessor")
            if not TAG <= blen <= limit:
                raise FormatError(f"index entry {k} has an impossible body length")
            if (plen != cs) if k < n - 1 else not 1 <= plen <= cs:
                raise FormatError(f"index entry {k} has an impossible plain length")
            expect = off + 4 + blen
        if expect != fo:
            raise FormatError("records do not end where the final record starts")
        if plain_total != sum(e[2] for e in entries):
            raise FormatError("index plain_total is not the sum of the chunks")
        check_entry_flags(entries)
        self.n, self.plain_total, self.entries = n, plain_total, entries

    def _pread(self, off, n):
        self.f.seek(off)
        b = self.f.read(n)
        if len(b) != n:
            raise FormatError("short read")
        return b

    def read_member(self, k):
        """Step 6, up to the decrypted gzip member of chunk k."""
        if not 0 <= k < self.n:
            raise IndexError(f"chunk {k} out of range 0..{self.n - 1}")
        off, blen = self.entries[k][0], self.entries[k][1]
        rec = self._pread(off, 4 + blen)
        if struct.unpack_from("<I", rec, 0)[0] != blen:
            raise FormatError(f"record {k}'s prefix disagrees with the index")
        return self.keys.open_data(k, rec[4:])

    def read_chunk(self, k):
        """Step 6: the plaintext of chunk k, authenticated."""
        member = self.read_member(k)
        plain = inflate_member(member, self.header.chunk_size)
        if len(plain) != self.entries[k][2]:
            raise FormatError(f"chunk {k} inflates to {len(plain)} bytes, the index says {self.entries[k][2]}")
        check_stored_flag(k, self.entries[k][3], is_stored_only(member))
        return plain

    def read_range(self, a, b):
        """Plaintext bytes [a, b)."""
        if not 0 <= a <= b <= self.plain_total:
            raise IndexError("range outside the artifact")
        if a == b:
            return b""
        cs = self.header.chunk_size
        parts = [self.read_chunk(k) for k in range(a // cs, (b - 1) // cs + 1)]
        start = (a // cs) * cs
        return b"".join(parts)[a - start : b - start]


def decode_key(text):
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise FormatError("the key is not valid base64") from None
    if len(key) != 32:
        raise FormatError("the key must be base64 of 32 bytes")
    return key


def _open_to(path, key, out_path, chunk):
    """Writes the result to a temporary file next to out_path and renames it only on success (§11.1)."""
    out_dir = os.path.dirname(os.path.abspath(out_path)) if out_path and out_path != "-" else None
    tmp = tempfile.NamedTemporaryFile(dir=out_dir, prefix=".reference_reader-", delete=False) if out_path else None
    try:
        with open(path, "rb") as f:
            if chunk is not None:
                data = RandomAccess(f, key).read_chunk(chunk)
                if tmp:
                    tmp.write(data)
            else:
                open_stream(f, key, sink=tmp.write if tmp else None)
        if tmp:
            tmp.flush()
            os.fsync(tmp.fileno())
            tmp.close()
            if out_path == "-":
                with open(tmp.name, "rb") as r:
                    while True:
                        b = r.read(1 << 20)
                        if not b:
                            break
                        sys.stdout.buffer.write(b)
                sys.stdout.buffer.flush()
                os.unlink(tmp.name)
            else:
                os.replace(tmp.name, out_path)
        tmp = None
    finally:
        if tmp:
            tmp.close()
            os.unlink(tmp.name)


def main(argv=None):
    p = argparse.ArgumentParser(description="Independent sealpub v1 reader (docs/FORMAT.md).")
    p.add_argument("container")
    p.add_argument("--key-b64", required=True, help="base64 of the 32-byte file key")
    p.add_argument("-o", "--output", help="output file ('-' = stdout, written only after success)")
    p.add_argument("--chunk", type=int, help="read only chunk K through footer and index")
    a = p.parse_args(argv)
    try:
        _open_to(a.container, decode_key(a.key_b64), a.output, a.chunk)
    except (FormatError, IndexError, OSError) as e:
        msg = str(e).replace("\n", " ")
        print(f"reference_reader: error: {msg}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
