#!/usr/bin/env python3
"""Summarises run.sh's samples: best of N per tool, ratios to the same run's baselines, one JSON, markdown on stdout."""

import argparse
import json
import os
import platform
import subprocess
import time

MIB = 1 << 20


def cpu_info():
    model, flags = "unknown", set()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name") and model == "unknown":
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    wanted = ["aes", "vaes", "pclmulqdq", "vpclmulqdq", "sha_ni", "avx2", "avx512f", "bmi2"]
    return {"model": model, "cores": os.cpu_count(),
            "flags": {f: f in flags for f in wanted}, "kernel": platform.release()}


def tool_versions():
    out = {}
    for name, cmd in [("pigz", ["pigz", "--version"]), ("openssl", ["openssl", "version"]),
                      ("gzip", ["gzip", "--version"])]:
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
            out[name] = (r.stdout or r.stderr).splitlines()[0].strip()
        except (OSError, IndexError, subprocess.SubprocessError):
            out[name] = None
    try:
        r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "libdeflate0"],
                           capture_output=True, text=True, timeout=10)
        out["libdeflate"] = r.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        out["libdeflate"] = None
    return out


def mbps(s):
    return s["plain_size"] / 1e6 / s["wall_s"]


def mb_per_cpu_s(s):
    """MB per CPU-second: what load from other processes hardly moves."""
    cpu = s.get("cpu_s")
    return s["plain_size"] / 1e6 / cpu if cpu else None


