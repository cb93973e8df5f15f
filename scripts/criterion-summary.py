#!/usr/bin/env python3
"""Summarizes `cargo bench --bench scan`: the spread of per-fixture medians (microseconds)."""
import glob, json, os, statistics

meds = []
for f in glob.glob("target/criterion/scan_fixture/*/new/estimates.json"):
    d = json.load(open(f))
    meds.append((d["median"]["point_estimate"] / 1000, os.path.basename(os.path.dirname(os.path.dirname(f)))))
meds.sort()
v = [m for m, _ in meds]
if v:
    print(f"in-process scan, {len(v)} fixtures: median {statistics.median(v):.1f} us, "
          f"p10 {v[len(v) // 10]:.1f}, p90 {v[9 * len(v) // 10]:.1f}, "
          f"min {v[0]:.1f} ({meds[0][1]}), max {v[-1]:.1f} ({meds[-1][1]})")
