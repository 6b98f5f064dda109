# Sourced by scripts/structured-curve.sh and scripts/deploy-variants.sh.
# median_speed FILE MODE: seq/s of bench_bert --checkpoint FILE --modes MODE (batch 32, seq 128, 10 iterations),
# the median of 3 separate runs (this host's speed moves between processes).
median_speed() {
    for _ in 1 2 3; do
        ./build/release/benchmarks/bench_bert --checkpoint "$1" --modes "$2" --iters 10 | tail -1 | awk '{print $5}'
    done | sort -g | sed -n 2p
}