def fmt(v, f="%.1f"):
    return "-" if v is None else f % v


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("samples")
    ap.add_argument("--level", type=int, required=True)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--chunk", required=True)
    ap.add_argument("--scale", required=True)
    ap.add_argument("--reps", type=int, required=True)
    ap.add_argument("--corpus-dir", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    samples = [json.loads(l) for l in open(a.samples) if l.strip()]
    gz6 = next((s["output_bytes"] for s in samples if s["tool"] == "gzip6"), None)
    verify = {s["corpus"]: s["ok"] for s in samples if s["tool"] == "verify"}
    timed = [s for s in samples if "wall_s" in s]

    best = {}  # (corpus, tool, level) -> fastest sample, with every sample's MB/s
    for s in timed:
        k = (s["corpus"], s["tool"], s["level"])
        b = best.get(k)
        if b is None or s["wall_s"] < b["wall_s"]:
            all_mbps = (b or {}).get("all_mb_per_s", [])
            best[k] = dict(s, all_mb_per_s=all_mbps)
        best[k]["all_mb_per_s"] = sorted(best[k]["all_mb_per_s"] + [round(mbps(s), 2)])
    # CPU cost: the lowest over the reps, chosen apart from the fastest wall time.
    for s in timed:
        b = best[(s["corpus"], s["tool"], s["level"])]
        if s.get("cpu_s") and (not b.get("min_cpu_s") or s["cpu_s"] < b["min_cpu_s"]):
            b["min_cpu_s"] = s["cpu_s"]
    for b in best.values():
        b["mb_per_s"] = round(mbps(b), 2)
        b["mb_per_cpu_s"] = round(b["plain_size"] / 1e6 / b["min_cpu_s"], 2) if b.get("min_cpu_s") else None
        b["peak_rss_mib"] = round(b["peak_rss_kib"] / 1024, 1)

    def get(corpus, tool, level):
        return best.get((corpus, tool, level))

    L = a.level
    lines = []
    p = lines.append
    loads = [s["loadavg"] for s in timed]
    p("Level %d, %d threads, chunk %s, scale %s, best of %d; load average %.2f..%.2f during the run."
      % (L, a.threads, a.chunk, a.scale, a.reps, min(loads or [0]), max(loads or [0])))
    p("")

    # ---- level sweep
    sweep = sorted((s for (c, t, _), s in best.items() if c == "image" and t == "bound"),
                   key=lambda s: s["level"])
    pick = None
    if sweep and gz6:
        fits = [s for s in sweep if s["level"] > 0 and s["output_bytes"] <= gz6]
        first = min(fits, key=lambda s: s["level"]) if fits else None
        pick = max(fits, key=lambda s: s["mb_per_s"]) if fits else None
        p("### Level sweep: the bound on image.tar (gzip -6 of the whole file: %d bytes)" % gz6)
        p("")
        p("| level | output bytes | vs gzip -6 | MB/s | MB/CPU-s | <= gzip -6 |")
        p("|---:|---:|---:|---:|---:|:---:|")
        for s in sweep:
            p("| %d | %d | %+.2f%% | %.1f | %s | %s |" % (s["level"], s["output_bytes"],
              100.0 * (s["output_bytes"] / gz6 - 1), s["mb_per_s"], fmt(s["mb_per_cpu_s"]),
              "yes" if s["output_bytes"] <= gz6 else "no"))
        p("")
        p("First level whose output is no larger than gzip -6: %s; fastest such level: %s."
          % (first["level"] if first else "none", pick["level"] if pick else "none"))
        p("")

    # ---- per corpus
    corpora = [c for c in ("image", "fp16", "sparse") if any(k[0] == c for k in best)]
    for c in corpora:
        rows = [("sealpub publish", get(c, "sealpub", L)),
                ("bound (libdeflate L%d, same threads/chunks)" % L, get(c, "bound", L))]
        if c == "fp16" and L != 1:
            rows.append(("bound at level 1", get(c, "bound", 1)))
        if c == "fp16" and L != 6:
            rows.append(("bound at level 6", get(c, "bound", 6)))
        rows += [("pigz -p %d -6 \\| openssl aes-256-ctr \\| sha256sum" % a.threads, get(c, "pigz", 6)),
                 ("python gzip+AESGCM+sha256", get(c, "python", 6)),
                 ("dd conv=fsync (plain copy to the same disk)", get(c, "dd", 0))]
        plain = next((r["plain_size"] for _, r in rows if r), 0)
        p("### %s (%d bytes = %.0f MiB)%s" % (c, plain, plain / MIB,
          "" if c not in verify else ("; sealpub open round-trip: %s" % ("ok" if verify[c] else "FAILED"))))
        p("")
        p("| tool | MB/s | MB/CPU-s | output bytes | output/input | peak RSS MiB | MB/s of all reps |")
        p("|---|---:|---:|---:|---:|---:|---|")
        for name, r in rows:
            if r:
                p("| %s | %.1f | %s | %d | %.3f | %.1f | %s |" % (name, r["mb_per_s"], fmt(r["mb_per_cpu_s"]),
                  r["output_bytes"], r["output_bytes"] / r["plain_size"], r["peak_rss_mib"],
                  ", ".join("%.1f" % x for x in r["all_mb_per_s"])))
            else:
                p("| %s | - | - | - | - | - | not run |" % name)
        p("")

    # ---- targets
    targets = []

    def target(name, value, goal, ok, cpu_value=None):
        targets.append({"target": name, "value": value, "goal": goal, "met": ok,
                        "cpu_normalised_value": cpu_value})

    def cpu_ratio(a_, b_):
        if a_ and b_ and a_.get("mb_per_cpu_s") and b_.get("mb_per_cpu_s"):
            return round(a_["mb_per_cpu_s"] / b_["mb_per_cpu_s"], 3)
        return None

    def ratio_target(name, a_, b_, field, digits, op, goal, cpu_value=None):
        """a_[field] / b_[field] against goal (op ">=" or "<="), when both runs exist."""
        if a_ and b_:
            v = a_[field] / b_[field]
            target(name, round(v, digits), "%s %g" % (op, goal), v >= goal if op == ">=" else v <= goal, cpu_value)

    sp = get("image", "sealpub", L)
    if sp:
        for tool, level, goal, label in [("pigz", 6, 3.0, "image: sealpub / pigz pipeline MB/s"),
                                         ("python", 6, 8.0, "image: sealpub / Python MB/s"),
                                         ("bound", L, 0.9, "image: sealpub / bound MB/s")]:
            base = get("image", tool, level)
            ratio_target(label, sp, base, "mb_per_s", 3, ">=", goal, cpu_ratio(sp, base))
        if gz6:
            target("image: sealpub output / gzip -6 output", round(sp["output_bytes"] / gz6, 4),
                   "<= 1.01", sp["output_bytes"] <= 1.01 * gz6)
    # Issue 18 (per-chunk codec choice): against the same run's baselines.
    ratio_target("image: sealpub output / pigz -6 output", sp, get("image", "pigz", 6), "output_bytes", 4, "<=", 1.01)
    f, d = get("fp16", "sealpub", L), get("fp16", "dd", 0)
    ratio_target("fp16: sealpub time / dd conv=fsync time", f, d, "wall_s", 3, "<=", 2, cpu_ratio(d, f))
    for c in corpora:
        s = get(c, "sealpub", L)
        if s:
            target("%s: sealpub peak RSS MiB (at most today's 45)" % c, s["peak_rss_mib"], "<= 45",
                   s["peak_rss_mib"] <= 45)
    f6 = get("fp16", "bound", 6) or (get("fp16", "bound", L) if L == 6 else None)
    ratio_target("fp16: sealpub output / libdeflate level-6 output", f, f6, "output_bytes", 4, "<=", 1.01)
    f1 = get("fp16", "bound", 1)
    ratio_target("fp16: sealpub / bound level 1 MB/s (stretch: 4)", f, f1, "mb_per_s", 3, ">=", 3, cpu_ratio(f, f1))
    ratio_target("fp16: sealpub output / level-1 output", f, f1, "output_bytes", 4, "<=", 1.2)
    if targets:
        p("### Targets (ratios against this run's baselines)")
        p("")
        p("| target | value | goal | met | same ratio in MB/CPU-s |")
        p("|---|---:|---:|:---:|---:|")
        for t in targets:
            p("| %s | %s | %s | %s | %s |" % (t["target"], t["value"], t["goal"],
              "yes" if t["met"] else "**no**", fmt(t["cpu_normalised_value"], "%.3f")))
        p("")

    text = "\n".join(lines)
    print(text)
    sha = os.path.join(a.corpus_dir, "sha256.txt")
    doc = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": cpu_info(), "tools": tool_versions(),
        "settings": {"level": L, "threads": a.threads, "chunk": a.chunk, "scale": a.scale,
                     "reps": a.reps, "statistic": "best of reps (lowest wall time)",
                     "page_cache": "warm"},
        "corpus_sha256": open(sha).read().splitlines() if os.path.exists(sha) else None,
        "gzip6_image_bytes": gz6,
        "sweep_pick": {"fastest_level_le_gzip6": pick["level"] if pick else None},
        "best": [dict(v, key=list(k)) for k, v in sorted(best.items(), key=lambda kv: str(kv[0]))],
        "targets": targets, "verify": verify, "samples": samples, "markdown": text,
    }
    with open(a.out, "w") as fo:
        json.dump(doc, fo, indent=1)


if __name__ == "__main__":
    main()
