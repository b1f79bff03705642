"""Publish build artifacts with sealpub from Python: a thin wrapper over the CLI.

    import sealpub

    result = sealpub.publish("detector.trt", name="detector", stage="dev",
                             arch="amd64", version="7")
    print(result.object_key, result.sha256, result.stored_size)

    sealpub.fetch("detector.trt", name="detector", stage="dev", arch="amd64", version="7")

Every call runs the installed `sealpub` binary ($SEALPUB_BIN, else `sealpub`
on $PATH) with --json and maps its documented exit codes (docs/CLI.md) to
exceptions: SealpubError and one subclass per code, each carrying sealpub's
one-line message, the exit code and a short `kind`. The key never reaches
Python: sealpub does not print it, and no result or error holds it.
See docs/TRAINING.md and python/README.md.
"""

from ._cli import FetchResult, PublishResult, binary_info, db_init, fetch, find_binary, inspect, open, publish, version
from ._errors import (
    EXIT_KINDS,
    RETRYABLE_EXIT_CODES,
    AuthenticationError,
    BinaryNotFoundError,
    BusyError,
    CryptoError,
    FormatError,
    InputError,
    InternalError,
    KilledError,
    LocalIOError,
    NotFoundError,
    OutputError,
    RegistryError,
    RegistryUnavailableError,
    ResourceExistsError,
    SealpubError,
    SealpubInterruptedError,
    SealpubTimeoutError,
    StoreError,
    StoreUnavailableError,
    UsageError,
)

# The package's own version; the binary's is version(). Kept equal to
# pyproject.toml's by a test.
__version__ = "0.1.0"

__all__ = [
    "EXIT_KINDS",
    "RETRYABLE_EXIT_CODES",
    "AuthenticationError",
    "BinaryNotFoundError",
    "BusyError",
    "CryptoError",
    "FetchResult",
    "FormatError",
    "InputError",
    "InternalError",
    "KilledError",
    "LocalIOError",
    "NotFoundError",
    "OutputError",
    "PublishResult",
    "RegistryError",
    "RegistryUnavailableError",
    "ResourceExistsError",
    "SealpubError",
    "SealpubInterruptedError",
    "SealpubTimeoutError",
    "StoreError",
    "StoreUnavailableError",
    "UsageError",
    "db_init",
    "fetch",
    "binary_info",
    "find_binary",
    "inspect",
    "open",
    "publish",
    "version",
]
