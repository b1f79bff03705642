"""In-tree PEP 517/660 build backend for the sealpub Python package.

Why it exists (see also pyproject.toml): the package must install with
`pip install ./python` on machines without network access. A setuptools
backend cannot promise that: pip's build isolation downloads setuptools
(and `wheel`, for setuptools < 70.1) from an index, and with
--no-build-isolation the build still fails wherever `wheel` is missing.
This backend needs only the standard library, declares no build
requirements, and builds exactly what this package is: one pure-Python
module tree (src/sealpub) in a py3-none-any wheel, no dependencies.

Wheels and sdists are reproducible: entries are sorted and carry a fixed
timestamp. Nothing is written into the source tree.
"""

import base64
import gzip
import hashlib
import io
import os
import re
import tarfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "sealpub"

# The earliest date a zip file can hold; a fixed date makes builds reproducible.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
TAR_MTIME = 315532800  # the same instant, for the sdist

# The [project] keys this backend understands. Anything else is refused
# rather than silently dropped from the metadata.
KNOWN_KEYS = {"name", "version", "description", "readme", "requires-python"}

_STRING_LINE = re.compile(r'^([A-Za-z0-9_-]+)\s*=\s*"((?:[^"\\]|\\["\\])*)"\s*(?:#.*)?$')


def parse_project_table(text):
    """Reads the [project] table of pyproject.toml on Python < 3.11 (no tomllib).

    Accepts only `key = "string"` lines (with \\" and \\\\ escapes), which is
    all this package's pyproject.toml uses; raises ValueError on anything else
    so that a richer file fails loudly instead of building wrong metadata.
    """
    project = {}
    in_project = False
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            in_project = line.split("#", 1)[0].strip() == "[project]"
            continue
        if not in_project:
            continue
        match = _STRING_LINE.match(line)
        if not match:
            raise ValueError(
                'pyproject.toml:%d: without tomllib (Python < 3.11) only key = "string" '
                "lines are read in [project]: %r" % (number, line)
            )
        project[match.group(1)] = re.sub(r'\\(["\\])', r"\1", match.group(2))
    return project


def read_project(root=ROOT):
    """Returns pyproject.toml's [project] table as a dict, checked."""
    with open(os.path.join(root, "pyproject.toml"), "rb") as f:
        text = f.read().decode("utf-8")
    try:
        import tomllib
    except ModuleNotFoundError:
        project = parse_project_table(text)
    else:
        project = tomllib.loads(text).get("project", {})
    unknown = sorted(set(project) - KNOWN_KEYS)
    if unknown:
        raise ValueError("pyproject.toml: [project] keys this backend does not support: %s" % ", ".join(unknown))
    for key in ("name", "version"):
        if not isinstance(project.get(key), str) or not project[key]:
            raise ValueError("pyproject.toml: [project] needs a string %r" % key)
    return project


def _dist(project):
    # Wheel file names use the normalised name with '_' for runs of '-_.'.
    return re.sub(r"[-_.]+", "_", project["name"]).lower()


def _dist_info(project):
    return "%s-%s.dist-info" % (_dist(project), project["version"])


def metadata_text(project, root=ROOT):
    """Core metadata (METADATA / PKG-INFO), version 2.1."""
    lines = [
        "Metadata-Version: 2.1",
        "Name: %s" % project["name"],
        "Version: %s" % project["version"],
    ]
    if project.get("description"):
        lines.append("Summary: %s" % project["description"])
    if project.get("requires-python"):
        lines.append("Requires-Python: %s" % project["requires-python"])
    body = ""
    if project.get("readme"):
        lines.append("Description-Content-Type: text/markdown")
        with open(os.path.join(root, project["readme"]), encoding="utf-8") as f:
            body = f.read()
    return "\n".join(lines) + "\n\n" + body


def _wheel_text(tag="py3-none-any"):
    purelib = "true" if tag.endswith("-any") else "false"
    return "Wheel-Version: 1.0\nGenerator: sealpub_build\nRoot-Is-Purelib: %s\nTag: %s\n" % (purelib, tag)


# Platform wheels (scripts/build-wheel.sh): the sealpub binary and the shared
# libraries it needs beyond the C library, staged by that script in a folder
# (sealpub, libs/*.so*, RPATH $ORIGIN/libs), go into the package as
# sealpub/_bin/, and the wheel is tagged for the platform instead of "any".
# Given as config settings (pip --config-settings binary-dir=... platform=...)
# or the environment variables SEALPUB_WHEEL_BINARY_DIR / SEALPUB_WHEEL_PLATFORM.
_PLATFORM_TAG = re.compile(r"^(manylinux_[0-9]+_[0-9]+|linux)_(x86_64|aarch64)$")


def _platform_settings(config_settings):
    settings = config_settings or {}
    binary_dir = settings.get("binary-dir") or os.environ.get("SEALPUB_WHEEL_BINARY_DIR")
    platform = settings.get("platform") or os.environ.get("SEALPUB_WHEEL_PLATFORM")
    if not binary_dir and not platform:
        return None, "py3-none-any"
    if not binary_dir or not platform:
        raise ValueError("a platform wheel needs both binary-dir and platform")
    if not _PLATFORM_TAG.match(platform):
        raise ValueError("platform %r is not manylinux_X_Y_{x86_64,aarch64}" % platform)
    if not os.path.isfile(os.path.join(binary_dir, "sealpub")):
        raise ValueError("no sealpub binary in %s" % binary_dir)
    return binary_dir, "py3-none-" + platform


