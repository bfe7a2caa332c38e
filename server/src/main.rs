//! The `chargelog` binary. Everything lives in the library so tests can drive it.

fn main() -> std::process::ExitCode {
    server::cli::main()
}
