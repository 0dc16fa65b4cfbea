#!/usr/bin/env bash
# Installs the real SIP/TLS peers and the media relay (rtpengine) the integration tests talk to, from Debian's packages.
# Idempotent: skips apt when everything is already there.
set -euo pipefail
pkgs=(sip-tester kamailio kamailio-tls-modules sslscan sngrep openssl rtpengine-daemon baresip-core tshark)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "peers: all installed (${pkgs[*]})"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "peers: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
