#!/bin/sh
# image/mirror.sh: print the Debian mirror URL this machine's apt is configured with.
#
# The project never writes a mirror host name anywhere; every build reads it from
# /etc/apt/sources.list and /etc/apt/sources.list.d/ (one-line and deb822 formats).
# FMLAB_MIRROR overrides it (for machines whose apt uses a proxy or a local copy).
set -eu
if [ -n "${FMLAB_MIRROR:-}" ]; then echo "$FMLAB_MIRROR"; exit 0; fi
files=$(ls /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
            /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
[ -n "$files" ] || { echo "mirror.sh: no apt sources found in /etc/apt" >&2; exit 1; }
url=$(
  for f in $files; do
    case "$f" in
      *.sources) awk '/^URIs:/ { for (i = 2; i <= NF; i++) print $i }' "$f" ;;
      *)         awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; break } }' "$f" ;;
    esac
  done | grep -E '/debian/?$' | head -n 1
)
[ -n "$url" ] || { echo "mirror.sh: no Debian archive (a URI ending in /debian) in apt sources" >&2; exit 1; }
echo "${url%/}"
