#!/usr/bin/env bash
# Brings up what the bot and its tests need: a running Docker engine and the base image
# spreadserve/base:busybox, built FROM scratch with the host's static busybox (no registry is
# reachable here, so nothing may pull). Idempotent: quiet and fast when all is in place.
#
# When the bot is configured for a remote engine (DOCKER_HOST tcp://... or ssh://..., in the
# environment or in ./.env, read as the bot reads them), there is nothing to bring up here: it
# says so and exits. `--local` (what `npm test` passes) always brings up the local engine, since
# the tests run on it.
set -euo pipefail

BASE_IMAGE=spreadserve/base:busybox
WAIT_SECONDS=60

say() { printf 'docker-up: %s\n' "$*" >&2; }
die() {
  say "$*"
  exit 1
}

# The log goes to /var/log when we may write there, else /tmp.
if [ -w /var/log ]; then LOG=/var/log/dockerd-spreadserve.log; else LOG=/tmp/dockerd-spreadserve.log; fi

# A static busybox: Debian's busybox-static installs one at /bin/busybox (the dynamic
# busybox package would not run in an image FROM scratch).
find_static_busybox() {
  local candidate
  for candidate in /bin/busybox /usr/bin/busybox /usr/lib/busybox-static/busybox; do
    [ -x "$candidate" ] || continue
    if command -v file >/dev/null 2>&1; then
      file -L "$candidate" | grep -q 'statically linked' && { echo "$candidate"; return 0; }
    elif ! ldd "$candidate" >/dev/null 2>&1; then
      # ldd fails on a static binary ("not a dynamic executable").
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

have_tools() {
  command -v docker >/dev/null 2>&1 && command -v dockerd >/dev/null 2>&1 && find_static_busybox >/dev/null
}

is_debian_like() {
  [ -r /etc/os-release ] && grep -Eqi '^(ID|ID_LIKE)=.*(debian|ubuntu)' /etc/os-release
}

install_tools() {
  if [ "$(id -u)" -ne 0 ] || ! is_debian_like; then
    cat >&2 <<'EOF'
docker-up: Docker is not installed (or there is no static busybox).
  On Debian/Ubuntu, as root:  apt-get install docker.io busybox-static
  Elsewhere: install Docker Engine (https://docs.docker.com/engine/install/) and a
  statically linked busybox, then run this script again.
EOF
    exit 1
  fi
  say "installing docker.io and busybox-static with apt-get"
  # Update the lists only when apt cannot see the packages yet (a fresh machine).
  if ! apt-cache show docker.io busybox-static >/dev/null 2>&1; then
    apt-get update -qq
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io busybox-static >/dev/null
  hash -r
  have_tools || die "docker.io and busybox-static were installed but docker, dockerd or a static busybox is still missing"
}

start_dockerd() {
  command -v dockerd >/dev/null 2>&1 || die "dockerd is not installed; install docker.io"
  if [ "$(id -u)" -ne 0 ]; then
    die "Docker is not running and only root can start dockerd; start it (e.g. sudo systemctl start docker) or set DOCKER_HOST"
  fi
  if [ -n "${DOCKER_HOST:-}" ] && [ "${DOCKER_HOST}" != "unix:///var/run/docker.sock" ]; then
    die "Docker is not reachable at DOCKER_HOST=${DOCKER_HOST}; start that engine or unset DOCKER_HOST"
  fi
  say "starting dockerd (log: $LOG)"
  # setsid + nohup: dockerd outlives this script and the terminal that ran it.
  nohup setsid dockerd >>"$LOG" 2>&1 </dev/null &
  local waited=0
  until docker info >/dev/null 2>&1; do
    if [ "$waited" -ge "$WAIT_SECONDS" ]; then
      say "dockerd did not answer within ${WAIT_SECONDS}s; last lines of $LOG:"
      tail -n 20 "$LOG" >&2 || true
      exit 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
}

build_base_image() {
  local busybox dir
  busybox=$(find_static_busybox) || die "no statically linked busybox found; install busybox-static"
  dir=$(mktemp -d)
  # shellcheck disable=SC2064 # expand $dir now
  trap "rm -rf '$dir'" EXIT
  cp "$busybox" "$dir/busybox"
  cat >"$dir/Dockerfile" <<'EOF'
FROM scratch
COPY busybox /bin/busybox
# Exec form: there is no shell in the image until busybox installs its applet links.
RUN ["/bin/busybox", "--install", "-s", "/bin"]
ENV PATH=/bin:/usr/bin:/sbin:/usr/sbin
RUN mkdir -p /usr/bin /sbin /usr/sbin /tmp /var/log /root && chmod 1777 /tmp
CMD ["/bin/sh"]
EOF
  say "building $BASE_IMAGE from $busybox"
  # The classic builder (DOCKER_BUILDKIT=0) never contacts a registry for FROM scratch.
  if ! DOCKER_BUILDKIT=0 docker build --pull=false -q -t "$BASE_IMAGE" "$dir" >"$dir/build.log" 2>&1; then
    cat "$dir/build.log" >&2
    die "building $BASE_IMAGE failed"
  fi
}

# DOCKER_HOST as the bot reads it: the environment over ./.env (Node's own .env parser, as in
# core/config.ts). Without node (not run by npm), the environment only.
configured_docker_host() {
  if command -v node >/dev/null 2>&1; then
    node -e '
      const fs = require("node:fs");
      let value = process.env.DOCKER_HOST;
      if (value === undefined && fs.existsSync(".env")) {
        value = require("node:util").parseEnv(fs.readFileSync(".env", "utf8")).DOCKER_HOST;
      }
      process.stdout.write(value ?? "");
    '
  else
    printf '%s' "${DOCKER_HOST:-}"
  fi
}

# tcp://, http://, ssh:// or a bare host:port (the docker CLI reads that as tcp): not this machine's socket.
is_remote() {
  case "$1" in
  tcp://* | http://* | ssh://*) return 0 ;;
  unix://* | '') return 1 ;;
  *:*) return 0 ;;
  *) return 1 ;;
  esac
}

local_only=false
for arg in "$@"; do
  case "$arg" in
  --local) local_only=true ;;
  *) die "unknown option $arg (usage: docker-up.sh [--local])" ;;
  esac
done

if [ "$local_only" = true ]; then
  # The tests' docker CLI reads DOCKER_HOST from the environment: a remote one there would split
  # them between two engines. A remote DOCKER_HOST in ./.env is fine (only the bot reads .env).
  if is_remote "${DOCKER_HOST:-}"; then
    die "DOCKER_HOST=${DOCKER_HOST} is set in the environment, but the tests run on the local engine; run them with it unset (env -u DOCKER_HOST npm test)"
  fi
else
  host=$(configured_docker_host)
  if is_remote "$host"; then
    echo "docker: remote engine $host configured (DOCKER_HOST); no local dockerd or base image needed here"
    exit 0
  fi
fi

have_tools || install_tools
docker info >/dev/null 2>&1 || start_dockerd
docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 || build_base_image

engine=$(docker version --format '{{.Server.Version}}' 2>/dev/null || echo unknown)
echo "docker: ready (Engine $engine, base image $BASE_IMAGE present)"
