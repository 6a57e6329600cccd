#!/usr/bin/env bash
# Installs the current build as a user would, with README.md's "Install" commands run verbatim,
# and builds programs against that installed copy only.
#
# README's blocks marked `<!-- install-test: NAME -->` are read from README.md and run as they are:
#   install     with HOME set to a temporary directory and `meson` a stand-in: `meson setup` only
#               records the prefix it is given, `meson install -C DIR` installs this build with
#               --destdir and moves the copy to that prefix (so the install is also relocated);
#   pkgconfig   in a directory holding tests/consumer/app.cpp; `c++` is $CXX (plus the sanitizer
#               flags of a b_sanitize build);
#   cmakelists  must be tests/consumer/CMakeLists.txt, byte for byte;
#   cmake       in a directory holding app.cpp and that CMakeLists.txt; once as it is
#               (xgrad::xgrad) and once with xgrad::xgrad_static.
# A program linked with `pkg-config --static` and libxgrad.a is built too. Each program runs
# without LD_LIBRARY_PATH and must print app.cpp's OK line; ldd must resolve libxgrad.so to
# the installed copy (or not at all for the static ones); no compile or link flag may point into
# the source or build tree; `pkg-config --define-prefix` must give the same directories. Internal
# headers must not be installed, every header of the source tree must be either installed or on
# the internal list below, and every installed header must compile on its own.
#
# usage: install_consumer.sh MESON BUILD_ROOT SOURCE_ROOT PREFIX LIBDIR INCLUDEDIR [SANITIZE]
#   (meson test passes these; SANITIZE is the b_sanitize option, 'none' when off)
#   CXX: the compiler command (default c++). XG_KEEP_TMP=1 keeps the temporary directory.
set -u

# Headers of the source tree that are not part of the installed API (relative to the tree).
INTERNAL_HEADERS="autograd/kernels/gemm.hpp autograd/ops/window.hpp autograd/ops/elementwise_kernels.hpp autograd/kernels/loops.hpp autograd/kernels/parallel.hpp autograd/kernels/simd_math.hpp
autograd/ops/explain.hpp autograd/ops/samples.hpp autograd/tools/inspect_internal.hpp nn/repr.hpp optim/kernels.hpp"

fail() {
  echo "install_consumer: FAIL: $*" >&2
  exit 1
}
say() { echo "install_consumer: $*"; }

