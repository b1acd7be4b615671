//! `vmadm`: manage instances as on SmartOS.

fn main() -> std::process::ExitCode {
    basalt_cli::vmadm::main()
}
