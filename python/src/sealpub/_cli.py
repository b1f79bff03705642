"""Runs the sealpub binary: finds it, builds argv, reads --json, maps exit codes.

Why a subprocess and not the C library through ctypes: the CLI's arguments,
--json output and exit codes are the documented, tested contract
(docs/CLI.md); a crash, an abort or a stuck upload stays in a child process
that can be stopped, instead of taking the caller (a training server) down;
there is no ABI to keep in step with C structs; and the binary called here is
the one CI tests. The cost, one process start per call, is nothing next to
compressing and uploading an engine.

Arguments always go as a list (never through a shell), every option as one
"--opt=value" word, and paths after "--", so no value can become an option.
"""

import dataclasses
import json
import os
import shutil
import signal
import subprocess
from typing import IO, Any, Dict, Mapping, Optional, Sequence, Tuple, Union

from ._errors import (
    BinaryNotFoundError,
    OutputError,
    SealpubTimeoutError,
    error_for_exit,
    error_line,
)

PathArg = Union[str, "os.PathLike[str]"]
EnvArg = Optional[Mapping[str, Optional[str]]]
StdinArg = Union[None, bytes, bytearray, memoryview, IO[bytes]]

# How long a stopped command may take to abort its upload after SIGTERM
# before it is killed. sealpub aborts the multipart upload on SIGTERM; after
# a SIGKILL the parts stay until `sealpub cleanup` aborts stale uploads.
TERMINATE_GRACE_SECONDS = 30.0


@dataclasses.dataclass(frozen=True)
class PublishResult:
    """What `sealpub publish --json` reports (docs/CLI.md). Holds no key."""

    object_key: str  # "{stage}/{name}-{arch}-{version}.enc", relative to the store
    sha256: str  # hex SHA-256 of the stored object (not of the input)
    plain_size: int  # bytes read from the input
    stored_size: int  # bytes of the stored object
    ratio: float  # stored_size / plain_size
    chunks: int
    chunks_stored: int  # chunks kept uncompressed because they would not shrink
    chunks_fast: int  # chunks compressed by the fast codec (ISA-L) by the per-chunk choice
    chunks_deflated: int  # chunks compressed by libdeflate at the level
    seconds: float
    mb_per_s: float
    store: str  # the store, as sealpub describes it
    registry: str  # the registry, as sealpub describes it (no password)
    name: str
    stage: str
    architecture: str  # canonical: x86_64 -> amd64, aarch64 -> arm64
    version: str
    artifact_id: str  # 32 hex digits, also in the container header
    replaced: bool  # an existing row was replaced
    level: int
    threads: int
    chunk_size: int
    claim_wait_seconds: float  # time spent waiting for another publish of the same object key
    warnings: Tuple[str, ...]  # notices such as that wait; never dropped in --json mode

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "PublishResult":
        return _from_json(cls, data)


@dataclasses.dataclass(frozen=True)
class FetchResult:
    """What `sealpub fetch --json` reports. Holds no key."""

    object_key: str
    version: str  # the version fetched (the resolved one with latest=True)
    sha256: str  # hex SHA-256 of the stored object, checked against the registry row
    plain_size: int
    stored_size: int
    chunks: int
    verified: bool  # always True: a failed check raises instead
    written: bool  # False when only verified (no output)
    seconds: float
    mb_per_s: float

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "FetchResult":
        return _from_json(cls, data)


def _from_json(cls: Any, data: Mapping[str, Any]) -> Any:
    """Builds a result dataclass from sealpub's JSON object. Unknown keys are
    ignored (a newer sealpub may add some); a missing or mistyped one is an error."""
    values = {}
    for field in dataclasses.fields(cls):
        if field.name not in data:
            raise ValueError("no %r" % field.name)
        values[field.name] = _typed(field.name, field.type, data[field.name])
    return cls(**values)


def _typed(name: str, kind: Any, value: Any) -> Any:
    # bool is an int in Python; JSON's true must not pass for a size, nor 1 for true.
    if kind in (int, "int") and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind in (float, "float") and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if kind in (str, "str") and isinstance(value, str):
        return value
    if kind in (bool, "bool") and isinstance(value, bool):
        return value
    if kind in (Tuple[str, ...], "Tuple[str, ...]") and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ValueError("%r is %r" % (name, value))


