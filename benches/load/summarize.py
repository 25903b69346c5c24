#!/usr/bin/env python3
"""Turns run.sh's raw result lines into ratios against the peers.

Input lines: `SCENARIO SERVER key=value ...` (lines starting with # are
notes). Each (scenario, server) is averaged over its rounds; every figure is
then printed beside the same figure of each peer measured in the same run,
as `ours / peer`, with the range of the per-round ratios (round i of ours
against round i of the peer, measured minutes apart at most) so that an
unsteady figure shows as one. For the fan-out it also prints the floor the
kernel sets: the ratio we would reach if our user-space CPU were zero.
Usage: summarize.py results/latest.txt
"""
import sys
from collections import defaultdict

# metric, higher is better?, target ratio (ours/peer) or None
METRICS = {
    "echo": [
        ("msgs_per_s", True, 1.0),
        ("p50_us", False, None),
        ("p99_us", False, None),
        ("cpu_ns_per_msg", False, 0.9),
        ("user_ns_per_msg", False, None),
        ("sys_ns_per_msg", False, None),
    ],
    "fanout": [
        ("events_per_s", True, None),
        ("p99_us", False, None),
        ("cpu_ns_per_event", False, 0.7),
        ("user_ns_per_event", False, None),
        ("sys_ns_per_event", False, None),
    ],
    "idle": [("bytes_per_conn", False, 1.0)],
}
# A target that differs for one scenario family: (prefix, metric) -> target.
TARGETS = {("idle_sse", "bytes_per_conn"): 0.25}
# Targets on our own figure, not a ratio: (prefix, metric) -> at most.
ABSOLUTE = {("idle_ws", "bytes_per_conn"): 3400}


def load(path):
    runs = defaultdict(lambda: defaultdict(list))
    notes = []
    for line in open(path):
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            notes.append(line)
            continue
        scenario, server, *pairs = line.split()
        for pair in pairs:
            key, _, value = pair.partition("=")
            try:
                runs[(scenario, server)][key].append(float(value))
            except ValueError:
                runs[(scenario, server)]["error"].append(value)
    return runs, notes


def mean(values):
    return sum(values) / len(values) if values else float("nan")


def ratios(runs):
    """Yields (scenario, metric, peer, ours, theirs, ratio, target)."""
    scenarios = sorted({s for s, _ in runs})
    for scenario in scenarios:
        kind = scenario.split("_")[0]
        servers = [srv for s, srv in runs if s == scenario]
        if "ours" not in servers:
            continue
        for metric, _, target in METRICS.get(kind, []):
            prefix = next((p for p, m in TARGETS if scenario.startswith(p) and m == metric), None)
            target = TARGETS.get((prefix, metric), target)
            ours = mean(runs[(scenario, "ours")].get(metric, []))
            for peer in servers:
                if peer == "ours":
                    continue
                theirs = mean(runs[(scenario, peer)].get(metric, []))
                ratio = ours / theirs if theirs else float("nan")
                per_round = [
                    a / b
                    for a, b in zip(
                        runs[(scenario, "ours")].get(metric, []),
                        runs[(scenario, peer)].get(metric, []),
                    )
                    if b
                ]
                yield scenario, metric, peer, ours, theirs, ratio, target, per_round


def main():
    runs, notes = load(sys.argv[1])
    for note in notes:
        print(note)
    print(f"{'scenario':<24} {'server':<15} figures (mean over rounds)")
    for (scenario, server), values in sorted(runs.items()):
        figures = " ".join(
            f"{k}={mean(v):.0f}" if k != "error" else f"error={v}" for k, v in values.items()
        )
        print(f"{scenario:<24} {server:<15} {figures}")
    print()
    print(f"{'scenario':<24} {'metric':<17} {'ours/peer':<22} {'ratio':>7} {'rounds':>11}  target")
    for scenario, metric, peer, ours, theirs, ratio, target, per_round in ratios(runs):
        better_high = next(h for m, h, _ in METRICS[scenario.split('_')[0]] if m == metric)
        verdict = ""
        if target is not None:
            met = ratio >= target if better_high else ratio <= target
            verdict = f"{'>=' if better_high else '<='} {target}: {'met' if met else 'MISSED'}"
        spread = f"{min(per_round):.2f}-{max(per_round):.2f}" if len(per_round) > 1 else ""
        print(f"{scenario:<24} {metric:<17} {f'ours/{peer}':<22} {ratio:7.2f} {spread:>11}  {verdict}")
    for (scenario, metric), limit in sorted(ABSOLUTE.items()):
        for (name, server), values in sorted(runs.items()):
            if server != "ours" or not name.startswith(scenario):
                continue
            ours = mean(values.get(metric, []))
            met = "met" if ours <= limit else "MISSED"
            print(f"{name:<24} {metric:<17} {'ours':<22} {ours:7.0f} {'':>11}  <= {limit}: {met}")
    # The floor the kernel sets: the ratio we would reach if our user-space
    # CPU were zero (our system time alone against the peer's total).
    per = {"fanout": "event", "echo": "msg"}
    for (scenario, server), values in sorted(runs.items()):
        kind = scenario.split("_")[0]
        if kind not in per or server == "ours" or (scenario, "ours") not in runs:
            continue
        unit = per[kind]
        ours_sys = mean(runs[(scenario, "ours")].get(f"sys_ns_per_{unit}", []))
        theirs = mean(values.get(f"cpu_ns_per_{unit}", []))
        if ours_sys == ours_sys and theirs:  # both measured (not NaN, not 0)
            print(
                f"{scenario:<24} kernel floor: with no user-space CPU at all, "
                f"cpu_ns_per_{unit} ours/{server} would be {ours_sys / theirs:.2f} "
                f"(our system time alone, {ours_sys:.0f} ns, against their total, {theirs:.0f} ns)"
            )

if __name__ == "__main__":
    main()
