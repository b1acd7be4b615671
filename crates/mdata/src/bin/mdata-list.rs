//! `mdata-list`: see [`basalt_mdata`].

fn main() -> std::process::ExitCode {
    basalt_mdata::main(basalt_mdata::Tool::List)
}
