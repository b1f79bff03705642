"""The exceptions raised for a failed sealpub command, one class per exit code."""

from typing import Dict, Optional, Type

# docs/CLI.md, "Exit codes": the exit code says which part failed. `kind` is
# that part as a short word, so callers can branch without memorising numbers.
EXIT_KINDS: Dict[int, str] = {
    2: "usage",
    3: "input",
    4: "io",
    5: "format",
    6: "auth",
    7: "store",
    8: "registry",
    9: "exists",
    10: "crypto",
    11: "not_found",
    12: "store_unavailable",
    13: "registry_unavailable",
    14: "busy",
    70: "internal",
    130: "interrupted",
}

# Exit codes after which the same call may succeed if retried later
# unchanged: a store or registry that could not be reached or answered 5xx,
# another publish of the same identity that held it past --lock-timeout, an
# interruption. Every other failure is permanent: retrying it cannot help.
RETRYABLE_EXIT_CODES = frozenset({12, 13, 14, 130})


class SealpubError(Exception):
    """A sealpub command failed.

    Attributes:
        message:   sealpub's one-line error, e.g.
                   "sealpub publish: error: invalid name '.bad': must not start with '.'".
                   ``str(error)`` is this line.
        exit_code: the command's exit status (docs/CLI.md); negative -N when it
                   was killed by signal N; None when it never ran (binary missing).
        kind:      what failed: one of EXIT_KINDS' values, or "signal",
                   "timeout", "output" (exit 0 but unreadable output), "binary"
                   (no sealpub binary), "unknown" (an undocumented exit code).
        stderr:    everything the command wrote on stderr. sealpub never writes
                   keys there; this library never adds arguments to it, because
                   a registry URL may carry a password.
        retryable: True when retrying the same call later may succeed (exit
                   codes 12, 13, 14 and 130, and a timeout); False for
                   permanent failures such as bad credentials, a missing
                   bucket or table, or bad input.
    """

    def __init__(self, message: str, *, exit_code: Optional[int] = None, kind: str = "unknown", stderr: str = ""):
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.kind = kind
        self.stderr = stderr

    @property
    def retryable(self) -> bool:
        return self.exit_code in RETRYABLE_EXIT_CODES or self.kind == "timeout"

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return "%s(%r, exit_code=%r, kind=%r)" % (type(self).__name__, self.message, self.exit_code, self.kind)

    def __reduce__(self):
        # Keyword-only arguments: the default pickling would lose them.
        return (_rebuild, (type(self), self.message, self.exit_code, self.kind, self.stderr))


def _rebuild(cls, message, exit_code, kind, stderr):
    return cls(message, exit_code=exit_code, kind=kind, stderr=stderr)


class UsageError(SealpubError):
    """Exit 2: bad option, name, size, URL or environment value."""


class InputError(SealpubError):
    """Exit 3: the input is missing, unreadable, changed while read, or failed --expect-*."""


class LocalIOError(SealpubError):
    """Exit 4: local I/O error or out of memory."""


class FormatError(SealpubError):
    """Exit 5: not a sealpub container, or a malformed one."""


class AuthenticationError(SealpubError):
    """Exit 6: wrong key, tampered, reordered or truncated container."""


class StoreError(SealpubError):
    """Exit 7: the object store failed; the upload was aborted and no row written."""


class RegistryError(SealpubError):
    """Exit 8: the registry failed after the upload; the message says what is left."""


class ResourceExistsError(SealpubError):
    """Exit 9: the resource exists and on_exists="fail"."""


class CryptoError(SealpubError):
    """Exit 10: the crypto library failed."""


class NotFoundError(SealpubError):
    """Exit 11: no registry row for the container."""


class StoreUnavailableError(StoreError):
    """Exit 12: the object store could not be reached or answered 5xx/SlowDown; retry later."""


class RegistryUnavailableError(RegistryError):
    """Exit 13: the registry could not be reached or dropped the connection; retry later."""


class BusyError(SealpubError):
    """Exit 14: another publish of the same identity held it past --lock-timeout; retry later."""


class InternalError(SealpubError):
    """Exit 70: a sealpub bug; please report it."""


class SealpubInterruptedError(SealpubError):
    """Exit 130: sealpub was interrupted (SIGINT/SIGTERM); nothing was published."""


class KilledError(SealpubError):
    """sealpub was killed by a signal it does not handle (e.g. SIGKILL, a crash)."""


class SealpubTimeoutError(SealpubError):
    """The call's timeout passed; sealpub was stopped with SIGTERM (then SIGKILL)."""


class OutputError(SealpubError):
    """sealpub exited 0 but its output could not be read (a version mismatch?)."""


class BinaryNotFoundError(SealpubError):
    """No sealpub binary: SEALPUB_BIN is unset or wrong, and none is on PATH."""


_BY_EXIT_CODE: Dict[int, Type[SealpubError]] = {
    2: UsageError,
    3: InputError,
    4: LocalIOError,
    5: FormatError,
    6: AuthenticationError,
    7: StoreError,
    8: RegistryError,
    9: ResourceExistsError,
    10: CryptoError,
    11: NotFoundError,
    12: StoreUnavailableError,
    13: RegistryUnavailableError,
    14: BusyError,
    70: InternalError,
    130: SealpubInterruptedError,
}


def error_for_exit(command: str, exit_code: int, stderr: str) -> SealpubError:
    """The exception for a sealpub command that exited with exit_code != 0."""
    if exit_code < 0:
        import signal

        try:
            name = signal.Signals(-exit_code).name
        except ValueError:
            name = "signal %d" % -exit_code
        line = error_line(stderr) or "sealpub %s: killed by %s" % (command, name)
        return KilledError(line, exit_code=exit_code, kind="signal", stderr=stderr)
    cls = _BY_EXIT_CODE.get(exit_code, SealpubError)
    kind = EXIT_KINDS.get(exit_code, "unknown")
    line = error_line(stderr) or "sealpub %s: exited with status %d" % (command, exit_code)
    return cls(line, exit_code=exit_code, kind=kind, stderr=stderr)


def error_line(stderr: str) -> str:
    """sealpub's one-line error from its stderr.

    Every error is one line "sealpub COMMAND: error: WHAT" (docs/CLI.md). The
    last such line wins; argument errors ("sealpub publish: unexpected
    argument ...") and anything else fall back to the last line that starts
    with "sealpub ", then to the last non-empty line.
    """
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for predicate in (
        lambda line: line.startswith("sealpub ") and ": error: " in line,
        lambda line: line.startswith("sealpub "),
        lambda line: True,
    ):
        for line in reversed(lines):
            if predicate(line):
                return line
    return ""
