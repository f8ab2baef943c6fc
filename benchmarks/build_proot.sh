#!/bin/bash
# Build PRoot 5.4.0 with its seccomp accelerator, the PRoot that issue 6's
# targets name (Debian's proot 5.1.0 is built without it and is far slower).
#
#   benchmarks/build_proot.sh [DIR]
#
# Downloads Debian's source tarball (pinned by sha256), builds `proot` and
# installs it as DIR/proot (default: the bench cache,
# ${XDG_CACHE_HOME:-~/.cache}/sysfake-bench/proot-5.4.0, where `sysfake bench`
# looks for its `proot-sc` contender). Prints the binary's path on stdout,
# everything else on stderr. Needs curl, wget or python3, make, gcc and talloc
# (Debian: apt-get install libtalloc-dev).
set -euo pipefail

VERSION=5.4.0
URL="http://deb.debian.org/debian/pool/main/p/proot/proot_${VERSION}.orig.tar.gz"
SHA256=29248aac2a7ce10c3bd5ee5602742ec33b2532310ff9cf73b79f3c133e5a5f68

die() { echo "build_proot.sh: $*" >&2; exit 1; }

cache=${XDG_CACHE_HOME:-$HOME/.cache}/sysfake-bench
dir=${1:-$cache/proot-$VERSION}
out=$dir/proot

# An earlier build that still reports the accelerator is reused.
if [ -x "$out" ] && "$out" --version 2>/dev/null | grep -q 'seccomp_filter = yes'; then
    echo "$out"
    exit 0
fi

cc=${CC:-gcc}
command -v "$cc" >/dev/null || die "no C compiler ($cc): apt-get install gcc libc6-dev"
command -v make >/dev/null || die "make is missing: apt-get install make"
# PRoot's only library: check it up front, so that a missing package is said
# plainly rather than as a compiler error deep in PRoot's build.
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf '#include <talloc.h>\nint main(void) { return talloc_total_size(NULL) != 0; }\n' \
    > "$probe/t.c"
# shellcheck disable=SC2046
if ! "$cc" -o "$probe/t" "$probe/t.c" $(pkg-config --cflags --libs talloc 2>/dev/null || echo -ltalloc) \
        >"$probe/cc.log" 2>&1; then
    cat "$probe/cc.log" >&2
    die "talloc is missing (PRoot needs it): apt-get install libtalloc-dev"
fi

mkdir -p "$dir"
tarball=$dir/proot_${VERSION}.orig.tar.gz
if ! echo "$SHA256  $tarball" | sha256sum -c --status 2>/dev/null; then
    echo "downloading $URL" >&2
    rm -f "$tarball.part"
    if command -v curl >/dev/null; then
        curl -fsSL --retry 3 -o "$tarball.part" "$URL" || die "download failed: $URL"
    elif command -v wget >/dev/null; then
        wget -q -O "$tarball.part" "$URL" || die "download failed: $URL"
    elif command -v python3 >/dev/null; then
        python3 -c 'import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])' \
            "$URL" "$tarball.part" || die "download failed: $URL"
    else
        die "neither curl, wget nor python3 is installed"
    fi
    got=$(sha256sum "$tarball.part" | cut -d' ' -f1)
    [ "$got" = "$SHA256" ] || die "sha256 mismatch for $URL: got $got, want $SHA256"
    mv "$tarball.part" "$tarball"
fi

build=$probe/build
mkdir -p "$build"
tar -xzf "$tarball" -C "$build"
src=$build/proot-$VERSION/src
echo "building PRoot $VERSION in $src (log: $dir/build.log)" >&2
# VERSION (and GIT_*, so that git is not asked): the tarball has no git
# history to take it from. No SWIG: the Python extension is not needed.
if ! make -C "$src" -j2 proot CC="$cc" VERSION="$VERSION" GIT_VERSION= GIT_COMMIT= HAS_SWIG= \
        >"$dir/build.log" 2>&1; then
    tail -n 30 "$dir/build.log" >&2
    die "make failed (full log: $dir/build.log)"
fi
ver=$("$src/proot" --version 2>&1) || die "the new proot does not run: $ver"
case $ver in
    *"seccomp_filter = yes"*) ;;
    *) echo "$ver" >&2; die "proot was built without its seccomp accelerator";;
esac
install -m 0755 "$src/proot" "$out.new"
mv "$out.new" "$out"
echo "$ver" | grep 'accelerators' >&2
echo "$out"