def _binary_entries(binary_dir):
    """(arcname, bytes, mode) of the staged binary folder, under sealpub/_bin/."""
    found = []
    for folder, subfolders, files in os.walk(binary_dir):
        subfolders.sort()
        for name in files:
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, binary_dir).replace(os.sep, "/")
            mode = 0o755 if os.access(path, os.X_OK) else 0o644
            found.append((PACKAGE + "/_bin/" + rel, _read(path), mode))
    return sorted(found)


def _package_files(root=ROOT):
    """(name in the wheel, absolute path) of every file of src/sealpub, sorted."""
    base = os.path.join(root, "src")
    found = []
    for folder, subfolders, files in os.walk(os.path.join(base, PACKAGE)):
        subfolders[:] = sorted(d for d in subfolders if d != "__pycache__")
        for name in files:
            if name.endswith((".pyc", ".pyo")):
                continue
            path = os.path.join(folder, name)
            arcname = os.path.relpath(path, base).replace(os.sep, "/")
            if "," in arcname:  # RECORD is CSV; keep it trivially parseable
                raise ValueError("file name with a comma: %s" % arcname)
            found.append((arcname, path))
    return sorted(found)


def _record_line(arcname, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")
    return "%s,sha256=%s,%d" % (arcname, digest, len(data))


def _write_wheel(directory, project, entries, tag="py3-none-any"):
    """Writes the wheel for entries [(arcname, bytes[, mode])] plus its dist-info."""
    dist_info = _dist_info(project)
    entries = list(entries) + [
        (dist_info + "/METADATA", metadata_text(project).encode("utf-8")),
        (dist_info + "/WHEEL", _wheel_text(tag).encode("utf-8")),
    ]
    filename = "%s-%s-%s.whl" % (_dist(project), project["version"], tag)
    final = os.path.join(directory, filename)
    partial = final + ".partial"
    records = []
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as wheel:
        for entry in entries:
            arcname, data = entry[0], entry[1]
            info = zipfile.ZipInfo(arcname, ZIP_DATE)
            # A regular file's full st_mode: pip marks a file executable only
            # when the mode says S_IFREG and has an x bit (the bundled binary).
            info.external_attr = (0o100000 | (entry[2] if len(entry) > 2 else 0o644)) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            wheel.writestr(info, data)
            records.append(_record_line(arcname, data))
        records.append(dist_info + "/RECORD,,")
        info = zipfile.ZipInfo(dist_info + "/RECORD", ZIP_DATE)
        info.external_attr = 0o644 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        wheel.writestr(info, "\n".join(records) + "\n")
    os.replace(partial, final)
    return filename


def _read(path):
    with open(path, "rb") as f:
        return f.read()


# ------------------------------------------------------------------ PEP 517


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    project = read_project()
    dist_info = _dist_info(project)
    target = os.path.join(metadata_directory, dist_info)
    os.makedirs(target, exist_ok=True)
    with open(os.path.join(target, "METADATA"), "w", encoding="utf-8") as f:
        f.write(metadata_text(project))
    with open(os.path.join(target, "WHEEL"), "w", encoding="utf-8") as f:
        f.write(_wheel_text(_platform_settings(config_settings)[1]))
    return dist_info


def prepare_metadata_for_build_editable(metadata_directory, config_settings=None):
    return prepare_metadata_for_build_wheel(metadata_directory, config_settings)


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    project = read_project()
    binary_dir, tag = _platform_settings(config_settings)
    entries = [(arcname, _read(path)) for arcname, path in _package_files()]
    if binary_dir:
        entries += _binary_entries(binary_dir)
    return _write_wheel(wheel_directory, project, entries, tag)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    """PEP 660: a wheel holding one .pth file that puts src/ on sys.path."""
    project = read_project()
    src = os.path.join(ROOT, "src")
    pth = ("__editable__.%s-%s.pth" % (_dist(project), project["version"]), (src + "\n").encode("utf-8"))
    return _write_wheel(wheel_directory, project, [pth])


def build_sdist(sdist_directory, config_settings=None):
    project = read_project()
    base = "%s-%s" % (_dist(project), project["version"])
    members = [("pyproject.toml", os.path.join(ROOT, "pyproject.toml"))]
    if project.get("readme"):
        members.append((project["readme"], os.path.join(ROOT, project["readme"])))
    members.append(("build_backend/sealpub_build.py", os.path.abspath(__file__)))
    members += [("src/" + arcname, path) for arcname, path in _package_files()]
    tests = os.path.join(ROOT, "tests")
    if os.path.isdir(tests):
        members += [("tests/" + n, os.path.join(tests, n)) for n in sorted(os.listdir(tests)) if n.endswith(".py")]

    filename = base + ".tar.gz"
    final = os.path.join(sdist_directory, filename)
    partial = final + ".partial"

    def add(tar, arcname, data):
        info = tarfile.TarInfo(base + "/" + arcname)
        info.size = len(data)
        info.mtime = TAR_MTIME
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(data))

    with open(partial, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as gz:
        with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            add(tar, "PKG-INFO", metadata_text(project).encode("utf-8"))
            for arcname, path in members:
                add(tar, arcname, _read(path))
    os.replace(partial, final)
    return filename
