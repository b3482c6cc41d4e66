/// mimalloc: the host allocates many small, short-lived buffers (JSON, records, messages) across
/// threads, where it costs measurably less CPU than the system allocator (see BENCHMARKS.md).
/// Its `override` feature serves C's malloc too, so SQLite's allocations also stay off glibc,
/// whose per-thread arenas hand memory back with a madvise after nearly every commit of the
/// writer thread: a TLB flush on every core, 7% of the CPU under end-to-end load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    // mimalloc asks the kernel for transparent huge pages on its arena, and in the `madvise` mode
    // most distributions ship, every 2 MiB the host touches then stays resident whole: 130 MiB
    // at rest on the default routes against 60 MiB without, with no throughput measured to
    // gain from them (BENCHMARKS.md). The flag is the process's, set before the host allocates
    // much; an error (a kernel without it) leaves things as they were.
    #[cfg(target_os = "linux")]
    let _ = rustix::thread::disable_transparent_huge_pages(true);
    switchyard::cli::main()
}
