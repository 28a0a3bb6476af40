#!/usr/bin/env bash
# Vulkan on the GPU, headless: `vulkaninfo --summary` (its whole output goes to
# stdout for the logs), then one RESULT line naming the NVIDIA device (vendorID
# 0x10de) it listed, or why there is none.
#
#   vulkan_check.sh VULKANINFO
# The loader finds the driver through VK_DRIVER_FILES (gpu-check.sh sets it).
set -uo pipefail
vulkaninfo=${1:?usage: vulkan_check.sh VULKANINFO}

errors=$(mktemp)
summary=$("$vulkaninfo" --summary 2>"$errors")
rc=$?
printf '%s\n' "$summary"
cat "$errors" >&2

# The value of "KEY = VALUE" in the first device block with vendorID 0x10de.
field() {
  printf '%s\n' "$summary" | awk -v key="$1" '
    function done() { if (vendor == "0x10de" && found) { print value; exit } }
    /^GPU[0-9]+:/ { done(); vendor = ""; found = 0 }
    $1 == "vendorID" { vendor = $3 }
    $1 == key && !found { found = 1; value = $0; sub(/^[^=]*= */, "", value) }
    END { done() }'
}
device=$(field deviceName)
if ((rc == 0)) && [[ -n $device ]]; then
  echo "RESULT vulkan ok device=\"$device\" api=$(field apiVersion) driver=$(field driverInfo)" \
    "type=$(field deviceType)"
  rm -f "$errors"
  exit 0
fi
listed=$(printf '%s\n' "$summary" | awk '$1 == "deviceName" { sub(/^[^=]*= */, ""); printf "%s%s", sep, $0; sep = "; " }')
why=""
((rc == 0)) || why=$(grep -a -v '^[[:space:]]*$' "$errors" | tail -n 1 | tr -s '[:space:]' ' ' | sed 's/ $//')
rm -f "$errors"
echo "RESULT vulkan FAIL vulkaninfo exit $rc, no NVIDIA device listed (devices: ${listed:-none})${why:+: $why}"
exit 1
