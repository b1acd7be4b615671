//! The ELF symbols, mappings and USDT notes of this host's real files and
//! of this test process.

use std::fs::{self, File};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use basalt_dtrace::probes::elfsym::{
    ElfFunctions, ProcMaps, Symbolizer, UsdtArg, pid_functions, usdt_probes,
};

/// A library with USDT notes on Debian 12: libstdc++ (package libstdc++6,
/// which the C compiler this workspace links with depends on).
const LIBSTDCXX: &str = "/usr/lib/x86_64-linux-gnu/libstdc++.so.6";

/// A function of this test binary, reached only through its address. Rust
/// mangles its symbol (only an unsafe attribute would not), so tests find
/// it by the name inside.
#[inline(never)]
extern "C" fn elfsym_probe_target(x: u64) -> u64 {
    std::hint::black_box(x).wrapping_mul(3)
}

const TARGET: &str = "elfsym_probe_target";

/// The path of this process's libc, from its own mappings.
fn libc() -> PathBuf {
    let maps = fs::read_to_string("/proc/self/maps").unwrap();
    maps.lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .find(|p| p.ends_with("/libc.so.6"))
        .map(PathBuf::from)
        .expect("this test process maps no libc.so.6")
}

fn exe() -> PathBuf {
    fs::read_link("/proc/self/exe").unwrap()
}

fn basename(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

/// Bytes of a file at an offset.
fn bytes_at(path: &Path, offset: u64, len: usize) -> Vec<u8> {
    let mut buf = vec![0; len];
    File::open(path)
        .unwrap()
        .read_exact_at(&mut buf, offset)
        .unwrap();
    buf
}

/// This binary's mangled symbol for `elfsym_probe_target`.
fn target_symbol() -> basalt_dtrace::probes::elfsym::Function {
    let functions = ElfFunctions::read(&exe()).unwrap();
    let found: Vec<_> = functions
        .functions()
        .iter()
        .filter(|f| f.name.contains(TARGET))
        .collect();
    assert_eq!(found.len(), 1, "{TARGET} in the test binary: {found:?}");
    found[0].clone()
}

#[test]
fn libc_has_malloc_and_getpid_at_their_code() {
    let libc = libc();
    let functions = ElfFunctions::read(&libc).unwrap();
    let malloc = functions.lookup("malloc").expect("malloc");
    let getpid = functions.lookup("getpid").expect("getpid");
    assert!(malloc.size > 0 && getpid.size > 0);
    // getpid(2) is `mov $39, %eax; syscall; ret`: the file offset points
    // at that code.
    assert_eq!(
        bytes_at(&libc, getpid.file_offset, 7),
        [0xb8, 39, 0, 0, 0, 0x0f, 0x05]
    );
    let (f, off) = functions.symbolize(malloc.address + 3).unwrap();
    assert_eq!((f.name.as_str(), off), ("malloc", 3));
    let (f, off) = functions.symbolize(getpid.address).unwrap();
    assert_eq!((f.name.as_str(), off), ("getpid", 0));
    // Old symbol versions are listed too.
    let realpaths = functions
        .functions()
        .iter()
        .filter(|f| f.name == "realpath")
        .count();
    assert_eq!(realpaths, 2, "realpath@GLIBC_2.2.5 and realpath@@GLIBC_2.3");
}

#[test]
fn a_non_elf_file_is_named_in_the_error() {
    let err = ElfFunctions::read(Path::new("/proc/self/status")).unwrap_err();
    assert_eq!(err.to_string(), "/proc/self/status is not an ELF file");
    let err = ElfFunctions::read(Path::new("/nonexistent/lib.so")).unwrap_err();
    assert_eq!(err.to_string(), "failed to read /nonexistent/lib.so");
}

#[test]
fn this_process_resolves_and_prints_its_own_function() {
    let target = target_symbol();
    let addr = elfsym_probe_target as *const () as usize as u64;
    assert_eq!(elfsym_probe_target(2), 6);

    let maps = ProcMaps::read(std::process::id()).unwrap();
    let (file, vaddr) = maps
        .resolve(addr)
        .expect("the function's address is mapped");
    assert_eq!(file, exe());
    assert_eq!(vaddr, target.address);
    let modules = maps.modules();
    assert!(modules.contains(&exe()), "{modules:?}");
    assert!(modules.contains(&libc()), "{modules:?}");

    let mut symbolizer = Symbolizer::new(std::process::id()).unwrap();
    let module = basename(&exe());
    assert_eq!(symbolizer.frame(addr), format!("{module}`{}", target.name));
    assert_eq!(
        symbolizer.frame(addr + 1),
        format!("{module}`{}+0x1", target.name)
    );
    assert_eq!(symbolizer.frame(8), "0x8");
}

#[test]
fn symbolizer_names_libc_frames() {
    let libc = libc();
    let maps = fs::read_to_string("/proc/self/maps").unwrap();
    // libc's executable mapping: start, file offset.
    let (start, offset) = maps
        .lines()
        .filter(|l| l.ends_with("/libc.so.6") && l.split_whitespace().nth(1) == Some("r-xp"))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let start = u64::from_str_radix(f[0].split('-').next().unwrap(), 16).unwrap();
            (start, u64::from_str_radix(f[2], 16).unwrap())
        })
        .next()
        .expect("libc's text mapping");
    let malloc = ElfFunctions::read(&libc)
        .unwrap()
        .lookup("malloc")
        .unwrap()
        .clone();
    let runtime = start + malloc.file_offset - offset + 0x1a;
    let mut symbolizer = Symbolizer::new(std::process::id()).unwrap();
    assert_eq!(symbolizer.frame(runtime), "libc.so.6`malloc+0x1a");
}

