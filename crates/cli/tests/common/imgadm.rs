//! Driving imgadm: a root with its pool plus a work directory for inputs,
//! exact checks of exit status and streams, and tables of cases whose
//! mismatches are reported together.

use std::path::{Path, PathBuf};

use super::images::Image;
use super::leftovers::assert_clean;
use super::{Root, Run};

// ---- the test's world: a root with its pool, and a place for inputs

/// A root with its own pool, and a work directory outside it for image
/// files, manifests and sentinels.
pub struct Test {
    pub root: Root,
    pub work: tempfile::TempDir,
}

impl Test {
    pub fn new(name: &str) -> Test {
        let root = Root::new(name);
        let work = tempfile::Builder::new()
            .prefix(&format!("basalt-{name}-work-"))
            .tempdir()
            .unwrap();
        Test { root, work }
    }

    pub fn imgadm(&self, args: &[&str]) -> Run {
        self.root.run(env!("CARGO_BIN_EXE_imgadm"), args)
    }

    pub fn install(&self, img: &Image) -> Run {
        self.imgadm(&["install", "-m", s(&img.manifest), "-f", s(&img.file)])
    }

    /// Installs `img`, which must succeed with imgadm's message.
    pub fn installed(&self, img: &Image) {
        expect(
            &self.install(img),
            0,
            &format!("Installed image {}\n", img.label()),
            "",
        );
    }

    /// The uuids `imgadm list` shows.
    pub fn listed(&self) -> String {
        let r = self.imgadm(&["list", "-H", "-o", "uuid"]);
        assert_eq!(r.code, 0, "imgadm list: {}", r.stderr);
        r.stdout
    }

    /// Where the test's inputs go.
    pub fn dir(&self) -> &Path {
        self.work.path()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.work.path().join(rel)
    }
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Asserts a run's exit status and both streams, byte for byte.
pub fn expect(r: &Run, code: i32, stdout: &str, stderr: &str) {
    assert_eq!(
        (r.code, r.stdout.as_str(), r.stderr.as_str()),
        (code, stdout, stderr),
        "exit status, stdout, stderr"
    );
}

/// Asserts a failure as imgadm prints it: nothing on stdout, one line
/// `imgadm <cmd>: error (<code>): <message>` on stderr.
pub fn expect_error(r: &Run, cmd: &str, status: i32, code: &str, message: &str) {
    expect(
        r,
        status,
        "",
        &format!("imgadm {cmd}: error ({code}): {message}\n"),
    );
}

// ---- tables of failing installs

/// Mismatches collected over a table of cases and reported together, so
/// one wrong case does not hide the others.
#[derive(Default)]
pub struct Failures(Vec<String>);

impl Failures {
    pub fn expect(&mut self, case: &str, r: &Run, code: i32, stdout: &str, stderr: &str) {
        if (r.code, r.stdout.as_str(), r.stderr.as_str()) != (code, stdout, stderr) {
            self.0.push(format!(
                "{case}:\n    expected: exit {code}, stdout {stdout:?}, stderr {stderr:?}\n    \
                 got:      exit {}, stdout {:?}, stderr {:?}",
                r.code, r.stdout, r.stderr
            ));
        }
    }

    /// Expects `imgadm install` to fail with `code` and `message`.
    pub fn install_error(&mut self, case: &str, r: &Run, code: &str, message: &str) {
        let stderr = format!("imgadm install: error ({code}): {message}\n");
        self.expect(case, r, 1, "", &stderr);
    }

    /// Checks that nothing but `uuids` is left (see [`assert_clean`]).
    pub fn clean(&mut self, case: &str, t: &Test, uuids: &[&str]) {
        let checked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            assert_clean(&t.root, uuids, &[]);
        }));
        if let Err(e) = checked {
            let why = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            self.0.push(format!("{case}: left something behind: {why}"));
        }
    }

    pub fn check(&mut self, case: &str, ok: bool, what: &str) {
        if !ok {
            self.0.push(format!("{case}: {what}"));
        }
    }

    /// Records each of `problems` as a failure.
    pub fn add(&mut self, problems: Vec<String>) {
        self.0.extend(problems);
    }

    pub fn assert_none(self) {
        assert!(
            self.0.is_empty(),
            "{} case(s) failed:\n{}",
            self.0.len(),
            self.0.join("\n")
        );
    }
}
