//! Pure parsers of the /proc files sysinfo reads: cpuinfo, meminfo, stat
//! and cmdline. Each takes the file's text and returns what sysinfo needs,
//! or `None` when the text lacks it.

use std::collections::BTreeSet;

use basalt_model::Mib;

use super::facts::Virtualization;

/// What /proc/cpuinfo says about the processors that are online.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuInfo {
    /// The first processor's `model name`, empty when there is none.
    pub model: String,
    /// Virtualisation extensions in the first processor's `flags`.
    pub virtualization: Virtualization,
    /// Distinct `physical id`s (1 when the kernel reports none).
    pub sockets: u32,
    /// Distinct (`physical id`, `core id`) pairs (one per processor when
    /// the kernel reports no topology).
    pub cores: u32,
    /// `processor` entries: the online logical CPUs.
    pub processors: u32,
}

/// Parses /proc/cpuinfo; `None` when it lists no processor.
pub fn cpuinfo(text: &str) -> Option<CpuInfo> {
    let mut model: Option<String> = None;
    let mut flags: Option<String> = None;
    let mut processors = 0u32;
    let mut sockets = BTreeSet::new();
    let mut cores = BTreeSet::new();
    let mut socket: Option<String> = None;
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match key.trim() {
            "processor" => {
                processors += 1;
                socket = None;
            }
            "model name" => {
                model.get_or_insert_with(|| value.to_owned());
            }
            "flags" => {
                flags.get_or_insert_with(|| value.to_owned());
            }
            "physical id" => {
                sockets.insert(value.to_owned());
                socket = Some(value.to_owned());
            }
            "core id" => {
                cores.insert((socket.clone(), value.to_owned()));
            }
            _ => {}
        }
    }
    if processors == 0 {
        return None;
    }
    let count = |n: usize, fallback: u32| {
        if n == 0 {
            fallback
        } else {
            u32::try_from(n).unwrap_or(u32::MAX)
        }
    };
    Some(CpuInfo {
        model: model.unwrap_or_default(),
        virtualization: virtualization(flags.as_deref().unwrap_or("")),
        sockets: count(sockets.len(), 1),
        cores: count(cores.len(), processors),
        processors,
    })
}

fn virtualization(flags: &str) -> Virtualization {
    let mut words = flags.split_whitespace();
    if words.clone().any(|f| f == "vmx") {
        Virtualization::Vmx
    } else if words.any(|f| f == "svm") {
        Virtualization::Svm
    } else {
        Virtualization::None
    }
}

/// `MemTotal` from /proc/meminfo, in whole MiB (rounded down).
pub fn mem_total(text: &str) -> Option<Mib> {
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let mut words = line["MemTotal:".len()..].split_whitespace();
    let kib: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") => Some(Mib(kib / 1024)),
        _ => None,
    }
}

/// `btime` from /proc/stat: when the host booted, in seconds since the epoch.
pub fn boot_time(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// The parameters on the kernel command line, in order: `key=value` as
/// such, a bare `flag` as `flag=true` (the kernel reads it as a set
/// boolean), double quotes removed as the kernel does. Everything after a
/// lone `--` belongs to init and is left out. A repeated key keeps its
/// first position and takes its last value.
pub fn cmdline(text: &str) -> Vec<(String, String)> {
    let mut params: Vec<(String, String)> = Vec::new();
    for word in cmdline_words(text) {
        if word == "--" {
            break;
        }
        let (key, value) = match word.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (word, "true".to_owned()),
        };
        if key.is_empty() {
            continue;
        }
        match params.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => params.push((key, value)),
        }
    }
    params
}

