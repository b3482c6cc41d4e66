/// mimalloc: the host allocates many small, short-lived buffers (JSON, records, messages) across
/// threads, where it costs measurably less CPU than the system allocator (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    switchyard::cli::main()
}
