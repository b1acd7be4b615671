//! A zone's spec from its stored configuration: what the runtime needs to
//! boot it, in the runtime's terms.

use std::path::PathBuf;

use basalt_model::{Brand, VmUuid};
use basalt_zone::spec::{CgroupMount, Filesystem, IdMap, ZoneSpec};
use serde_json::{Map, Value};

use super::docker::{self, DockerError};
use crate::paths::Paths;

/// The init a zone runs when `init_name` does not say.
pub const DEFAULT_INIT: &str = "/sbin/init";

/// The command path in a zone: the usual one, then the guest tools the
/// host lends every zone (`mdata-get`...).
pub const ZONE_PATH: &str =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/native/usr/sbin";

/// The environment every zone's init starts with. `container` is how
/// systemd and other inits learn that they run in a container.
pub const INIT_ENV: [(&str, &str); 3] = [
    ("PATH", ZONE_PATH),
    ("TERM", "vt100"),
    ("container", "basalt"),
];

/// The stored configuration's brand (joyent when unreadable, as vmadm
/// defaults it).
pub fn brand_of(vm: &Map<String, Value>) -> Brand {
    vm.get("brand")
        .and_then(Value::as_str)
        .and_then(|b| b.parse().ok())
        .unwrap_or(Brand::Joyent)
}

/// The spec of a stored instance. A docker instance runs its container's
/// process ([`docker::process`]) instead of its `init_name`; its metadata
/// not making one is an error.
pub fn zone_spec(
    paths: &Paths,
    uuid: &VmUuid,
    vm: &Map<String, Value>,
    ids: IdMap,
    console: Option<PathBuf>,
    cgroup_mounts: Vec<CgroupMount>,
) -> Result<ZoneSpec, DockerError> {
    let str_of = |k: &str| vm.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    let num = |k: &str| vm.get(k).and_then(Value::as_u64).unwrap_or(0);
    let hostname = str_of("hostname")
        .or_else(|| str_of("zonename"))
        .unwrap_or(uuid.as_str())
        .to_owned();
    let init = str_of("init_name").unwrap_or(DEFAULT_INIT).to_owned();
    let mut spec = ZoneSpec {
        name: uuid.to_string(),
        root: paths.zonepath(uuid).join("root"),
        hostname,
        ids,
        init: vec![init],
        env: INIT_ENV
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        workdir: None,
        user: None,
        tmpfs_mib: num("tmpfs"),
        run_mib: (num("max_physical_memory") / 10).clamp(16, 1024),
        filesystems: filesystems(vm),
        cgroup_mounts,
        console,
    };
    if let Some(process) = docker::process(vm, &spec.hostname)? {
        spec.init = process.argv;
        spec.env = process.env;
        spec.workdir = process.workdir;
        spec.user = Some(process.user);
    }
    Ok(spec)
}

fn filesystems(vm: &Map<String, Value>) -> Vec<Filesystem> {
    let Some(list) = vm.get("filesystems").and_then(Value::as_array) else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|fs| {
            let s = |k: &str| fs.get(k).and_then(Value::as_str).map(str::to_owned);
            Some(Filesystem {
                fstype: s("type")?,
                source: s("source")?,
                target: s("target")?,
                options: fs
                    .get("options")
                    .and_then(Value::as_array)
                    .map(|o| {
                        o.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const U: &str = "a5ce6d2c-3c0c-4b3e-9b1e-7d3b0c6a1f00";

    #[test]
    fn the_spec_follows_the_configuration() {
        let vm = json!({
            "brand": "joyent-minimal", "hostname": "web01", "tmpfs": 128,
            "max_physical_memory": 1024, "init_name": "/bin/myinit",
            "filesystems": [{"type": "lofs", "source": "/data", "target": "/data", "options": ["ro"]}]
        });
        let uuid: VmUuid = U.parse().unwrap();
        let s = zone_spec(
            &Paths::new("/r"),
            &uuid,
            vm.as_object().unwrap(),
            IdMap::nth(2),
            None,
            vec![],
        )
        .unwrap();
        assert_eq!(s.root, PathBuf::from(format!("/r/zones/{U}/root")));
        assert_eq!(s.hostname, "web01");
        assert_eq!(s.init, ["/bin/myinit"]);
        assert_eq!(s.tmpfs_mib, 128);
        assert_eq!(s.run_mib, 102);
        assert_eq!(s.filesystems[0].options, ["ro"]);
        assert_eq!(s.ids.base, (1 << 20) + 2 * 65536);
    }

    #[test]
    fn without_a_hostname_the_zone_is_called_by_its_zonename() {
        let uuid: VmUuid = U.parse().unwrap();
        let s = zone_spec(
            &Paths::new("/"),
            &uuid,
            json!({}).as_object().unwrap(),
            IdMap::nth(0),
            None,
            vec![],
        )
        .unwrap();
        assert_eq!(s.hostname, U);
        assert_eq!(s.init, [DEFAULT_INIT]);
        assert_eq!(s.tmpfs_mib, 0);
        assert_eq!((s.workdir, s.user), (None, None));
    }

    fn docker_spec(vm: Value) -> Result<ZoneSpec, DockerError> {
        let uuid: VmUuid = U.parse().unwrap();
        zone_spec(
            &Paths::new("/"),
            &uuid,
            vm.as_object().unwrap(),
            IdMap::nth(0),
            None,
            vec![],
        )
    }

    #[test]
    fn a_docker_instance_runs_its_container_process() {
        let s = docker_spec(json!({
            "brand": "lx", "hostname": "app1", "docker": true,
            "init_name": "/native/usr/vm/sbin/dockerinit",
            "internal_metadata": {
                "docker:entrypoint": "[\"/bin/busybox\",\"sh\",\"-c\"]",
                "docker:cmd": "[\"httpd -f\"]",
                "docker:env": "[\"PATH=/opt/bin:/bin\",\"MODE=prod\"]",
                "docker:workdir": "/www",
                "docker:user": "www-data"
            }
        }))
        .unwrap();
        assert_eq!(s.init, ["/bin/busybox", "sh", "-c", "httpd -f"]);
        let env: Vec<String> = s.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(
            env,
            [
                "PATH=/opt/bin:/bin",
                "MODE=prod",
                "HOSTNAME=app1",
                "TERM=xterm",
                "container=basalt"
            ]
        );
        assert_eq!(s.workdir.as_deref(), Some("/www"));
        assert_eq!(s.user.as_deref(), Some("www-data"));
    }

    #[test]
    fn a_docker_instance_with_bad_metadata_does_not_get_a_spec() {
        let e = docker_spec(json!({
            "docker": true, "internal_metadata": {"docker:entrypoint": "/bin/sh"}
        }))
        .unwrap_err();
        assert!(e.to_string().contains("docker:entrypoint"), "{e}");
    }
}
