#!/usr/bin/env bash
# Fuzzes every parser of Fovea with cargo-fuzz (libFuzzer), as RELIABILITY.md describes.
# Not part of CI: the instrumented build compiles every dependency again (~40 min cold on two
# cores). CI replays what this leaves in fuzz/corpus and fuzz/regressions instead
# (tests/integration/fuzz_corpus.rs).
#
#   bash packaging/fuzz.sh [RUNS] [TARGET...]     RUNS defaults to 1000000 executions per target
#   FOVEA_FUZZ_KEEP_SEEDS=1: do not rewrite the seeds (no test build needed)
#   FOVEA_FUZZ_JOBS=N: targets at a time (default: the number of cores)
#   FOVEA_FUZZ_MAX_SECONDS=N: stop each target after N seconds (RELIABILITY.md says which runs did)
#
# Writes: fuzz/corpus/<target>/ (seeds from the project's own files, then what libFuzzer kept,
# minimised), fuzz/artifacts/<target>/ (crash, timeout and out-of-memory inputs, if any), and
# fuzz/last-run.tsv (target, executions, seconds, corpus size, result) for RELIABILITY.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash packaging/install-deps.sh
source packaging/env.sh
runs="${1:-1000000}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(dicom_metadata dicom_pixels plain_image heidelberg_vol raw_dicom pack_manifest labels_csv finding_set)
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked --version 0.13.2
fi
fuzz_target_dir="${FOVEA_FUZZ_TARGET_DIR:-$HOME/.cache/fovea-fuzz-target}"
# The parsers that read files get their input as a temporary file: keep those in memory.
if [ -d /dev/shm ] && [ -w /dev/shm ]; then export TMPDIR=/dev/shm; fi
# Limits every run is held to: 1 GiB of memory (resident and per allocation), 10 s per input.
limits=(-rss_limit_mb=1024 -malloc_limit_mb=1024 -timeout=10 -max_len=65536)
# FOVEA_FUZZ_MAX_SECONDS=N stops each run after N seconds even before RUNS executions.
budget=()
if [ -n "${FOVEA_FUZZ_MAX_SECONDS:-}" ]; then budget=(-max_total_time="$FOVEA_FUZZ_MAX_SECONDS"); fi

if [ -z "${FOVEA_FUZZ_KEEP_SEEDS:-}" ]; then
  echo "fovea fuzz: writing the seed corpora"
  cargo test --locked --test integration -- --ignored --exact fuzz_corpus::writes_the_seed_corpora >/dev/null
fi

echo "fovea fuzz: building the targets (stable toolchain, no sanitizer: Fovea forbids unsafe code)"
(cd fuzz && cargo fuzz build --sanitizer none --target-dir "$fuzz_target_dir")

summary=fuzz/last-run.tsv
# One target: run, minimise the corpus, and write its line of the summary.
fuzz_one() {
  local t=$1
  mkdir -p "fuzz/artifacts/$t" "fuzz/corpus/$t"
  local log="fuzz/artifacts/$t/run.log"
  local start result=ok
  start=$(date +%s)
  (cd fuzz && cargo fuzz run --sanitizer none --target-dir "$fuzz_target_dir" "$t" "corpus/$t" -- \
    -runs="$runs" "${limits[@]}" ${budget[@]+"${budget[@]}"} -artifact_prefix="artifacts/$t/" -print_final_stats=1) \
    >"$log" 2>&1 || result=failed
  local seconds=$(( $(date +%s) - start ))
  local executions
  executions=$(awk '/stat::number_of_executed_units/ { print $NF }' "$log" | head -1)
  # Keep the smallest corpus that covers what the run found.
  (cd fuzz && cargo fuzz cmin --sanitizer none --target-dir "$fuzz_target_dir" "$t" "corpus/$t" -- "${limits[@]}") \
    >>"$log" 2>&1 || true
  local files
  files=$(find "fuzz/corpus/$t" -type f | wc -l)
  printf '%s\t%s\t%s\t%s\t%s\n' "$t" "${executions:-?}" "$seconds" "$files" "$result" >"fuzz/artifacts/$t/summary.tsv"
  cat "fuzz/artifacts/$t/summary.tsv"
}
# As many targets at a time as there are cores (each libFuzzer run uses one).
jobs_at_once="${FOVEA_FUZZ_JOBS:-$(nproc)}"
for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs_at_once" ]; do sleep 1; done
  fuzz_one "$t" &
done
wait
printf 'target\texecutions\tseconds\tcorpus_files\tresult\n' >"$summary"
for t in "${targets[@]}"; do cat "fuzz/artifacts/$t/summary.tsv" >>"$summary"; done
if grep -q failed "$summary"; then
  echo "fovea fuzz: a target failed; its input is in fuzz/artifacts/<target>/ (see run.log)" >&2
  exit 1
fi
