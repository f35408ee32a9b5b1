#!/usr/bin/env bash
# Installs every Debian package mevi needs to build, test and run.
# Idempotent: safe to run twice, and fast (no apt-get update) when nothing is missing.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config git
  clang libclang-rt-14-dev clang-format
  libuv1-dev libwebsockets-dev libwebsockets-evlib-uv
  libevent-dev libmsgpack-dev libseccomp-dev libjson-c-dev libdw-dev libelf-dev libbz2-dev
  libcmocka-dev valgrind curl python3 nodejs chromium
  libbpf-dev bpftool strace gdb
  debootstrap
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "mevi: installing ${missing[*]}" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Vite 8 needs Node.js 20.19 or newer; Debian 12's own nodejs is 18.
if command -v node >/dev/null 2>&1; then
  if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)'; then
    echo "mevi: Node.js $(node --version) is too old for the frontend build (Vite needs 20.19+);" >&2
    echo "mevi: install a newer nodejs, or configure with -DMEVI_FRONTEND=OFF" >&2
    exit 1
  fi
fi

# The frontend's npm dependencies, when a frontend exists.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -f "$here/frontend/package-lock.json" ]; then
  if [ ! -d "$here/frontend/node_modules" ] || [ "$here/frontend/package-lock.json" -nt "$here/frontend/node_modules/.package-lock.json" ]; then
    (cd "$here/frontend" && npm ci --no-audit --no-fund)
  fi
fi
