#!/bin/bash
# Build csrc/fuzz/fuzz_table.c with libFuzzer, ASan and UBSan, seed it with
# tables from sysfake.table.encode, and fuzz for SECONDS (default 20).
#   csrc/fuzz/run.sh [SECONDS] [extra libFuzzer flags...]
# Environment: FUZZ_DIR (build dir, default a fresh temp dir), CC (default clang).
set -euo pipefail
secs=${1:-20}
shift || true
here=$(cd "$(dirname "$0")" && pwd)
csrc=$(dirname "$here")
dir=${FUZZ_DIR:-$(mktemp -d -t sysfake-fuzz.XXXXXX)}
mkdir -p "$dir/corpus" "$dir/artifacts"
cc=${CC:-clang}
# table.c and match.c are the minimal set: they use nothing else from the core.
"$cc" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$csrc" -o "$dir/fuzz_table" \
    "$here/fuzz_table.c" "$csrc/table.c" "$csrc/match.c"
# Seeds: valid tables from the Python encoder (skipped when sysfake is not importable).
python3 - "$dir/corpus" <<'PY' || echo "run.sh: no Python seeds (sysfake not importable)" >&2
import sys
from pathlib import Path
from sysfake.model import Action, MatchKind, Origin, PathRule, RuleSet, VirtualFile
from sysfake.table import encode
o = Origin("seed")
rules = [
    PathRule("/proc/sys/kernel/cap_last_cap", MatchKind.EXACT, Action.CONTENT, o,
             vfile=VirtualFile(b"40\n")),
    PathRule("/proc/sys/net/", MatchKind.PREFIX, Action.REDIRECT, o, target="/var/lib/x/"),
    PathRule("/sys/fs/cgroup/**/cgroup.procs", MatchKind.GLOB, Action.HIDE, o),
    PathRule("/a/*/b?", MatchKind.GLOB, Action.ERRNO, o, errno=13, only_exe="*/runc"),
    PathRule("/", MatchKind.PREFIX, Action.HIDE, o, only_comm="r*"),
]
out = Path(sys.argv[1])
for i in range(len(rules) + 1):
    blob = encode(RuleSet(rules[:i]))
    (out / f"seed{i}").write_bytes(bytes([i]) + blob)
    (out / f"seedp{i}").write_bytes(b"\x80/proc/sys/net/a\x00" + blob)
PY
cd "$dir"
exec ./fuzz_table -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$dir/artifacts/" -print_final_stats=1 "$@" "$dir/corpus"
