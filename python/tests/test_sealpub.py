"""Tests of the sealpub Python package: offline packaging, process handling and
error mapping, and publishes against a local store, the real PostgreSQL and
the real S3 gateway (scripts/services.sh).

Run: python3 -m unittest discover -s python/tests -v
The server tests need DATABASE_URL (and AWS_ENDPOINT_URL_S3 plus
SEALPUB_TEST_S3 for S3); without them they are skipped with the reason, or
fail when SEALPUB_REQUIRE_SERVICES=1.
"""

import base64
import contextlib
import dataclasses
import hashlib
import io
import json
import os
import pickle
import random
import re
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import uuid
import zipfile
from pathlib import Path

PYTHON_DIR = Path(__file__).resolve().parent.parent
REPO = PYTHON_DIR.parent
sys.path.insert(0, str(PYTHON_DIR / "src"))
sys.path.insert(0, str(PYTHON_DIR / "build_backend"))

import sealpub  # noqa: E402  (the source tree, not an installed copy)
import sealpub._cli  # noqa: E402
import sealpub_build  # noqa: E402

REQUIRE_SERVICES = os.environ.get("SEALPUB_REQUIRE_SERVICES") == "1"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def _find_test_binary():
    """SEALPUB_BIN (scripts/run-tests.sh sets it), else build/sealpub, else PATH."""
    configured = os.environ.get("SEALPUB_BIN")
    if configured:
        return configured
    built = REPO / "build" / "sealpub"
    if built.is_file() and os.access(str(built), os.X_OK):
        return str(built)
    return shutil.which("sealpub")


BIN = _find_test_binary()


def require_binary(case):
    if not BIN:
        case.fail("no sealpub binary: build it (cmake -S . -B build && cmake --build build) or set SEALPUB_BIN")


def services_missing(*names):
    """Skips (or, with SEALPUB_REQUIRE_SERVICES=1, fails) when a variable or tool is missing."""
    missing = [n for n in names if not (shutil.which(n[1:]) if n.startswith("!") else os.environ.get(n))]
    if not missing:
        return
    what = ", ".join(("the %s command" % n[1:]) if n.startswith("!") else n for n in missing)
    reason = "needs %s (scripts/services.sh start, then source its env file)" % what
    if REQUIRE_SERVICES:
        raise AssertionError("SEALPUB_REQUIRE_SERVICES=1 but " + reason)
    raise unittest.SkipTest(reason)


def fake_engine(blocks=40):
    """Bytes shaped like a serialized TensorRT engine: a small header, then fp16
    weights. Deterministic; about 2.5 MiB with the default 40 blocks."""
    rng = random.Random(20240611)
    weights = struct.pack("<32768e", *(rng.gauss(0.0, 0.05) for _ in range(32768)))
    header = b"ftrt" + struct.pack("<IIQ", 0x2A, 8, blocks * len(weights)) + b"detector-fp16\0" * 4
    # Rotating the block keeps chunks different without generating more floats.
    return header + b"".join(weights[i * 2 :] + weights[: i * 2] for i in range(blocks))


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def key_spellings(encoded_key):
    """The key as stored (base64), and its raw bytes as hex and base64, to look for."""
    raw = base64.b64decode(encoded_key)
    return [encoded_key, raw.hex(), base64.urlsafe_b64encode(raw).decode().rstrip("=")]


def unique(prefix):
    return "%s%s" % (prefix, uuid.uuid4().hex[:12])


# ------------------------------------------------------------------ packaging


