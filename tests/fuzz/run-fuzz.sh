#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Fuzz with libFuzzer for a bounded time:
#
#   tests/fuzz/run-fuzz.sh [SECONDS] [TARGET]     (default 60 s, target proto)
#
# TARGET proto: proto/ (fuzz-proto.c) on a copy of tests/fuzz/corpus/.
# TARGET db: the store's readers (fuzz-db.c: lib/ and the client's VMA printer) on trace
# DBs; the seed corpus is generated first, through the store's writer, by the same file
# built as a generator (no binary DB is checked in).
#
# Builds the target with clang's libFuzzer, ASan and UBSan into a temporary directory and
# runs it there, so that the checked-in corpus is never modified. Exits 0 when the time
# ran out without a finding; otherwise non-zero, and the temporary directory (binary,
# grown corpus, crash-* or leak-* reproducer) is kept and its path printed. Reproduce with
#   DIR/fuzz-TARGET DIR/crash-...
#
# Needs clang and its libFuzzer runtime (Debian: clang, libclang-rt-14-dev or the
# libclang-common-14-dev that ships it); the db target also python3 and SQLite's headers.
# Extra libFuzzer options can be given in FUZZ_ARGS, e.g. FUZZ_ARGS='-jobs=2 -workers=2'.
set -eu

secs=${1:-60}
target=${2:-proto}
case $secs in
'' | *[!0-9]*)
	echo "usage: $0 [SECONDS] [proto|db]" >&2
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
flags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
	-D_GNU_SOURCE -DVMATRACE_VERSION=\"fuzz\" -Wall -Wextra -Wno-unused-parameter"
build_failed() {
	echo "run-fuzz.sh: build failed; if libFuzzer is missing:" \
		"apt-get install -y libclang-rt-14-dev" >&2
	rm -rf "$tmp"
	exit 2
}

case $target in
proto)
	# shellcheck disable=SC2086 # flags is a list of options
	"$cc" $flags -I"$root/proto" "$root/proto/proto.c" "$root/proto/conn.c" \
		"$here/fuzz-proto.c" -o "$tmp/fuzz-proto" || build_failed
	cp -R "$here/corpus" "$tmp/corpus"
	# -max_len: room for the longest strings (4096) and vectors of many short entries,
	# small enough to keep the executions fast. A frame can be 256 KiB, but the limits
	# are all checked well below that size.
	max_len=16384
	;;
db)
	python3 "$root/sql/embed.py" schema_sql "$root/sql/schema.sql" "$tmp/schema.h"
	# lib/ whole (its files call each other), the client's VMA printer, SQLite itself
	# from the system (not instrumented: its own fuzzing is not ours to repeat).
	srcs="$root/lib/*.c $root/client/vmaout.c"
	incs="-I$tmp -I$root/lib -I$root/proto -I$root/client"
	# shellcheck disable=SC2086
	"$cc" -g -O1 -D_GNU_SOURCE -DVMATRACE_VERSION=\"fuzz\" -DFUZZ_DB_GENERATE $incs \
		$srcs "$here/fuzz-db.c" -o "$tmp/gen-db" -lsqlite3 -lpthread -lm || build_failed
	# shellcheck disable=SC2086
	"$cc" $flags $incs $srcs "$here/fuzz-db.c" -o "$tmp/fuzz-db" -lsqlite3 -lpthread \
		-lm || build_failed
	mkdir "$tmp/corpus"
	"$tmp/gen-db" "$tmp/corpus" || build_failed
	export FUZZ_DB_DIR="$tmp"
	# A seed DB is about 20 KiB (512-byte pages); room to grow a few pages.
	max_len=65536
	;;
*)
	echo "usage: $0 [SECONDS] [proto|db]" >&2
	rm -rf "$tmp"
	exit 2
	;;
esac

n_seeds=$(find "$tmp/corpus" -type f | wc -l)
echo "run-fuzz.sh: fuzzing $target for ${secs}s from $n_seeds seeds in $tmp" >&2

rc=0
# shellcheck disable=SC2086 # FUZZ_ARGS is a list of options
"$tmp/fuzz-$target" -max_total_time="$secs" -max_len=$max_len -timeout=10 \
	-rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$tmp/" ${FUZZ_ARGS:-} \
	"$tmp/corpus" || rc=$?

if [ "$rc" -ne 0 ]; then
	echo "run-fuzz.sh: FAILED (exit $rc); reproducer and binary kept in $tmp:" >&2
	ls "$tmp" >&2
	exit 1
fi
echo "run-fuzz.sh: no finding in ${secs}s; corpus grew to $(find "$tmp/corpus" -type f | wc -l) inputs" >&2
rm -rf "$tmp"
