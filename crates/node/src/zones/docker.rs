//! Docker instances: a zone made from an OCI image runs the image's
//! process as its init, as Triton's docker brand does.
//!
//! At create, the image's config (its manifest's `docker:config` tag)
//! makes the payload `docker: true` and fills the `docker:*` internal
//! metadata the payload does not set, stored as Triton stores them
//! (entrypoint, cmd and env as JSON-encoded arrays, workdir and user as
//! plain strings). At boot, that metadata becomes the zone's init argv,
//! environment, working directory and user; `init_name` (Triton's
//! `dockerinit`, which basalt does not have) is not used.

use basalt_model::value::as_bool;
use serde_json::{Map, Value};

use crate::instances::{Node, NodeError};

/// The manifest tag holding an OCI image's config.
pub const CONFIG_TAG: &str = "docker:config";

/// Docker's command path, for images whose environment has none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The terminal type Triton's docker init sets when the image does not.
pub const DEFAULT_TERM: &str = "xterm";

/// The user a container runs as when `docker:user` is unset (docker's
/// default, root by id).
pub const DEFAULT_USER: &str = "0";

/// The `docker:*` keys filled from the image config, with the config's
/// member and whether the value is a list (stored JSON-encoded).
const FROM_CONFIG: [(&str, &str, bool); 5] = [
    ("docker:entrypoint", "Entrypoint", true),
    ("docker:cmd", "Cmd", true),
    ("docker:env", "Env", true),
    ("docker:workdir", "WorkingDir", false),
    ("docker:user", "User", false),
];

/// A docker instance's process that cannot be made from its metadata.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    /// A list key does not hold a JSON array of strings.
    #[error("failed to parse internal_metadata {key} ({value}) as a JSON array of strings")]
    BadList {
        /// The key.
        key: &'static str,
        /// Its value, as stored.
        value: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// A `docker:env` entry without `=`.
    #[error("failed to read docker:env entry {0:?}: it is not NAME=VALUE")]
    BadEnv(String),
    /// Both the entrypoint and the command are empty.
    #[error("the docker instance has no command: docker:entrypoint and docker:cmd are empty")]
    NoCommand,
}

/// What a docker instance's zone runs as its init.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    /// The entrypoint, then the command.
    pub argv: Vec<String>,
    /// The image's environment and docker's defaults.
    pub env: Vec<(String, String)>,
    /// The working directory (`docker:workdir`), if set.
    pub workdir: Option<String>,
    /// Who it runs as (`docker:user`, root by default).
    pub user: String,
}

