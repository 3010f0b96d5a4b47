#!/usr/bin/env python3
"""Soak test: the simulator with N meters and a share of faulty answers, the exporter polling it, and a
scrape every second for the whole run. Passes when nothing crashed, no scrape failed, and resident memory
at the end is within 10 % of what it was after the first minute. Not part of the default test suite."""
import argparse, json, os, re, signal, socket, subprocess, sys, tempfile, time, urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(url, method="GET", body=None, timeout=5):
    req = urllib.request.Request(url, method=method, data=body.encode() if body else None)
    with urllib.request.urlopen(req, timeout=timeout) as answer:
        return answer.status, answer.read().decode()


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as status:
        return int(re.search(r"VmRSS:\s+(\d+)", status.read()).group(1)) / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bin", required=True, help="folder with the built executables")
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--meters", type=int, default=1000)
    parser.add_argument("--fault-rate", type=float, default=0.1)
    args = parser.parse_args()

    sim_port, exp_port = free_port(), free_port()
    work = tempfile.mkdtemp(prefix="zme-soak-")
    processes = []
    try:
        processes.append(subprocess.Popen(
            [f"{args.bin}/zuora-mediation-simulator", "--web.listen-address", f"127.0.0.1:{sim_port}",
             "--meter-count", str(args.meters), "--step", "5s", "--client-id", "soak", "--client-secret", "soak"],
            stdout=open(f"{work}/simulator.log", "w"), stderr=subprocess.STDOUT))
        time.sleep(1)
        fault = {"target": "all", "status": 500, "probability": args.fault_rate}
        request(f"http://127.0.0.1:{sim_port}/_control/fault", "POST", json.dumps(fault))
        meters = "".join(f"  - id: {i}\n" for i in range(1, args.meters + 1))
        with open(f"{work}/config.yml", "w") as config:
            config.write(f"zuora:\n  base_url: http://127.0.0.1:{sim_port}\n  max_concurrency: 8\n"
                         f"poll_interval: 5s\nidle_poll_interval: 5s\nmeters:\n{meters}")
        exporter = subprocess.Popen(
            [f"{args.bin}/zuora-mediation-exporter", "--config.file", f"{work}/config.yml",
             "--web.listen-address", f"127.0.0.1:{exp_port}"],
            env=dict(os.environ, ZUORA_CLIENT_ID="soak", ZUORA_CLIENT_SECRET="soak"),
            stdout=open(f"{work}/exporter.log", "w"), stderr=subprocess.STDOUT)
        processes.append(exporter)

        started = time.time()
        end = started + args.minutes * 60
        scrapes = failed = 0
        slowest = 0.0
        rss_after_first_minute = None
        while time.time() < end:
            tick = time.time()
            try:
                status, body = request(f"http://127.0.0.1:{exp_port}/metrics")
                if status != 200 or "zuora_meter_run_status" not in body and tick - started > 30:
                    failed += 1
            except Exception as error:  # a refused or failed scrape
                if tick - started > 5:  # the first seconds are start-up
                    failed += 1
                    print(f"scrape failed at {tick - started:.0f} s: {error}", file=sys.stderr)
            scrapes += 1
            slowest = max(slowest, time.time() - tick)
            if exporter.poll() is not None:
                print(f"FAIL: the exporter exited with {exporter.returncode}", file=sys.stderr)
                return 1
            if rss_after_first_minute is None and tick - started >= 60:
                rss_after_first_minute = rss_mib(exporter.pid)
            time.sleep(max(0, 1 - (time.time() - tick)))
        rss_end = rss_mib(exporter.pid)
        _, metrics = request(f"http://127.0.0.1:{exp_port}/metrics")
        errors = sum(float(v) for v in re.findall(r'^zuora_meter_poll_errors_total\{[^}]*\} (\S+)$', metrics, re.M))
        requests = sum(float(v) for v in re.findall(r'^zuora_api_requests_total\{[^}]*\} (\S+)$', metrics, re.M))
        first = rss_after_first_minute or rss_end
        growth = (rss_end - first) / first * 100
        ok = failed == 0 and abs(growth) <= 10
        print(f"soak: {args.minutes:g} min, {args.meters} meters, {args.fault_rate:.0%} faults; "
              f"{scrapes} scrapes, {failed} failed, slowest {slowest * 1000:.0f} ms; "
              f"{requests:.0f} Zuora requests, {errors:.0f} poll errors; "
              f"RSS {first:.1f} MiB after 1 min, {rss_end:.1f} MiB at the end ({growth:+.1f} %): "
              f"{'PASS' if ok else 'FAIL'}")
        return 0 if ok else 1
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    sys.exit(main())
