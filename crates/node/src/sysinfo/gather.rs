//! Reads the host into [`HostFacts`]: /proc, /sys and /dev under a host
//! prefix (`/` for the running system, a fixture tree in tests), the
//! kernel's IPv4 addresses, and the node configuration, where the node's
//! UUID is persisted the first time it is needed.

use std::collections::BTreeMap;
use std::io;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use basalt_model::{Mac, VmUuid};

use super::SysinfoError;
use super::facts::{CpuFacts, Disk, HostFacts, Link, Smbios};
use super::{procfs, sysfs};
use crate::config::{NodeConfig, ensure_node_uuid};
use crate::paths::Paths;

/// The system pool's name: basalt keeps SmartOS's.
const ZPOOL: &str = "zones";

/// The key basalt itself adds to the node configuration.
const SERVER_UUID_KEY: &str = "server_uuid";

/// The host sysinfo describes.
#[derive(Debug, Clone)]
pub struct Host {
    prefix: PathBuf,
    addresses: Addresses,
}

#[derive(Debug, Clone)]
enum Addresses {
    /// Ask the kernel (getifaddrs).
    Kernel,
    /// Given: interface name → its first IPv4 address.
    Fixed(BTreeMap<String, Ipv4Addr>),
}

impl Host {
    /// The running system.
    pub fn local() -> Self {
        Self {
            prefix: PathBuf::from("/"),
            addresses: Addresses::Kernel,
        }
    }

    /// A host whose /proc, /sys and /dev are under `prefix` and whose
    /// interfaces carry `addresses`.
    pub fn at(prefix: impl Into<PathBuf>, addresses: BTreeMap<String, Ipv4Addr>) -> Self {
        Self {
            prefix: prefix.into(),
            addresses: Addresses::Fixed(addresses),
        }
    }

    fn path(&self, abs: &str) -> PathBuf {
        self.prefix.join(abs.trim_start_matches('/'))
    }

    /// A file sysinfo cannot do without.
    fn read(&self, abs: &str) -> Result<(PathBuf, String), SysinfoError> {
        let path = self.path(abs);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok((path, text)),
            Err(source) => Err(SysinfoError::Read { path, source }),
        }
    }

    /// A file that may be absent or unreadable (no SMBIOS, not root, a
    /// link whose carrier cannot be asked).
    fn read_opt(&self, path: &Path) -> Option<String> {
        match std::fs::read_to_string(path) {
            Ok(text) => Some(text),
            Err(e) => {
                tracing::debug!(path = %path.display(), error = %e, "not read");
                None
            }
        }
    }

    /// The entry names of a directory, sorted; none when it is absent.
    fn list(&self, abs: &str) -> Result<Vec<String>, SysinfoError> {
        let path = self.path(abs);
        let entries = match std::fs::read_dir(&path) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(SysinfoError::Read { path, source }),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| SysinfoError::Read {
                path: path.clone(),
                source,
            })?;
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }

    fn ip4addrs(&self) -> Result<BTreeMap<String, Ipv4Addr>, SysinfoError> {
        match &self.addresses {
            Addresses::Fixed(map) => Ok(map.clone()),
            Addresses::Kernel => kernel_ip4addrs(),
        }
    }
}

/// Each interface's first IPv4 address, from getifaddrs(3).
fn kernel_ip4addrs() -> Result<BTreeMap<String, Ipv4Addr>, SysinfoError> {
    let mut map = BTreeMap::new();
    for ifa in nix::ifaddrs::getifaddrs().map_err(SysinfoError::Addresses)? {
        let Some(v4) = ifa.address.as_ref().and_then(|a| a.as_sockaddr_in()) else {
            continue;
        };
        map.entry(ifa.interface_name).or_insert(v4.ip());
    }
    Ok(map)
}

