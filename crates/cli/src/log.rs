//! Each vmadm run logs to its own file under the node's log directory,
//! named as SmartOS names them (`<ms-epoch>-<pid>-<command>.log`), as JSON
//! lines. Warnings about dropped payload keys go there, never to stderr.

use std::fs::{self, OpenOptions};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use basalt_node::paths::Paths;

/// Starts logging for command `name` to a new file under the node's log
/// directory, at debug level. If the file cannot be created, the command
/// runs without a log; its result on the terminal is unaffected.
pub fn init(paths: &Paths, name: &str) {
    let dir = paths.vm_logs();
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let file = format!("{ms}-{:06}-{name}.log", std::process::id());
    let opened = fs::create_dir_all(&dir).and_then(|()| {
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(file))
    });
    let Ok(file) = opened else { return };
    let _ = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(Mutex::new(file))
        .with_target(false)
        .try_init();
}