[ $# -ge 6 ] || fail "usage: $0 MESON BUILD_ROOT SOURCE_ROOT PREFIX LIBDIR INCLUDEDIR [SANITIZE]"
MESON=$1 BUILD_ROOT=$2 SOURCE_ROOT=$3 BUILD_PREFIX=$4 LIBDIR=$5 INCLUDEDIR=$6 SANITIZE=${7:-none}
CXX=${CXX:-c++}
README="$SOURCE_ROOT/README.md"

for tool in pkg-config cmake ldd readelf; do
  command -v "$tool" >/dev/null || fail "$tool not found (scripts/setup.sh installs what is needed)"
done

# libdir and includedir relative to the prefix (meson keeps them relative when inside it).
rel() {
  case "$1" in
    "$BUILD_PREFIX"/*) echo "${1#"$BUILD_PREFIX"/}" ;;
    /*) fail "$2 $1 is outside the prefix $BUILD_PREFIX: such an install cannot be relocated" ;;
    *) echo "$1" ;;
  esac
}
LIBREL=$(rel "$LIBDIR" libdir) || exit 1
INCREL=$(rel "$INCLUDEDIR" includedir) || exit 1

TMP=$(mktemp -d "${TMPDIR:-/tmp}/xgrad-install-consumer.XXXXXX") || fail "mktemp failed"
[ -n "${XG_KEEP_TMP:-}" ] || trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/home" "$TMP/pc" "$TMP/cmake" "$TMP/cmake-static" "$TMP/pc-static" || fail "mkdir failed"

# The text of README's block marked NAME (the fenced block after the marker line).
block() {
  awk -v tag="<!-- install-test: $1 -->" '
    $0 == tag { n++; state = 1; next }
    state == 1 && /^```/ { state = 2; next }
    state == 2 && /^```/ { state = 0; next }
    state == 2 { print }
    END { if (n != 1) exit 1 }' "$README"
}
for name in install pkgconfig cmakelists cmake; do
  text=$(block "$name") && [ -n "$text" ] ||
    fail "README.md must have exactly one fenced block after '<!-- install-test: $name -->'"
done

# A sanitized libxgrad needs a sanitized program (the runtime must be loaded first).
SANFLAGS=()
if [ "$SANITIZE" != none ] && [ -n "$SANITIZE" ]; then
  SANFLAGS=(-fsanitize="$SANITIZE" -fno-omit-frame-pointer)
fi

# What every block runs after: stand-ins for `meson` and `c++`, and the test's paths.
{
  echo 'set -e'
  printf 'export HOME=%q\n' "$TMP/home"
  printf 'XG_MESON=%q XG_BUILD_ROOT=%q XG_DEST=%q XG_BUILD_PREFIX=%q XG_LIBREL=%q XG_TMP=%q\n' \
    "$MESON" "$BUILD_ROOT" "$TMP/destdir" "$BUILD_PREFIX" "$LIBREL" "$TMP"
  printf 'XG_CXX=(%s)\n' "$CXX"
  printf 'XG_SANFLAGS=(%s)\n' "${SANFLAGS[*]}"
  cat <<'EOF'
meson() {
  local cmd=$1
  shift
  case "$cmd" in
    setup)
      XG_SETUP_DIR=$1
      shift
      while [ $# -gt 0 ]; do
        case "$1" in
          --prefix) XG_SETUP_PREFIX=$2; shift ;;
          --prefix=*) XG_SETUP_PREFIX=${1#--prefix=} ;;
          --libdir) XG_SETUP_LIBDIR=$2; shift ;;
          --libdir=*) XG_SETUP_LIBDIR=${1#--libdir=} ;;
        esac
        shift
      done
      [ -n "${XG_SETUP_PREFIX:-}" ] || { echo "README's meson setup gives no --prefix" >&2; return 1; }
      if [ -n "${XG_SETUP_LIBDIR:-}" ] && [ "$XG_SETUP_LIBDIR" != "$XG_LIBREL" ]; then
        echo "README installs with --libdir $XG_SETUP_LIBDIR, this build has libdir $XG_LIBREL" >&2
        return 1
      fi ;;
    install)
      [ "$1" = -C ] && [ "$2" = "${XG_SETUP_DIR:-}" ] && [ $# -eq 2 ] ||
        { echo "README's 'meson install $*' is not 'meson install -C <its setup directory>'" >&2; return 1; }
      "$XG_MESON" install -C "$XG_BUILD_ROOT" --destdir "$XG_DEST" --no-rebuild --quiet >"$XG_TMP/install.log" 2>&1 ||
        { cat "$XG_TMP/install.log" >&2; echo "meson install --destdir failed (log above)" >&2; return 1; }
      mkdir -p "$(dirname "$XG_SETUP_PREFIX")"
      mv "$XG_DEST$XG_BUILD_PREFIX" "$XG_SETUP_PREFIX"
      printf '%s\n' "$XG_SETUP_PREFIX" >"$XG_TMP/prefix" ;;
    *) echo "README runs 'meson $cmd', which this test does not stand in for" >&2; return 1 ;;
  esac
}
c++() {
  printf '%s\n' "$*" >>"$XG_TMP/c++.log"
  command "${XG_CXX[@]}" "${XG_SANFLAGS[@]}" "$@"
}
EOF
} >"$TMP/prelude.sh"

# Runs README's block NAME in directory DIR (output to DIR/NAME.log, echoed on failure), after the
# prelude and any extra lines given on stdin.
run_block() {
  local name=$1 dir=$2
  { cat "$TMP/prelude.sh" -; block "$name"; } >"$dir/$name.sh" || fail "cannot write $dir/$name.sh"
  if ! (cd "$dir" && bash "$dir/$name.sh") >"$dir/$name.log" 2>&1; then
    cat "$dir/$name.log" >&2
    fail "README's '$name' commands failed in $dir (output above)"
  fi
}

# --- README's install block ------------------------------------------------------------------
echo 'declare -p PKG_CONFIG_PATH >"$XG_TMP/env" 2>/dev/null || : >"$XG_TMP/env"' >"$TMP/epilogue"
{ cat "$TMP/prelude.sh"; block install; cat "$TMP/epilogue"; } >"$TMP/install.sh"
(cd "$TMP/home" && env -u PKG_CONFIG_PATH bash "$TMP/install.sh") >"$TMP/install-block.log" 2>&1 ||
  { cat "$TMP/install-block.log" >&2; fail "README's install commands failed (output above)"; }
[ -s "$TMP/prefix" ] || fail "README's install commands never ran 'meson install'"
PREFIX=$(cat "$TMP/prefix")
LIB="$PREFIX/$LIBREL" INC="$PREFIX/$INCREL"
say "installed $BUILD_ROOT with --destdir and moved it to README's prefix $PREFIX"
left=$(cd "$TMP/destdir" && find . -type f)
[ -z "$left" ] || fail "meson install put files outside the prefix $BUILD_PREFIX: $left"

# shellcheck disable=SC1091
. "$TMP/env"
PC="$LIB/pkgconfig/xgrad.pc"
[ -f "$PC" ] || fail "xgrad.pc not installed at $PC; installed: $(cd "$PREFIX" && find . -type f | head -n 20 | tr '\n' ' ')"
# Build directories set up before the project's default_options had pkgconfig.relocatable=true and
# libdir=lib keep their old values (meson applies default_options at the first setup only).
reconf="meson configure $BUILD_ROOT -Dpkgconfig.relocatable=true -Dlibdir=lib"
grep -qx 'prefix=${pcfiledir}/.*' "$PC" ||
  fail "the installed xgrad.pc is not relocatable ($(grep -m1 '^prefix=' "$PC")): this build directory predates pkgconfig.relocatable=true in meson.build's default_options; run: $reconf"
case "$LIBREL" in
  */*) fail "libdir $LIBREL has more than one component: pkg-config --define-prefix takes the parent of <libdir>/pkgconfig's parent as the prefix, which is then wrong; run: $reconf" ;;
esac
if [ "${PKG_CONFIG_PATH:-}" != "$LIB/pkgconfig" ]; then
  # A build configured with another libdir, e.g. lib64.
  say "NOTE: README sets PKG_CONFIG_PATH=${PKG_CONFIG_PATH:-} but this build installs xgrad.pc into $LIB/pkgconfig; the rest uses the latter"
fi
export PKG_CONFIG_PATH="$LIB/pkgconfig"
printf 'export PKG_CONFIG_PATH=%q PREFIX=%q\n' "$PKG_CONFIG_PATH" "$PREFIX" >>"$TMP/prelude.sh"
for f in "$LIB/cmake/xgrad/xgradConfig.cmake" "$LIB/cmake/xgrad/xgradConfigVersion.cmake" "$INC/xgrad/xgrad.hpp" \
         "$LIB/libxgrad.so" "$LIB/libxgrad.a"; do
  [ -f "$f" ] || fail "${f#"$PREFIX"/} is not installed"
done
for f in "$PC" "$LIB/cmake/xgrad/"*.cmake; do
  for tree in "$SOURCE_ROOT" "$BUILD_ROOT" "$TMP/destdir"; do
    ! grep -qF "$tree" "$f" || fail "${f#"$PREFIX"/} names $tree"
  done
done

# --- headers ---------------------------------------------------------------------------------
for h in $INTERNAL_HEADERS; do
  [ ! -e "$INC/xgrad/$h" ] || fail "internal header $h was installed"
done
missing="" internal=" $(tr '\n' ' ' <<<"$INTERNAL_HEADERS") "
for h in $(cd "$SOURCE_ROOT" && find autograd nn optim data -name '*.hpp' | sort); do
  case "$internal" in *" $h "*) continue ;; esac
  # autograd/xgrad.hpp is <xgrad/xgrad.hpp>; a layer's umbrella header LAYER/LAYER.hpp is
  # <xgrad/LAYER.hpp>; any other header H is <xgrad/H>.
  layer=${h%%/*}
  case "$h" in
    autograd/xgrad.hpp) inst=xgrad.hpp ;;
    "$layer/$layer.hpp") inst=$layer.hpp ;;
    *) inst=$h ;;
  esac
  [ -e "$INC/xgrad/$inst" ] || missing="$missing $h"
done
[ -z "$missing" ] || fail "headers neither installed nor on install_consumer.sh's internal list:$missing (install_headers in their meson.build, or INTERNAL_HEADERS)"
CFLAGS_PC=$(pkg-config --cflags xgrad) || fail "pkg-config --cflags xgrad failed"
(cd "$INC" && find xgrad -name '*.hpp' | sort) >"$TMP/headers"
nheaders=$(wc -l <"$TMP/headers")
# Each installed header alone in a translation unit, two at a time; a failing one leaves its
# name in bad-headers and its errors in hdr-NAME.log.
{
  echo 'h=$2 log=$1/hdr-${2//\//_}.log'
  printf 'printf "#include <%%s>\\n" "$h" | %s %s -fsyntax-only -x c++ - >"$log" 2>&1 && exit 0\n' "$CXX" "$CFLAGS_PC"
  echo 'echo "$h"; exit 255'
} >"$TMP/header.sh"
if ! xargs -P 2 -n 1 bash "$TMP/header.sh" <"$TMP/headers" "$TMP" >"$TMP/bad-headers" 2>/dev/null; then
  bad=$(head -n 1 "$TMP/bad-headers")
  head -n 30 "$TMP/hdr-${bad//\//_}.log" >&2
  fail "installed header <$bad> does not compile on its own with the installed headers (above)"
fi
say "$nheaders installed headers, each compiles on its own; no internal header installed"

# --- pkg-config ------------------------------------------------------------------------------
FLAGS=$(pkg-config --cflags --libs xgrad) || fail "pkg-config --cflags --libs xgrad failed"
say "pkg-config flags: $FLAGS"
DFLAGS=$(pkg-config --define-prefix --cflags --libs xgrad) || fail "pkg-config --define-prefix failed"
say "pkg-config --define-prefix flags: $DFLAGS"
# No -I/-L/-rpath directory of either form may point into the source, build or DESTDIR tree; the
# installed include and lib directories must be there, and an rpath to the lib directory.
for flags in "$FLAGS" "$DFLAGS"; do
  seen=""
  for f in $flags; do
    case "$f" in -I*) d=${f#-I} ;; -L*) d=${f#-L} ;; -Wl,-rpath,*) d=${f#-Wl,-rpath,} ;; *) continue ;; esac
    d=$(realpath -m "$d")
    for tree in "$SOURCE_ROOT" "$BUILD_ROOT" "$TMP/destdir"; do
      case "$d/" in "$(realpath -m "$tree")"/*) fail "pkg-config flag $f points into $tree" ;; esac
    done
    kind=${f%%/*}
    case "$kind$d" in "-I$(realpath "$INC")" | "-L$(realpath "$LIB")" | "-Wl,-rpath,$(realpath "$LIB")") seen="$seen $kind" ;; esac
  done
  for want in -I -L "-Wl,-rpath,"; do
    case "$seen " in *" $want "*) ;; *) fail "pkg-config gives no $want flag for the installed $INC or $LIB: $flags" ;; esac
  done
done

cp "$SOURCE_ROOT/tests/consumer/app.cpp" "$TMP/pc/app.cpp" || fail "cannot copy tests/consumer/app.cpp"
run_block pkgconfig "$TMP/pc" </dev/null

# The program's output, the libxgrad it loads, and its RUNPATH. $1: the program, $2: how it was
# linked (shared or static).
check_program() {
  local prog=$1 how=$2 out rc loaded rp
  [ -x "$prog" ] || fail "README's commands built no program $prog"
  loaded=$(env -u LD_LIBRARY_PATH ldd "$prog" 2>/dev/null | awk '/libxgrad/ {print $3}')
  if [ "$how" = static ]; then
    [ -z "$loaded" ] || fail "$prog is linked statically but loads $loaded"
  else
    [ -n "$loaded" ] && [ "$(realpath "$loaded")" = "$(realpath "$LIB/libxgrad.so")" ] ||
      fail "$prog resolves libxgrad.so to '$loaded', not to the installed $LIB/libxgrad.so"
  fi
  rp=$(readelf -d "$prog" | awk '/RPATH|RUNPATH/ {print $NF}')
  for tree in "$SOURCE_ROOT" "$BUILD_ROOT"; do
    case "$rp" in *"$tree"*) fail "$prog has RUNPATH $rp, into $tree" ;; esac
  done
  out=$(env -u LD_LIBRARY_PATH "$prog" 2>&1)
  rc=$?
  say "${prog#"$TMP"/} ($how${loaded:+, $(realpath "$loaded")}): $out"
  [ $rc -eq 0 ] || fail "$prog exited with status $rc"
  case "$out" in *"consumer: OK grad = "*) ;; *) fail "$prog did not print its OK line" ;; esac
}
check_program "$TMP/pc/app" shared
# The compile and link lines that README's `c++` ran.
for tree in "$SOURCE_ROOT" "$BUILD_ROOT"; do
  ! grep -qF "$tree" "$TMP/c++.log" || fail "the compile command points into $tree: $(cat "$TMP/c++.log")"
done

# libxgrad.a with `pkg-config --static`: Requires.private and Libs.private must be complete.
SFLAGS=$(pkg-config --static --libs xgrad) || fail "pkg-config --static --libs xgrad failed"
# shellcheck disable=SC2086  # word lists
(cd "$TMP/pc-static" && command $CXX "${SANFLAGS[@]}" -std=c++20 "$TMP/pc/app.cpp" -o app $CFLAGS_PC \
   ${SFLAGS/-lxgrad/-l:libxgrad.a}) >"$TMP/pc-static/build.log" 2>&1 ||
  { cat "$TMP/pc-static/build.log" >&2; fail "linking libxgrad.a with pkg-config --static --libs xgrad ($SFLAGS) failed"; }
check_program "$TMP/pc-static/app" static

# --- CMake -----------------------------------------------------------------------------------
block cmakelists >"$TMP/CMakeLists.txt"
cmp -s "$TMP/CMakeLists.txt" "$SOURCE_ROOT/tests/consumer/CMakeLists.txt" ||
  fail "README's CMakeLists.txt block differs from tests/consumer/CMakeLists.txt"
# CMake reads the compiler and flags from the environment on its first run.
cmake_env() {
  printf 'export CXX=%q CMAKE_EXPORT_COMPILE_COMMANDS=ON CMAKE_BUILD_PARALLEL_LEVEL=2\n' "$CXX"
  printf 'export CXXFLAGS=%q LDFLAGS=%q\n' "${SANFLAGS[*]}" "${SANFLAGS[*]}"
}
for variant in cmake cmake-static; do
  cp "$TMP/pc/app.cpp" "$TMP/$variant/app.cpp"
  if [ $variant = cmake ]; then
    cp "$TMP/CMakeLists.txt" "$TMP/$variant/CMakeLists.txt"
  else
    sed 's/xgrad::xgrad)/xgrad::xgrad_static)/' "$TMP/CMakeLists.txt" >"$TMP/$variant/CMakeLists.txt"
    grep -q xgrad::xgrad_static "$TMP/$variant/CMakeLists.txt" || fail "no xgrad::xgrad to replace in CMakeLists.txt"
  fi
  run_block cmake "$TMP/$variant" < <(cmake_env)
  for f in "$TMP/$variant/build/compile_commands.json" "$TMP/$variant/build/CMakeFiles/app.dir/link.txt"; do
    [ -f "$f" ] || fail "CMake wrote no $f"
    for tree in "$SOURCE_ROOT" "$BUILD_ROOT"; do
      ! grep -qF "$tree" "$f" || fail "${f#"$TMP"/} points into $tree"
    done
  done
  if [ $variant = cmake ]; then check_program "$TMP/$variant/build/app" shared
  else check_program "$TMP/$variant/build/app" static; fi
done
grep -q 'xgrad_DIR:PATH=.*/cmake/xgrad' "$TMP/cmake/build/CMakeCache.txt" &&
  [ "$(realpath "$(sed -n 's/^xgrad_DIR:PATH=//p' "$TMP/cmake/build/CMakeCache.txt")")" = "$(realpath "$LIB/cmake/xgrad")" ] ||
  fail "CMake did not find the installed package in $LIB/cmake/xgrad"

say "PASS"
