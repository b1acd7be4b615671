//! `imgadm`: manage images as on SmartOS.

fn main() -> std::process::ExitCode {
    basalt_cli::imgadm::main()
}
