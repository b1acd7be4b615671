//! From [`HostFacts`] to sysinfo's JSON object: the keys of the SmartOS
//! reference, in its order, with its types (strings, numbers and booleans
//! exactly as SmartOS emits them).

use serde_json::{Map, Value, json};

use super::facts::{HostFacts, Link};

/// The nic tag whose link is the node's admin interface.
const ADMIN_TAG: &str = "admin";

/// Builds sysinfo's object. Keys SmartOS emits only under Triton (`Headnode
/// ID`, `SDC Version`, `SDC Agents`) or only in a zone are left out, and so
/// are those basalt does not gather (the `Zpool *` details, `Psrinfo`,
/// `Virtual Network Interfaces`, `Link Aggregations`).
pub fn assemble(facts: &HostFacts) -> Map<String, Value> {
    let mut m = Map::new();
    let mut put = |key: &str, value: Value| {
        m.insert(key.to_owned(), value);
    };
    let cpu = &facts.cpu;
    let capable = facts.kvm;
    put("Live Image", json!(facts.live_image));
    put("System Type", json!("Linux"));
    put("Boot Time", json!(facts.boot_time.to_string()));
    if let Some(dc) = &facts.datacenter_name {
        put("Datacenter Name", json!(dc));
    }
    let s = &facts.smbios;
    put("Manufacturer", json!(s.manufacturer));
    put("Product", json!(s.product));
    put("Serial Number", json!(s.serial_number));
    put("SKU Number", json!(s.sku_number));
    put("HW Version", json!(s.hw_version));
    put("HW Family", json!(s.hw_family));
    put("Setup", json!(facts.setup.to_string()));
    put("VM Capable", json!(capable));
    put("Bhyve Capable", json!(capable));
    put(
        "Bhyve Max Vcpus",
        json!(if capable { cpu.total } else { 0 }),
    );
    put("HVM API", json!(capable));
    put("CPU Type", json!(cpu.model));
    put("CPU Virtualization", json!(cpu.virtualization.as_str()));
    put("CPU Physical Cores", json!(cpu.sockets));
    if let Some(admin) = admin_link(&facts.links) {
        put("Admin NIC Tag", json!(ADMIN_TAG));
        put("Admin IP", json!(ip4addr(admin)));
    }
    put("UUID", json!(facts.uuid));
    put("Hostname", json!(facts.hostname));
    put("CPU Total Cores", json!(cpu.total));
    put("CPU Socket Count", json!(cpu.sockets));
    put("CPU Core Count", json!(cpu.cores));
    put("CPU Online Count", json!(cpu.online));
    put("CPU Count", json!(cpu.total));
    put("MiB of Memory", json!(facts.memory.0.to_string()));
    put("Zpool", json!(facts.zpool));
    put("Disks", disks(facts));
    put("Boot Parameters", boot_params(facts));
    put("Network Interfaces", links(&facts.links));
    m
}

fn admin_link(links: &[Link]) -> Option<&Link> {
    links
        .iter()
        .find(|l| l.nic_tags.iter().any(|t| t == ADMIN_TAG))
}

fn ip4addr(link: &Link) -> String {
    link.ip4addr.map(|a| a.to_string()).unwrap_or_default()
}

fn disks(facts: &HostFacts) -> Value {
    let disks: Map<String, Value> = facts
        .disks
        .iter()
        .map(|d| (d.name.clone(), json!({ "Size in GB": d.size_gb() })))
        .collect();
    Value::Object(disks)
}

fn boot_params(facts: &HostFacts) -> Value {
    let params: Map<String, Value> = facts
        .boot_params
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    Value::Object(params)
}

