#!/usr/bin/env python3
"""Prints the fleet-scale benchmark's table from the results file that scripts/bench.py writes.

    python3 scripts/bench_report.py RESULTS_JSON

The measure step (scripts/bench.py) runs the processes and writes JSON; this report step only reads that
file, so a run can be printed again, or compared, without measuring anything. Standard library only; it
reads nothing but the file. The file:

    {"format": 1,
     "machine": {"cores", "cpu_model", "memory_gib", "kernel", "started", "finished",
                 "load_before", "load_after"},
     "args": {"duration", "sim_duration", "live_interval", "sizes", ...},   # the measure step's options
     "complete": true or false, "error": "..." (when a size failed or the run was interrupted),
     "results": [{"n": 100, "ours_gzip_rps": ..., ...}, ...]}                # one object per fleet size

Prints one Markdown table (ratio = ours / Go), the issue's targets with PASS/FAIL and notes.
Exits 1 if the file holds no results.
"""

import argparse
import json
import sys


def fmt(value, digits=None):
    if value is None:
        return "–"
    if isinstance(value, int):
        return f"{value:,}"
    if digits is not None:
        return f"{value:,.{digits}f}"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def ratio(a, b):
    if a is None or b is None:
        return "–"
    if b == 0:
        return "∞" if a else "–"
    return f"{a / b:.2f}×"


ROWS = [
    ("scrapes/s plain", "ours_plain_rps", "go_plain_rps"),
    ("scrapes/s gzip", "ours_gzip_rps", "go_gzip_rps"),
    ("p50 latency plain (ms)", "ours_plain_p50", "go_plain_p50"),
    ("p99 latency plain (ms)", "ours_plain_p99", "go_plain_p99"),
    ("p50 latency gzip (ms)", "ours_gzip_p50", "go_gzip_p50"),
    ("p99 latency gzip (ms)", "ours_gzip_p99", "go_gzip_p99"),
    ("body bytes plain", "ours_bytes", "go_bytes"),
    ("body bytes gzip", "ours_gz_bytes", "go_gz_bytes"),
    ("series", "ours_series", "go_series"),
    ("RSS before scrapes (MiB)", "ours_rss_before", None),
    ("RSS after scrapes (MiB)", "ours_rss", "go_rss"),
    ("idle CPU (% of a core)", "ours_idle_cpu", "go_idle_cpu"),
    ("scrapes/s plain, while polling every {live} (Go column: idle)", "live_plain_rps", "go_plain_rps"),
    ("scrapes/s gzip, while polling every {live} (Go column: idle)", "live_gzip_rps", "go_gzip_rps"),
    ("p99 latency plain, while polling (ms)", "live_plain_p99", "go_plain_p99"),
    ("p99 latency gzip, while polling (ms)", "live_gzip_p99", "go_gzip_p99"),
    ("RSS after scrapes while polling (MiB)", "live_rss", "go_rss"),
    ("first poll cycle (s)", "cycle_s", None),
    ("poll requests/s (Go column: wrk vs simulator)", "poll_rps", "wrk_sim_rps"),
    ("steady poll requests/s, simulator's count (Go column: wrk vs simulator)", "steady_poll_rps", "wrk_sim_rps"),
]


def machine_line(machine):
    """The run's machine and time, as the measure step recorded them."""
    if not machine:
        return "Machine: not recorded (results written before the measure step recorded it)"
    line = (f"Machine: {machine['cores']} cores ({machine['cpu_model']}), {machine['memory_gib']:.1f} GiB memory, "
            f"Linux {machine['kernel']}; {machine['started']}; load average before the run {machine['load_before']}")
    if machine.get("load_after"):
        line += f", after {machine['load_after']}"
    return line


