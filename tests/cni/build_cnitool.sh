#!/bin/sh
# Build the libcni-based test client (tests/cni/cnitool) offline, in GOPATH
# mode, against Debian's golang-github-appc-cni-dev sources.
#
#   tests/cni/build_cnitool.sh OUTDIR      -> OUTDIR/cnitool
#
# Needs: apt-get install -y golang-go golang-github-appc-cni-dev
set -eu
if [ $# -ne 1 ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)
gopath=${SYSFAKE_GOPATH:-/usr/share/gocode}
if ! command -v go >/dev/null 2>&1; then
    echo "build_cnitool: 'go' not found (apt-get install -y golang-go)" >&2
    exit 1
fi
if [ ! -d "$gopath/src/github.com/containernetworking/cni/libcni" ]; then
    echo "build_cnitool: libcni not found under $gopath (apt-get install -y golang-github-appc-cni-dev)" >&2
    exit 1
fi
# GOPATH mode: no module download, no network.
GOPATH=$gopath GO111MODULE=off GOFLAGS= GOPROXY=off \
    GOCACHE=${GOCACHE:-$out/.gocache} CGO_ENABLED=0 \
    go build -o "$out/cnitool" "$here/cnitool/main.go"
echo "$out/cnitool"