/// Fills a create payload from an image's manifest tags: when they hold a
/// docker config and the payload does not say `docker: false`, the
/// payload becomes `docker: true` and gets each `docker:*` internal
/// metadata key it does not set from the config.
pub fn apply_image_config(payload: &mut Map<String, Value>, tags: &Map<String, Value>) {
    let Some(Value::Object(config)) = tags.get(CONFIG_TAG) else {
        return;
    };
    if payload.get("docker").and_then(as_bool) == Some(false) {
        return;
    }
    payload.insert("docker".into(), Value::Bool(true));
    let metadata = payload
        .entry("internal_metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    // Anything else is the payload's mistake, which validation reports.
    let Value::Object(metadata) = metadata else {
        return;
    };
    for (key, member, is_list) in FROM_CONFIG {
        if metadata.get(key).is_some_and(|v| !v.is_null()) {
            continue;
        }
        let value = match config.get(member) {
            Some(Value::Array(items)) if is_list => Value::Array(items.clone()).to_string(),
            Some(Value::String(s)) if !is_list && !s.is_empty() => s.clone(),
            _ => continue,
        };
        metadata.insert(key.into(), Value::String(value));
    }
}

impl Node {
    /// Fills a create payload from its image's docker config, if the
    /// image is installed and has one (see [`apply_image_config`]). An
    /// image that is not installed is left for the create's own checks.
    pub(crate) fn apply_docker_image(
        &self,
        payload: &mut Map<String, Value>,
    ) -> Result<(), NodeError> {
        let Some(image) = payload.get("image_uuid").and_then(Value::as_str) else {
            return Ok(());
        };
        let record = self
            .paths()
            .image_records()
            .join(format!("{}-{image}.json", self.config().pool_name()));
        if !basalt_model::ids::is_uuid(image) || !record.exists() {
            return Ok(());
        }
        let Ok(installed) = self.images()?.get(image) else {
            return Ok(());
        };
        if let Some(tags) = &installed.record.manifest.tags {
            apply_image_config(payload, tags);
        }
        Ok(())
    }
}

/// The process a stored instance's zone runs instead of its configured
/// init: `None` unless it is a docker instance (`docker: true`) with a
/// `docker:entrypoint` or `docker:cmd`.
pub fn process(vm: &Map<String, Value>, hostname: &str) -> Result<Option<Process>, DockerError> {
    if vm.get("docker").and_then(as_bool) != Some(true) {
        return Ok(None);
    }
    let metadata = vm.get("internal_metadata").and_then(Value::as_object);
    let get = |key: &str| metadata.and_then(|m| m.get(key)).filter(|v| !v.is_null());
    let (entrypoint, cmd) = (get("docker:entrypoint"), get("docker:cmd"));
    if entrypoint.is_none() && cmd.is_none() {
        return Ok(None);
    }
    let mut argv = list("docker:entrypoint", entrypoint)?;
    argv.extend(list("docker:cmd", cmd)?);
    if argv.is_empty() {
        return Err(DockerError::NoCommand);
    }
    let text = |key: &str| {
        get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    Ok(Some(Process {
        argv,
        env: environment(&list("docker:env", get("docker:env"))?, hostname)?,
        workdir: text("docker:workdir"),
        user: text("docker:user").unwrap_or_else(|| DEFAULT_USER.to_owned()),
    }))
}

/// A list key's strings: a JSON-encoded array (as stored), or an array.
fn list(key: &'static str, value: Option<&Value>) -> Result<Vec<String>, DockerError> {
    let bad = |source| DockerError::BadList {
        key,
        value: value.map(Value::to_string).unwrap_or_default(),
        source,
    };
    match value {
        None => Ok(Vec::new()),
        Some(Value::String(s)) => serde_json::from_str(s).map_err(bad),
        Some(v) => serde_json::from_value(v.clone()).map_err(bad),
    }
}

/// The init's environment: the image's `NAME=VALUE` entries, then what
/// docker (and Triton) add when the image does not set it.
fn environment(entries: &[String], hostname: &str) -> Result<Vec<(String, String)>, DockerError> {
    let mut env = entries
        .iter()
        .map(|e| {
            e.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| DockerError::BadEnv(e.clone()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    for (name, value) in [
        ("PATH", DEFAULT_PATH),
        ("HOSTNAME", hostname),
        ("TERM", DEFAULT_TERM),
        ("container", "basalt"),
    ] {
        if !env.iter().any(|(k, _)| k == name) {
            env.push((name.to_owned(), value.to_owned()));
        }
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn tags() -> Map<String, Value> {
        obj(json!({
            "docker:repo": "library/busybox",
            CONFIG_TAG: {
                "Entrypoint": ["/bin/sh", "-c"],
                "Cmd": ["echo hi"],
                "Env": ["PATH=/bin", "A=b=c"],
                "WorkingDir": "/srv",
                "User": "app:staff"
            }
        }))
    }

    #[test]
    fn the_image_config_becomes_docker_metadata() {
        let mut p = obj(json!({"brand": "lx", "image_uuid": "x"}));
        apply_image_config(&mut p, &tags());
        assert_eq!(p["docker"], json!(true));
        assert_eq!(
            p["internal_metadata"],
            json!({
                "docker:entrypoint": "[\"/bin/sh\",\"-c\"]",
                "docker:cmd": "[\"echo hi\"]",
                "docker:env": "[\"PATH=/bin\",\"A=b=c\"]",
                "docker:workdir": "/srv",
                "docker:user": "app:staff"
            })
        );
    }

    #[test]
    fn the_payload_keeps_what_it_sets() {
        let mut p = obj(json!({
            "docker": "true",
            "internal_metadata": {"docker:cmd": "[\"true\"]", "docker:user": null, "other": "x"}
        }));
        apply_image_config(&mut p, &tags());
        let im = &p["internal_metadata"];
        assert_eq!(im["docker:cmd"], "[\"true\"]");
        assert_eq!(im["docker:user"], "app:staff");
        assert_eq!(im["other"], "x");
        assert_eq!(im["docker:workdir"], "/srv");
    }

    #[test]
    fn docker_false_or_no_config_changes_nothing() {
        let p0 = obj(json!({"docker": false, "image_uuid": "x"}));
        let mut p = p0.clone();
        apply_image_config(&mut p, &tags());
        assert_eq!(p, p0);
        let p0 = obj(json!({"image_uuid": "x"}));
        let mut p = p0.clone();
        apply_image_config(&mut p, &obj(json!({"docker:config": "not an object"})));
        apply_image_config(&mut p, &Map::new());
        assert_eq!(p, p0);
    }

    #[test]
    fn absent_and_null_config_members_are_skipped() {
        let mut p = Map::new();
        let t = obj(json!({CONFIG_TAG: {"Cmd": ["sh"], "Entrypoint": null, "WorkingDir": ""}}));
        apply_image_config(&mut p, &t);
        assert_eq!(p["internal_metadata"], json!({"docker:cmd": "[\"sh\"]"}));
    }

    fn docker_vm(metadata: Value) -> Map<String, Value> {
        obj(json!({"docker": true, "internal_metadata": metadata}))
    }

    #[test]
    fn the_process_is_entrypoint_then_cmd_with_docker_defaults() {
        let vm = docker_vm(json!({
            "docker:entrypoint": "[\"/bin/sh\",\"-c\"]",
            "docker:cmd": "[\"echo hi\"]",
            "docker:env": "[\"A=b=c\",\"TERM=dumb\"]",
            "docker:workdir": "/srv",
            "docker:user": "app"
        }));
        let p = process(&vm, "web01").unwrap().unwrap();
        assert_eq!(p.argv, ["/bin/sh", "-c", "echo hi"]);
        let env: Vec<(&str, &str)> = p.env.iter().map(|(k, v)| (&**k, &**v)).collect();
        assert_eq!(
            env,
            [
                ("A", "b=c"),
                ("TERM", "dumb"),
                ("PATH", DEFAULT_PATH),
                ("HOSTNAME", "web01"),
                ("container", "basalt"),
            ]
        );
        assert_eq!(p.workdir.as_deref(), Some("/srv"));
        assert_eq!(p.user, "app");
    }

    #[test]
    fn the_image_path_is_kept_and_root_is_the_default_user() {
        let vm = docker_vm(json!({"docker:cmd": "[\"sh\"]", "docker:env": "[\"PATH=/bin\"]"}));
        let p = process(&vm, "h").unwrap().unwrap();
        assert_eq!(p.env[0], ("PATH".to_owned(), "/bin".to_owned()));
        assert_eq!(p.env.iter().filter(|(k, _)| k == "PATH").count(), 1);
        assert_eq!(p.user, DEFAULT_USER);
        assert_eq!(p.workdir, None);
    }

    #[test]
    fn other_instances_keep_their_init() {
        let im = json!({"docker:cmd": "[\"sh\"]"});
        let vm = obj(json!({"docker": false, "internal_metadata": im}));
        assert_eq!(process(&vm, "h").unwrap(), None);
        assert_eq!(process(&docker_vm(json!({})), "h").unwrap(), None);
    }

    #[test]
    fn bad_metadata_is_a_clear_error() {
        let e = process(&docker_vm(json!({"docker:cmd": "sh -c x"})), "h").unwrap_err();
        assert_eq!(
            e.to_string(),
            "failed to parse internal_metadata docker:cmd (\"sh -c x\") as a JSON array of strings"
        );
        let vm = docker_vm(json!({"docker:cmd": "[\"sh\"]", "docker:env": "[\"NOEQUALS\"]"}));
        assert!(matches!(process(&vm, "h"), Err(DockerError::BadEnv(e)) if e == "NOEQUALS"));
        let vm = docker_vm(json!({"docker:entrypoint": "[]", "docker:cmd": "[]"}));
        assert!(matches!(process(&vm, "h"), Err(DockerError::NoCommand)));
    }
}
