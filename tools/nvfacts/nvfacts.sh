#!/usr/bin/env bash
# Writes the ABI facts of one NVIDIA driver version: the numbers, struct sizes
# and field offsets that nvgate's tables and struct definitions rely on, as the
# driver's own published headers define them.
#
#   tools/nvfacts/nvfacts.sh CHECKOUT TAG > src/abi/facts/TAG.facts
#
# CHECKOUT is a directory holding NVIDIA/open-gpu-kernel-modules at TAG (only
# src/common/sdk/nvidia/inc, src/common/inc, kernel-open/common/inc,
# kernel-open/nvidia-uvm, src/nvidia/arch/nvalloc/unix/include and
# src/nvidia/generated/g_*_nvoc.c are read).
# The names come from src/abi/data/r*.tsv and src/abi/nv_structs_facts.h; a
# small C program including the headers prints each fact, so nothing of the
# headers is copied. A control command that no header names but
# tools/nvfacts/dispatch-names.tsv maps to a driver function gets a dispatch
# fact instead of a value: the methodId and paramSize of that function's entry
# in the driver's generated dispatch tables. A name the headers lack (and the
# dispatch tables, for a mapped one) is reported on stderr and left out, and
# abi_facts_test then fails on it.
set -euo pipefail

if [[ $# -ne 2 || $1 == -h || $1 == --help ]]; then
  echo "usage: $0 CHECKOUT TAG > src/abi/facts/TAG.facts" >&2
  echo "example: git -C open-gpu-kernel-modules checkout 580.142 && $0 open-gpu-kernel-modules 580.142" >&2
  exit 2
fi
checkout=$(cd "$1" && pwd)
tag=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

sdk=$checkout/src/common/sdk/nvidia/inc
includes=(-I"$sdk" -I"$sdk/ctrl" -I"$checkout/src/common/inc" -I"$checkout/kernel-open/common/inc"
          -I"$checkout/kernel-open/nvidia-uvm" -I"$checkout/src/nvidia/arch/nvalloc/unix/include")
header_dirs=("$sdk" "$sdk/alloc" "$checkout/kernel-open/common/inc" "$checkout/kernel-open/nvidia-uvm"
             "$checkout/src/nvidia/arch/nvalloc/unix/include" "$checkout/src/common/inc")

# What the tables and nv_structs_facts.h name: the rows of every full table
# (r<branch>.tsv) and the added and changed rows of every delta
# (r<branch>.delta.tsv, whose rows carry an operation and a version range first).
awk -F'\t' '!/^#/ && NF == 8 { print }
             !/^#/ && NF == 10 && ($1 == "add" || $1 == "change") {
               print $3 "\t" $4 "\t" $5 "\t" $6 "\t" $7 "\t" $8 "\t" $9 "\t" $10 }' \
  "$root"/src/abi/data/r*.tsv > "$work/rows"
tables=("$work/rows")
awk -F'\t' '!/^#/ && NF == 8 { print $2 }' "${tables[@]}" | sort -u > "$work/values"
printf '%s\n' NV_OK NV_ERR_GENERIC NV_ERR_INVALID_ARGUMENT NV_ERR_INVALID_CLASS \
  NV_ERR_INVALID_CLIENT NV_ERR_NOT_SUPPORTED NV_ERR_INVALID_OBJECT_HANDLE \
  NV_ERR_INVALID_OBJECT_PARENT NV_ERR_OBJECT_NOT_FOUND NV_ERR_INSUFFICIENT_RESOURCES \
  NV_ERR_ILLEGAL_ACTION NV_ERR_INVALID_PARAM_STRUCT NV_ERR_STATE_IN_USE NV_ERR_INVALID_OBJECT \
  NV_ERR_INSERT_DUPLICATE_NAME NV_ERR_INSUFFICIENT_PERMISSIONS >> "$work/values"
{
  awk -F'\t' '!/^#/ && NF == 8 && $6 != "-" { print $6 }' "${tables[@]}"
  grep -v '^//' "$root/src/abi/nv_structs_facts.h" | grep -o 'NV_STRUCT([A-Za-z0-9_]*, "[^"]*")' | sed 's/.*"\(.*\)")/\1/'
} | sort -u > "$work/sizes"
{
  # layout items: kind:field@off[:count@off:elem], fields of the row's struct
  awk -F'\t' '!/^#/ && NF == 8 && $8 != "-" {
    n = split($8, items, ";")
    for (i = 1; i <= n; i++) {
      m = split(items[i], parts, ":")
      for (j = 2; j <= m; j++) if (parts[j] ~ /@/) { split(parts[j], f, "@"); print $6 "." f[1] }
    }
  }' "${tables[@]}"
  grep -v '^//' "$root/src/abi/nv_structs_facts.h" | grep -o 'NV_FIELD([A-Za-z0-9_]*, "[^"]*", [A-Za-z0-9_.]*)' |
    sed 's/NV_FIELD([A-Za-z0-9_]*, "\([^"]*\)", \(.*\))/\1.\2/'
} | sort -u > "$work/offsets"

