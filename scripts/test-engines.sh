#!/usr/bin/env bash
# The Docker tier and the Swarm tier side by side: they drive different engines (the main one; the
# swarm's own two dockerds, which mostly wait on Swarm's heartbeats), so together they take about as
# long as the Docker tier alone, which keeps `npm test` (and CI) well under 15 minutes. The Swarm
# tier's lines are prefixed with [swarm]; the script fails when either tier fails.
set -uo pipefail
cd "$(dirname "$0")/.."
npx vitest run --project swarm > >(sed -u 's/^/[swarm] /') 2>&1 &
swarm=$!
npx vitest run --project docker
docker_rc=$?
wait "$swarm"
swarm_rc=$?
echo "test-engines: docker tier exit ${docker_rc}, swarm tier exit ${swarm_rc}"
if [ "$docker_rc" -ne 0 ]; then exit "$docker_rc"; fi
exit "$swarm_rc"
