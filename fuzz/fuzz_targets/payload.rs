//! Untrusted payload bytes through everything that reads them: validation
//! for every brand and action, create, update of a created instance, and
//! the `key=value` parser of `vmadm update`. Any panic is a bug.

#![no_main]

use std::sync::OnceLock;

use basalt_model::Brand;
use basalt_model::create;
use basalt_model::facts::{HostFacts, SeededEntropy};
use basalt_model::schema::Action;
use basalt_model::update::{self, Current};
use basalt_model::validate::{validate, validate_create};
use basalt_model::{VmObject, VmUuid};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

const NOW: &str = "2026-11-27T08:00:00.000Z";
const IMG: &str = "01b2c898-945f-11e1-a523-af1afbe22822";

/// Instances to update, one per brand, with NICs and (HVM) disks.
fn instances(facts: &HostFacts) -> Vec<VmObject> {
    Brand::ALL
        .iter()
        .map(|b| {
            let mut p = json!({
                "brand": b.as_str(), "image_uuid": IMG, "kernel_version": "4.3.0",
                "alias": "fuzz", "tags": {"role": "db"}, "customer_metadata": {"k": "v"},
                "nics": [{"nic_tag": "admin", "ip": "192.0.2.10", "netmask": "255.255.255.0",
                          "gateway": "192.0.2.1", "model": "virtio"}],
            });
            if b.is_hvm() {
                p["disks"] = json!([{"image_uuid": IMG, "image_size": 10240, "model": "virtio"},
                                    {"size": 1024, "model": "virtio"}]);
            }
            let Value::Object(mut p) = p else {
                unreachable!()
            };
            if *b != Brand::Lx {
                p.remove("kernel_version");
            }
            create::create(p, facts, NOW, &mut SeededEntropy(1))
                .expect("fixture instance")
                .vm
        })
        .collect()
}

fn update_all(instances: &[VmObject], payload: &VmObject, facts: &HostFacts) {
    for vm in instances {
        let brand: Brand = vm["brand"].as_str().unwrap().parse().unwrap();
        let uuid: VmUuid = vm["uuid"].as_str().unwrap().parse().unwrap();
        for (state, zone_state) in [("stopped", "installed"), ("running", "running")] {
            let current = Current {
                vm,
                brand,
                uuid: &uuid,
                state,
                zone_state,
            };
            let _ = update::update(&current, payload.clone(), facts, NOW, &mut SeededEntropy(2));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let facts = HostFacts::with_default_pool();
    static INSTANCES: OnceLock<Vec<VmObject>> = OnceLock::new();
    let instances = INSTANCES.get_or_init(|| instances(&facts));
    if let Ok(Value::Object(payload)) = serde_json::from_slice::<Value>(data) {
        let _ = validate_create(&payload, &facts);
        for brand in Brand::ALL {
            for action in [Action::Create, Action::Update, Action::Receive] {
                let _ = validate(&payload, brand, action, &facts);
            }
        }
        if let Ok(created) = create::create(payload.clone(), &facts, NOW, &mut SeededEntropy(3)) {
            update_all(&[created.vm], &VmObject::new(), &facts);
        }
        update_all(instances, &payload, &facts);
    }
    let text = String::from_utf8_lossy(data);
    let args: Vec<String> = text.lines().map(str::to_owned).collect();
    if let Ok(payload) = update::parse_args(&args) {
        update_all(instances, &payload, &facts);
    }
});