echo "nvfacts: $tag: $(wc -l < "$work/values") values, $(wc -l < "$work/sizes") struct sizes and" \
  "$(wc -l < "$work/offsets") field offsets to look up" >&2

# Keep only what the headers define, so that one missing name does not hide
# every other fact.
headers=()
for dir in "${header_dirs[@]}" "$sdk/ctrl" "$sdk"/ctrl/* "$sdk"/class; do
  [[ -d $dir ]] && headers+=("$dir"/*.h)
done
# Every name the headers define (a status code, a macro, an enumerator, a
# struct or typedef name), gathered in one pass: looking each name up in the
# headers one by one takes minutes.
echo "nvfacts: $tag: indexing ${#headers[@]} headers" >&2
cat "${headers[@]}" > "$work/all.h.txt"
{
  grep -oE 'NV_STATUS_CODE\([A-Za-z0-9_]+,' "$work/all.h.txt" | sed 's/NV_STATUS_CODE(//; s/,$//'
  grep -oE '#define[[:space:]]+[A-Za-z0-9_]+' "$work/all.h.txt" | awk '{ print $2 }'
  grep -oE '[A-Za-z0-9_]+[[:space:]]*=' "$work/all.h.txt" | sed 's/[[:space:]]*=$//'
  grep -oE '\}[[:space:]]*[A-Za-z0-9_]+[[:space:]]*;' "$work/all.h.txt" | sed 's/^}[[:space:]]*//; s/[[:space:]]*;$//'
  grep -oE 'typedef[^;]*[^A-Za-z0-9_][A-Za-z0-9_]+[[:space:]]*;' "$work/all.h.txt" |
    sed -E 's/.*[^A-Za-z0-9_]([A-Za-z0-9_]+)[[:space:]]*;$/\1/'
} | sort -u > "$work/defined"
declare -A is_defined
while read -r name; do is_defined[$name]=1; done < "$work/defined"
defined() { [[ -n ${is_defined[$1]:-} ]]; }

