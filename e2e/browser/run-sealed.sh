#!/bin/sh
# Runs a command (default: the browser tests) inside a sealed network
# namespace created for this run and deleted at the end: loopback plus a veth
# pair whose two ends both live inside it, and a default route into it.
# Chromium needs a non-loopback address and a default route to gather ICE
# candidates at all; here its only candidate is 10.99.0.1, and no packet can
# leave the namespace. Needs root (CI runs as root).
set -eu
cd "$(dirname "$0")"
if [ "$#" -eq 0 ]; then
  set -- node --test --test-concurrency=1 --test-timeout=480000 test/
fi
if [ "${CALLBRIDGE_NETNS:-}" = "inside" ]; then
  exec "$@"
fi
if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null 2>&1; then
  echo "run-sealed.sh: needs root and iproute2 to create the test's own network namespace" >&2
  exit 2
fi
NS="cb-web-$$"
cleanup() {
  for p in $(ip netns pids "$NS" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
  ip netns del "$NS" 2>/dev/null || true
}
trap cleanup EXIT INT TERM
ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" link add s0 type veth peer name s1
ip -n "$NS" addr add 10.99.0.1/24 dev s0
ip -n "$NS" link set s0 up
ip -n "$NS" link set s1 up
ip -n "$NS" route add default dev s0
set +e
ip netns exec "$NS" env CALLBRIDGE_NETNS=inside "$@"
rc=$?
set -e
exit $rc