# Where a platform wheel puts the binary (python/build_backend, scripts/build-wheel.sh).
_BUNDLED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_bin", "sealpub")


def _locate(env: EnvArg) -> Tuple[str, str]:
    """(path, source): $SEALPUB_BIN, else the wheel's bundled binary, else PATH."""
    environ = _environment(env)
    configured = environ.get("SEALPUB_BIN")
    if configured:
        if os.path.isfile(configured) and os.access(configured, os.X_OK):
            return configured, "SEALPUB_BIN"
        raise BinaryNotFoundError(
            "sealpub: error: SEALPUB_BIN=%s is not an executable file" % configured, kind="binary"
        )
    if os.path.isfile(_BUNDLED) and os.access(_BUNDLED, os.X_OK):
        return _BUNDLED, "bundled"
    found = shutil.which("sealpub", path=environ.get("PATH", os.defpath))
    if found:
        return found, "PATH"
    raise BinaryNotFoundError(
        "sealpub: error: no sealpub bundled with this package, none on PATH and SEALPUB_BIN is not set; "
        "install a platform wheel or sealpub (docs/TRAINING.md), or set SEALPUB_BIN to the binary",
        kind="binary",
    )


def find_binary(env: EnvArg = None) -> str:
    """The sealpub executable: $SEALPUB_BIN, else the binary bundled in a
    platform wheel, else `sealpub` on $PATH.

    env: variables overriding os.environ for this lookup (as in publish()).
    Raises BinaryNotFoundError naming what was tried.
    """
    return _locate(env)[0]


def binary_info(env: EnvArg = None) -> Dict[str, str]:
    """Which sealpub binary this package runs and why: {"path": ...,
    "source": "SEALPUB_BIN" | "bundled" | "PATH"}. Raises BinaryNotFoundError."""
    path, source = _locate(env)
    return {"path": path, "source": source}


def _environment(overrides: EnvArg) -> Dict[str, str]:
    environ = dict(os.environ)
    for key, value in (overrides or {}).items():
        if value is None:
            environ.pop(key, None)
        elif isinstance(value, str):
            environ[key] = value
        elif isinstance(value, os.PathLike):
            environ[key] = os.fspath(value)
        else:
            environ[key] = str(value)
    return environ


def _with_urls(env: EnvArg, store: Optional[str] = None, registry: Optional[str] = None) -> EnvArg:
    """env plus SEALPUB_STORE / SEALPUB_REGISTRY for the given URLs.

    A registry or store URL may carry a password
    (postgresql://user:secret@db/x), and a command line is readable by every
    local user (ps, /proc/PID/cmdline), the environment only by the same
    user: so URLs reach sealpub through its environment, never argv. For
    sealpub, SEALPUB_REGISTRY / SEALPUB_STORE mean the same as --registry /
    --store (they win over DATABASE_URL and the defaults).
    """
    if store is None and registry is None:
        return env
    merged: Dict[str, Optional[str]] = dict(env or {})
    if store is not None:
        merged["SEALPUB_STORE"] = store
    if registry is not None:
        merged["SEALPUB_REGISTRY"] = registry
    return merged


def _option(name: str, value: Any) -> str:
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    return "--%s=%s" % (name, value)


def _path(path: PathArg) -> str:
    text = os.fspath(path)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if not text:
        raise ValueError("empty path")
    return text


