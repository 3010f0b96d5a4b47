#!/usr/bin/env python3
"""Fleet-scale benchmark of zuora-mediation-exporter (standard library only; run by scripts/bench.sh).

For each fleet size N it starts the simulator with meters 1..N, measures the simulator's own capacity
with wrk, lets the exporter poll it flat out (10% injected 500s, so poll-error series exist), makes the
exporter idle (SIGHUP with 1h intervals), captures its /metrics, serves the same series from a
conventional client_golang exporter (bench/goexporter) and scrapes both with wrk.

This is the measure step: it writes the figures as JSON (--json OUT; the file is rewritten after each
size, so a failed or interrupted run keeps the sizes already measured) and prints no table. The report
step, scripts/bench_report.py RESULTS_JSON, prints the Markdown table and the issue's targets with
PASS/FAIL from that file; scripts/bench.sh runs both. Every process it starts is stopped, also on errors
and Ctrl-C. Traffic goes to 127.0.0.1 only.
"""

import argparse
import datetime
import gzip
import http.client
import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

from bench_report import fmt  # one number format for progress lines and the report

HOST = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PROCS = []  # every process started, stopped in stop_all()


def log(message):
    print(f"bench: {message}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start(name, argv, workdir, env=None):
    out = open(os.path.join(workdir, f"{name}.log"), "wb")
    proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, stdin=subprocess.DEVNULL)
    proc.bench_name = name
    proc.bench_log = out
    PROCS.append(proc)
    return proc


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    proc.bench_log.close()
    if proc in PROCS:
        PROCS.remove(proc)


def stop_all():
    for proc in list(PROCS):
        stop(proc)


