#!/usr/bin/env bash
# Prepares nvgate for one more NVIDIA driver version (docs/new-driver-version.md):
# fetches the tag's headers, writes its facts, compares them with the table the
# version would use, and lists every command that needs a decision. Exit 0 when
# there is none left, 1 while some are undecided, 2 on bad input.
#
#   tools/newdriver/newdriver.sh TAG [BUILD_DIR]
#
# TAG is a tag of NVIDIA/open-gpu-kernel-modules (NVGATE_DRIVER_MIRROR, default
# /work/.mirror/NVIDIA+open-gpu-kernel-modules/repo, a clone or bare mirror).
# BUILD_DIR (default build) holds a build of nvgate-abi-facts.
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 || $1 == -h || $1 == --help ]]; then
  echo "usage: $0 TAG [BUILD_DIR]" >&2
  exit 2
fi
tag=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${2:-$root/build}
mirror=${NVGATE_DRIVER_MIRROR:-/work/.mirror/NVIDIA+open-gpu-kernel-modules/repo}
tool=$build/src/abi/nvgate-abi-facts
branch=${tag%%.*}
data=$root/src/abi/data
facts_dir=$root/src/abi/facts
[[ -x $tool ]] || { echo "newdriver: build nvgate-abi-facts first: ninja -C $build nvgate-abi-facts" >&2; exit 2; }
git -C "$mirror" rev-parse -q --verify "refs/tags/$tag" > /dev/null ||
  { echo "newdriver: $mirror has no tag $tag" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The headers, and the generated dispatch tables that nvfacts reads for the
# commands no header names (tools/nvfacts/dispatch-names.tsv).
header_paths=(src/common/sdk/nvidia/inc src/common/inc kernel-open/common/inc kernel-open/nvidia-uvm
              src/nvidia/arch/nvalloc/unix/include ':(glob)src/nvidia/generated/g_*_nvoc.c')
headers_of() {  # TAG DIR
  mkdir -p "$2"
  git -C "$mirror" archive "$1" "${header_paths[@]}" | tar -x -C "$2"
}

# 1. Facts. nvfacts' own progress lines are shown as they come; its notes on
# names the headers lack are kept for the failure case.
echo "newdriver: unpacking the headers of $tag"
headers_of "$tag" "$work/new"
echo "newdriver: extracting facts (under a minute)"
"$root/tools/nvfacts/nvfacts.sh" "$work/new" "$tag" > "$facts_dir/$tag.facts" \
  2> >(tee "$work/nvfacts.log" | grep --line-buffered -v '^nvfacts: [^:]*: no ' >&2) ||
  { cat "$work/nvfacts.log" >&2; exit 2; }
echo "newdriver: wrote src/abi/facts/$tag.facts"

# 2. The nearest version with facts: the newest older one of the same branch,
#    else the newest of the base branch.
nearest=$(ls "$facts_dir" | sed 's/\.facts$//' | grep -v "^$tag\$" |
          awk -v b="$branch" -F. '$1 == b' | { cat; echo "$tag"; } | sort -V |
          grep -B1 -x "$tag" | head -1)
[[ $nearest == "$tag" ]] && nearest=$(ls "$facts_dir" | sed 's/\.facts$//' | awk -F. '$1 == 580' | sort -V | tail -1)
echo "newdriver: nearest supported version with facts: $nearest"

undecided=0

# 3. Parity: rows whose key, size or offsets differ, or that the headers lack.
#    They need change or remove lines (nvgate-abi-facts draft writes them).
if [[ $branch != 580 && ! -f $data/r$branch.delta.tsv ]]; then
  echo "newdriver: new branch $branch: create src/abi/data/r$branch.delta.tsv with the headers" \
       "#base 580, #branch $branch, #versions $tag (docs/abi-tables.md)"
  undecided=1
else
  if ! "$tool" check "$tag" "$facts_dir/$tag.facts" > "$work/parity"; then
    echo "newdriver: rows that differ in $tag (a change or remove line each):"
    sed 's/^/  /' "$work/parity"
    undecided=1
  fi
  table_file=$data/r$branch.delta.tsv
  [[ $branch == 580 ]] && table_file=$data/r580.tsv
  if ! grep -q "^#versions.*[[:space:]]$tag\([[:space:]]\|$\)" "$table_file"; then
    echo "newdriver: add $tag to #versions of ${table_file#"$root"/}"
    undecided=1
  fi
fi

# 4. Commands the new headers define and the nearest version's do not: each
#    needs a row (add, with gVisor's capability or deny) or an "#unlisted NAME
#    reason" line in the branch's data file.
commands_of() {  # DIR: level<TAB>name of every control, class, escape and UVM ioctl
  local d=$1
  set +o pipefail  # a header without a match is no error
  grep -rhoE '^#define[[:space:]]+NV[A-Za-z0-9_]*_CTRL_CMD_[A-Za-z0-9_]+[[:space:]]+\(0x[0-9a-fA-F]+\)' \
    "$d/src/common/sdk/nvidia/inc/ctrl" | awk '{ print "control\t" $2 }'
  for f in "$d"/src/common/sdk/nvidia/inc/class/cl*.h; do
    local id; id=$(basename "$f" .h); id=${id#cl}
    [[ $id =~ ^[0-9a-fA-F]+$ ]] || continue
    grep -hoiE "^#define[[:space:]]+[A-Za-z0-9_]+[[:space:]]+\(0x0*${id}U?\)" "$f" | awk '{ print "alloc\t" $2 }'
  done
  grep -hoE '^#define[[:space:]]+NV_ESC_[A-Za-z0-9_]+' "$d/src/nvidia/arch/nvalloc/unix/include/nv_escape.h" \
    "$d/kernel-open/common/inc/nv-ioctl-numbers.h" | awk '{ print "frontend\t" $2 }'
  grep -hoE '^#define[[:space:]]+UVM_[A-Z0-9_]+[[:space:]]+(UVM_IOCTL_BASE\(|0x3)' \
    "$d/kernel-open/nvidia-uvm/uvm_ioctl.h" "$d/kernel-open/nvidia-uvm/uvm_linux_ioctl.h" | awk '{ print "uvm\t" $2 }'
  set -o pipefail
}
headers_of "$nearest" "$work/old"
commands_of "$work/old" | sort -u > "$work/old.commands"
commands_of "$work/new" | sort -u > "$work/new.commands"
# RM refuses INTERNAL controls to user space: no decision to make.
comm -13 "$work/old.commands" "$work/new.commands" | grep -v '_CTRL_CMD_INTERNAL_' > "$work/added" || true
decided_in=("$data/r580.tsv")
[[ -f $data/r$branch.delta.tsv ]] && decided_in+=("$data/r$branch.delta.tsv")
while IFS=$'\t' read -r level name; do
  if ! grep -qE "(^|[[:space:]])$name([[:space:]]|\$)" "${decided_in[@]}"; then
    [[ -s $work/undecided ]] || echo "newdriver: commands new since $nearest without a decision (add a row or '#unlisted NAME reason'):"
    echo "  $level $name" | tee -a "$work/undecided"
  fi
done < "$work/added"
[[ -s $work/undecided ]] && undecided=1

if (( undecided )); then
  echo "newdriver: $tag is not ready; see docs/new-driver-version.md"
  exit 1
fi
echo "newdriver: $tag is ready: rebuild and run ctest -R 'abi|Facts'"