class PackagingTests(unittest.TestCase):
    """`pip install ./python` works with no network, with and without build isolation."""

    def interpreters(self):
        found = [sys.executable]
        debian = "/usr/bin/python3"
        if os.path.exists(debian) and os.path.realpath(debian) != os.path.realpath(sys.executable):
            ok = subprocess.run([debian, "-m", "pip", "--version"], capture_output=True).returncode == 0
            if ok:
                found.append(debian)
        return found

    def tree_listing(self):
        return sorted(
            str(p.relative_to(PYTHON_DIR))
            for p in PYTHON_DIR.rglob("*")
            if "__pycache__" not in p.parts and not p.name.endswith(".pyc")
        )

    def test_offline_pip_install_imports(self):
        before = self.tree_listing()
        env = dict(os.environ)
        # PIP_NO_INDEX turns any attempt to reach an index into an error
        # instead of a wait, so passing proves no network is needed.
        env.update(PIP_NO_INDEX="1", PIP_NO_CACHE_DIR="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
        env.pop("PYTHONPATH", None)
        for python in self.interpreters():
            for isolation in (True, False):
                with self.subTest(python=python, build_isolation=isolation), tempfile.TemporaryDirectory() as tmp:
                    target = os.path.join(tmp, "site")
                    cmd = [python, "-m", "pip", "install", "--target", target]
                    if not isolation:
                        cmd.append("--no-build-isolation")
                    cmd.append(str(PYTHON_DIR))
                    pip = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
                    self.assertEqual(pip.returncode, 0, pip.stdout + pip.stderr)
                    # -I: no PYTHONPATH, no cwd on sys.path, so only the installed copy can load.
                    probe = (
                        "import sys; sys.path.insert(0, %r); import sealpub; "
                        "print(sealpub.__file__); print(sealpub.__version__); print(callable(sealpub.publish))"
                    ) % target
                    out = subprocess.run(
                        [python, "-I", "-c", probe], capture_output=True, text=True, cwd=tmp, timeout=60
                    )
                    self.assertEqual(out.returncode, 0, out.stderr)
                    path, version, has_publish = out.stdout.split()
                    self.assertTrue(path.startswith(target), path)
                    self.assertEqual(version, sealpub.__version__)
                    self.assertEqual(has_publish, "True")
                    meta = Path(target, "sealpub-%s.dist-info" % sealpub.__version__, "METADATA").read_text()
                    self.assertIn("Requires-Python: >=3.9", meta)
                    self.assertNotIn("Requires-Dist", meta)
        # The build writes nothing into the shared source tree.
        self.assertEqual(self.tree_listing(), before)

    def test_wheel_is_reproducible_and_complete(self):
        with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
            name_a = sealpub_build.build_wheel(a)
            name_b = sealpub_build.build_wheel(b)
            self.assertEqual(name_a, "sealpub-%s-py3-none-any.whl" % sealpub.__version__)
            self.assertEqual(Path(a, name_a).read_bytes(), Path(b, name_b).read_bytes())
            with zipfile.ZipFile(os.path.join(a, name_a)) as wheel:
                names = wheel.namelist()
                record = wheel.read("sealpub-%s.dist-info/RECORD" % sealpub.__version__).decode()
            for module in ("sealpub/__init__.py", "sealpub/_cli.py", "sealpub/_errors.py", "sealpub/py.typed"):
                self.assertIn(module, names)
                self.assertIn(module + ",sha256=", record)
            self.assertFalse([n for n in names if "__pycache__" in n or n.endswith(".pyc")])

    def test_sdist_builds(self):
        import tarfile

        with tempfile.TemporaryDirectory() as tmp:
            name = sealpub_build.build_sdist(tmp)
            with tarfile.open(os.path.join(tmp, name)) as sdist:
                names = sdist.getnames()
        base = "sealpub-%s/" % sealpub.__version__
        for member in ("PKG-INFO", "pyproject.toml", "README.md", "build_backend/sealpub_build.py", "src/sealpub/_cli.py"):
            self.assertIn(base + member, names)

    def test_versions_agree(self):
        self.assertEqual(sealpub_build.read_project()["version"], sealpub.__version__)

    def test_fallback_toml_parser(self):
        """The parser used on Python < 3.11 reads pyproject.toml as tomllib does."""
        text = (PYTHON_DIR / "pyproject.toml").read_text()
        parsed = sealpub_build.parse_project_table(text)
        try:
            import tomllib
        except ModuleNotFoundError:
            self.assertEqual(parsed["name"], "sealpub")
        else:
            self.assertEqual(parsed, tomllib.loads(text)["project"])
        self.assertEqual(
            sealpub_build.parse_project_table('[project]\nname = "a\\"b\\\\c" # x\n[tool.x]\ny = [1]\n'),
            {"name": 'a"b\\c'},
        )
        with self.assertRaises(ValueError):
            sealpub_build.parse_project_table('[project]\ndependencies = ["x"]\n')


# ------------------------------------------------------------------ process handling (stand-in binary)

FAKE_SCRIPT = r"""#!/bin/sh
# Stand-in for sealpub: records argv, then does what FAKE_MODE says.
[ -n "$FAKE_ARGS" ] && printf '%s\n' "$@" > "$FAKE_ARGS"
[ -n "$FAKE_URLS" ] && printf '%s\n' "${SEALPUB_REGISTRY-unset}" "${SEALPUB_STORE-unset}" > "$FAKE_URLS"
case "$FAKE_MODE" in
json) cat "$FAKE_JSON" ;;
exit) printf 'sealpub publish: summary line\nsealpub publish: error: failure %s\n' "$FAKE_CODE" >&2; exit "$FAKE_CODE" ;;
usage) echo "sealpub publish: unexpected argument 'x' (see 'sealpub publish --help')" >&2; exit 2 ;;
silent) exit "$FAKE_CODE" ;;
kill) kill -KILL $$ ;;
sleep)
    trap 'kill $child; echo "sealpub publish: error: interrupted; upload aborted" >&2; exit 130' TERM
    sleep 60 </dev/null >/dev/null 2>&1 &
    child=$!
    wait $child ;;
stubborn) trap '' TERM; exec sleep 60 ;;  # an ignored signal stays ignored across exec
stdin) cat > "$FAKE_STDIN"; cat "$FAKE_JSON" ;;
version) echo "sealpub 9.8.7" ;;
esac
"""

SAMPLE_JSON = {
    "object_key": "dev/detector-amd64-7.enc",
    "store": "s3://bucket/prefix at http://127.0.0.1:1",
    "registry": "postgresql://u@h/db",
    "name": "detector",
    "stage": "dev",
    "architecture": "amd64",
    "version": "7",
    "sha256": "ab" * 32,
    "artifact_id": "cd" * 16,
    "plain_size": 1000,
    "stored_size": 600,
    "ratio": 0.6,
    "chunks": 1,
    "chunks_stored": 0,
    "chunks_fast": 0,
    "chunks_deflated": 1,
    "level": 6,
    "threads": 2,
    "chunk_size": 4194304,
    "replaced": False,
    "seconds": 0,
    "mb_per_s": 1.5,
    "claim_wait_seconds": 0.001,
    "warnings": [],
}


class ProcessTests(unittest.TestCase):
    """argv, stdin, exit codes, signals and timeouts, against a stand-in binary."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.dir = Path(self.tmp.name)
        self.fake = self.dir / "sealpub"
        self.fake.write_text(FAKE_SCRIPT)
        self.fake.chmod(0o755)
        self.args_file = self.dir / "args"
        self.json_file = self.dir / "out.json"
        self.json_file.write_text(json.dumps(SAMPLE_JSON))

    def env(self, mode, **extra):
        env = {
            "SEALPUB_BIN": str(self.fake),
            "FAKE_MODE": mode,
            "FAKE_ARGS": str(self.args_file),
            "FAKE_JSON": str(self.json_file),
            "FAKE_STDIN": str(self.dir / "stdin"),
        }
        env.update(extra)
        return env

    def publish(self, mode, path="engine.trt", **kwargs):
        env = self.env(mode, **kwargs.pop("fake_env", {}))
        return sealpub.publish(path, name="detector", stage="dev", version="7", env=env, **kwargs)

    def test_argv_is_a_list_of_whole_words(self):
        hostile = "$(touch %s); `id` | x' \"y" % (self.dir / "pwned")
        result = self.publish(
            "json", path="-engine.trt", arch=hostile, chunk_size="8M", level=0, on_exists="fail",
            expect_size=1000, registry="postgresql://u:secret@h/db",
        )
        args = self.args_file.read_text().splitlines()
        self.assertEqual(args[0], "publish")
        self.assertIn("--arch=" + hostile, args)
        self.assertIn("--chunk-size=8M", args)
        self.assertIn("--level=0", args)
        self.assertIn("--on-exists=fail", args)
        self.assertIn("--expect-size=1000", args)
        self.assertEqual(args[-4:], ["--json", "--quiet", "--", "-engine.trt"])
        self.assertFalse((self.dir / "pwned").exists())
        self.assertEqual(result, sealpub.PublishResult(**{**SAMPLE_JSON, "seconds": 0.0, "warnings": ()}))
        self.assertIsInstance(result.seconds, float)
        with self.assertRaises(dataclasses.FrozenInstanceError):
            result.sha256 = "x"  # type: ignore[misc]

    def test_urls_with_passwords_never_reach_argv(self):
        # argv is world-readable (ps, /proc/PID/cmdline); the child's environment is not.
        registry = "postgresql://trainer:reg-s3cret@db:5432/artifacts"
        store = "s3://bucket/prefix"
        urls = self.dir / "urls"
        calls = {
            "publish": lambda env: sealpub.publish("engine.trt", name="d", stage="dev", version="7", store=store,
                                                   registry=registry, env=env),
            "fetch": lambda env: sealpub.fetch(None, name="d", stage="dev", version="7", store=store,
                                               registry=registry, env=env),
            "open": lambda env: sealpub.open("x.enc", registry=registry, env=env),
            "db_init": lambda env: sealpub.db_init(registry, env=env),
        }
        for name, call in calls.items():
            with self.subTest(call=name):
                self.args_file.unlink(missing_ok=True)
                mode = "json" if name in ("publish", "fetch") else "silent"
                env = self.env(mode, FAKE_URLS=str(urls), FAKE_CODE="0", SEALPUB_REGISTRY="sqlite:///wrong.db")
                if name == "fetch":
                    self.json_file.write_text(json.dumps({
                        "object_key": "dev/d-amd64-7.enc", "version": "7", "sha256": "ab" * 32,
                        "plain_size": 1, "stored_size": 1, "seconds": 0, "mb_per_s": 1.0}))
                try:
                    call(env)
                except sealpub.OutputError:
                    pass  # the stand-in's JSON does not matter here, only what it was given
                args = self.args_file.read_text()
                self.assertNotIn("s3cret", args)
                self.assertNotIn("--registry", args)
                self.assertNotIn("--store", args)
                seen_registry, seen_store = urls.read_text().splitlines()
                self.assertEqual(seen_registry, registry)
                self.assertEqual(seen_store, store if name in ("publish", "fetch") else "unset")

    def test_every_documented_exit_code_maps_to_its_class(self):
        expected = {
            2: (sealpub.UsageError, "usage"),
            3: (sealpub.InputError, "input"),
            4: (sealpub.LocalIOError, "io"),
            5: (sealpub.FormatError, "format"),
            6: (sealpub.AuthenticationError, "auth"),
            7: (sealpub.StoreError, "store"),
            8: (sealpub.RegistryError, "registry"),
            9: (sealpub.ResourceExistsError, "exists"),
            10: (sealpub.CryptoError, "crypto"),
            11: (sealpub.NotFoundError, "not_found"),
            70: (sealpub.InternalError, "internal"),
            130: (sealpub.SealpubInterruptedError, "interrupted"),
            42: (sealpub.SealpubError, "unknown"),
        }
        for code, (cls, kind) in expected.items():
            with self.subTest(code=code):
                with self.assertRaises(cls) as caught:
                    self.publish("exit", fake_env={"FAKE_CODE": str(code)})
                e = caught.exception
                self.assertIs(type(e), cls)
                self.assertEqual((e.exit_code, e.kind), (code, kind))
                self.assertEqual(e.message, "sealpub publish: error: failure %d" % code)
                self.assertEqual(str(e), e.message)
                self.assertIn("summary line", e.stderr)
                copy = pickle.loads(pickle.dumps(e))
                self.assertEqual((type(copy), copy.message, copy.exit_code, copy.kind), (cls, e.message, code, kind))

    def test_error_without_error_prefix_and_without_stderr(self):
        with self.assertRaises(sealpub.UsageError) as caught:
            self.publish("usage")
        self.assertEqual(caught.exception.message, "sealpub publish: unexpected argument 'x' (see 'sealpub publish --help')")
        with self.assertRaises(sealpub.StoreError) as caught:
            self.publish("silent", fake_env={"FAKE_CODE": "7"})
        self.assertEqual(caught.exception.message, "sealpub publish: exited with status 7")

    def test_killed_by_signal(self):
        with self.assertRaises(sealpub.KilledError) as caught:
            self.publish("kill")
        self.assertEqual((caught.exception.exit_code, caught.exception.kind), (-9, "signal"))
        self.assertIn("SIGKILL", caught.exception.message)

    def test_timeout_stops_with_sigterm(self):
        start = time.monotonic()
        with self.assertRaises(sealpub.SealpubTimeoutError) as caught:
            self.publish("sleep", timeout=0.5)
        self.assertLess(time.monotonic() - start, 20)
        e = caught.exception
        self.assertEqual((e.exit_code, e.kind), (130, "timeout"))
        self.assertIn("timed out after 0.5 s", e.message)
        self.assertIn("upload aborted", e.message)

    def test_timeout_escalates_to_sigkill(self):
        saved = sealpub._cli.TERMINATE_GRACE_SECONDS
        sealpub._cli.TERMINATE_GRACE_SECONDS = 0.5
        self.addCleanup(setattr, sealpub._cli, "TERMINATE_GRACE_SECONDS", saved)
        with self.assertRaises(sealpub.SealpubTimeoutError) as caught:
            self.publish("stubborn", timeout=0.3)
        self.assertEqual(caught.exception.exit_code, -9)

    def test_unreadable_output(self):
        self.json_file.write_text("not json")
        with self.assertRaises(sealpub.OutputError) as caught:
            self.publish("json")
        self.assertEqual((caught.exception.exit_code, caught.exception.kind), (0, "output"))
        self.json_file.write_text(json.dumps({k: v for k, v in SAMPLE_JSON.items() if k != "sha256"}))
        with self.assertRaisesRegex(sealpub.OutputError, "sha256"):
            self.publish("json")
        self.json_file.write_text(json.dumps({**SAMPLE_JSON, "plain_size": True}))
        with self.assertRaisesRegex(sealpub.OutputError, "plain_size"):
            self.publish("json")
        # A newer sealpub may add fields: ignored.
        self.json_file.write_text(json.dumps({**SAMPLE_JSON, "new_field": 1}))
        self.assertEqual(self.publish("json").sha256, SAMPLE_JSON["sha256"])

    def test_stdin(self):
        self.assertEqual(self.publish("stdin", path="-", stdin=b"engine bytes").name, "detector")
        self.assertEqual((self.dir / "stdin").read_bytes(), b"engine bytes")
        src = self.dir / "src.bin"
        src.write_bytes(b"from a file" * 1000)
        with open(src, "rb") as f:
            self.publish("stdin", path="-", stdin=f)
        self.assertEqual((self.dir / "stdin").read_bytes(), src.read_bytes())
        with self.assertRaises(ValueError):
            self.publish("stdin", path="-")
        with self.assertRaises(ValueError):
            self.publish("stdin", path="x.trt", stdin=b"x")
        with self.assertRaises(TypeError):
            self.publish("stdin", path="-", stdin=io.BytesIO(b"x"))

    def test_binary_lookup(self):
        empty = self.dir / "empty"
        empty.mkdir()
        with self.assertRaises(sealpub.BinaryNotFoundError) as caught:
            sealpub.version(env={"SEALPUB_BIN": None, "PATH": str(empty)})
        self.assertEqual((caught.exception.kind, caught.exception.exit_code), ("binary", None))
        self.assertIn("SEALPUB_BIN", caught.exception.message)
        with self.assertRaisesRegex(sealpub.BinaryNotFoundError, "/nonexistent/sealpub"):
            sealpub.version(env={"SEALPUB_BIN": "/nonexistent/sealpub"})
        garbage = self.dir / "not-a-program"
        garbage.write_bytes(b"\x7fELF garbage")
        garbage.chmod(0o755)
        with self.assertRaisesRegex(sealpub.BinaryNotFoundError, "cannot run .*not-a-program"):
            sealpub.version(env={"SEALPUB_BIN": str(garbage)})
        shutil.copy(self.fake, empty / "sealpub")
        self.assertEqual(sealpub.find_binary(env={"SEALPUB_BIN": None, "PATH": str(empty)}), str(empty / "sealpub"))
        self.assertEqual(sealpub.version(env={"SEALPUB_BIN": None, "PATH": str(empty), "FAKE_MODE": "version"}), "9.8.7")

    def test_open_arguments(self):
        sealpub.open("-x.enc", "out.bin", key_file="k.b64", expect=("a", "dev", "arm64", "1"), env=self.env("none"))
        self.assertEqual(
            self.args_file.read_text().splitlines(),
            ["open", "--quiet", "--output=out.bin", "--key-file=k.b64", "--expect=a/dev/arm64/1", "--", "-x.enc"],
        )
        with self.assertRaises(ValueError):
            sealpub.open("x.enc", "-", env=self.env("none"))

    def test_fetch_arguments(self):
        self.json_file.write_text(json.dumps({
            "object_key": "dev/a-arm64-1.enc", "version": "1", "sha256": "ab" * 32, "plain_size": 10,
            "stored_size": 60, "chunks": 1, "verified": True, "written": False, "seconds": 0.1, "mb_per_s": 0.0,
        }))
        r = sealpub.fetch(None, name="a", stage="dev", arch="arm64", latest=True, parallel=4, env=self.env("json"))
        self.assertEqual((r.version, r.written, r.verified), ("1", False, True))
        self.assertEqual(
            self.args_file.read_text().splitlines(),
            ["fetch", "--name=a", "--stage=dev", "--arch=arm64", "--parallel=4", "--latest", "--verify", "--json", "--quiet"],
        )
        sealpub.fetch("-out.trt", name="a", stage="dev", version="1", env=self.env("json"))
        self.assertIn("--output=-out.trt", self.args_file.read_text().splitlines())


# ------------------------------------------------------------------ local store + SQLite (always)


class LocalStoreTests(unittest.TestCase):
    """The real binary against a file:// store and a SQLite registry."""

    @classmethod
    def setUpClass(cls):
        cls.engine = fake_engine()

    def setUp(self):
        require_binary(self)
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.dir = Path(self.tmp.name)
        self.store_dir = self.dir / "store"
        self.db = self.dir / "registry.db"
        self.store = "file://" + str(self.store_dir)
        self.registry = "sqlite://" + str(self.db)
        self.engine_path = self.dir / "detector.trt"
        self.engine_path.write_bytes(self.engine)
        # Explicit store and registry; the environment's defaults must not leak in.
        self.env = {"SEALPUB_BIN": BIN, "SEALPUB_HOME": str(self.dir / "home")}

    def publish(self, path=None, **kwargs):
        opts = dict(name="detector", stage="dev", arch="x86_64", version="7", store=self.store,
                    registry=self.registry, env=self.env)
        opts.update(kwargs)
        return sealpub.publish(self.engine_path if path is None else path, **opts)

    def row(self, version="7"):
        """The registry row, or None (also when nothing created the table yet)."""
        if not self.db.exists():
            return None
        with contextlib.closing(sqlite3.connect(str(self.db))) as db:
            db.row_factory = sqlite3.Row
            if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'resources'").fetchone():
                return None
            rows = db.execute(
                "SELECT * FROM resources WHERE resource_name = 'detector' AND dev_stage = 'dev' "
                "AND architecture = 'amd64' AND version = ?",
                (version,),
            ).fetchall()
        self.assertLessEqual(len(rows), 1)
        return dict(rows[0]) if rows else None

    def test_publish_result_fields_and_round_trip(self):
        r = self.publish(chunk_size="1M", level=6, threads=2)
        self.assertEqual(r.object_key, "dev/detector-amd64-7.enc")
        self.assertEqual((r.name, r.stage, r.architecture, r.version), ("detector", "dev", "amd64", "7"))
        self.assertEqual(r.plain_size, len(self.engine))
        self.assertEqual((r.chunk_size, r.chunks, r.level, r.threads), (1 << 20, 3, 6, 2))
        self.assertFalse(r.replaced)
        self.assertRegex(r.artifact_id, "^[0-9a-f]{32}$")
        self.assertEqual(r.store, self.store)
        self.assertEqual(r.registry, self.registry)
        self.assertAlmostEqual(r.ratio, r.stored_size / r.plain_size, places=3)
        obj = self.store_dir / r.object_key
        self.assertEqual(obj.stat().st_size, r.stored_size)
        self.assertEqual(sha256_file(obj), r.sha256)
        row = self.row()
        self.assertEqual(
            (row["object_key"], row["sha256"], row["size_bytes"], row["plain_size"], row["artifact_id"]),
            (r.object_key, r.sha256, r.stored_size, r.plain_size, r.artifact_id),
        )
        self.assertEqual(sealpub.inspect(obj, env=self.env)["artifact_id"], r.artifact_id)
        out = self.dir / "back.trt"
        sealpub.open(obj, out, registry=self.registry, expect="detector/dev/amd64/7", env=self.env)
        self.assertEqual(out.read_bytes(), self.engine)
        sealpub.open(obj, registry=self.registry, env=self.env)  # verify only

    def test_key_never_in_result_or_errors(self):
        r = self.publish()
        texts = [repr(r), str(r), json.dumps(dataclasses.asdict(r))]
        with self.assertRaises(sealpub.ResourceExistsError) as caught:
            self.publish(on_exists="fail")
        texts += [repr(caught.exception), str(caught.exception), caught.exception.stderr]
        for spelling in key_spellings(self.row()["encryption_key"]):
            for text in texts:
                self.assertNotIn(spelling, text)
        self.assertFalse([f.name for f in dataclasses.fields(r) if "key" in f.name and f.name != "object_key"])

    def test_bad_name_is_a_usage_error(self):
        with self.assertRaises(sealpub.UsageError) as caught:
            self.publish(name=".bad")
        e = caught.exception
        self.assertEqual((e.exit_code, e.kind), (2, "usage"))
        self.assertTrue(e.message.startswith("sealpub publish: error: "), e.message)
        self.assertIn("name", e.message)
        self.assertIn(".bad", e.message)
        self.assertFalse(self.store_dir.exists() and any(self.store_dir.rglob("*.enc")))

    def test_shell_metacharacters_reach_sealpub_verbatim(self):
        marker = self.dir / "pwned"
        with self.assertRaises(sealpub.UsageError) as caught:
            self.publish(name="x;touch %s" % marker)
        self.assertIn("character 2 (0x3b)", caught.exception.message)  # the ";", as one word
        with self.assertRaises(sealpub.UsageError):
            self.publish(version="$(touch %s)" % marker)
        self.assertFalse(marker.exists())

    def test_missing_file_is_an_input_error(self):
        missing = self.dir / "no-such-engine.trt"
        with self.assertRaises(sealpub.InputError) as caught:
            self.publish(missing)
        self.assertEqual((caught.exception.exit_code, caught.exception.kind), (3, "input"))
        self.assertIn(str(missing), caught.exception.message)
        self.assertIsNone(self.row())

    def test_on_exists_fail_then_replace(self):
        first = self.publish()
        with self.assertRaises(sealpub.ResourceExistsError) as caught:
            self.publish(on_exists="fail")
        self.assertEqual((caught.exception.exit_code, caught.exception.kind), (9, "exists"))
        self.assertIn("detector/dev/amd64/7", caught.exception.message)
        self.assertEqual(self.row()["sha256"], first.sha256)
        second = self.publish()  # default: replace, under a fresh key
        self.assertTrue(second.replaced)
        self.assertNotEqual(second.sha256, first.sha256)
        self.assertEqual(self.row()["sha256"], second.sha256)

    def test_stdin_bytes_and_file(self):
        r = self.publish("-", stdin=self.engine[:100000], version="from-bytes")
        self.assertEqual(r.plain_size, 100000)
        with open(self.engine_path, "rb") as f:
            r = self.publish("-", stdin=f, version="from-file")
        self.assertEqual(r.plain_size, len(self.engine))
        out = self.dir / "back.trt"
        sealpub.open(self.store_dir / r.object_key, out, registry=self.registry, env=self.env)
        self.assertEqual(out.read_bytes(), self.engine)

    def test_path_starting_with_dash(self):
        (self.dir / "-detector.trt").write_bytes(b"x" * 1000)
        cwd = os.getcwd()
        os.chdir(str(self.dir))
        try:
            self.assertEqual(self.publish("-detector.trt").plain_size, 1000)
        finally:
            os.chdir(cwd)

    def test_expect_checks(self):
        digest = hashlib.sha256(self.engine).hexdigest()
        self.assertEqual(self.publish(expect_size=len(self.engine), expect_sha256=digest).plain_size, len(self.engine))
        with self.assertRaises(sealpub.InputError):
            self.publish(expect_sha256="0" * 64, version="8")
        self.assertIsNone(self.row("8"))

    def test_defaults_from_env(self):
        env = dict(self.env, SEALPUB_STORE=self.store, SEALPUB_REGISTRY=self.registry)
        r = sealpub.publish(self.engine_path, name="detector", stage="dev", version="7", arch="amd64", env=env)
        self.assertEqual((r.store, r.registry), (self.store, self.registry))
        with self.assertRaises(sealpub.UsageError) as caught:
            sealpub.publish(self.engine_path, name="detector", stage="dev", version="7",
                            env=dict(env, SEALPUB_LEVEL="99"))
        self.assertIn("SEALPUB_LEVEL", caught.exception.message)

    def test_open_refuses_another_resource(self):
        r = self.publish()
        out = self.dir / "back.trt"
        with self.assertRaises(sealpub.SealpubError) as caught:
            sealpub.open(self.store_dir / r.object_key, out, registry=self.registry,
                         expect=("detector", "dev", "amd64", "9"), env=self.env)
        self.assertIn("expected", caught.exception.message)
        self.assertFalse(out.exists())

    def test_fetch_round_trip(self):
        published = self.publish(version="7")
        self.publish(version="8", expect_size=len(self.engine))
        out = self.dir / "fetched.trt"
        r = sealpub.fetch(out, name="detector", stage="dev", arch="amd64", version="7", store=self.store,
                          registry=self.registry, env=self.env)
        self.assertEqual(out.read_bytes(), self.engine)
        self.assertEqual((r.object_key, r.sha256, r.stored_size, r.plain_size), (
            published.object_key, published.sha256, published.stored_size, published.plain_size))
        self.assertTrue(r.written and r.verified)
        r = sealpub.fetch(None, name="detector", stage="dev", arch="amd64", latest=True, store=self.store,
                          registry=self.registry, env=self.env)
        self.assertEqual((r.version, r.written), ("8", False))
        with self.assertRaises(sealpub.NotFoundError) as caught:
            sealpub.fetch(None, name="detector", stage="dev", arch="amd64", version="99", store=self.store,
                          registry=self.registry, env=self.env)
        self.assertEqual((caught.exception.exit_code, caught.exception.kind), (11, "not_found"))
        with self.assertRaises(sealpub.UsageError):  # neither version nor latest: sealpub says so
            sealpub.fetch(None, name="detector", stage="dev", store=self.store, registry=self.registry, env=self.env)

    def test_kek_wraps_the_key(self):
        kek = base64.b64encode(bytes(range(32))).decode()
        env = dict(self.env, SEALPUB_KEK=kek)
        r = self.publish(env=env)
        row = self.row()
        self.assertEqual(row["key_wrap"], "aes256-kwp-bound-v1")
        for secret in [kek, bytes(range(32)).hex()] + key_spellings(row["encryption_key"]):
            self.assertNotIn(secret, repr(r))
        out = self.dir / "back.trt"
        sealpub.open(self.store_dir / r.object_key, out, registry=self.registry, env=env)
        self.assertEqual(out.read_bytes(), self.engine)
        with self.assertRaises(sealpub.SealpubError):  # the row's key is useless without the KEK
            sealpub.open(self.store_dir / r.object_key, self.dir / "no.trt", registry=self.registry,
                         env=dict(self.env, SEALPUB_KEK=None, SEALPUB_KEK_FILE=None))
        self.assertFalse((self.dir / "no.trt").exists())

    def test_version(self):
        cli = subprocess.run([BIN, "version"], capture_output=True, text=True).stdout.split()
        self.assertEqual(sealpub.version(env=self.env), cli[1])


# ------------------------------------------------------------------ real PostgreSQL (file store)


def psql_row(version, name="detector"):
    """The resources row, read with psql; values bound as psql variables."""
    sql = (
        "SELECT object_key, sha256, size_bytes, plain_size, artifact_id, encryption_key, key_wrap "
        "FROM resources WHERE resource_name = :'n' AND dev_stage = 'dev' AND architecture = 'amd64' "
        "AND version = :'v';\n"
    )
    out = subprocess.run(
        ["psql", os.environ["DATABASE_URL"], "-AtX", "-F", "\t", "-v", "ON_ERROR_STOP=1",
         "-v", "n=" + name, "-v", "v=" + version, "-f", "-"],
        input=sql, capture_output=True, text=True, timeout=60,
    )
    if out.returncode != 0:
        raise AssertionError("psql failed: " + out.stderr)
    lines = out.stdout.splitlines()
    if not lines:
        return None
    keys = ("object_key", "sha256", "size_bytes", "plain_size", "artifact_id", "encryption_key", "key_wrap")
    row = dict(zip(keys, lines[0].split("\t")))
    row["size_bytes"], row["plain_size"] = int(row["size_bytes"]), int(row["plain_size"])
    return row


class PostgresTests(unittest.TestCase):
    """Publishes into the real PostgreSQL (registry from DATABASE_URL) with a local store."""

    @classmethod
    def setUpClass(cls):
        services_missing("DATABASE_URL", "!psql")
        if not BIN:
            raise AssertionError("no sealpub binary (set SEALPUB_BIN)")
        cls.env = {"SEALPUB_BIN": BIN, "SEALPUB_REGISTRY": None}
        sealpub.db_init(env=cls.env, timeout=60)

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.dir = Path(self.tmp.name)
        self.store = "file://" + str(self.dir / "store")
        self.version = unique("pg-")
        self.engine = fake_engine(blocks=4)
        self.path = self.dir / "detector.trt"
        self.path.write_bytes(self.engine)

    def publish(self, **kwargs):
        return sealpub.publish(self.path, name="detector", stage="dev", arch="amd64", version=self.version,
                               store=self.store, env=self.env, timeout=300, **kwargs)

    def test_row_written_and_fail_on_exists(self):
        r = self.publish()
        self.assertTrue(r.registry.startswith("postgresql://"), r.registry)
        row = psql_row(self.version)
        self.assertIsNotNone(row)
        self.assertEqual(
            (row["object_key"], row["sha256"], row["size_bytes"], row["plain_size"], row["artifact_id"]),
            (r.object_key, r.sha256, r.stored_size, len(self.engine), r.artifact_id),
        )
        with self.assertRaises(sealpub.ResourceExistsError) as caught:
            self.publish(on_exists="fail")
        self.assertEqual(caught.exception.exit_code, 9)
        self.assertEqual(psql_row(self.version)["sha256"], r.sha256)
        texts = [repr(r), str(r), repr(caught.exception), caught.exception.stderr]
        for spelling in key_spellings(row["encryption_key"]):
            for text in texts:
                self.assertNotIn(spelling, text)
        out = self.dir / "back.trt"
        sealpub.open(self.dir / "store" / r.object_key, out, expect=("detector", "dev", "amd64", self.version),
                     env=self.env)
        self.assertEqual(out.read_bytes(), self.engine)


class RetryableTests(unittest.TestCase):
    """Transient vs permanent failures (issue 12): each produced for real."""

    def setUp(self):
        require_binary(self)
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.dir = Path(self.tmp.name)
        self.path = self.dir / "in.bin"
        self.path.write_bytes(fake_engine(blocks=2))
        self.env = {"SEALPUB_BIN": BIN, "SEALPUB_HOME": str(self.dir / "home"), "SEALPUB_STORE": None,
                    "SEALPUB_REGISTRY": None, "DATABASE_URL": None, "PGHOST": None, "PGDATABASE": None}

    def test_exit_code_mapping(self):
        for code, cls, retryable in ((12, sealpub.StoreUnavailableError, True),
                                     (13, sealpub.RegistryUnavailableError, True),
                                     (14, sealpub.BusyError, True), (7, sealpub.StoreError, False),
                                     (8, sealpub.RegistryError, False), (2, sealpub.UsageError, False)):
            e = sealpub._errors.error_for_exit("publish", code, "sealpub publish: error: x")
            self.assertIsInstance(e, cls)
            self.assertEqual(e.retryable, retryable, code)
        self.assertIsInstance(sealpub._errors.error_for_exit("publish", 13, ""), sealpub.RegistryError)

    def test_unreachable_registry_is_retryable(self):
        import socket
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]  # nothing listens once closed
        with self.assertRaises(sealpub.RegistryUnavailableError) as caught:
            sealpub.publish(self.path, name="r", stage="dev", arch="amd64", version="1",
                            registry="postgresql://postgres@127.0.0.1:%d/x" % port, env=self.env, timeout=120)
        self.assertTrue(caught.exception.retryable)
        self.assertEqual(caught.exception.exit_code, 13)

    def test_bad_architecture_is_permanent(self):
        with self.assertRaises(sealpub.UsageError) as caught:
            sealpub.publish(self.path, name="r", stage="dev", arch="x-amd64", version="1", env=self.env, timeout=120)
        self.assertFalse(caught.exception.retryable)
        self.assertIn("unknown architecture", caught.exception.message)

    def test_result_carries_warnings_and_claim_wait(self):
        r = sealpub.publish(self.path, name="r", stage="dev", arch="amd64", version="2", env=self.env, timeout=120)
        self.assertEqual(r.warnings, ())
        self.assertGreaterEqual(r.claim_wait_seconds, 0.0)


