#!/usr/bin/env python3
"""The straightforward Python way to publish: gzip -6, AES-256-GCM, sha256, whole file.

Written the way a Python developer would, on purpose: read the file, gzip it
in one call, encrypt it in one call, hash the result, write it out. Needs the
`cryptography` package (Debian: python3-cryptography). Prints one JSON object;
mb_per_s is plain bytes / 1e6 / wall seconds from before the read to after the
write.
"""

import gzip
import hashlib
import json
import os
import resource
import sys
import time

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: baseline_python.py FILE OUT")
    src, dst = sys.argv[1], sys.argv[2]
    t0 = time.monotonic()
    with open(src, "rb") as f:
        data = f.read()
    compressed = gzip.compress(data, compresslevel=6)
    key = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(12)
    sealed = nonce + AESGCM(key).encrypt(nonce, compressed, None)
    digest = hashlib.sha256(sealed).hexdigest()
    with open(dst, "wb") as f:
        f.write(sealed)
    secs = time.monotonic() - t0
    print(json.dumps({
        "tool": "python",
        "file": src,
        "plain_size": len(data),
        "output_bytes": len(sealed),
        "sha256": digest,
        "seconds": round(secs, 6),
        "mb_per_s": round(len(data) / 1e6 / secs, 2),
        "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }))


if __name__ == "__main__":
    main()