fn links(links: &[Link]) -> Value {
    let links: Map<String, Value> = links
        .iter()
        .map(|l| {
            let value = json!({
                "MAC Address": l.mac.to_string(),
                "ip4addr": ip4addr(l),
                "Link Status": l.status.as_str(),
                "NIC Names": l.nic_tags,
            });
            (l.name.clone(), value)
        })
        .collect();
    Value::Object(links)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::net::Ipv4Addr;

    use basalt_model::{Mac, Mib};

    use super::*;
    use crate::sysinfo::facts::{CpuFacts, Disk, LinkStatus, Smbios, Virtualization};

    /// A two-socket node with one admin link and one unplugged link.
    pub(crate) fn facts() -> HostFacts {
        HostFacts {
            uuid: "4c4c4544-0000-1000-8000-b7c04f4e4e31".into(),
            hostname: "node1".into(),
            live_image: "20240101T000000Z".into(),
            boot_time: 1795765966,
            setup: true,
            cpu: CpuFacts {
                model: "Intel(R) Xeon(R) CPU E5-2620 v4 @ 2.10GHz".into(),
                virtualization: Virtualization::Vmx,
                sockets: 2,
                cores: 16,
                online: 32,
                total: 32,
            },
            memory: Mib(131072),
            smbios: Smbios {
                manufacturer: "Dell Inc.".into(),
                product: "PowerEdge R730".into(),
                serial_number: "ABC1234".into(),
                sku_number: "SKU=0600;ModelName=PowerEdge R730".into(),
                hw_version: "".into(),
                hw_family: "".into(),
            },
            disks: vec![
                Disk {
                    name: "nvme0n1".into(),
                    size_bytes: 1_600_321_314_816,
                },
                Disk {
                    name: "sda".into(),
                    size_bytes: 500_107_862_016,
                },
            ],
            boot_params: vec![
                ("console".into(), "ttyS0".into()),
                ("quiet".into(), "true".into()),
            ],
            links: vec![
                Link {
                    name: "eno1".into(),
                    mac: Mac([0x00, 0x0c, 0x29, 0xaa, 0xbb, 0xcc]),
                    ip4addr: Some(Ipv4Addr::new(10, 0, 0, 5)),
                    status: LinkStatus::Up,
                    nic_tags: vec!["admin".into(), "external".into()],
                },
                Link {
                    name: "eno2".into(),
                    mac: Mac([0x00, 0x0c, 0x29, 0xaa, 0xbb, 0xcd]),
                    ip4addr: None,
                    status: LinkStatus::Down,
                    nic_tags: vec![],
                },
            ],
            kvm: true,
            zpool: "zones".into(),
            datacenter_name: Some("us-east-1".into()),
        }
    }

    #[test]
    fn assembles_the_reference_keys_in_order() {
        let got = Value::Object(assemble(&facts()));
        let want = json!({
            "Live Image": "20240101T000000Z",
            "System Type": "Linux",
            "Boot Time": "1795765966",
            "Datacenter Name": "us-east-1",
            "Manufacturer": "Dell Inc.",
            "Product": "PowerEdge R730",
            "Serial Number": "ABC1234",
            "SKU Number": "SKU=0600;ModelName=PowerEdge R730",
            "HW Version": "",
            "HW Family": "",
            "Setup": "true",
            "VM Capable": true,
            "Bhyve Capable": true,
            "Bhyve Max Vcpus": 32,
            "HVM API": true,
            "CPU Type": "Intel(R) Xeon(R) CPU E5-2620 v4 @ 2.10GHz",
            "CPU Virtualization": "vmx",
            "CPU Physical Cores": 2,
            "Admin NIC Tag": "admin",
            "Admin IP": "10.0.0.5",
            "UUID": "4c4c4544-0000-1000-8000-b7c04f4e4e31",
            "Hostname": "node1",
            "CPU Total Cores": 32,
            "CPU Socket Count": 2,
            "CPU Core Count": 16,
            "CPU Online Count": 32,
            "CPU Count": 32,
            "MiB of Memory": "131072",
            "Zpool": "zones",
            "Disks": {
                "nvme0n1": { "Size in GB": 1600 },
                "sda": { "Size in GB": 500 }
            },
            "Boot Parameters": { "console": "ttyS0", "quiet": "true" },
            "Network Interfaces": {
                "eno1": {
                    "MAC Address": "00:0c:29:aa:bb:cc",
                    "ip4addr": "10.0.0.5",
                    "Link Status": "up",
                    "NIC Names": ["admin", "external"]
                },
                "eno2": {
                    "MAC Address": "00:0c:29:aa:bb:cd",
                    "ip4addr": "",
                    "Link Status": "down",
                    "NIC Names": []
                }
            }
        });
        assert_eq!(got, want);
        // json! builds maps in source order too (preserve_order), so the
        // key order is compared by the serialised text.
        assert_eq!(got.to_string(), want.to_string());
    }

    #[test]
    fn without_kvm_or_configuration() {
        let mut f = facts();
        f.kvm = false;
        f.setup = false;
        f.datacenter_name = None;
        f.links[0].nic_tags.clear();
        let m = assemble(&f);
        assert_eq!(m["VM Capable"], json!(false));
        assert_eq!(m["Bhyve Capable"], json!(false));
        assert_eq!(m["Bhyve Max Vcpus"], json!(0));
        assert_eq!(m["HVM API"], json!(false));
        assert_eq!(m["Setup"], json!("false"));
        for absent in ["Datacenter Name", "Admin NIC Tag", "Admin IP"] {
            assert!(!m.contains_key(absent), "{absent} should be absent");
        }
    }
}