# Commands only the dispatch tables name: NAME -> the function they call.
declare -A dispatch_function
while IFS=$'\t' read -r name impl_function; do
  [[ -z $name || $name == \#* ]] || dispatch_function[$name]=$impl_function
done < "$root/tools/nvfacts/dispatch-names.tsv"

# The C statement printing the dispatch fact of NAME: the methodId and
# paramSize of the one entry of the generated dispatch tables whose pFunc is
# the function mapped to NAME. Empty (and the reason on stderr) when there is
# not exactly one such entry, or its paramSize is not a number or the sizeof
# of a struct the headers define.
dispatch_fact() {
  local name=$1 impl_function=${dispatch_function[$1]} entries method size
  entries=$(awk -v impl="${impl_function}_IMPL" '
      /\/\*pFunc=\*\// { found = match($0, "[^A-Za-z0-9_]" impl ","); next }
      found && /\/\*methodId=\*\// { sub(/.*\/\*methodId=\*\/[[:space:]]*/, ""); sub(/,[[:space:]]*$/, ""); method = $0 }
      found && /\/\*paramSize=\*\// {
        sub(/.*\/\*paramSize=\*\/[[:space:]]*/, ""); sub(/[[:space:]]*\/\*.*$/, ""); sub(/,[[:space:]]*$/, "")
        print method "\t" $0; found = 0
      }' "$checkout"/src/nvidia/generated/g_*_nvoc.c) || entries=
  if [[ $(grep -c . <<< "$entries") -ne 1 ]]; then
    echo "nvfacts: $tag: no single dispatch entry calls $impl_function for $name" >&2
    return
  fi
  method=${entries%%$'\t'*}
  size=${entries#*$'\t'}
  if [[ $size =~ ^sizeof\(([A-Za-z0-9_]+)\)$ ]] && defined "${BASH_REMATCH[1]}"; then
    :
  elif [[ ! $size =~ ^[0-9]+$ ]]; then
    echo "nvfacts: $tag: dispatch entry of $name has paramSize $size" >&2
    return
  fi
  echo "  printf(\"dispatch\\t$name\\t0x%llx\\t%zu\\n\", (unsigned long long)($method), (size_t)($size));"
}

{
  echo '#include <stddef.h>'
  echo '#include <stdio.h>'
  for h in nvtypes.h nvstatus.h nvos.h nv_escape.h nv-ioctl.h nv-ioctl-numbers.h \
           nv-unix-nvos-params-wrappers.h nv-ioctl-numa.h uvm_ioctl.h uvm_linux_ioctl.h; do
    echo "#include \"$h\""
  done
  for f in "$sdk"/ctrl/*.h; do echo "#include \"$(basename "$f")\""; done
  for f in "$sdk"/ctrl/*/*.h; do echo "#include \"${f#"$sdk"/ctrl/}\""; done
  for f in "$sdk"/class/*.h; do echo "#include \"class/$(basename "$f")\""; done
  for f in "$sdk"/alloc/*.h; do echo "#include \"alloc/$(basename "$f")\""; done
  echo 'int main(void) {'
  echo "  printf(\"# facts for open-gpu-kernel-modules $tag, written by tools/nvfacts\\n\");"
  while read -r name; do
    if defined "$name"; then
      echo "  printf(\"value\\t$name\\t0x%llx\\n\", (unsigned long long)($name));"
    elif [[ -n ${dispatch_function[$name]:-} ]]; then
      dispatch_fact "$name"
    else
      echo "nvfacts: $tag: no value for $name" >&2
    fi
  done < "$work/values"
  while read -r name; do
    if defined "$name"; then
      echo "  printf(\"size\\t$name\\t%zu\\n\", sizeof($name));"
    else
      echo "nvfacts: $tag: no struct $name" >&2
    fi
  done < "$work/sizes"
  while read -r key; do
    struct=${key%%.*}
    field=${key#*.}
    if defined "$struct"; then
      echo "  printf(\"offset\\t$key\\t%zu\\n\", offsetof($struct, $field));"
    fi
  done < "$work/offsets"
  echo '  return 0;'
  echo '}'
} > "$work/facts.c"

# A struct that exists but lacks a field (an older or newer layout) fails to
# compile on that field's line: report each such field, drop its line, retry.
for attempt in 1 2 3 4 5; do
  echo "nvfacts: $tag: compiling the facts program (attempt $attempt of 5)" >&2
  if gcc -std=gnu11 -w "${includes[@]}" -o "$work/facts" "$work/facts.c" 2> "$work/gcc.log"; then
    "$work/facts"
    echo "nvfacts: $tag: done" >&2
    exit 0
  fi
  grep -oE 'facts\.c:[0-9]+:[0-9]+: error' "$work/gcc.log" | cut -d: -f2 | sort -un > "$work/bad_lines"
  if [[ ! -s $work/bad_lines ]]; then cat "$work/gcc.log" >&2; exit 1; fi
  while read -r line; do
    key=$(sed -n "${line}p" "$work/facts.c" | grep -oE 'offset\\t[^\\]*' | sed 's/offset\\t//')
    if [[ -z $key ]]; then cat "$work/gcc.log" >&2; exit 1; fi
    echo "nvfacts: $tag: no field $key" >&2
  done < "$work/bad_lines"
  sed -i "$(sed 's/$/d/' "$work/bad_lines" | paste -sd';')" "$work/facts.c"
done
cat "$work/gcc.log" >&2
exit 1
