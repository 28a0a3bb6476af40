#!/usr/bin/env bash
# What the simulated driver's sandbox offers NVIDIA's libraries
# (src/backend/sim_driver_files.h), checked from inside a workload, and that
# none of it shows outside:
#   sandbox_files.sh NVGATE
set -uo pipefail
# A GPU machine's own selection (NVIDIA_VISIBLE_DEVICES=GPU-...) names no GPU of the sim.
unset NVIDIA_VISIBLE_DEVICES
nvgate=$1

inside=$("$nvgate" run --backend sim --sim-driver 535.261.03 --caps compute,utility -- sh -c '
  echo "initstate $(cat /sys/module/nvidia/initstate)"
  echo "module $(cat /sys/module/nvidia/version)"
  head -n 1 /proc/driver/nvidia/version
  grep ModifyDeviceFiles /proc/driver/nvidia/params
  echo "pci $(ls /sys/bus/pci/devices) $(head -c 4 /sys/bus/pci/devices/0000:18:00.0/config | od -An -tx1)"
  echo "ctl $(stat -c "%F %t:%T" /dev/nvidiactl) gpu $(stat -c "%F %t:%T" /dev/nvidia0)"
  exec 3</dev/nvidiactl && echo "absolute open: ok"
  cd /dev && { cat nvidiactl >/dev/null 2>&1 && echo "relative open: ok" || echo "relative open: refused"; }
' 2>&1)
echo "$inside"
failed=0
expect() {
  grep -Eq -- "$1" <<<"$inside" || { echo "FAIL: no line matches $1"; failed=1; }
}
expect "^initstate live$"
expect "^module 535.261.03$"
expect "^NVRM version: .* 535.261.03 "
expect "^ModifyDeviceFiles: 0$"
expect "^pci 0000:18:00.0  ?de 10 30 23$"
expect "^absolute open: ok$"
if [[ $(id -u) -eq 0 ]]; then
  # Character devices with the driver's numbers; the kernel never opens them
  # (nodev), only the supervisor answers an open of their exact path.
  expect "^ctl character special file c3:ff gpu character special file c3:0$"
  expect "^relative open: refused$"
fi
# Without compute the UVM node is withheld, and an open of it is refused with a
# denial line naming compute (nothing else of it reaches the workload).
utility=$("$nvgate" run --backend sim --caps utility -- sh -c '
  true 2>/dev/null </dev/nvidia-uvm && echo "uvm open: ok" || echo "uvm open: refused"
  test -e /dev/nvidia-uvm && echo "uvm node: present" || echo "uvm node: absent"
' 2>&1)
echo "$utility"
inside=$utility
expect "^uvm open: refused$"
expect "^uvm node: absent$"
expect "denied: pid [0-9]+: compute: open /dev/nvidia-uvm \\(uvm 0x0\\) denied; enable with NVIDIA_DRIVER_CAPABILITIES=compute,utility$"
# Nothing of it outside the sandbox (on a host without NVIDIA's driver).
if [[ ! -e /sys/module/nvidia/initstate && -e /proc/driver/nvidia ]]; then
  echo "FAIL: /proc/driver/nvidia shows outside the sandbox"
  failed=1
fi
exit $failed
