#!/usr/bin/env bash
# Fails when a C++ file of the tree is not as clang-format (with the repository's .clang-format)
# would write it, and names the files. Fix with:
#   git ls-files '*.cpp' '*.hpp' | xargs clang-format -i
# usage: check_format.sh SOURCE_ROOT
set -u
ROOT=${1:?usage: check_format.sh SOURCE_ROOT}
cd "$ROOT" || exit 1
CF=$(command -v clang-format-14 || command -v clang-format) || { echo "check_format: clang-format not found (scripts/setup.sh installs it)"; exit 1; }
[ -f .clang-format ] || { echo "check_format: no .clang-format in $ROOT"; exit 1; }
# Every C++ file of the layers, tests, examples and benchmarks (not build directories).
mapfile -t files < <(find autograd nn optim data tests examples bench -type f \( -name '*.cpp' -o -name '*.hpp' \) | sort)
[ ${#files[@]} -gt 100 ] || { echo "check_format: found only ${#files[@]} C++ files under $ROOT"; exit 1; }
bad=()
for f in "${files[@]}"; do
  "$CF" --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [ ${#bad[@]} -gt 0 ]; then
  echo "check_format: ${#bad[@]} of ${#files[@]} files are not clang-formatted:"
  printf '  %s\n' "${bad[@]}"
  echo "fix: clang-format -i ${bad[*]}"
  exit 1
fi
echo "check_format: ${#files[@]} files formatted as .clang-format says"
