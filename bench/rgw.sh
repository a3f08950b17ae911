#!/bin/bash
# A single-node Ceph (1 mon + 1 BlueStore OSD on a sparse file + radosgw) as a local, honest S3 endpoint
# for `make test-s3-rgw` and `make bench-rgw` (mk/s3.mk). Adapted from ../shared/tools/s3/start-rgw.sh.
#
#   bench/rgw.sh start DIR [S3_PORT]   S3 at http://127.0.0.1:S3_PORT (default 7480), keys rgwtest/rgwtestsecret
#   bench/rgw.sh stop DIR              stops exactly the daemons this script started (their pids are in DIR)
#   bench/rgw.sh status DIR            exit 0 when all three daemons run
#
# Needs the Debian packages radosgw ceph-mon ceph-osd (16.2.x on Debian 12) and uuidgen; mk/s3.mk installs
# them. State (config, mon store, a 20 GiB sparse block file, logs, pids) lives in DIR; a second start reuses
# it (~12 s instead of ~20 s). The monitor listens on 127.0.0.1:$RGW_MON_PORT (default 6789).
set -euo pipefail

usage() { echo "usage: $0 start DIR [S3_PORT] | stop DIR | status DIR" >&2; exit 2; }
[ $# -ge 2 ] || usage
CMD=$1
CL=$(mkdir -p "$2" && cd "$2" && pwd)
PORT=${3:-7480}
MON_PORT=${RGW_MON_PORT:-6789}
C="-c $CL/ceph.conf"
DAEMONS="rgw osd mon"

alive() { [ -f "$CL/$1.pid" ] && kill -0 "$(cat "$CL/$1.pid")" 2>/dev/null; }

# wait_for WHAT LOG COMMAND...: retry COMMAND for up to 90 s, else show LOG and fail
wait_for() {
  local what=$1 log=$2; shift 2
  local deadline=$((SECONDS + 90))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      echo "rgw.sh: $what did not come up within 90 s; last lines of $log:" >&2
      tail -n 20 "$log" >&2 || true
      exit 1
    fi
    sleep 0.3
  done
}

case "$CMD" in
status)
  for d in $DAEMONS; do alive "$d" || { echo "$d not running"; exit 1; }; done
  echo "running (pids: mon $(cat "$CL/mon.pid") osd $(cat "$CL/osd.pid") rgw $(cat "$CL/rgw.pid"))"
  ;;
stop)
  for d in $DAEMONS; do alive "$d" && kill "$(cat "$CL/$d.pid")" 2>/dev/null || true; done
  for d in $DAEMONS; do
    while alive "$d"; do sleep 0.3; done
    rm -f "$CL/$d.pid"
  done
  echo "stopped (state kept in $CL)"
  ;;
start)
  if alive rgw && alive osd && alive mon; then
    echo "already running: S3 at http://127.0.0.1:$(sed -n 's/.*endpoint=127.0.0.1:\([0-9]*\).*/\1/p' "$CL/ceph.conf")"
    exit 0
  fi
  for tool in ceph-mon ceph-osd radosgw radosgw-admin ceph ceph-authtool monmaptool uuidgen curl; do
    command -v "$tool" >/dev/null || { echo "rgw.sh: $tool not found (apt-get install radosgw ceph-mon ceph-osd uuid-runtime curl)" >&2; exit 1; }
  done
  # A half-started earlier attempt: stop what runs before starting again.
  for d in $DAEMONS; do alive "$d" && kill "$(cat "$CL/$d.pid")" 2>/dev/null || true; done
  for d in $DAEMONS; do while alive "$d"; do sleep 0.3; done; rm -f "$CL/$d.pid"; done
  mkdir -p "$CL"/{mon,osd0,run,log}
  cd "$CL"
  NEW=0
  if [ ! -f ceph.conf ]; then
    NEW=1
    FSID=$(uuidgen)
    cat > ceph.conf <<EOF
[global]
fsid = $FSID
mon host = v1:127.0.0.1:$MON_PORT
mon initial members = a
auth cluster required = none
auth service required = none
auth client required = none
public addr = 127.0.0.1
ms bind ipv6 = false
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
osd pool default pg autoscale mode = off
osd pool default pg num = 8
osd pool default pgp num = 8
run dir = $CL/run
admin socket = $CL/run/\$name.asok
log file = $CL/log/\$name.log
keyring = $CL/keyring
osd objectstore = bluestore
bluestore block path = $CL/osd0-block.img
bluestore block create = true
bluestore block size = 21474836480
osd memory target = 1073741824
bluestore cache autotune = false
bluestore cache size = 268435456
[mon.a]
mon data = $CL/mon
[osd.0]
osd data = $CL/osd0
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$PORT
EOF
    ceph-authtool --create-keyring keyring --gen-key -n mon. --cap mon 'allow *' >/dev/null
    monmaptool --create --add a "v1:127.0.0.1:$MON_PORT" --fsid "$FSID" monmap >/dev/null
    ceph-mon $C --mkfs -i a --monmap monmap --keyring keyring
  else
    sed -i "s/^rgw frontends = .*/rgw frontends = beast endpoint=127.0.0.1:$PORT/" ceph.conf
  fi
  setsid ceph-mon -f $C -i a > log/mon.out 2>&1 < /dev/null & echo $! > mon.pid
  wait_for "ceph-mon" log/mon.out timeout 5 ceph $C mon stat
  if [ "$NEW" = 1 ]; then
    OSD_UUID=$(uuidgen)
    ID=$(ceph $C osd new "$OSD_UUID")
    ceph-osd $C -i "$ID" --mkfs --osd-uuid "$OSD_UUID" > log/osd-mkfs.out 2>&1
  fi
  setsid ceph-osd -f $C -i 0 > log/osd.out 2>&1 < /dev/null & echo $! > osd.pid
  osd_up() { timeout 5 ceph $C osd stat 2>/dev/null | grep -q ' 1 up'; }
  wait_for "ceph-osd" log/osd.out osd_up
  setsid radosgw -f $C -n client.rgw.a > log/rgw.out 2>&1 < /dev/null & echo $! > rgw.pid
  wait_for "radosgw" log/rgw.out curl -s -o /dev/null -m 2 "http://127.0.0.1:$PORT/"
  if [ "$NEW" = 1 ]; then
    radosgw-admin $C user create --uid=test --display-name=test \
      --access-key=rgwtest --secret-key=rgwtestsecret >/dev/null
  fi
  echo "S3 ready at http://127.0.0.1:$PORT (keys rgwtest/rgwtestsecret; pids: mon $(cat mon.pid) osd $(cat osd.pid) rgw $(cat rgw.pid))"
  ;;
*) usage ;;
esac