/// Gathers everything sysinfo reports. Persists the node's UUID in the
/// node configuration the first time (its SMBIOS UUID, else a random one).
pub fn gather(host: &Host, paths: &Paths, live_image: &str) -> Result<HostFacts, SysinfoError> {
    let config_path = paths.node_config();
    let config = NodeConfig::load(&config_path)?;
    let setup = is_setup(&config);
    let smbios_uuid = host
        .read_opt(&host.path("/sys/class/dmi/id/product_uuid"))
        .map(|s| sysfs::dmi_string(&s));
    let random = random_uuid()?;
    let uuid = ensure_node_uuid(&config_path, smbios_uuid, || random)?;
    let hostname = match config.hostname() {
        Some(name) => name.to_owned(),
        None => host.read("/proc/sys/kernel/hostname")?.1.trim().to_owned(),
    };
    let (path, stat) = host.read("/proc/stat")?;
    let boot_time = procfs::boot_time(&stat).ok_or(SysinfoError::Parse {
        path,
        what: "no btime line",
    })?;
    let (path, meminfo) = host.read("/proc/meminfo")?;
    let memory = procfs::mem_total(&meminfo).ok_or(SysinfoError::Parse {
        path,
        what: "no MemTotal line in kB",
    })?;
    let boot_params = host
        .read_opt(&host.path("/proc/cmdline"))
        .map(|text| procfs::cmdline(&text))
        .unwrap_or_default();
    Ok(HostFacts {
        uuid,
        hostname,
        live_image: live_image.to_owned(),
        boot_time,
        setup,
        cpu: cpu(host)?,
        memory,
        smbios: smbios(host),
        disks: disks(host)?,
        boot_params,
        links: links(host, &config)?,
        kvm: host.path("/dev/kvm").exists(),
        zpool: ZPOOL.to_owned(),
        datacenter_name: config.datacenter_name().map(str::to_owned),
    })
}

/// A node is set up once its configuration says anything beyond the UUID
/// sysinfo itself records there.
fn is_setup(config: &NodeConfig) -> bool {
    config.entries().any(|(k, _)| k != SERVER_UUID_KEY)
}

fn random_uuid() -> Result<String, SysinfoError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| {
        SysinfoError::Random(match e.raw_os_error() {
            Some(code) => io::Error::from_raw_os_error(code),
            None => io::Error::other(e.to_string()),
        })
    })?;
    Ok(VmUuid::from_random_bytes(bytes).to_string())
}

fn cpu(host: &Host) -> Result<CpuFacts, SysinfoError> {
    let (path, text) = host.read("/proc/cpuinfo")?;
    let info = procfs::cpuinfo(&text).ok_or(SysinfoError::Parse {
        path,
        what: "no processor listed",
    })?;
    let total = host
        .read_opt(&host.path("/sys/devices/system/cpu/present"))
        .and_then(|t| sysfs::cpu_list_count(&t))
        .filter(|&n| n >= info.processors)
        .unwrap_or(info.processors);
    Ok(CpuFacts {
        model: info.model,
        virtualization: info.virtualization,
        sockets: info.sockets,
        cores: info.cores,
        online: info.processors,
        total,
    })
}

fn smbios(host: &Host) -> Smbios {
    let dmi = |name: &str| {
        host.read_opt(&host.path(&format!("/sys/class/dmi/id/{name}")))
            .map(|s| sysfs::dmi_string(&s))
            .unwrap_or_default()
    };
    Smbios {
        manufacturer: dmi("sys_vendor"),
        product: dmi("product_name"),
        serial_number: dmi("product_serial"),
        sku_number: dmi("product_sku"),
        hw_version: dmi("product_version"),
        hw_family: dmi("product_family"),
    }
}

/// Whole disks with a medium (an empty card reader has size 0).
fn disks(host: &Host) -> Result<Vec<Disk>, SysinfoError> {
    let mut disks = Vec::new();
    for name in host.list("/sys/block")? {
        if !sysfs::is_disk(&name) {
            continue;
        }
        let size = host.path(&format!("/sys/block/{name}/size"));
        match host.read_opt(&size).and_then(|t| sysfs::disk_bytes(&t)) {
            Some(size_bytes) if size_bytes > 0 => disks.push(Disk { name, size_bytes }),
            _ => {}
        }
    }
    Ok(disks)
}

fn links(host: &Host, config: &NodeConfig) -> Result<Vec<Link>, SysinfoError> {
    let names = host.list("/sys/class/net")?;
    let ip4 = host.ip4addrs()?;
    let mut links = Vec::new();
    for name in names {
        let dir = host.path(&format!("/sys/class/net/{name}"));
        let has = |entry: &str| dir.join(entry).symlink_metadata().is_ok();
        let dev = sysfs::NetDevice {
            name: &name,
            has_device: has("device"),
            is_bridge: has("bridge"),
            is_tun: has("tun_flags"),
        };
        if !sysfs::is_physical_link(&dev) {
            continue;
        }
        let address = host.read_opt(&dir.join("address")).unwrap_or_default();
        let Some(mac) = Mac::parse(address.trim()) else {
            tracing::debug!(link = %name, address = %address.trim(), "not an Ethernet address");
            continue;
        };
        let operstate = host.read_opt(&dir.join("operstate")).unwrap_or_default();
        let carrier = host.read_opt(&dir.join("carrier"));
        links.push(Link {
            ip4addr: ip4.get(&name).copied(),
            status: sysfs::link_status(&operstate, carrier.as_deref()),
            nic_tags: tags_for_mac(config, mac),
            mac,
            name,
        });
    }
    Ok(links)
}