def _stop(proc: "subprocess.Popen[bytes]") -> Tuple[bytes, bytes]:
    """SIGTERM (sealpub aborts cleanly, exit 130), then SIGKILL after the grace."""
    try:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            return proc.communicate(timeout=TERMINATE_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.communicate()
    except BaseException:
        proc.kill()
        proc.wait()
        raise


def run(
    command: str,
    args: Sequence[str],
    *,
    env: EnvArg = None,
    timeout: Optional[float] = None,
    stdin: StdinArg = None,
) -> bytes:
    """Runs `sealpub COMMAND ARGS...` and returns its stdout.

    stdin: None (the child reads /dev/null), bytes, or a binary file object
    with a file descriptor, which the child reads directly (e.g. open(...,
    "rb") or a Popen's stdout). Raises the SealpubError subclass for the exit
    code, SealpubTimeoutError after stopping the command when timeout seconds
    pass, or BinaryNotFoundError.
    """
    environ = _environment(env)
    argv = [find_binary(env), command, *args]
    data = None
    if stdin is None:
        child_stdin: Any = subprocess.DEVNULL
    elif isinstance(stdin, (bytes, bytearray, memoryview)):
        child_stdin, data = subprocess.PIPE, bytes(stdin)
    else:
        try:
            child_stdin = stdin.fileno()
        except (AttributeError, OSError, ValueError) as e:
            # io.UnsupportedOperation (BytesIO, ...) is both OSError and ValueError.
            raise TypeError(
                "stdin must be bytes or a binary file object with a file descriptor, not %s"
                % type(stdin).__name__
            ) from e

    try:
        proc = subprocess.Popen(
            argv, stdin=child_stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environ, close_fds=True
        )
    except OSError as e:  # not executable, wrong architecture, ...
        raise BinaryNotFoundError(
            "sealpub: error: cannot run %s: %s" % (argv[0], e.strerror or e), kind="binary"
        ) from e
    try:
        out, err = proc.communicate(data, timeout=timeout)
    except subprocess.TimeoutExpired:
        out, err = _stop(proc)
        stderr = err.decode("utf-8", "replace")
        detail = error_line(stderr)
        raise SealpubTimeoutError(
            "sealpub %s: error: timed out after %g s and was stopped%s"
            % (command, timeout, " (%s)" % detail if detail else ""),
            exit_code=proc.returncode,
            kind="timeout",
            stderr=stderr,
        ) from None
    except BaseException:
        # KeyboardInterrupt, or anything else: never leave sealpub running.
        _stop(proc)
        raise
    if proc.returncode != 0:
        raise error_for_exit(command, proc.returncode, err.decode("utf-8", "replace"))
    return out


def _json_object(command: str, out: bytes) -> Dict[str, Any]:
    try:
        data = json.loads(out.decode("utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        return data
    except ValueError as e:
        raise OutputError(
            "sealpub %s: error: unreadable --json output (%s)" % (command, e), exit_code=0, kind="output"
        ) from None


def publish(
    path: PathArg,
    *,
    name: str,
    stage: str,
    version: str,
    arch: Optional[str] = None,
    level: Optional[int] = None,
    threads: Optional[int] = None,
    chunk_size: Union[int, str, None] = None,
    store: Optional[str] = None,
    registry: Optional[str] = None,
    on_exists: Optional[str] = None,
    content: Optional[str] = None,
    io: Optional[str] = None,
    expect_size: Optional[int] = None,
    expect_sha256: Optional[str] = None,
    lock_timeout: Optional[int] = None,
    stdin: StdinArg = None,
    env: EnvArg = None,
    timeout: Optional[float] = None,
) -> PublishResult:
    """Seals and publishes a file: `sealpub publish PATH --json` (docs/CLI.md).

    path: the file, or "-" to read `stdin` (bytes or a binary file object
    with a file descriptor). Each option is the CLI flag of the same name
    (arch -> --arch, on_exists -> --on-exists, ...); None leaves it to
    sealpub's default or its environment variable (SEALPUB_STORE,
    DATABASE_URL, ...). store and registry are passed in the child's
    environment (SEALPUB_STORE, SEALPUB_REGISTRY), never on its command line,
    which every local user can read. Values are not checked here: sealpub
    validates them and a bad one raises UsageError (exit code 2) with
    sealpub's message.

    env: variables to set for this call on top of os.environ (None removes
    one). timeout: seconds; then sealpub is stopped with SIGTERM (it aborts
    the upload, no row is written) and SealpubTimeoutError is raised.

    Returns a PublishResult. Raises SealpubError (a subclass per exit code,
    e.g. ResourceExistsError for 9) carrying sealpub's one-line message.
    """
    args = [_option("name", name), _option("stage", stage), _option("version", version)]
    for flag, value in (
        ("arch", arch),
        ("level", level),
        ("threads", threads),
        ("chunk-size", chunk_size),
        ("on-exists", on_exists),
        ("content", content),
        ("io", io),
        ("expect-size", expect_size),
        ("expect-sha256", expect_sha256),
        ("lock-timeout", lock_timeout),
    ):
        if value is not None:
            args.append(_option(flag, value))
    source = _path(path)
    if source == "-":
        if stdin is None:
            raise ValueError('path "-" reads stdin=: pass the bytes or a file object')
    elif stdin is not None:
        raise ValueError('stdin= is read only with path "-"')
    args += ["--json", "--quiet", "--", source]
    out = run("publish", args, env=_with_urls(env, store, registry), timeout=timeout, stdin=stdin)
    return _result("publish", PublishResult, out, "; the object may be published: check the registry")


def _result(command: str, cls: Any, out: bytes, hint: str = "") -> Any:
    data = _json_object(command, out)
    try:
        return cls.from_json(data)
    except ValueError as e:
        raise OutputError(
            "sealpub %s: error: unexpected --json output (%s)%s" % (command, e, hint), exit_code=0, kind="output"
        ) from None


def fetch(
    output: Optional[PathArg],
    *,
    name: str,
    stage: str,
    version: Optional[str] = None,
    latest: bool = False,
    arch: Optional[str] = None,
    store: Optional[str] = None,
    registry: Optional[str] = None,
    parallel: Optional[int] = None,
    env: EnvArg = None,
    timeout: Optional[float] = None,
) -> FetchResult:
    """Downloads, checks and decrypts a published artifact: `sealpub fetch --json`.

    Give exactly one of version and latest=True (sealpub checks). output is
    written only when every check passed (size and SHA-256 against the
    registry row, the header against the row's names, every chunk
    authenticated); output=None only verifies (--verify). store must be the
    store the artifact was published to (SEALPUB_STORE by default).
    """
    args = [_option("name", name), _option("stage", stage)]
    for flag, value in (
        ("version", version),
        ("arch", arch),
        ("parallel", parallel),
    ):
        if value is not None:
            args.append(_option(flag, value))
    if latest:
        args.append("--latest")
    if output is None:
        args.append("--verify")
    else:
        target = _path(output)
        if target == "-":
            raise ValueError('output "-" is not supported here; give a file path')
        args.append(_option("output", target))
    args += ["--json", "--quiet"]
    return _result("fetch", FetchResult, run("fetch", args, env=_with_urls(env, store, registry), timeout=timeout))


def open(
    container: PathArg,
    output: Optional[PathArg] = None,
    *,
    key_file: Optional[PathArg] = None,
    registry: Optional[str] = None,
    expect: Union[str, Sequence[str], None] = None,
    env: EnvArg = None,
    timeout: Optional[float] = None,
) -> None:
    """Verifies and decrypts a container: `sealpub open CONTAINER -o OUTPUT`.

    Without output, only verifies. output appears only if every chunk
    authenticated. The key comes from the registry row (registry, else
    SEALPUB_REGISTRY / DATABASE_URL / the local data folder) or key_file.
    expect: "name/stage/arch/version" or a 4-sequence; refuses a container
    of any other resource (e.g. an object copied over another's key).
    """
    args = ["--quiet"]
    if output is not None:
        target = _path(output)
        if target == "-":
            raise ValueError('output "-" is not supported here; give a file path')
        args.append(_option("output", target))
    if key_file is not None:
        args.append(_option("key-file", _path(key_file)))
    if expect is not None:
        if not isinstance(expect, str):
            expect = "/".join(expect)
        args.append(_option("expect", expect))
    source = _path(container)
    if source == "-":
        raise ValueError('container "-" is not supported here; give a file path')
    args += ["--", source]
    run("open", args, env=_with_urls(env, registry=registry), timeout=timeout)


def inspect(container: PathArg, *, env: EnvArg = None, timeout: Optional[float] = None) -> Dict[str, Any]:
    """The container's header and chunk index (`sealpub inspect --json`); needs no key."""
    out = run("inspect", ["--json", "--", _path(container)], env=env, timeout=timeout)
    return _json_object("inspect", out)


def db_init(registry: Optional[str] = None, *, env: EnvArg = None, timeout: Optional[float] = None) -> None:
    """Creates the registry's `resources` table if missing (`sealpub db init`); safe to repeat."""
    args = ["init"]
    run("db", args, env=_with_urls(env, registry=registry), timeout=timeout)


def version(*, env: EnvArg = None, timeout: Optional[float] = 30) -> str:
    """The sealpub binary's version, e.g. "0.1.0"."""
    out = run("version", [], env=env, timeout=timeout).decode("utf-8", "replace").strip()
    words = out.split()
    if len(words) != 2 or words[0] != "sealpub":
        raise OutputError("sealpub version: error: unexpected output %r" % out[:100], exit_code=0, kind="output")
    return words[1]

