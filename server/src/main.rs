//! The `chargelog` binary. Everything lives in the library so tests can drive it.

#![allow(
    unused_crate_dependencies,
    reason = "the binary is a thin entry point; the library uses the dependencies"
)]

fn main() -> std::process::ExitCode {
    server::cli::main()
}