/// Splits the command line at whitespace outside double quotes, dropping
/// the quotes.
fn cmdline_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut started = false;
    for c in text.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                started = true;
            }
            c if c.is_whitespace() && !quoted => {
                if started {
                    words.push(std::mem::take(&mut word));
                    started = false;
                }
            }
            c => {
                word.push(c);
                started = true;
            }
        }
    }
    if started {
        words.push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    const EPYC: &str = include_str!("testdata/cpuinfo-epyc-2cpu.txt");
    const MEMINFO: &str = include_str!("testdata/meminfo.txt");
    const STAT: &str = include_str!("testdata/stat.txt");
    const CMDLINE: &str = include_str!("testdata/cmdline.txt");

    /// Two sockets of two cores with two threads each: the shape of a
    /// small dual-socket Intel server, trimmed to the fields that matter.
    fn dual_socket_intel() -> String {
        let mut text = String::new();
        let mut n = 0;
        for socket in 0..2 {
            for _thread in 0..2 {
                for core in 0..2 {
                    text.push_str(&format!(
                        "processor\t: {n}\nvendor_id\t: GenuineIntel\n\
                         model name\t: Intel(R) Xeon(R) CPU E5-2620 v4 @ 2.10GHz\n\
                         physical id\t: {socket}\nsiblings\t: 4\ncore id\t\t: {core}\n\
                         cpu cores\t: 2\nflags\t\t: fpu vme de pse tsc msr pae vmx ssse3\n\n"
                    ));
                    n += 1;
                }
            }
        }
        text
    }

    #[test]
    fn cpuinfo_of_this_build_machine() {
        let info = cpuinfo(EPYC).unwrap();
        assert_eq!(
            info,
            CpuInfo {
                model: "AMD EPYC".into(),
                virtualization: Virtualization::None,
                sockets: 1,
                cores: 2,
                processors: 2,
            }
        );
    }

    #[test]
    fn cpuinfo_counts_sockets_cores_and_threads() {
        let info = cpuinfo(&dual_socket_intel()).unwrap();
        assert_eq!(info.sockets, 2);
        assert_eq!(info.cores, 4);
        assert_eq!(info.processors, 8);
        assert_eq!(info.virtualization, Virtualization::Vmx);
        assert_eq!(info.model, "Intel(R) Xeon(R) CPU E5-2620 v4 @ 2.10GHz");
    }

    #[test]
    fn cpuinfo_without_topology_counts_each_processor_as_a_core() {
        let text = "processor\t: 0\nflags\t\t: fpu svm\n\nprocessor\t: 1\nflags\t\t: fpu svm\n";
        let info = cpuinfo(text).unwrap();
        assert_eq!((info.sockets, info.cores, info.processors), (1, 2, 2));
        assert_eq!(info.virtualization, Virtualization::Svm);
        assert_eq!(info.model, "");
        assert_eq!(cpuinfo(""), None);
    }

    #[test]
    fn virtualization_matches_whole_flags_only() {
        assert_eq!(virtualization("fpu vmx"), Virtualization::Vmx);
        assert_eq!(virtualization("svm_lock fpu"), Virtualization::None);
        assert_eq!(virtualization(""), Virtualization::None);
    }

    #[test]
    fn meminfo_total_in_mib() {
        assert_eq!(mem_total(MEMINFO), Some(Mib(24683656 / 1024)));
        assert_eq!(mem_total("MemTotal:  2048 kB\n"), Some(Mib(2)));
        assert_eq!(mem_total("MemFree: 1 kB\n"), None);
        assert_eq!(mem_total("MemTotal: lots\n"), None);
        assert_eq!(mem_total("MemTotal: 2048 MB\n"), None);
    }

    #[test]
    fn stat_boot_time() {
        assert_eq!(boot_time(STAT), Some(1795765966));
        assert_eq!(boot_time("cpu 1 2 3\n"), None);
    }

    #[test]
    fn cmdline_keys_values_and_flags() {
        let params = cmdline(CMDLINE);
        let get = |k: &str| {
            params
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(params[0].0, "BOOT_IMAGE");
        assert_eq!(get("console"), Some("ttyS0"));
        assert_eq!(get("mitigations"), Some("auto,no_guest_host"));
        assert_eq!(
            get("root"),
            Some("UUID=4f1c2a9e-1b7d-4c55-9d0e-2a6f8f0c1e33")
        );
        assert_eq!(get("quiet"), Some("true"));
        assert_eq!(get("random.trust_cpu"), Some("1"));
        assert_eq!(
            get("--init-flag"),
            None,
            "init's arguments are not boot parameters"
        );
        assert_eq!(params.last().unwrap().0, "psi");
    }

    #[test]
    fn cmdline_quotes_and_repeats() {
        let params = cmdline("a=1 dyndbg=\"file x.c +p\" \"q=two words\" a=2 =x\n");
        assert_eq!(
            params,
            [
                ("a".to_owned(), "2".to_owned()),
                ("dyndbg".to_owned(), "file x.c +p".to_owned()),
                ("q".to_owned(), "two words".to_owned()),
            ]
        );
        assert!(cmdline("").is_empty());
    }
}
