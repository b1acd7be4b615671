use serde_json::json;

use super::*;

const UUID: &str = "54f1cc77-68f1-42ab-acac-5c4f64f5d6e0";

fn vm() -> Map<String, Value> {
    let v = json!({
        "uuid": UUID,
        "alias": "web0",
        "hostname": "web0",
        "zonename": UUID,
        "brand": "joyent-minimal",
        "owner_uuid": "930896af-bf8c-48d4-885c-6573a94b1853",
        "server_uuid": "564d6b8c-9f0b-4b41-9e2a-3cbbd87d4ab5",
        "datacenter_name": "dc1",
        "dns_domain": "example.com",
        "max_physical_memory": 256,
        "autoboot": true,
        "tmpfs": 256,
        "resolvers": ["8.8.8.8", "8.8.4.4"],
        "nics": [
            {"interface": "net0", "mac": "02:08:20:01:02:03", "nic_tag": "admin",
             "ip": "10.0.0.5", "netmask": "255.255.255.0", "gateway": "10.0.0.1",
             "primary": true, "ips": ["10.0.0.5/24"], "gateways": ["10.0.0.1"]},
            {"interface": "net1", "mac": "02:08:20:0a:0b:0c", "nic_tag": "external",
             "ip": "dhcp", "ips": ["dhcp"]},
            {"interface": "net2", "mac": "02:08:20:0a:0b:0d", "nic_tag": "internal"}
        ],
        "routes": {
            "10.2.0.0/16": "10.0.0.254",
            "192.168.1.1": "nics[0]",
            "172.16.0.0/12": "nics[1]",
            "198.51.100.0/24": "macs[2:8:20:1:2:3]",
            "203.0.113.0/24": "nics[7]",
            "100.64.0.0/10": "nics[2]",
            "192.0.2.0/24": "macs[02:08:20:ff:ff:ff]"
        },
        "tags": {"role": "web", "a.b": 1},
        "customer_metadata": {
            "user-script": "#!/bin/sh\necho hi\n",
            "user-data": "data",
            "root_authorized_keys": "ssh-ed25519 AAAA k1\nssh-rsa AAAA k2",
            "cloud-init:user-data": "#cloud-config\n",
            "secret_pw": "customer copy",
            "docker:env": "customer copy",
            "count": 3,
            "flag": true,
            "nested": {"a": 1}
        },
        "internal_metadata": {
            "operator-script": "#!/bin/sh\nop\n",
            "root_pw": "hunter2",
            "docker:id": "abcd",
            "sdc:volumes": "[]",
            "hidden": "x"
        },
        "internal_metadata_namespaces": ["docker"]
    });
    v.as_object().cloned().unwrap()
}

fn get(vm: &Map<String, Value>, key: &str) -> Lookup {
    Routing::new(vm).get(key)
}

fn found(value: &str) -> Lookup {
    Lookup::Found(value.to_owned())
}

#[test]
fn sdc_keys_from_the_configuration() {
    let vm = vm();
    for (key, value) in [
        ("sdc:uuid", UUID),
        ("sdc:hostname", "web0"),
        ("sdc:alias", "web0"),
        ("sdc:zonename", UUID),
        ("sdc:owner_uuid", "930896af-bf8c-48d4-885c-6573a94b1853"),
        ("sdc:server_uuid", "564d6b8c-9f0b-4b41-9e2a-3cbbd87d4ab5"),
        ("sdc:datacenter_name", "dc1"),
        ("sdc:dns_domain", "example.com"),
        ("sdc:max_physical_memory", "256"),
        ("sdc:autoboot", "true"),
    ] {
        assert_eq!(get(&vm, key), found(value), "{key}");
    }
    for key in [
        "sdc:image_uuid",
        "sdc:billing_id",
        "sdc:",
        "sdc:nope",
        "sdc:uuid.x",
    ] {
        assert_eq!(get(&vm, key), Lookup::NotFound, "{key}");
    }
}

