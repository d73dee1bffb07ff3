#!/usr/bin/env bash
# Installs the Debian packages onebit's tests drive for real, when missing:
#   bash scripts/system_packages.sh [package...]   (default: all of them)
# ffmpeg (frame sources), prometheus (promtool and the scrape test), mosquitto (MQTT),
# chromium (dashboard test), gst-rtsp-server (the GStreamer RTSP server with python3-gi, for
# scripts/rtsp_test_server.py). Each package is checked by the command it provides, or by
# dpkg when it has none, so a machine that has them installs nothing. Needs root (or sudo)
# only when something is missing.
set -euo pipefail

declare -A command_of=(
  [ffmpeg]=ffmpeg
  [prometheus]=promtool
  [mosquitto]=mosquitto
  [chromium]=chromium
  [gst-rtsp-server]=-
)
# Names that install other Debian packages than their own, checked by dpkg (command '-').
declare -A debian_packages_of=(
  [gst-rtsp-server]="gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good python3-gi"
)

wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=(ffmpeg prometheus mosquitto chromium gst-rtsp-server)

missing=()
for package in "${wanted[@]}"; do
  command="${command_of[$package]:-}"
  if [ -z "$command" ]; then
    echo "system_packages: unknown package '$package' (known: ${!command_of[*]})" >&2
    exit 2
  fi
  read -r -a debian <<<"${debian_packages_of[$package]:-$package}"
  if [ "$command" = - ]; then
    for name in "${debian[@]}"; do
      if [ "$(dpkg-query -W -f='${db:Status-Status}' "$name" 2>/dev/null)" != installed ]; then
        missing+=("${debian[@]}")
        break
      fi
    done
  # mosquitto installs into /usr/sbin, which is not on every PATH.
  elif ! command -v "$command" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$command" ]; then
    missing+=("${debian[@]}")
  fi
done
[ ${#missing[@]} -gt 0 ] || exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || {
    echo "system_packages: need root to install ${missing[*]}" >&2
    exit 1
  }
  sudo="sudo"
fi
echo "system_packages: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The packages start their services on install; tests start their own instances.
for service in mosquitto prometheus; do
  if printf '%s\n' "${missing[@]}" | grep -qx "$service"; then
    $sudo systemctl stop "$service" >/dev/null 2>&1 || $sudo service "$service" stop \
      >/dev/null 2>&1 || pkill -x "$service" >/dev/null 2>&1 || true
  fi
done
