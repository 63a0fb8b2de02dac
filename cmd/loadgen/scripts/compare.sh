#!/bin/sh
# Side by side: the bridge and rtpengine carrying the same calls, run after
# run in turn (bridge, rtpengine, bridge, rtpengine, ...) so that both see
# the same machine; then one table row per run.
#
#   cmd/loadgen/scripts/compare.sh OUTDIR "50 100 200" REPEATS [HOLD]
#
# Needs Debian's rtpengine-daemon (/usr/bin/rtpengine) and jq. Every run is
# bounded by loadgen itself (ramp, hold, hang-up and two minutes) and by
# timeout(1) here.
set -eu
out=${1:?outdir}; ns=${2:?"list of N"}; reps=${3:-2}; hold=${4:-20s}
mkdir -p "$out"
go build -o "$out/bridge" ./cmd/bridge
go build -o "$out/loadgen" ./cmd/loadgen
for n in $ns; do
  for r in $(seq 1 "$reps"); do
    for peer in bridge rtpengine; do
      if [ $peer = bridge ]; then arg="--bridge $out/bridge"; else arg="--rtpengine /usr/bin/rtpengine"; fi
      echo "== $peer N=$n run $r $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
      timeout 600 "$out/loadgen" $arg --calls "$n" --rate 10 --hold "$hold" \
        --json "$out/$peer-$n-$r.json" >"$out/$peer-$n-$r.log" 2>&1 || echo "   failed: see $out/$peer-$n-$r.log" >&2
    done
  done
done
echo "| peer | N | run | answered | CPU ms/call-s | cores | loss up % | loss down % | latency up p50/p99 ms | latency down p50/p99 ms | generator kept up | load |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
for f in "$out"/*-*-*.json; do
  jq -r --arg f "$(basename "$f" .json)" '($f | split("-")) as $p |
    "| \(.params.peer) | \(.params.calls) | \($p[2]) | \(.calls.answered) | \(.bridge.cpu_ms_per_call_second*100|round/100) | \(.bridge.cores_at_n*100|round/100) | \(.uplink.loss_pct*1000|round/1000) | \(.downlink.loss_pct*1000|round/1000) | \(.uplink.latency.p50_ms)/\(.uplink.latency.p99_ms) | \(.downlink.latency.p50_ms)/\(.downlink.latency.p99_ms) | \(.generator.kept_up) | \(.bridge.at_n.loadavg) |"' "$f"
done
