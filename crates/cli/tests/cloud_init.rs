//! cloud-init's own SmartOS datasource (Debian's, run by the system's
//! python3) reads a running zone's identity, hostname, keys, user-data and
//! networks from the metadata socket its supervisor serves on the host.
//! The zone is deleted at the end, even when the test fails.

mod common;

use common::zones::Zones;
use serde_json::{Value, json};

/// Builds cloud-init's `DataSourceSmartOS` as its `init` stage would, with
/// the metadata socket `sys.argv[1]` and its state under `sys.argv[2]`,
/// runs `get_data()` and prints what it read as JSON.
///
/// Two things are changed for running on a host rather than in a zone,
/// neither touching how the datasource speaks to the server:
/// - the platform detection (`get_smartos_environ`, which looks for
///   "BrandZ virtual linux" in uname or "SmartDC" in DMI) answers lx-brand,
///   the platform whose client is the socket one;
/// - the files it writes outside its `Paths` (the `/var/db` links to
///   user-script and user-data, the rename of `/var/svc/provisioning`)
///   go under `sys.argv[2]` or are skipped, so the host is left alone.
const DATASOURCE: &str = r#"
import json, os, sys
from cloudinit import distros, helpers
from cloudinit.sources import DataSourceSmartOS as ds

sock, tmp = sys.argv[1], sys.argv[2]
ds.get_smartos_environ = lambda *args, **kwargs: ds.SMARTOS_ENV_LX_BRAND
ds.LEGACY_USER_D = os.path.join(tmp, "var-db")

sys_cfg = {"datasource": {"SmartOS": {"metadata_sockfile": sock}}}
paths = helpers.Paths({
    "cloud_dir": os.path.join(tmp, "cloud"),
    "run_dir": os.path.join(tmp, "run"),
})
distro = distros.fetch("debian")("debian", {}, paths)
source = ds.DataSourceSmartOS(sys_cfg, distro, paths)
source._set_provisioned = lambda: None

seen = {
    "client": type(source.md_client).__name__,
    "smartos_type": source.smartos_type,
    "got": source.get_data(),
}
seen.update({
    "instance_id": source.get_instance_id(),
    "hostname": source.get_hostname().hostname,
    "public_keys": source.get_public_ssh_keys(),
    "userdata_raw": source.userdata_raw,
    "network_config": source.network_config,
    "metadata": source.metadata,
})
print(json.dumps(seen, default=str))
"#;

#[test]
fn cloud_inits_smartos_datasource_reads_the_zone_over_its_socket() {
    common::require_cloud_init();
    let z = Zones::in_netns("cloud-init-datasource");
    let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJhc2FsdCBjbG91ZC1pbml0IGRhdGFzb3VyY2Uga2V5 ds@basalt";
    let user_data = "#cloud-config\nruncmd:\n  - [touch, /var/tmp/from-cloud-config]\n";
    let user_script = "#!/bin/sh\ntouch /var/tmp/from-user-script\n";
    // Documentation addresses only, on a switch in the test's own
    // network namespace.
    let uuid = z.create_json(json!({
        "hostname": "ds1",
        "resolvers": ["192.0.2.53", "198.51.100.53"],
        "nics": [{
            "nic_tag": "admin",
            "ip": "192.0.2.10",
            "netmask": "255.255.255.0",
            "gateway": "192.0.2.1",
            "primary": true,
        }],
        "customer_metadata": {
            "root_authorized_keys": key,
            "user-script": user_script,
            "cloud-init:user-data": user_data,
        },
    }));
    let vm = z.get(&uuid);
    let mac = vm["nics"][0]["mac"]
        .as_str()
        .unwrap_or_else(|| panic!("the nic has no mac: {vm}"))
        .to_owned();

    let socket = z
        .path()
        .join(format!("var/zonecontrol/{uuid}/metadata.sock"));
    let state = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("/usr/bin/python3")
        .args(["-c", DATASOURCE])
        .arg(&socket)
        .arg(state.path())
        .output()
        .expect("/usr/bin/python3");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let seen: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {:?} {stderr}", out.stdout));

    assert_eq!(seen["client"], "JoyentMetadataSocketClient", "{seen}");
    assert_eq!(seen["got"], true, "{seen}");
    assert_eq!(seen["instance_id"], uuid.as_str(), "{seen}");
    assert_eq!(seen["hostname"], "ds1", "{seen}");
    assert_eq!(seen["public_keys"], json!([key]), "{seen}");
    assert_eq!(seen["userdata_raw"], user_data, "{seen}");
    assert_eq!(seen["metadata"]["user-script"], user_script, "{seen}");
    assert_eq!(seen["metadata"]["instance-id"], uuid.as_str(), "{seen}");

    // One physical interface with the zone's MAC, its static address and
    // the gateway (the nic is primary), and the resolvers as nameservers.
    let net = &seen["network_config"];
    assert_eq!(net["version"], 1, "{net}");
    let config = net["config"].as_array().expect("a config list");
    let physical: Vec<&Value> = config.iter().filter(|c| c["type"] == "physical").collect();
    assert_eq!(physical.len(), 1, "{net}");
    assert_eq!(physical[0]["mac_address"], mac.as_str(), "{net}");
    assert_eq!(
        physical[0]["subnets"],
        json!([{"type": "static", "address": "192.0.2.10/24", "gateway": "192.0.2.1"}]),
        "{net}"
    );
    let nameservers: Vec<&Value> = config
        .iter()
        .filter(|c| c["type"] == "nameserver")
        .collect();
    assert_eq!(nameservers.len(), 1, "{net}");
    assert_eq!(
        nameservers[0]["address"],
        json!(["192.0.2.53", "198.51.100.53"]),
        "{net}"
    );

    // What it wrote stayed under its own paths.
    let data = state
        .path()
        .join(format!("cloud/instances/{uuid}/data/user-script"));
    assert_eq!(std::fs::read_to_string(&data).unwrap(), user_script);
}
