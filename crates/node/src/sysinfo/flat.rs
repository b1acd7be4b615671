//! `sysinfo -p`: the JSON object as bash-sourceable `Key='value'` lines.
//!
//! The rule, applied to the object in its own order:
//!
//! - A name is made shell-safe by turning every character that is not an
//!   ASCII letter or digit into `_`: `Live Image` → `Live_Image`,
//!   `random.trust_cpu` → `random_trust_cpu`.
//! - A top-level scalar is one line under its own name:
//!   `MiB_of_Memory='2048'`.
//! - A top-level object names each of its members in the singular:
//!   its key without the trailing `s` (`Network Interfaces` →
//!   `Network_Interface`, `Disks` → `Disk`), except `Boot Parameters`,
//!   which SmartOS spells `Bootparam`. Below that, every level adds `_`
//!   and its (shell-safe) key: `Network_Interface_eth0_MAC_Address`,
//!   `Bootparam_console`. One nested key is respelled: a disk's `Size in
//!   GB` is `size_in_GB`, giving `Disk_sda_size_in_GB`.
//! - An array is one line, its elements joined with `,`:
//!   `Network_Interface_eth0_NIC_Names='admin,external'`.
//! - Values are their text (numbers and booleans as JSON writes them, null
//!   as nothing), always single-quoted; a `'` inside is written `'\''`, so
//!   that `eval` or `source` reads back the exact value.

use serde_json::{Map, Value};

/// Renders sysinfo's object as `Key='value'` lines, each ending in `\n`.
pub fn to_parsable(info: &Map<String, Value>) -> String {
    let mut out = String::new();
    for (key, value) in info {
        match value {
            Value::Object(members) => {
                let prefix = object_prefix(key);
                for (member, v) in members {
                    flatten(&mut out, &format!("{prefix}_{}", shell_name(member)), v);
                }
            }
            _ => flatten(&mut out, &shell_name(key), value),
        }
    }
    out
}

fn flatten(out: &mut String, name: &str, value: &Value) {
    match value {
        Value::Object(fields) => {
            for (k, v) in fields {
                flatten(out, &format!("{name}_{}", segment(k)), v);
            }
        }
        Value::Array(items) => {
            let joined: Vec<String> = items.iter().map(scalar_text).collect();
            line(out, name, &joined.join(","));
        }
        _ => line(out, name, &scalar_text(value)),
    }
}

fn line(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push('=');
    out.push_str(&shell_quote(value));
    out.push('\n');
}

/// The singular prefix under which a top-level object's members are named.
fn object_prefix(key: &str) -> String {
    if key == "Boot Parameters" {
        return "Bootparam".to_owned();
    }
    let name = shell_name(key);
    match name.strip_suffix('s') {
        Some(singular) if !singular.is_empty() => singular.to_owned(),
        _ => name,
    }
}

/// A key below the top level (a disk's `Size in GB` respelled).
fn segment(key: &str) -> String {
    if key == "Size in GB" {
        return "size_in_GB".to_owned();
    }
    shell_name(key)
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `s` with every character that is not an ASCII letter or digit made `_`.
pub fn shell_name(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// `s` single-quoted for bash, each `'` written `'\''`.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::sysinfo::assemble::{assemble, tests::facts};

    fn object(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn flattens_the_assembled_object() {
        let want = "\
Live_Image='20240101T000000Z'
System_Type='Linux'
Boot_Time='1795765966'
Datacenter_Name='us-east-1'
Manufacturer='Dell Inc.'
Product='PowerEdge R730'
Serial_Number='ABC1234'
SKU_Number='SKU=0600;ModelName=PowerEdge R730'
HW_Version=''
HW_Family=''
Setup='true'
VM_Capable='true'
Bhyve_Capable='true'
Bhyve_Max_Vcpus='32'
HVM_API='true'
CPU_Type='Intel(R) Xeon(R) CPU E5-2620 v4 @ 2.10GHz'
CPU_Virtualization='vmx'
CPU_Physical_Cores='2'
Admin_NIC_Tag='admin'
Admin_IP='10.0.0.5'
UUID='4c4c4544-0000-1000-8000-b7c04f4e4e31'
Hostname='node1'
CPU_Total_Cores='32'
CPU_Socket_Count='2'
CPU_Core_Count='16'
CPU_Online_Count='32'
CPU_Count='32'
MiB_of_Memory='131072'
Zpool='zones'
Disk_nvme0n1_size_in_GB='1600'
Disk_sda_size_in_GB='500'
Bootparam_console='ttyS0'
Bootparam_quiet='true'
Network_Interface_eno1_MAC_Address='00:0c:29:aa:bb:cc'
Network_Interface_eno1_ip4addr='10.0.0.5'
Network_Interface_eno1_Link_Status='up'
Network_Interface_eno1_NIC_Names='admin,external'
Network_Interface_eno2_MAC_Address='00:0c:29:aa:bb:cd'
Network_Interface_eno2_ip4addr=''
Network_Interface_eno2_Link_Status='down'
Network_Interface_eno2_NIC_Names=''
";
        assert_eq!(to_parsable(&assemble(&facts())), want);
    }

    #[test]
    fn names_are_made_shell_safe() {
        let info = object(json!({
            "Boot Parameters": { "random.trust_cpu": "on", "root": "UUID=x" },
            "Virtual Network Interfaces": { "vnic-0": { "VLAN": 0, "Host Interface": "eth0" } },
            "Zpool Recovery": { "active": null },
            "Psrinfo": { "0": { "state": "on-line" } },
            "s": "edge",
        }));
        assert_eq!(
            to_parsable(&info),
            "Bootparam_random_trust_cpu='on'\n\
             Bootparam_root='UUID=x'\n\
             Virtual_Network_Interface_vnic_0_VLAN='0'\n\
             Virtual_Network_Interface_vnic_0_Host_Interface='eth0'\n\
             Zpool_Recovery_active=''\n\
             Psrinfo_0_state='on-line'\n\
             s='edge'\n"
        );
    }

    #[test]
    fn values_are_quoted_for_bash() {
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(
            shell_quote("$(rm -rf /) `x` \"q\""),
            "'$(rm -rf /) `x` \"q\"'"
        );
        let info = object(json!({ "Hostname": "o'neil's box", "Odd": [1, true, "a'b"] }));
        assert_eq!(
            to_parsable(&info),
            "Hostname='o'\\''neil'\\''s box'\nOdd='1,true,a'\\''b'\n"
        );
    }

    #[test]
    fn quoting_round_trips_through_bash() {
        let Ok(out) = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!(
                "{}printf '%s' \"$Hostname\"",
                to_parsable(&object(json!({ "Hostname": "a'b \"c\" $d\\e'" })))
            ))
            .output()
        else {
            panic!("bash is needed to check the -p quoting");
        };
        assert_eq!(String::from_utf8_lossy(&out.stdout), "a'b \"c\" $d\\e'");
    }
}
