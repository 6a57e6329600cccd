#!/usr/bin/env bash
# Installs the current build into a temporary DESTDIR, then compiles, links and runs a small
# consumer program (tests/consumer/app.cpp) against that installed copy only: headers and
# flags from the installed xgrad.pc, the library from the installed lib dir. Catches headers that
# are used but not installed, a broken pkg-config file and a library that does not link.
#
# usage: install_consumer.sh MESON BUILD_ROOT SOURCE_ROOT PREFIX LIBDIR INCLUDEDIR [SANITIZE]
#   (meson test passes these; SANITIZE is the b_sanitize option, 'none' when off)
#   CXX: the compiler command (default c++).
set -u

fail() {
  echo "install_consumer: FAIL: $*" >&2
  exit 1
}

[ $# -ge 6 ] || fail "usage: $0 MESON BUILD_ROOT SOURCE_ROOT PREFIX LIBDIR INCLUDEDIR [SANITIZE]"
MESON=$1 BUILD_ROOT=$2 SOURCE_ROOT=$3 PREFIX=$4 LIBDIR=$5 INCLUDEDIR=$6 SANITIZE=${7:-none}
CXX=${CXX:-c++}

command -v pkg-config >/dev/null || fail "pkg-config not found"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/xgrad-install-consumer.XXXXXX") || fail "mktemp failed"
trap 'rm -rf "$TMP"' EXIT

DEST="$TMP/destdir"
# Paths of the installed copy: meson's libdir and includedir are relative to the prefix unless
# given as absolute paths.
case "$LIBDIR" in /*) LIB="$DEST$LIBDIR" ;; *) LIB="$DEST$PREFIX/$LIBDIR" ;; esac
case "$INCLUDEDIR" in /*) INC="$DEST$INCLUDEDIR" ;; *) INC="$DEST$PREFIX/$INCLUDEDIR" ;; esac

echo "install_consumer: installing $BUILD_ROOT into $DEST"
if ! "$MESON" install -C "$BUILD_ROOT" --destdir "$DEST" --no-rebuild --quiet >"$TMP/install.log" 2>&1; then
  cat "$TMP/install.log" >&2
  fail "meson install into a DESTDIR failed (log above)"
fi

PC="$LIB/pkgconfig/xgrad.pc"
[ -f "$PC" ] || fail "xgrad.pc not installed at $PC; installed files: $(cd "$DEST" && find . -type f | tr '\n' ' ')"
[ -f "$INC/xgrad/xgrad.hpp" ] || fail "xgrad/xgrad.hpp not installed under $INC"
for internal in kernels/loops.hpp ops/samples.hpp; do
  [ ! -e "$INC/xgrad/autograd/$internal" ] || fail "internal header autograd/$internal was installed"
done

# pkg-config reads the DESTDIR copy; prefix is redefined so that every path in it points there.
export PKG_CONFIG_PATH="$LIB/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
if ! FLAGS=$(pkg-config --define-variable=prefix="$DEST$PREFIX" --cflags --libs xgrad 2>"$TMP/pc.log"); then
  cat "$TMP/pc.log" >&2
  fail "pkg-config --cflags --libs xgrad failed with $PC"
fi
echo "install_consumer: pkg-config flags: $FLAGS"
case "$FLAGS" in
  *"$SOURCE_ROOT"*) fail "pkg-config flags point into the source tree: $FLAGS" ;;
esac

# A sanitized libxgrad needs a sanitized program (the runtime must be loaded first).
SANFLAGS=()
if [ "$SANITIZE" != none ] && [ -n "$SANITIZE" ]; then
  SANFLAGS=(-fsanitize="$SANITIZE" -fno-omit-frame-pointer)
fi

# The consumer is compiled from a copy outside the source tree, so that nothing but the
# installed headers can satisfy its includes.
cp "$SOURCE_ROOT/tests/consumer/app.cpp" "$TMP/consumer.cpp" || fail "cannot copy app.cpp"
# shellcheck disable=SC2086  # FLAGS and CXX are word lists
if ! $CXX -std=c++20 "${SANFLAGS[@]}" -o "$TMP/consumer" "$TMP/consumer.cpp" $FLAGS >"$TMP/build.log" 2>&1; then
  cat "$TMP/build.log" >&2
  fail "the consumer program did not compile or link against the installed xgrad (log above)"
fi

# The installed library, not the one in the build tree, must be the one loaded.
LOADED=$(LD_LIBRARY_PATH="$LIB" ldd "$TMP/consumer" 2>/dev/null | awk '/libxgrad/ {print $3}')
case "$LOADED" in
  "$LIB"/*) ;;
  *) fail "consumer resolves libxgrad to '$LOADED', not to the installed copy in $LIB" ;;
esac

OUT=$(LD_LIBRARY_PATH="$LIB" "$TMP/consumer" 2>&1)
RC=$?
echo "$OUT"
[ $RC -eq 0 ] || fail "the consumer program exited with status $RC"
case "$OUT" in
  *"consumer: OK grad = "*) ;;
  *) fail "the consumer program did not print its OK line" ;;
esac
echo "install_consumer: PASS"