def request(port, method, path, body=None, headers=None, timeout=30):
    """One HTTP request to 127.0.0.1:port; returns (status, headers dict, body bytes)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()


def wait_until(what, check, timeout, proc=None, interval=0.01):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.bench_name} exited with {proc.returncode} while waiting for {what}")
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(interval)
    raise RuntimeError(f"timed out after {timeout} s waiting for {what}")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14 and 15)


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def wrk(url, duration, connections=8, threads=2, headers=(), latency=True):
    """Runs wrk; returns dict(rps, p50_ms, p99_ms, non2xx, errors)."""
    # A long --timeout: wrk's default (2 s) drops slower answers from the latency figures.
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "120s"]
    if latency:
        argv.append("--latency")
    for header in headers:
        argv += ["-H", header]
    argv.append(url)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 180)
    if out.returncode != 0:
        raise RuntimeError(f"wrk failed: {out.stderr or out.stdout}")
    text = out.stdout
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)), "raw": text}
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}(?:\.0+)?%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M)
        value = float(m.group(1)) * UNITS[m.group(2)] if m else 0
        result[f"p{pct}_ms"] = value or None  # 0: no request completed
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    result["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors:\s+connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    result["errors"] = sum(int(x) for x in m.groups()) if m else 0
    if result["non2xx"] or result["errors"]:
        log(f"warning: wrk {url} {headers}: {result['non2xx']} non-2xx answers, {result['errors']} socket errors")
    return result


def count_series(text):
    return sum(1 for line in text.splitlines() if line and not line.startswith("#"))


def metric_value(text, name):
    m = re.search(rf"^{re.escape(name)}(?:\{{[^}}]*\}})? (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


def exporter_config(path, sim_port, n, interval):
    lines = [
        "zuora:",
        f"  base_url: http://{HOST}:{sim_port}",
        "  max_concurrency: 8",
        "  timeout: 10s",
        f"poll_interval: {interval}",
        f"idle_poll_interval: {interval}",
        "meters:",
    ]
    lines += [f"  - id: {i}" for i in range(1, n + 1)]
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, path)


def sim_requests(port):
    status, _, body = request(port, "GET", "/_control/stats")
    if status != 200:
        raise RuntimeError(f"simulator stats answered {status}")
    stats = json.loads(body)
    return stats.get("runStatusRequests", 0)


def scrape(port, path, gzip_wanted):
    headers = {"Accept-Encoding": "gzip"} if gzip_wanted else {}
    status, hdrs, body = request(port, "GET", path, headers=headers)
    if status != 200:
        raise RuntimeError(f"GET {path} on {port} answered {status}")
    encoded = hdrs.get("content-encoding") == "gzip"
    if gzip_wanted and not encoded:
        raise RuntimeError(f"GET {path} on {port} with Accept-Encoding: gzip was not gzipped")
    return body, (gzip.decompress(body) if encoded else body)


def bench_size(n, args, workdir):
    """Measures one fleet size; returns a dict of results."""
    r = {"n": n}
    d = os.path.join(workdir, f"n{n}")
    os.makedirs(d, exist_ok=True)
    sim_port, exp_port, go_port = free_port(), free_port(), free_port()

    # 1. Simulator.
    sim = start("simulator", [
        os.path.join(args.bin, "zuora-mediation-simulator"), "--web.listen-address", f"{HOST}:{sim_port}",
        "--meter-count", str(n), "--step", "2s", "--client-id", "bench", "--client-secret", "bench",
        "--threads", "4",
    ], d)
    form = "client_id=bench&client_secret=bench&grant_type=client_credentials"
    form_headers = {"Content-Type": "application/x-www-form-urlencoded"}
    wait_until("the simulator", lambda: request(sim_port, "POST", "/oauth/token", form, form_headers)[0] == 200,
               60, sim)

    # 2. The simulator's own capacity.
    status, _, body = request(sim_port, "POST", "/oauth/token", form, form_headers)
    token = json.loads(body)["access_token"]
    sim_run = wrk(f"http://{HOST}:{sim_port}/meters/1/0.0.1/runStatus", args.sim_duration,
                  headers=[f"Authorization: Bearer {token}"], latency=False)
    r["wrk_sim_rps"] = sim_run["rps"]
    log(f"N={n}: wrk vs simulator {sim_run['rps']:.0f} requests/s")

    # 3. Exporter polling flat out, 10% of the first requests failing with 500.
    # The simulator's "all" fault also answers the token endpoint, and the exporter's first request is
    # its token request: one 500 there puts every poll of the first second into `auth` errors (token
    # back-off), which is no poll-cycle measurement. So the 10% are injected per meter instead: every
    # tenth meter answers its next request with a 500 (same count, N/10, and same status).
    for i in range(10, n + 1, 10):
        request(sim_port, "POST", f"/_control/meters/{i}/0.0.1/fault",
                json.dumps({"status": 500, "count": 1}), {"Content-Type": "application/json"})
    config = os.path.join(d, "config.yml")
    exporter_config(config, sim_port, n, "1ms")
    env = dict(os.environ, ZUORA_CLIENT_ID="bench", ZUORA_CLIENT_SECRET="bench")
    _, _, body = request(sim_port, "GET", "/_control/stats")
    connections_before = json.loads(body).get("connections", 0)
    t0 = time.monotonic()
    exp = start("exporter", [
        os.path.join(args.bin, "zuora-mediation-exporter"), "--config.file", config,
        "--web.listen-address", f"{HOST}:{exp_port}",
    ], d, env=env)
    wait_until("the exporter's /-/ready", lambda: request(exp_port, "GET", "/-/ready")[0] == 200,
               args.ready_timeout, exp, interval=0.005)
    r["ready_wall_s"] = time.monotonic() - t0
    _, _, body = request(exp_port, "GET", "/metrics")
    cycle = metric_value(body.decode(), "zuora_exporter_poll_cycle_duration_seconds")
    if not cycle:
        raise RuntimeError("no zuora_exporter_poll_cycle_duration_seconds after /-/ready")
    r["cycle_s"] = cycle
    r["poll_rps"] = n / cycle
    log(f"N={n}: ready after {r['ready_wall_s']:.2f} s (from start); poll cycle {cycle:.3f} s = "
        f"{r['poll_rps']:.0f} requests/s")
    # Keep polling so statuses change; measure the steady polling rate from the simulator's counter.
    c0, s0 = time.monotonic(), sim_requests(sim_port)
    cpu_exp0, cpu_sim0 = cpu_seconds(exp.pid), cpu_seconds(sim.pid)
    time.sleep(6)
    c1, s1 = time.monotonic(), sim_requests(sim_port)
    cpu_exp1, cpu_sim1 = cpu_seconds(exp.pid), cpu_seconds(sim.pid)
    r["steady_poll_rps"] = (s1 - s0) / (c1 - c0)
    _, _, body = request(sim_port, "GET", "/_control/stats")
    # The simulator counts every connection it accepted, this script's own too: the three stats requests
    # since `connections_before` (each on a connection of its own) are not the exporter's.
    r["sim_connections"] = json.loads(body).get("connections", 0) - connections_before - 3
    r["polling_cpu_exporter"] = 100 * (cpu_exp1 - cpu_exp0) / (c1 - c0)
    r["polling_cpu_simulator"] = 100 * (cpu_sim1 - cpu_sim0) / (c1 - c0)
    log(f"N={n}: CPU while polling: exporter {r['polling_cpu_exporter']:.0f}%, "
        f"simulator {r['polling_cpu_simulator']:.0f}% of a core")
    log(f"N={n}: steady polling {r['steady_poll_rps']:.0f} requests/s (simulator's counter)")

    # Idle from here on: 1h intervals, SIGHUP.
    exporter_config(config, sim_port, n, "1h")
    exp.send_signal(signal.SIGHUP)

    def quiet():
        a = sim_requests(sim_port)
        time.sleep(1)
        return sim_requests(sim_port) == a

    wait_until("polling to stop after SIGHUP", quiet, 60, exp, interval=0)
    with open(os.path.join(d, "exporter.log"), "rb") as f:
        exp_log = f.read().decode(errors="replace")
    if "configuration reloaded" not in exp_log:
        raise RuntimeError("the exporter did not log 'configuration reloaded' after SIGHUP")
    r["log_lines"] = exp_log.count("\n")
    stop(sim)  # the exporter no longer polls; keep the simulator's CPU out of the scrape runs

    # 4. Capture the exposition.
    plain, text = scrape(exp_port, "/metrics", False)
    gz, text_gz = scrape(exp_port, "/metrics", True)
    capture = os.path.join(d, "exposition.txt")
    with open(capture, "wb") as f:
        f.write(plain)
    with open(os.path.join(d, "exposition.txt.gz"), "wb") as f:
        f.write(gz)
    text = text.decode()
    r["ours_series"] = count_series(text)
    r["ours_bytes"], r["ours_gz_bytes"] = len(plain), len(gz)
    r["transitions"] = sum(1 for line in text.splitlines()
                           if line.startswith("zuora_meter_run_status_transitions_total{"))
    r["error_series"] = sum(1 for line in text.splitlines() if line.startswith("zuora_meter_poll_errors_total{"))
    if r["error_series"] == 0:
        log(f"warning: N={n}: no zuora_meter_poll_errors_total series in the capture")

    # 5. The client_golang comparator, serving the captured series.
    go = start("goexporter", [args.goexporter, "--input", capture, "--listen", f"{HOST}:{go_port}"], d)
    wait_until("the Go exporter", lambda: request(go_port, "GET", "/-/healthy")[0] == 200, 60, go)
    go_plain, go_text = scrape(go_port, "/metrics", False)
    go_gz, _ = scrape(go_port, "/metrics", True)
    r["go_series"] = count_series(go_text.decode())
    r["go_bytes"], r["go_gz_bytes"] = len(go_plain), len(go_gz)

    r["ours_rss_before"] = rss_mib(exp.pid)

    # 6. Scrapes, one server at a time.
    for who, port in (("ours", exp_port), ("go", go_port)):
        for kind, headers in (("plain", []), ("gzip", ["Accept-Encoding: gzip"])):
            res = wrk(f"http://{HOST}:{port}/metrics", args.duration, headers=headers)
            r[f"{who}_{kind}_rps"], r[f"{who}_{kind}_p50"], r[f"{who}_{kind}_p99"] = (
                res["rps"], res["p50_ms"], res["p99_ms"])
            log(f"N={n}: {who} {kind}: {res['rps']:.1f} scrapes/s, p50 {fmt(res['p50_ms'])} ms, "
                f"p99 {fmt(res['p99_ms'])} ms")

    # 7. Memory after the scrapes; idle CPU over the same quiet window for both. A server may still be
    # rendering answers to the connections wrk closed at the end of its run: wait until both are quiet.
    def settled():
        a = cpu_seconds(exp.pid) + cpu_seconds(go.pid)
        time.sleep(1)
        return cpu_seconds(exp.pid) + cpu_seconds(go.pid) - a < 0.05

    try:
        wait_until("the servers to finish the last scrapes", settled, 120, interval=0)
    except RuntimeError as error:
        log(f"warning: {error}")
    r["ours_rss"], r["go_rss"] = rss_mib(exp.pid), rss_mib(go.pid)
    a_ours, a_go, t_a = cpu_seconds(exp.pid), cpu_seconds(go.pid), time.monotonic()
    time.sleep(args.idle_seconds)
    b_ours, b_go, t_b = cpu_seconds(exp.pid), cpu_seconds(go.pid), time.monotonic()
    r["ours_idle_cpu"] = 100 * (b_ours - a_ours) / (t_b - t_a)
    r["go_idle_cpu"] = 100 * (b_go - a_go) / (t_b - t_a)

    for proc in (exp, go):
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.bench_name} exited early with {proc.returncode}")
        stop(proc)

    # Extra: scrapes while the exporter polls at the default 30 s interval, as in production. Every
    # successful poll changes a meter's last-poll timestamp, so the cached body is invalidated all the time.
    if args.live_interval > 0:
        sim = start("simulator-live", [
            os.path.join(args.bin, "zuora-mediation-simulator"), "--web.listen-address", f"{HOST}:{sim_port}",
            "--meter-count", str(n), "--step", "2s", "--client-id", "bench", "--client-secret", "bench",
            "--threads", "4",
        ], d)
        wait_until("the simulator", lambda: request(sim_port, "POST", "/oauth/token", form, form_headers)[0] == 200,
                   60, sim)
        live_config = os.path.join(d, "config-live.yml")
        exporter_config(live_config, sim_port, n, f"{args.live_interval:g}s")
        exp = start("exporter-live", [
            os.path.join(args.bin, "zuora-mediation-exporter"), "--config.file", live_config,
            "--web.listen-address", f"{HOST}:{exp_port}",
        ], d, env=env)
        log(f"N={n}: live exporter polling every {args.live_interval:g} s; waiting for its first cycle")
        wait_until("the live exporter's /-/ready", lambda: request(exp_port, "GET", "/-/ready")[0] == 200,
                   args.live_interval * 3 + 60, exp, interval=0.2)
        for kind, headers in (("plain", []), ("gzip", ["Accept-Encoding: gzip"])):
            s0 = sim_requests(sim_port)
            res = wrk(f"http://{HOST}:{exp_port}/metrics", args.duration, headers=headers)
            r[f"live_{kind}_polls"] = sim_requests(sim_port) - s0
            r[f"live_{kind}_rps"], r[f"live_{kind}_p50"], r[f"live_{kind}_p99"] = (
                res["rps"], res["p50_ms"], res["p99_ms"])
            log(f"N={n}: while polling, {kind}: {res['rps']:.1f} scrapes/s, p50 {fmt(res['p50_ms'])} ms, "
                f"p99 {fmt(res['p99_ms'])} ms ({r[f'live_{kind}_polls']} polls meanwhile)")
        r["live_rss"] = rss_mib(exp.pid)
        live_plain, _ = scrape(exp_port, "/metrics", False)
        r["live_bytes"] = len(live_plain)
        stop(exp)
        stop(sim)
    return r


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


LOAD_BEFORE = loadavg()


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def machine_info():
    """The machine and the load before the run, recorded once at the start (the report prints them)."""
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) / 1024 / 1024
    return {"cores": os.cpu_count(), "cpu_model": model, "memory_gib": round(mem, 2),
            "kernel": platform.release(), "started": utc_now(), "finished": None,
            "load_before": LOAD_BEFORE, "load_after": None}


def write_results(path, machine, args, results, complete, error=None):
    """Writes the results file (atomically: a reader never sees half of it). Called after every size."""
    data = {"format": 1, "machine": machine, "args": vars(args), "complete": complete, "results": results}
    if error:
        data["error"] = error
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,1000,10000", help="fleet sizes, comma-separated")
    parser.add_argument("--duration", type=float, default=10, help="seconds per wrk scrape run")
    parser.add_argument("--quick", action="store_true", help="sizes 100,1000 and 3 s runs")
    parser.add_argument("--bin", default=".build-release/release", help="folder of the Swift executables")
    parser.add_argument("--goexporter", default=".build-release/goexporter", help="the Go comparator")
    parser.add_argument("--workdir", help="keep logs and captures here (default: a temporary folder)")
    parser.add_argument("--idle-seconds", type=float, default=10, help="idle CPU window")
    parser.add_argument("--ready-timeout", type=float, default=600, help="longest wait for /-/ready")
    parser.add_argument("--json", metavar="OUT",
                        help="write the results here (default: results.json in the work folder); "
                             "scripts/bench_report.py prints the table from it")
    parser.add_argument("--live-interval", type=float,
                        help="poll interval of the scrapes-while-polling runs, seconds (default 30, --quick 10; "
                             "0 skips them)")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.duration = "100,1000", 3
    if args.live_interval is None:
        args.live_interval = 10 if args.quick else 30
    args.duration = max(1, int(round(args.duration)))
    args.sim_duration = 3 if args.quick else 5
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    for tool in ("wrk",):
        if subprocess.run(["which", tool], capture_output=True).returncode != 0:
            sys.exit(f"bench: {tool} is not installed (scripts/bench.sh installs it)")

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    workdir = args.workdir or tempfile.mkdtemp(prefix="zuora-bench-")
    os.makedirs(workdir, exist_ok=True)
    out = os.path.abspath(args.json or os.path.join(workdir, "results.json"))
    log(f"logs and captures in {workdir}; results to {out}")
    if float(LOAD_BEFORE.split()[0]) > 0.5:
        log(f"warning: the machine is busy (load average {LOAD_BEFORE}); the figures will be noisy")
    machine = machine_info()
    started = time.monotonic()
    results = []

    def finish(complete, error=None):
        machine["finished"], machine["load_after"] = utc_now(), loadavg()
        write_results(out, machine, args, results, complete, error)

    try:
        for n in sizes:
            results.append(bench_size(n, args, workdir))
            stop_all()
            write_results(out, machine, args, results, False)
    except KeyboardInterrupt:
        log("interrupted")
        stop_all()
        finish(False, "interrupted")
        sys.exit(130)
    except Exception as error:
        stop_all()
        log(f"failed: {error}")
        finish(False, f"failed: {error}")
        sys.exit(1)
    finally:
        stop_all()
    finish(True)
    log(f"done in {time.monotonic() - started:.0f} s; results in {out} (print them: scripts/bench_report.py {out})")


if __name__ == "__main__":
    main()
