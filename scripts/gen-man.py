#!/usr/bin/env python3
"""Generates the sealpub(1) man page from docs/CLI.md, its one source.

Usage: gen-man.py CLI.md VERSION OUT.1

Markdown headings become sections, tables become tagged paragraphs (first
column as the tag), fenced code stays preformatted, inline code is bold, and
links keep their text. Nothing is maintained twice: edit docs/CLI.md.
"""
import re
import sys


def esc(text):
    text = text.replace("\\|", "|")                               # markdown's escaped pipe in tables
    text = text.replace("\\", "\\e")
    text = re.sub(r"<!--.*?-->", "", text)
    text = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", text)          # links: their text
    text = re.sub(r"\*\*([^*]+)\*\*", r"\\fB\1\\fR", text)          # bold
    # code; long tokens may break after a comma or slash (\\: is a zero-width break point)
    text = re.sub(r"`([^`]+)`", lambda m: "\\fB" + re.sub(r"([,/])", r"\1\\:", m.group(1)) + "\\fR", text)
    return text


def line(text):
    """A roff text line: a leading dot or quote would be a request."""
    return ("\\&" + text) if text[:1] in (".", "'") else text


def cells(row):
    row = row.strip().strip("|")
    return [c.strip() for c in re.split(r"(?<!\\)\|", row)]


def convert(md, version):
    out = ['.TH SEALPUB 1 "" "sealpub %s" "sealpub manual"' % version,
           ".ad l", ".nh", ".SH NAME", "sealpub \\- compress, encrypt and publish build artifacts to S3 and a registry",
           ".SH SYNOPSIS", ".B sealpub", ".I command", "[options]"]
    lines = md.splitlines()
    i = 0
    in_code = False
    header = None
    while i < len(lines):
        raw = lines[i]
        i += 1
        if raw.startswith("```"):
            out.append(".fi" if in_code else ".nf")
            in_code = not in_code
            continue
        if in_code:
            out.append(line(raw.replace("\\", "\\e")))
            continue
        if raw.startswith("<!--"):
            continue
        if raw.startswith("# "):
            continue  # the title: NAME says it
        if raw.startswith("## "):
            out.append(".SH " + esc(raw[3:]).upper())
            continue
        if raw.startswith("### "):
            out.append(".SS " + esc(raw[4:]))
            continue
        if raw.startswith("|"):
            row = cells(raw)
            if all(re.fullmatch(r":?-+:?", c) for c in row if c):
                continue
            if header is None:
                header = row
                continue
            out.append(".TP")
            out.append(line(esc(row[0])))
            rest = [("%s: %s" % (header[k], esc(c))) if k > 1 else esc(c) for k, c in enumerate(row[1:], 1) if c]
            out.append(line("; ".join(rest) if rest else ""))
            continue
        header = None
        if not raw.strip():
            out.append(".PP")
            continue
        if raw.lstrip().startswith(("- ", "* ")):
            out.append(".IP \\(bu 2")
            out.append(line(esc(raw.lstrip()[2:])))
            continue
        out.append(line(esc(raw.strip())))
    out.append(".SH SEE ALSO")
    out.append("docs/FORMAT.md, docs/SCHEMA.md and docs/TRAINING.md in the sealpub sources.")
    return "\n".join(out) + "\n"


def main():
    src, version, dest = sys.argv[1:4]
    with open(src, encoding="utf-8") as f:
        page = convert(f.read(), version)
    with open(dest, "w", encoding="utf-8") as f:
        f.write(page)


if __name__ == "__main__":
    main()
