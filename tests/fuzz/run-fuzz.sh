#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Fuzz proto/ with libFuzzer for a bounded time:
#
#   tests/fuzz/run-fuzz.sh [SECONDS]        (default 60)
#
# Builds proto/proto.c, proto/conn.c and tests/fuzz/fuzz-proto.c with clang's libFuzzer,
# ASan and UBSan into a temporary directory and runs them on a copy of tests/fuzz/corpus/,
# so the checked-in corpus is never modified. Exits 0 when the time ran out without a
# finding; otherwise non-zero, and the temporary directory (binary, grown corpus, crash-*
# or leak-* reproducer) is kept and its path printed. Reproduce with
#   DIR/fuzz-proto DIR/crash-...
#
# Needs clang and its libFuzzer runtime (Debian: clang, libclang-rt-14-dev or the
# libclang-common-14-dev that ships it). Extra libFuzzer options can be given in
# FUZZ_ARGS, e.g. FUZZ_ARGS='-jobs=2 -workers=2'.
set -eu

secs=${1:-60}
case $secs in
'' | *[!0-9]*)
	echo "usage: $0 [SECONDS]" >&2
	exit 2
	;;
esac

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cc=${CLANG:-clang}

if ! command -v "$cc" >/dev/null 2>&1; then
	echo "run-fuzz.sh: $cc not found (Debian: apt-get install clang)" >&2
	exit 2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vmatrace-fuzz.XXXXXX")

# -fno-sanitize-recover: a UBSan report must stop the run like an ASan one, or it would
# scroll by in the log and the script would still exit 0.
if ! "$cc" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter -I"$root/proto" \
	"$root/proto/proto.c" "$root/proto/conn.c" "$here/fuzz-proto.c" \
	-o "$tmp/fuzz-proto"; then
	echo "run-fuzz.sh: build failed; if libFuzzer is missing:" \
		"apt-get install -y libclang-rt-14-dev" >&2
	rm -rf "$tmp"
	exit 2
fi

cp -R "$here/corpus" "$tmp/corpus"
n_seeds=$(find "$tmp/corpus" -type f | wc -l)
echo "run-fuzz.sh: fuzzing for ${secs}s from $n_seeds seeds in $tmp" >&2

# -max_len: room for the longest strings (4096) and vectors of many short entries, small
# enough to keep the executions fast. A frame can be 256 KiB, but the limits are all
# checked well below that size.
rc=0
# shellcheck disable=SC2086 # FUZZ_ARGS is a list of options
"$tmp/fuzz-proto" -max_total_time="$secs" -max_len=16384 -timeout=10 -rss_limit_mb=2048 \
	-print_final_stats=1 -artifact_prefix="$tmp/" ${FUZZ_ARGS:-} "$tmp/corpus" || rc=$?

if [ "$rc" -ne 0 ]; then
	echo "run-fuzz.sh: FAILED (exit $rc); reproducer and binary kept in $tmp:" >&2
	ls "$tmp" >&2
	exit 1
fi
echo "run-fuzz.sh: no finding in ${secs}s; corpus grew to $(find "$tmp/corpus" -type f | wc -l) inputs" >&2
rm -rf "$tmp"
