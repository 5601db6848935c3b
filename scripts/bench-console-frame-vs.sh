#!/usr/bin/env bash
# The console frame benchmark of this tree next to an older commit's, in one run.
#
#   scripts/bench-console-frame-vs.sh [BEFORE_COMMIT] [ROUNDS]
#
# BEFORE_COMMIT defaults to 09bc755 (before the pulldown-cmark renderer and the
# render memo), ROUNDS to 3. The older commit is checked out in its own git
# worktree with its own target dir (both reused between runs), and gets a copy
# of this tree's benches/console_frame.rs, with module paths adapted when it
# predates src/console/, so both sides measure the same scenarios. The two
# binaries then run alternately (before, after, before, after, ...), so load on
# a shared machine hits both alike; the table shows, per scenario, the median
# over rounds of each run's p50 and p99 frame time, the spread (min–max over
# rounds), and after/before.
#
# Environment: OPSDECK_BENCH_FRAMES (frames per scenario, default 2000),
# BENCH_BEFORE_DIR (worktree, default $TMPDIR/opsdeck-bench-before),
# BENCH_BEFORE_TARGET (its target dir, default "$BENCH_BEFORE_DIR-target").
# Building both sides (fat LTO) takes a while the first time.
set -euo pipefail

before=${1:-09bc755}
rounds=${2:-3}
root=$(git rev-parse --show-toplevel)
worktree=${BENCH_BEFORE_DIR:-${TMPDIR:-/tmp}/opsdeck-bench-before}
target=${BENCH_BEFORE_TARGET:-$worktree-target}
results=$(mktemp)
trap 'rm -f "$results"' EXIT

commit=$(git -C "$root" rev-parse --verify "$before^{commit}")
if [ ! -d "$worktree" ]; then
    git -C "$root" worktree add --detach "$worktree" "$commit" >/dev/null
elif [ "$(git -C "$worktree" rev-parse HEAD)" != "$commit" ]; then
    # The worktree only ever holds our copied bench file: safe to overwrite.
    git -C "$worktree" checkout --quiet --force --detach "$commit"
fi

# Before the re-housing (#16) the console's app and ui were top-level modules.
if git -C "$root" cat-file -e "$commit:src/console/ui/mod.rs" 2>/dev/null; then
    cp "$root/benches/console_frame.rs" "$worktree/benches/console_frame.rs"
else
    sed 's/opsdeck::console::/opsdeck::/g' "$root/benches/console_frame.rs" \
        >"$worktree/benches/console_frame.rs"
fi

# Builds the bench in directory $1 (the rest: the command prefix, e.g. env
# settings) and prints the binary's path; cargo's own output goes to stderr.
build() {
    local dir=$1 log
    shift
    log=$(mktemp)
    if ! (cd "$dir" && "$@" cargo bench --bench console_frame --no-run) 2>"$log"; then
        cat "$log" >&2
        rm -f "$log"
        echo "the bench did not build in $dir" >&2
        return 1
    fi
    sed -n 's/.*Executable benches\/console_frame.rs (\(.*\))$/\1/p' "$log" | tail -n 1
    rm -f "$log"
}

echo "building $before (in $worktree) ..." >&2
before_bin=$(build "$worktree" env CARGO_TARGET_DIR="$target")
echo "building this tree ..." >&2
after_bin=$(build "$root" env)

for round in $(seq 1 "$rounds"); do
    for side in before after; do
        bin=$before_bin
        [ "$side" = after ] && bin=$after_bin
        echo "round $round/$rounds: $side" >&2
        OPSDECK_BENCH_ONLY_FRAMES=1 "$bin" --bench |
            awk -v side="$side" '$1 == "RESULT" { print side, $2, $3, $4 }' >>"$results"
    done
done

echo "console frame, update + draw (ms), $rounds rounds alternating; median [min–max] over rounds"
echo "before: $before   after: working tree of $(git -C "$root" rev-parse --short HEAD)   cores: $(nproc)"
awk '
    function median(list,    n, a, i, j, t) {
        n = split(list, a, " ")
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
        lo = a[1]; hi = a[n]
        return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    { p50[$1, $2] = p50[$1, $2] " " $3; p99[$1, $2] = p99[$1, $2] " " $4; if (!($2 in order)) { order[$2] = ++count; names[count] = $2 } }
    END {
        printf "%-10s %-6s %26s %26s %8s\n", "scenario", "", "before", "after", "after/before"
        for (k = 1; k <= count; k++) {
            s = names[k]
            for (q = 1; q <= 2; q++) {
                label = (q == 1) ? "p50" : "p99"
                b = (q == 1) ? median(p50["before", s]) : median(p99["before", s]); blo = lo; bhi = hi
                a = (q == 1) ? median(p50["after", s]) : median(p99["after", s]); alo = lo; ahi = hi
                printf "%-10s %-6s %8.3f [%6.3f–%6.3f] %8.3f [%6.3f–%6.3f] %7.2f×\n", s, label, b, blo, bhi, a, alo, ahi, (b > 0 ? a / b : 0)
            }
        }
    }' "$results"
