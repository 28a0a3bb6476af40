#!/usr/bin/env bash
# One run of NVIDIA's own library through nvgate's simulated driver, for ctest.
#
#   run_realclient.sh NVGATE CLIENT LIBS VERSION LIBRARY CAPS [EXPECT...]
#
# Runs `nvgate run --backend sim --sim-driver VERSION --caps CAPS -- CLIENT
# LIBS/VERSION/LIBRARY` and checks that each EXPECT (an extended regex) matches
# a line of its output (the client's step lines on stdout, nvgate's denial
# lines on stderr). An EXPECT starting with "!" must match no line. Exits 77
# (a ctest skip) when the library was not fetched (scripts/fetch-nvidia-libs.sh).
set -uo pipefail
# A GPU machine's own selection (NVIDIA_VISIBLE_DEVICES=GPU-...) names no GPU of the sim.
unset NVIDIA_VISIBLE_DEVICES
nvgate=$1 client=$2 libs=$3 version=$4 library=$5 caps=$6
shift 6

lib=$libs/$version/$library
if [[ ! -e $lib ]]; then
  echo "SKIP: $lib not present; run scripts/fetch-nvidia-libs.sh $libs to fetch it from Debian non-free"
  exit 77
fi
output=$("$nvgate" run --backend sim --sim-driver "$version" --caps "$caps" -- "$client" "$lib" 2>&1)
status=$?
echo "$output"
echo "(status $status)"
# 125 and above: nvgate itself failed, or the client died of a signal.
if ((status >= 125)); then
  echo "FAIL: nvgate or the client failed (status $status)"
  exit 1
fi
failed=0
for expect in "$@"; do
  if [[ $expect == '!'* ]]; then
    if grep -Eq -- "${expect#!}" <<<"$output"; then
      echo "FAIL: a line matches ${expect#!}"
      failed=1
    fi
  elif ! grep -Eq -- "$expect" <<<"$output"; then
    echo "FAIL: no line matches $expect"
    failed=1
  fi
done
exit $failed