#[test]
fn sdc_nics_resolvers_and_tmpfs_are_json() {
    let vm = vm();
    assert_eq!(
        get(&vm, "sdc:nics"),
        found(concat!(
            r#"[{"interface":"net0","mac":"02:08:20:01:02:03","nic_tag":"admin","ip":"10.0.0.5","#,
            r#""netmask":"255.255.255.0","gateway":"10.0.0.1","primary":true,"ips":["10.0.0.5/24"],"#,
            r#""gateways":["10.0.0.1"]},{"interface":"net1","mac":"02:08:20:0a:0b:0c","#,
            r#""nic_tag":"external","ip":"dhcp","ips":["dhcp"]},{"interface":"net2","#,
            r#""mac":"02:08:20:0a:0b:0d","nic_tag":"internal"}]"#
        ))
    );
    assert_eq!(get(&vm, "sdc:resolvers"), found(r#"["8.8.8.8","8.8.4.4"]"#));
    assert_eq!(get(&vm, "sdc:tmpfs"), found("256"));
    let empty = Map::new();
    for key in ["sdc:nics", "sdc:resolvers", "sdc:tmpfs", "sdc:routes"] {
        assert_eq!(get(&empty, key), Lookup::NotFound, "{key}");
    }
}

#[test]
fn sdc_routes_resolve_nic_gateways() {
    assert_eq!(
        get(&vm(), "sdc:routes"),
        found(concat!(
            r#"[{"linklocal":false,"dst":"10.2.0.0/16","gateway":"10.0.0.254"},"#,
            r#"{"linklocal":true,"dst":"192.168.1.1","gateway":"10.0.0.5"},"#,
            r#"{"linklocal":true,"dst":"198.51.100.0/24","gateway":"10.0.0.5"}]"#
        ))
    );
    let mut no_nics = vm();
    no_nics.remove("nics");
    assert_eq!(
        get(&no_nics, "sdc:routes"),
        found(r#"[{"linklocal":false,"dst":"10.2.0.0/16","gateway":"10.0.0.254"}]"#)
    );
    let empty = json!({"routes": {}});
    assert_eq!(get(empty.as_object().unwrap(), "sdc:routes"), found("[]"));
}

#[test]
fn sdc_paths_are_flattened() {
    let vm = vm();
    for (key, value) in [
        ("sdc:nics.0.ip", "10.0.0.5"),
        ("sdc:nics.1.mac", "02:08:20:0a:0b:0c"),
        ("sdc:nics.0.primary", "true"),
        ("sdc:resolvers.1", "8.8.4.4"),
        ("sdc:tags.role", "web"),
        ("sdc:tags.a.b", "1"),
        ("sdc:routes.10.2.0.0/16", "10.0.0.254"),
        ("sdc:customer_metadata.user-data", "data"),
        ("sdc:internal_metadata.hidden", "x"),
        ("sdc:internal_metadata_namespaces.0", "docker"),
    ] {
        assert_eq!(get(&vm, key), found(value), "{key}");
    }
    for key in [
        "sdc:nics.9.ip",
        "sdc:nics.0",
        "sdc:nics.x.ip",
        "sdc:nics.0.ip.x",
        "sdc:tags.x",
    ] {
        assert_eq!(get(&vm, key), Lookup::NotFound, "{key}");
    }
    for key in ["sdc:tags", "sdc:nics.0.ips", "sdc:customer_metadata"] {
        assert_eq!(get(&vm, key), Lookup::NotScalar, "{key}");
    }
}

#[test]
fn sdc_keys_served_from_internal_metadata() {
    let vm = vm();
    assert_eq!(get(&vm, "sdc:operator-script"), found("#!/bin/sh\nop\n"));
    assert_eq!(get(&vm, "sdc:volumes"), found("[]"));
    assert_eq!(get(&Map::new(), "sdc:operator-script"), Lookup::NotFound);
}

#[test]
fn customer_keys() {
    let vm = vm();
    for (key, value) in [
        ("user-script", "#!/bin/sh\necho hi\n"),
        ("user-data", "data"),
        (
            "root_authorized_keys",
            "ssh-ed25519 AAAA k1\nssh-rsa AAAA k2",
        ),
        ("cloud-init:user-data", "#cloud-config\n"),
        ("count", "3"),
        ("flag", "true"),
    ] {
        assert_eq!(get(&vm, key), found(value), "{key}");
    }
    assert_eq!(get(&vm, "nested"), Lookup::NotScalar);
    assert_eq!(get(&vm, "missing"), Lookup::NotFound);
    // Only `sdc:operator-script` reads the internal one.
    assert_eq!(get(&vm, "operator-script"), Lookup::NotFound);
}

#[test]
fn passwords_and_namespaces_come_from_internal_metadata() {
    let vm = vm();
    assert_eq!(get(&vm, "root_pw"), found("hunter2"));
    assert_eq!(get(&vm, "secret_pw"), Lookup::NotFound);
    assert_eq!(get(&vm, "docker:id"), found("abcd"));
    assert_eq!(get(&vm, "docker:env"), Lookup::NotFound);
    assert_eq!(get(&vm, "hidden"), Lookup::NotFound);
}

#[test]
fn a_configuration_without_metadata_fails() {
    let vm = json!({"uuid": UUID});
    let vm = vm.as_object().unwrap();
    assert_eq!(
        get(vm, "user-script"),
        Lookup::Failed(Failure::Failed(
            "Zone did not contain customer_metadata".into()
        ))
    );
    assert_eq!(
        get(vm, "root_pw"),
        Lookup::Failed(Failure::Failed(
            "Zone did not contain internal_metadata".into()
        ))
    );
    assert_eq!(Routing::new(vm).keys(), Vec::<String>::new());
}

#[test]
fn keys_lists_customer_then_internal() {
    assert_eq!(
        Routing::new(&vm()).keys(),
        [
            "user-script",
            "user-data",
            "root_authorized_keys",
            "cloud-init:user-data",
            "count",
            "flag",
            "nested",
            "root_pw",
            "docker:id",
        ]
    );
}

#[test]
fn writes() {
    let vm = vm();
    let routing = Routing::new(&vm);
    assert_eq!(
        routing.write("sdc:hostname"),
        Err(Failure::Refused(
            r#"Cannot update the "sdc" Namespace."#.into()
        ))
    );
    assert_eq!(
        routing.write("docker:id"),
        Err(Failure::Refused(
            r#"Cannot update the "docker" Namespace."#.into()
        ))
    );
    assert_eq!(routing.write("root_pw"), Ok(Section::Internal));
    assert_eq!(routing.write("operator-script"), Ok(Section::Internal));
    assert_eq!(routing.write("user-script"), Ok(Section::Customer));
    assert_eq!(routing.write("cloud-init:user-data"), Ok(Section::Customer));
    assert_eq!(routing.write("prepare-image:state"), Ok(Section::Customer));
}

#[test]
fn namespaces() {
    let vm = vm();
    let routing = Routing::new(&vm);
    assert_eq!(routing.namespace("docker:id"), Some("docker"));
    assert_eq!(routing.namespace("docker:a:b"), Some("docker"));
    assert_eq!(routing.namespace("dockerid"), None);
    assert_eq!(routing.namespace("cloud-init:user-data"), None);
    let listed = json!({"internal_metadata_namespaces": "a,b"});
    assert_eq!(
        Routing::new(listed.as_object().unwrap()).namespace("b:x"),
        Some("b")
    );
}

#[test]
fn section_keys() {
    assert_eq!(Section::Customer.property(), "customer_metadata");
    assert_eq!(Section::Internal.set_key(), "set_internal_metadata");
    assert_eq!(Section::Customer.remove_key(), "remove_customer_metadata");
}