/// The nic tags whose `<tag>_nic` names `mac`, sorted. Tags on etherstubs
/// name no MAC and so no physical link.
pub fn tags_for_mac(config: &NodeConfig, mac: Mac) -> Vec<String> {
    let mut tags: Vec<String> = config
        .entries()
        .filter_map(|(k, _)| k.strip_suffix("_nic").map(|tag| (k, tag)))
        .filter(|(k, tag)| !tag.is_empty() && config.get(k).and_then(Mac::parse) == Some(mac))
        .map(|(_, tag)| tag.to_owned())
        .collect();
    tags.sort();
    tags.dedup();
    tags
}

#[cfg(test)]
mod tests {
    use std::fs;

    use basalt_model::ids::is_uuid;

    use super::*;
    use crate::sysinfo::facts::{LinkStatus, Virtualization};

    /// A host tree shaped like this build machine's: two AMD EPYC CPUs, one
    /// virtio disk among loop and zram devices, one virtio link among ifb
    /// and loopback devices, /dev/kvm, no SMBIOS.
    fn host_tree(root: &Path) {
        let put = |rel: &str, text: &str| {
            let path = root.join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        };
        put(
            "proc/cpuinfo",
            include_str!("testdata/cpuinfo-epyc-2cpu.txt"),
        );
        put("proc/meminfo", include_str!("testdata/meminfo.txt"));
        put("proc/stat", include_str!("testdata/stat.txt"));
        put("proc/cmdline", include_str!("testdata/cmdline.txt"));
        put("proc/sys/kernel/hostname", "vm\n");
        put("sys/devices/system/cpu/present", "0-1\n");
        put("sys/block/vda/size", "536870912\n");
        put("sys/block/loop0/size", "0\n");
        put("sys/block/zram0/size", "0\n");
        put("sys/block/sdb/size", "0\n");
        put("sys/class/net/eth0/address", "02:fc:00:00:00:01\n");
        put("sys/class/net/eth0/operstate", "up\n");
        put("sys/class/net/eth0/carrier", "1\n");
        std::os::unix::fs::symlink(
            "../../../devices/pci0000:00/0000:00:03.0/virtio2",
            root.join("sys/class/net/eth0/device"),
        )
        .unwrap();
        put("sys/class/net/ifb0/address", "2e:69:b3:17:1b:0d\n");
        put("sys/class/net/ifb0/operstate", "down\n");
        put("sys/class/net/lo/address", "00:00:00:00:00:00\n");
        put("sys/class/net/lo/operstate", "unknown\n");
        put("sys/class/net/br0/address", "02:fc:00:00:00:09\n");
        put("sys/class/net/br0/bridge/stp_state", "0\n");
        put("sys/class/net/br0/device/uevent", "\n");
        put("dev/kvm", "");
    }

    fn host(root: &Path) -> Host {
        let addrs = [
            ("eth0".to_owned(), Ipv4Addr::new(192, 0, 2, 2)),
            ("lo".to_owned(), Ipv4Addr::LOCALHOST),
        ];
        Host::at(root, addrs.into_iter().collect())
    }

    #[test]
    fn gathers_an_unconfigured_host() {
        let tree = tempfile::tempdir().unwrap();
        let data = tempfile::tempdir().unwrap();
        host_tree(tree.path());
        let paths = Paths::new(data.path());
        let facts = gather(&host(tree.path()), &paths, "0.1.0").unwrap();

        assert!(is_uuid(&facts.uuid), "{}", facts.uuid);
        let config = fs::read_to_string(paths.node_config()).unwrap();
        assert_eq!(config, format!("server_uuid={}\n", facts.uuid));
        assert_eq!(facts.hostname, "vm");
        assert_eq!(facts.live_image, "0.1.0");
        assert_eq!(facts.boot_time, 1795765966);
        assert!(!facts.setup);
        let cpu = &facts.cpu;
        assert_eq!(cpu.model, "AMD EPYC");
        assert_eq!(cpu.virtualization, Virtualization::None);
        assert_eq!(
            (cpu.sockets, cpu.cores, cpu.online, cpu.total),
            (1, 2, 2, 2)
        );
        assert_eq!(facts.memory.0, 24683656 / 1024);
        assert_eq!(facts.smbios, Smbios::default());
        assert_eq!(
            facts.disks,
            [Disk {
                name: "vda".into(),
                size_bytes: 536870912 * 512
            }]
        );
        assert_eq!(facts.boot_params[0].0, "BOOT_IMAGE");
        assert_eq!(
            facts.links,
            [Link {
                name: "eth0".into(),
                mac: Mac([0x02, 0xfc, 0, 0, 0, 1]),
                ip4addr: Some(Ipv4Addr::new(192, 0, 2, 2)),
                status: LinkStatus::Up,
                nic_tags: vec![],
            }]
        );
        assert!(facts.kvm);
        assert_eq!(facts.zpool, "zones");
        assert_eq!(facts.datacenter_name, None);

        let again = gather(&host(tree.path()), &paths, "0.1.0").unwrap();
        assert_eq!(again.uuid, facts.uuid, "the node keeps its UUID");
        assert!(!again.setup, "recording the UUID does not set the node up");
    }

