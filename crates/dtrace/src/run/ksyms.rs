//! Kernel addresses to `module`function+0xoff`, from `/proc/kallsyms`.

use std::io;

/// The kernel's text symbols, sorted by address.
#[derive(Debug, Default)]
pub struct KernelSymbols {
    syms: Vec<(u64, String, String)>,
}

impl KernelSymbols {
    /// Reads `/proc/kallsyms` (root sees the addresses).
    pub fn read() -> io::Result<KernelSymbols> {
        Ok(Self::parse(&std::fs::read_to_string("/proc/kallsyms")?))
    }

    /// Parses kallsyms' lines: `address type name [module]`.
    pub fn parse(text: &str) -> KernelSymbols {
        let mut syms: Vec<(u64, String, String)> = text
            .lines()
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                let addr = u64::from_str_radix(w.next()?, 16).ok()?;
                let kind = w.next()?;
                let name = w.next()?;
                if !matches!(kind, "t" | "T" | "w" | "W") || addr == 0 {
                    return None;
                }
                let module = w
                    .next()
                    .map(|m| m.trim_matches(|c| c == '[' || c == ']').to_owned())
                    .unwrap_or_else(|| "vmlinux".to_owned());
                Some((addr, name.to_owned(), module))
            })
            .collect();
        syms.sort_by_key(|s| s.0);
        KernelSymbols { syms }
    }

    /// `module`function+0xoff` (no offset at 0), or the address in hex.
    pub fn frame(&self, addr: u64) -> String {
        let i = self.syms.partition_point(|s| s.0 <= addr);
        match i.checked_sub(1).map(|i| &self.syms[i]) {
            Some((start, name, module)) => {
                let off = addr - start;
                if off == 0 {
                    format!("{module}`{name}")
                } else {
                    format!("{module}`{name}+{off:#x}")
                }
            }
            None => format!("{addr:#x}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_name_the_function_and_offset() {
        let k = KernelSymbols::parse(
            "ffffffff81000000 T _stext\n\
             ffffffff81001000 t do_one\n\
             ffffffff81002000 D some_data\n\
             ffffffffc0000000 t ext4_read [ext4]\n",
        );
        assert_eq!(k.frame(0xffffffff81001000), "vmlinux`do_one");
        assert_eq!(k.frame(0xffffffff81001a2c), "vmlinux`do_one+0xa2c");
        assert_eq!(k.frame(0xffffffffc0000010), "ext4`ext4_read+0x10");
        assert_eq!(k.frame(0x10), "0x10");
    }
}
