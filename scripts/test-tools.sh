#!/usr/bin/env bash
# Installs the tools the Docker-tier tests run besides Docker: openssh-server (the SSH test starts
# its own sshd on 127.0.0.1 with keys it makes, test/support/ssh-server.ts) and openssl (the TLS
# tests make their certificates with it). Idempotent: quiet and fast when all is in place. It never
# starts an sshd: the installed service is not enabled here, and the tests run their own.
set -euo pipefail

say() { printf 'test-tools: %s\n' "$*" >&2; }
die() {
  say "$*"
  exit 1
}

have_tools() {
  [ -x /usr/sbin/sshd ] && command -v ssh-keygen >/dev/null 2>&1 && command -v openssl >/dev/null 2>&1
}

is_debian_like() {
  [ -r /etc/os-release ] && grep -Eqi '^(ID|ID_LIKE)=.*(debian|ubuntu)' /etc/os-release
}

install_tools() {
  if [ "$(id -u)" -ne 0 ] || ! is_debian_like; then
    cat >&2 <<'MSG'
test-tools: the Docker-tier tests need /usr/sbin/sshd, ssh-keygen and openssl.
  On Debian/Ubuntu, as root:  apt-get install openssh-server openssl
  Elsewhere: install OpenSSH's server and client tools and openssl, then run this script again.
MSG
    exit 1
  fi
  say "installing openssh-server and openssl with apt-get"
  # Update the lists only when apt cannot see the packages yet (a fresh machine).
  if ! apt-cache show openssh-server openssl >/dev/null 2>&1; then
    apt-get update -qq
  fi
  # policy-rc.d answering 101 keeps the package's postinst from starting an sshd (where
  # invoke-rc.d is in use); the tests start their own on 127.0.0.1 only.
  local policy=/usr/sbin/policy-rc.d created_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    created_policy=1
  fi
  # apt's chatter (debconf, needrestart) is shown only when the install fails.
  local log status=0
  log=$(mktemp)
  DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 \
    apt-get install -y -qq --no-install-recommends openssh-server openssl >"$log" 2>&1 || status=$?
  [ "$created_policy" -eq 0 ] || rm -f "$policy"
  if [ "$status" -ne 0 ]; then
    tail -n 20 "$log" >&2
    rm -f "$log"
    die "apt-get install openssh-server openssl failed"
  fi
  rm -f "$log"
  hash -r
  have_tools || die "openssh-server and openssl were installed but sshd, ssh-keygen or openssl is still missing"
}

have_tools || install_tools
echo "test-tools: ready ($(/usr/sbin/sshd -V 2>&1 | head -n 1 || echo 'sshd'), $(openssl version))"
