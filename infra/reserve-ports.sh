#!/usr/bin/env bash
# Keeps the kernel from handing the local service ports to outgoing connections.
#
# The gRPC ports 50050-50054 and their metrics ports (+1000) lie in Linux's ephemeral range
# (32768-60999): any process's outgoing connection (a service's own, to Postgres or the broker)
# may be given one as its local port, and a service then cannot listen on it ("Address already
# in use"). As root this adds them to net.ipv4.ip_local_reserved_ports (keeping what is there);
# otherwise it does nothing. Used by `make run` and the console's browser-test stack.
set -euo pipefail
reserved=/proc/sys/net/ipv4/ip_local_reserved_ports
if [[ -w $reserved ]] && ! grep -q "50050-50054" "$reserved"; then
    current="$(cat "$reserved")"
    echo "${current:+$current,}50050-50054,51050-51054" >"$reserved" 2>/dev/null || true
fi