# ------------------------------------------------------------------ real S3 gateway + PostgreSQL


def s3_get(bucket, key, dest):
    """Downloads s3://bucket/key with a SigV4-signed curl request; credentials go
    through curl's config on stdin, never on the command line."""
    endpoint = os.environ["AWS_ENDPOINT_URL_S3"].rstrip("/")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    config = 'user = "%s:%s"\n' % (os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"])
    cmd = ["curl", "-sS", "-K", "-", "-m", "120", "-o", str(dest), "-w", "%{http_code}",
           "--aws-sigv4", "aws:amz:%s:s3" % region, "-H", "x-amz-content-sha256: " + EMPTY_SHA256]
    if os.environ.get("AWS_SESSION_TOKEN"):
        cmd += ["-H", "x-amz-security-token: " + os.environ["AWS_SESSION_TOKEN"]]
    cmd.append("%s/%s/%s" % (endpoint, bucket, key))
    out = subprocess.run(cmd, input=config, capture_output=True, text=True, timeout=180)
    if out.returncode != 0 or out.stdout != "200":
        raise AssertionError("GET %s/%s: curl exit %d, HTTP %s %s" % (bucket, key, out.returncode, out.stdout, out.stderr))


class S3Tests(unittest.TestCase):
    """Publishes a fake TensorRT engine to the real S3 gateway and PostgreSQL."""

    @classmethod
    def setUpClass(cls):
        services_missing("AWS_ENDPOINT_URL_S3", "SEALPUB_TEST_S3", "DATABASE_URL", "AWS_ACCESS_KEY_ID",
                         "AWS_SECRET_ACCESS_KEY", "!psql", "!curl")
        if not BIN:
            raise AssertionError("no sealpub binary (set SEALPUB_BIN)")
        match = re.match(r"^s3://([^/]+)/?(.*)$", os.environ["SEALPUB_TEST_S3"])
        if not match:
            raise AssertionError("SEALPUB_TEST_S3 is not s3://BUCKET[/PREFIX]: %s" % os.environ["SEALPUB_TEST_S3"])
        cls.bucket = match.group(1)
        # A prefix per run, so runs against the same servers never collide.
        cls.prefix = "/".join(p for p in (match.group(2).strip("/"), unique("python-")) if p)
        cls.store = "s3://%s/%s" % (cls.bucket, cls.prefix)
        cls.env = {"SEALPUB_BIN": BIN, "SEALPUB_REGISTRY": None, "SEALPUB_STORE": cls.store}
        sealpub.db_init(env=cls.env, timeout=60)

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.dir = Path(self.tmp.name)
        self.version = unique("s3-")
        self.engine = fake_engine()
        self.path = self.dir / "detector.trt"
        self.path.write_bytes(self.engine)

    def publish(self, **kwargs):
        return sealpub.publish(self.path, name="detector", stage="dev", arch="amd64", version=self.version,
                               chunk_size="1M", env=self.env, timeout=300, **kwargs)

    def test_publish_engine_to_s3(self):
        r = self.publish()
        self.assertEqual(r.object_key, "dev/detector-amd64-%s.enc" % self.version)
        self.assertEqual((r.plain_size, r.chunks, r.replaced), (len(self.engine), 3, False))
        self.assertIn(self.store, r.store)
        downloaded = self.dir / "object.enc"
        s3_get(self.bucket, "%s/%s" % (self.prefix, r.object_key), downloaded)
        self.assertEqual(downloaded.stat().st_size, r.stored_size)
        self.assertEqual(sha256_file(downloaded), r.sha256)
        row = psql_row(self.version)
        self.assertEqual(
            (row["object_key"], row["sha256"], row["size_bytes"], row["plain_size"], row["artifact_id"]),
            (r.object_key, r.sha256, r.stored_size, r.plain_size, r.artifact_id),
        )
        for spelling in key_spellings(row["encryption_key"]):
            self.assertNotIn(spelling, repr(r))
        out = self.dir / "back.trt"
        sealpub.open(downloaded, out, expect=("detector", "dev", "amd64", self.version), env=self.env)
        self.assertEqual(out.read_bytes(), self.engine)
        fetched = self.dir / "fetched.trt"
        f = sealpub.fetch(fetched, name="detector", stage="dev", arch="amd64", version=self.version,
                          env=self.env, timeout=300)
        self.assertEqual((f.sha256, f.stored_size, f.written), (r.sha256, r.stored_size, True))
        self.assertEqual(fetched.read_bytes(), self.engine)

    def test_fail_on_exists(self):
        first = self.publish()
        with self.assertRaises(sealpub.ResourceExistsError) as caught:
            self.publish(on_exists="fail")
        self.assertEqual((caught.exception.exit_code, caught.exception.kind), (9, "exists"))
        self.assertEqual(psql_row(self.version)["sha256"], first.sha256)
        downloaded = self.dir / "object.enc"
        s3_get(self.bucket, "%s/%s" % (self.prefix, first.object_key), downloaded)
        self.assertEqual(sha256_file(downloaded), first.sha256)  # the object was not touched


class BinaryLookupTests(unittest.TestCase):
    """Which binary the wrapper runs (binary_info), and platform wheels that carry it."""

    def test_binary_info_names_its_source(self):
        require_binary(self)
        info = sealpub.binary_info(env={"SEALPUB_BIN": BIN})
        self.assertEqual(info, {"path": BIN, "source": "SEALPUB_BIN"})
        with tempfile.TemporaryDirectory() as tmp:
            os.symlink(BIN, os.path.join(tmp, "sealpub"))
            env = {"SEALPUB_BIN": "", "PATH": tmp}
            self.assertEqual(sealpub.binary_info(env=env), {"path": os.path.join(tmp, "sealpub"), "source": "PATH"})
            with self.assertRaises(sealpub.BinaryNotFoundError):
                sealpub.binary_info(env={"SEALPUB_BIN": "", "PATH": os.path.join(tmp, "none")})

    def test_platform_wheel_runs_its_bundled_binary_first(self):
        require_binary(self)
        with tempfile.TemporaryDirectory() as tmp:
            stage = os.path.join(tmp, "stage")
            os.makedirs(os.path.join(stage, "libs"))
            shutil.copy(BIN, os.path.join(stage, "sealpub"))
            name = sealpub_build.build_wheel(
                tmp, config_settings={"binary-dir": stage, "platform": "manylinux_2_17_x86_64"}
            )
            self.assertTrue(name.endswith("-py3-none-manylinux_2_17_x86_64.whl"), name)
            site = os.path.join(tmp, "site")
            with zipfile.ZipFile(os.path.join(tmp, name)) as whl:
                wheel_meta = whl.read("sealpub-%s.dist-info/WHEEL" % sealpub.__version__).decode()
                self.assertIn("Root-Is-Purelib: false", wheel_meta)
                self.assertIn("Tag: py3-none-manylinux_2_17_x86_64", wheel_meta)
                mode = whl.getinfo("sealpub/_bin/sealpub").external_attr >> 16
                self.assertTrue(mode & 0o100000 and mode & 0o111, oct(mode))  # pip keeps it executable
                whl.extractall(site)
            os.chmod(os.path.join(site, "sealpub", "_bin", "sealpub"), 0o755)
            # A PATH holding another "sealpub" must lose to the bundled one.
            decoy = os.path.join(tmp, "decoy")
            os.makedirs(decoy)
            os.symlink(BIN, os.path.join(decoy, "sealpub"))
            env = {k: v for k, v in os.environ.items() if k != "SEALPUB_BIN"}
            env.update(PATH=decoy + os.pathsep + env.get("PATH", ""), PYTHONPATH=site)
            out = subprocess.run(
                [sys.executable, "-c", "import json, sealpub; print(json.dumps(sealpub.binary_info())); print(sealpub.version())"],
                env=env, cwd=tmp, capture_output=True, text=True, check=True,
            ).stdout.splitlines()
            info = json.loads(out[0])
            self.assertEqual(info["source"], "bundled")
            self.assertEqual(os.path.realpath(info["path"]), os.path.realpath(os.path.join(site, "sealpub", "_bin", "sealpub")))
            self.assertIn("0.1.0", out[1])


if __name__ == "__main__":
    unittest.main()
