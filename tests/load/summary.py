"""Read locust's CSV output, print the figures the load target is about and write summary.json.

Usage (by run.sh): summary.py OUT_DIR --users N --workers N --threads N --accounts N --load-before "a b c" ...
Exits 1 when a target is missed: fewer than 150 requests/s, p95 of 500 ms or more, or any failure.
"""

import argparse
import csv
import datetime
import json
import os
import sys
from pathlib import Path

TARGET_RPS = 150
TARGET_P95_MS = 500


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    for name in ("users", "workers", "threads", "accounts"):
        parser.add_argument(f"--{name}", type=int, required=True)
    parser.add_argument("--load-before", required=True)
    parser.add_argument("--load-after", required=True)
    # The app's (gunicorn's) CPU seconds over the last --cpu-window seconds of the run, from /proc.
    parser.add_argument("--cpu-seconds", type=float)
    parser.add_argument("--cpu-window", type=float)
    args = parser.parse_args()

    with (args.out / "locust_stats.csv").open() as f:
        rows = list(csv.DictReader(f))
    total = next(row for row in rows if row["Name"] == "Aggregated")

    def figures(row: dict) -> dict:
        return {
            "requests": int(row["Request Count"]),
            "failures": int(row["Failure Count"]),
            "rps": round(float(row["Requests/s"]), 1),
            "p50_ms": _ms(row["50%"]),
            "p95_ms": _ms(row["95%"]),
            "p99_ms": _ms(row["99%"]),
            "max_ms": _ms(row["Max Response Time"]),
        }

    summary = {
        "measured_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": "make loadtest",
        "accounts": args.accounts,
        "users": args.users,
        "gunicorn": f"{args.workers} gthread workers x {args.threads} threads",
        "cpus": os.cpu_count(),
        "load_average_before": args.load_before,
        "load_average_after": args.load_after,
        **figures(total),
        "endpoints": {f"{row['Type']} {row['Name']}": figures(row) for row in rows if row is not total},
        "targets": {"rps": TARGET_RPS, "p95_ms": TARGET_P95_MS, "failures": 0},
    }
    if args.cpu_seconds and args.cpu_window and summary["rps"]:
        summary["app_cpu"] = {
            "cores": round(args.cpu_seconds / args.cpu_window, 2),
            "ms_per_request": round(args.cpu_seconds * 1000 / (summary["rps"] * args.cpu_window), 1),
        }
    summary["targets_met"] = (
        summary["rps"] >= TARGET_RPS and summary["p95_ms"] < TARGET_P95_MS and summary["failures"] == 0
    )
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")

    print(f"\n{'endpoint':<46}{'reqs':>7}{'fail':>6}{'req/s':>8}{'p50':>7}{'p95':>7}{'p99':>7}")
    for name, row in summary["endpoints"].items():
        print(
            f"{name:<46}{row['requests']:>7}{row['failures']:>6}{row['rps']:>8}"
            f"{row['p50_ms']:>7}{row['p95_ms']:>7}{row['p99_ms']:>7}"
        )
    print(
        f"\nTOTAL: {summary['rps']} requests/s over {summary['requests']} requests, "
        f"p50 {summary['p50_ms']} ms, p95 {summary['p95_ms']} ms, p99 {summary['p99_ms']} ms, "
        f"{summary['failures']} failures"
    )
    if "app_cpu" in summary:
        print(
            f"app (gunicorn) CPU: {summary['app_cpu']['cores']} cores, "
            f"{summary['app_cpu']['ms_per_request']} ms per request"
        )
    print(f"load average before {args.load_before}, after {args.load_after} ({os.cpu_count()} CPUs)")
    verdict = "MET" if summary["targets_met"] else "MISSED"
    print(f"targets (>= {TARGET_RPS} req/s, p95 < {TARGET_P95_MS} ms, no failures): {verdict}")
    print(f"summary: {args.out / 'summary.json'}")
    if summary["failures"] and (args.out / "locust_failures.csv").exists():
        print("\nfailures:\n" + (args.out / "locust_failures.csv").read_text()[:3000])
    return 0 if summary["targets_met"] else 1


def _ms(value: str) -> int:
    return 0 if value in ("", "N/A") else round(float(value))


if __name__ == "__main__":
    sys.exit(main())