    #[test]
    fn gathers_a_configured_host_with_smbios() {
        let tree = tempfile::tempdir().unwrap();
        let data = tempfile::tempdir().unwrap();
        host_tree(tree.path());
        let dmi = tree.path().join("sys/class/dmi/id");
        fs::create_dir_all(&dmi).unwrap();
        for (name, text) in [
            ("product_uuid", "4C4C4544-0000-1000-8000-B7C04F4E4E31\n"),
            ("sys_vendor", "QEMU\n"),
            ("product_name", "Standard PC (i440FX + PIIX, 1996)\n"),
            ("product_version", "pc-i440fx-7.2\n"),
        ] {
            fs::write(dmi.join(name), text).unwrap();
        }
        fs::remove_file(tree.path().join("dev/kvm")).unwrap();
        let paths = Paths::new(data.path());
        crate::fsutil::write_atomic(
            &paths.node_config(),
            b"hostname=node1\ndatacenter_name=dc1\nadmin_nic=2:fc:0:0:0:1\n",
            0o600,
        )
        .unwrap();
        let facts = gather(&host(tree.path()), &paths, "0.1.0").unwrap();

        assert_eq!(facts.uuid, "4c4c4544-0000-1000-8000-b7c04f4e4e31");
        assert_eq!(facts.hostname, "node1");
        assert!(facts.setup);
        assert_eq!(facts.datacenter_name.as_deref(), Some("dc1"));
        assert_eq!(facts.links[0].nic_tags, ["admin"]);
        assert_eq!(facts.smbios.manufacturer, "QEMU");
        assert_eq!(facts.smbios.product, "Standard PC (i440FX + PIIX, 1996)");
        assert_eq!(facts.smbios.hw_version, "pc-i440fx-7.2");
        assert_eq!(facts.smbios.serial_number, "");
        assert!(!facts.kvm);
    }

    #[test]
    fn a_missing_proc_file_names_its_path() {
        let tree = tempfile::tempdir().unwrap();
        let data = tempfile::tempdir().unwrap();
        host_tree(tree.path());
        fs::remove_file(tree.path().join("proc/meminfo")).unwrap();
        let err = gather(&host(tree.path()), &Paths::new(data.path()), "0.1.0").unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "failed to read {}",
                tree.path().join("proc/meminfo").display()
            )
        );
        fs::write(tree.path().join("proc/meminfo"), "MemFree: 1 kB\n").unwrap();
        let err = gather(&host(tree.path()), &Paths::new(data.path()), "0.1.0").unwrap_err();
        assert!(matches!(err, SysinfoError::Parse { .. }), "{err}");
    }

    #[test]
    fn nic_tags_follow_the_configured_macs() {
        let config = NodeConfig::parse(
            "admin_nic=00:0c:29:aa:bb:cc\nexternal_nic=0:C:29:AA:BB:CC\n\
             storage_nic=00:0c:29:aa:bb:cc\nstorage_nic=00:0c:29:00:00:01\n\
             etherstub=stub0\n",
            Path::new("/usbkey/config"),
        )
        .unwrap();
        let mac = Mac([0x00, 0x0c, 0x29, 0xaa, 0xbb, 0xcc]);
        assert_eq!(tags_for_mac(&config, mac), ["admin", "external"]);
        assert_eq!(
            tags_for_mac(&config, Mac([0x00, 0x0c, 0x29, 0, 0, 1])),
            ["storage"]
        );
        assert!(tags_for_mac(&config, Mac([2, 0, 0, 0, 0, 0])).is_empty());
    }

    #[test]
    fn the_kernel_lists_loopback_addresses() {
        let addrs = Host::local().ip4addrs().unwrap();
        assert_eq!(addrs.get("lo"), Some(&Ipv4Addr::LOCALHOST));
    }
}
