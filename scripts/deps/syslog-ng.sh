#!/bin/bash
# syslog-ng 3.38 for the syslog tests. It conflicts with rsyslog in apt, so its
# package is extracted (not installed) into .deps/syslog-ng; apt.txt installs
# the libraries it links against.
set -euo pipefail
dest=".deps/syslog-ng"
if [ -x "$dest/usr/sbin/syslog-ng" ]; then
  exit 0
fi
tmp=$(mktemp -d)
chmod 755 "$tmp"  # apt-get download runs as _apt where it can
(cd "$tmp" && apt-get download -qq syslog-ng-core 2>&1 | grep -v "unsandboxed" || true)
rm -rf "$dest"
mkdir -p "$dest"
dpkg -x "$tmp"/syslog-ng-core_*.deb "$dest"
rm -rf "$tmp"
echo "setup: syslog-ng extracted into $dest"