#[test]
fn pid_functions_match_modules_and_functions() {
    let pid = std::process::id();
    let found = pid_functions(pid, "libc.so.6", "getpid").unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, libc());
    assert_eq!(found[0].1.name, "getpid");

    let mallocs = pid_functions(pid, "libc.so.*", "malloc").unwrap();
    assert_eq!(mallocs.len(), 1, "{mallocs:?}");

    let own = pid_functions(pid, "a.out", &format!("*{TARGET}*")).unwrap();
    assert_eq!(own.len(), 1, "{own:?}");
    assert_eq!(own[0].0, exe());
    assert_eq!(own[0].1, target_symbol());
    // The executable by its own name, and every module.
    assert_eq!(
        pid_functions(pid, &basename(&exe()), &format!("*{TARGET}*")).unwrap(),
        own
    );
    let everywhere = pid_functions(pid, "", "getpid").unwrap();
    assert!(
        everywhere.iter().any(|(p, _)| *p == libc()),
        "{everywhere:?}"
    );
    assert!(pid_functions(pid, "no-such-module", "").unwrap().is_empty());
}

#[test]
fn libstdcxx_has_its_usdt_probes() {
    let path = Path::new(LIBSTDCXX);
    assert!(path.exists(), "{LIBSTDCXX} is missing: install libstdc++6");
    let probes = usdt_probes(path).unwrap();
    let mut names: Vec<(&str, &str)> = probes
        .iter()
        .map(|p| (p.provider.as_str(), p.name.as_str()))
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            ("libstdcxx", "catch"),
            ("libstdcxx", "rethrow"),
            ("libstdcxx", "throw")
        ]
    );
    let throw = probes.iter().find(|p| p.name == "throw").unwrap();
    assert_eq!(throw.args, "8@%rdi 8@%rsi");
    assert_eq!(
        throw.arguments().unwrap(),
        [
            UsdtArg::Reg {
                size: 8,
                reg: "rdi".into()
            },
            UsdtArg::Reg {
                size: 8,
                reg: "rsi".into()
            },
        ]
    );
    let catch = probes.iter().find(|p| p.name == "catch").unwrap();
    assert!(
        catch
            .arguments()
            .unwrap()
            .iter()
            .any(|a| matches!(a, UsdtArg::Mem { size: 8, .. })),
        "{catch:?}"
    );
    for p in &probes {
        assert_eq!(p.semaphore, 0, "{p:?}");
        // A USDT site is a `nop` in the code.
        assert_eq!(bytes_at(path, p.file_offset, 1), [0x90], "{p:?}");
        // Each sits in a function the symbols name.
        let functions = ElfFunctions::read(path).unwrap();
        assert!(functions.symbolize(p.pc).is_some(), "{p:?}");
    }
}

#[test]
fn a_file_without_notes_has_no_usdt_probes() {
    assert_eq!(usdt_probes(&libc()).unwrap(), []);
}

#[test]
fn an_executable_s_needed_libraries_are_found() {
    // This test binary needs libc (through the Rust standard library).
    let me = std::fs::read_link("/proc/self/exe").unwrap();
    let libs = basalt_dtrace::probes::elfsym::needed_libraries(&me);
    assert!(
        libs.iter()
            .any(|l| l.file_name().is_some_and(|n| n == "libc.so.6")),
        "{libs:?}"
    );
}
