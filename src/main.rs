//! The `fovea` binary: parses the command line and hands over to [`fovea::cli`].

fn main() -> std::process::ExitCode {
    fovea::cli::main()
}