def report(results, args, machine=None):
    out = [machine_line(machine), ""]
    out.append(f"wrk: 2 threads, 8 connections, {args.duration} s per run (scrapes); "
               f"{args.sim_duration} s against the simulator. Ratio = ours / Go.")
    out.append("")
    out.append("| meters | measure | ours | Go client_golang | ratio |")
    out.append("|---:|---|---:|---:|---:|")
    for r in results:
        for label, ours_key, go_key in ROWS:
            ours, go = r.get(ours_key), r.get(go_key) if go_key else None
            if ours_key.startswith("live_") and "live_bytes" not in r:
                continue
            label = label.format(live=f"{args.live_interval:g} s")
            out.append(f"| {r['n']:,} | {label} | {fmt(ours)} | {fmt(go)} | {ratio(ours, go) if go_key else '–'} |")
    out.append("")

    # Targets, at 10,000 meters (or the largest size measured).
    checks = []
    big = next((r for r in results if r["n"] == 10000), None)
    note = ""
    if big is None and results:
        big = max(results, key=lambda r: r["n"])
        note = f" (measured at {big['n']:,}; the target is for 10,000)"

    def check(name, ok, detail):
        checks.append(f"- {'PASS' if ok else 'FAIL'}: {name} — {detail}")

    if big:
        go_gzip = big["go_gzip_rps"]
        if go_gzip:
            g = big["ours_gzip_rps"] / go_gzip
            check(f"gzip scrapes/s ≥ 10× Go's{note}", g >= 10,
                  f"{big['ours_gzip_rps']:,.0f} vs {go_gzip:,.2f} = {g:.1f}×")
        else:
            # No Go scrape finished within the run: each of its 8 connections took longer than it.
            bound = 8 / args.duration
            g = big["ours_gzip_rps"] / bound
            check(f"gzip scrapes/s ≥ 10× Go's{note}", g >= 10,
                  f"{big['ours_gzip_rps']:,.0f} vs no Go scrape finished in {args.duration} s "
                  f"(< {bound:.1f}/s) = > {g:.0f}×")
        check(f"p99 gzip latency < 50 ms{note}", big["ours_gzip_p99"] < 50, f"{big['ours_gzip_p99']:.2f} ms")
        check(f"RSS < 100 MiB{note}", big["ours_rss"] < 100, f"{big['ours_rss']:.1f} MiB")
        p = big["poll_rps"] / big["wrk_sim_rps"]
        check(f"poll requests/s ≥ 0.5× wrk vs simulator{note}", p >= 0.5,
              f"{big['poll_rps']:,.0f} vs {big['wrk_sim_rps']:,.0f} = {p:.2f}×")
    ordered = sorted(results, key=lambda r: r["n"])
    for a, b in zip(ordered, ordered[1:]):
        k = b["n"] / a["n"]
        for what, fa, fb in (
            ("scrape time plain (1 / scrapes/s)", 1 / a["ours_plain_rps"], 1 / b["ours_plain_rps"]),
            ("scrape time gzip (1 / scrapes/s)", 1 / a["ours_gzip_rps"], 1 / b["ours_gzip_rps"]),
            ("RSS", a["ours_rss"], b["ours_rss"]),
        ):
            grow = fb / fa
            check(f"{what} grows about linearly or less, {a['n']:,} → {b['n']:,} meters (×{k:g})",
                  grow <= 1.5 * k, f"×{grow:.2f}")
        per_meter = (b["ours_rss"] - a["ours_rss"]) * 1024 / (b["n"] - a["n"])
        checks.append(f"  - RSS per added meter {a['n']:,} → {b['n']:,}: {per_meter:.2f} KiB; "
                      f"body {(b['ours_bytes'] - a['ours_bytes']) / (b['n'] - a['n']):.0f} bytes plain per meter")
    out.append("Targets:")
    out += checks
    out.append("")
    notes = []
    for r in results:
        notes.append(f"N={r['n']:,}: ready {r['ready_wall_s']:.2f} s after start; CPU while polling flat out: "
                     f"exporter {r['polling_cpu_exporter']:.0f}%, simulator {r['polling_cpu_simulator']:.0f}% "
                     f"of a core, {r['sim_connections']} connections opened by the exporter "
                     f"(max_concurrency 8); "
                     f"{r['transitions']:,} transition series, {r['error_series']:,} poll-error series; "
                     f"{r['log_lines']:,} exporter log lines"
                     + (f"; body while polling every {args.live_interval:g} s: {r['live_bytes']:,} bytes, "
                        f"{r['live_gzip_polls']:,} polls during its gzip run" if "live_bytes" in r else ""))
    out.append("Notes: " + "; ".join(notes) + ". Go's series count leaves out the histogram and process_* "
               "families and adds its own go_* and process_* series.")
    return "\n".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", metavar="RESULTS_JSON", help="the file scripts/bench.py wrote (--json)")
    options = parser.parse_args()
    with open(options.results) as f:
        saved = json.load(f)
    results = saved.get("results") or []
    if not results:
        sys.exit(f"bench-report: {options.results} holds no results"
                 + (f" ({saved['error']})" if saved.get("error") else ""))
    print(report(results, argparse.Namespace(**saved["args"]), saved.get("machine")))
    if not saved.get("complete", True):
        sizes = ", ".join(f"{r['n']:,}" for r in results)
        print(f"\nIncomplete run: only {sizes} meter-versions measured"
              + (f"; {saved['error']}" if saved.get("error") else "") + ".")


if __name__ == "__main__":
    main()
