/// mimalloc: the host allocates many small, short-lived buffers (JSON, records, messages) across
/// threads, where it costs measurably less CPU than the system allocator (see BENCHMARKS.md).
/// Its `override` feature serves C's malloc too, so SQLite's allocations also stay off glibc,
/// whose per-thread arenas hand memory back with a madvise after nearly every commit of the
/// writer thread: a TLB flush on every core, 7% of the CPU under end-to-end load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    switchyard::cli::main()
}
