#!/usr/bin/env bash
# The OpenTelemetry group of the layer benchmark (trace-tower/benches/layer.rs),
# RUNS times in one invocation: the bare router, the minimal OpenTelemetry job
# (benches/support/minimal.rs, for reference), ours with `OtelRecorder`,
# tower-http's `TraceLayer` + tracing-opentelemetry + extract, and
# axum-tracing-opentelemetry's `OtelAxumLayer`, all on the same kind of SDK
# provider (batch processor, an exporter that drops what it is given).
# Prints each run's criterion median per request, ours' overhead over bare as
# a share of the other stacks' overhead, and the medians of those ratios over
# the runs. Asserts nothing about speed.
#
# Usage: scripts/otel-bench.sh [RUNS] [SECONDS]   (default 5 runs, 5 s each)
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS="${1:-5}"
MEASURE="${2:-5}"
GROUP="server-layer-opentelemetry"

cargo bench -q -p trace-tower --features axum --bench layer --no-run
out="target/criterion/$GROUP"
results="$(mktemp)"
trap 'rm -f "$results"' EXIT

for run in $(seq "$RUNS"); do
  cargo bench -q -p trace-tower --features axum --bench layer -- "$GROUP" \
    --measurement-time "$MEASURE" --warm-up-time 1 --noplot >/dev/null 2>&1
  python3 - "$out" "$run" >>"$results" <<'EOF'
import json, pathlib, sys
out, run = pathlib.Path(sys.argv[1]), sys.argv[2]
for estimates in sorted(out.glob("**/new/estimates.json")):
    name = json.loads((estimates.parent / "benchmark.json").read_text())["function_id"]
    median = json.loads(estimates.read_text())["median"]["point_estimate"]
    print(run, name, median)
EOF
done

python3 - "$results" <<'EOF'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    run, *name, ns = line.split()
    runs.setdefault(run, {})[" ".join(name)] = float(ns)
bare, ours, floor = "bare-router", "ours/otel-recorder", "reference/minimal-otel"
others = ["tower-http/trace+tracing-opentelemetry", "axum-tracing-opentelemetry/OtelAxumLayer"]
names = [bare, floor, ours] + others
labels = ["bare", "minimal-otel", "ours", "tower-http", "OtelAxumLayer"]
print("per request (criterion medians); ours' overhead over bare / theirs; time ours / OtelAxumLayer;")
print("the minimal OpenTelemetry job's overhead / tower-http's (the floor of the first ratio)")
print(f"{'run':<4}" + "".join(f"{l:>15}" for l in labels)
      + f"{'/ tower-http':>14}{'/ OtelAxum':>12}{'time':>7}{'floor':>7}")
ratios = {o: [] for o in others}
floors = []
speed = []
medians = {n: [] for n in names}
for run, r in sorted(runs.items(), key=lambda kv: int(kv[0])):
    for n in names:
        medians[n].append(r[n])
    row = f"{run:<4}" + "".join(f"{r[n] / 1000:>13.2f}µs" for n in names)
    for o in others:
        ratios[o].append((r[ours] - r[bare]) / (r[o] - r[bare]))
    speed.append(r[ours] / r[others[1]])
    floors.append((r[floor] - r[bare]) / (r[others[0]] - r[bare]))
    row += f"{ratios[others[0]][-1]:>14.2f}{ratios[others[1]][-1]:>12.2f}{speed[-1]:>7.2f}{floors[-1]:>7.2f}"
    print(row)
print(f"{'med':<4}" + "".join(f"{statistics.median(medians[n]) / 1000:>13.2f}µs" for n in names)
      + f"{statistics.median(ratios[others[0]]):>14.2f}{statistics.median(ratios[others[1]]):>12.2f}"
      + f"{statistics.median(speed):>7.2f}{statistics.median(floors):>7.2f}")
EOF
