# shellcheck shell=bash disable=SC2034
# tests/tap.sh: sourced by the test scripts: TAP lines ("ok - ..." / "not ok - ..."); a
# "not ok" sets fail=1, which the script that sourced this exits with.
fail=0
ok()    { echo "ok - $*"; }
notok() { echo "not ok - $*"; fail=1; }
