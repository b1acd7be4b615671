//! The `vmadm list` table.
//!
//! A cell shows the field's value as JavaScript's `toString()` gives it
//! ([`js_string`](super::js_string)) when the value is truthy; a missing or
//! falsy value (`null`, `false`, `0`, `""`) is an empty cell, shown as `-`
//! (an empty string with `-p`). So `autoboot: false` shows `-`, as it does
//! on SmartOS, and `true` shows `true`. Arrays show their elements joined
//! by `,` (`nics.0.ips` gives `10.0.0.5/24,fd00::5/64`; `[]` gives an empty,
//! padded cell), objects show `[object Object]`. Nothing is escaped: a `:`
//! or a newline in a value lands in the output as is.

use serde_json::{Map, Value};

use super::fields::Field;
use super::js::{is_truthy, js_string, trim_end_js, utf16_len};

/// The columns, layout and header choice of one `vmadm list` output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    columns: Vec<Field>,
    parsable: bool,
    header: bool,
}

impl Table {
    /// A table of `columns`. `parsable` is `-p` (cells joined by `:`, no
    /// padding). `header` is `Some(true)` for `-h`, `Some(false)` for `-H`,
    /// `None` for the default: a header unless `parsable`.
    pub fn new(columns: Vec<Field>, parsable: bool, header: Option<bool>) -> Table {
        Table {
            columns,
            parsable,
            header: header.unwrap_or(!parsable),
        }
    }

    /// The columns, in output order.
    pub fn columns(&self) -> &[Field] {
        &self.columns
    }

    /// The header line, without its newline, or `None` when it is off.
    pub fn header_line(&self) -> Option<String> {
        self.header.then(|| {
            self.line(
                self.columns
                    .iter()
                    .map(|c| (c.width(), c.header().to_owned())),
            )
        })
    }

    /// One VM's line, without its newline.
    pub fn row(&self, vm: &Map<String, Value>) -> String {
        self.line(
            self.columns
                .iter()
                .map(|c| (c.width(), self.cell(c.value(vm)))),
        )
    }

    /// The whole output: the header (if on) and one line per VM, each
    /// ending in `\n`. VMs are printed in the order given.
    pub fn render(&self, vms: &[Map<String, Value>]) -> String {
        let mut out = String::new();
        let lines = self
            .header_line()
            .into_iter()
            .chain(vms.iter().map(|vm| self.row(vm)));
        for line in lines {
            out.push_str(&line);
            out.push('\n');
        }
        out
    }

    fn cell(&self, value: Option<&Value>) -> String {
        match value {
            Some(v) if is_truthy(v) => js_string(v),
            _ if self.parsable => String::new(),
            _ => "-".to_owned(),
        }
    }

    /// Joins cells with two spaces, each left-justified to its width, or
    /// with `:` and no padding when parsable; then trims trailing blanks.
    fn line(&self, cells: impl Iterator<Item = (usize, String)>) -> String {
        let mut out = String::new();
        for (i, (width, text)) in cells.enumerate() {
            if i > 0 {
                out.push_str(if self.parsable { ":" } else { "  " });
            }
            out.push_str(&text);
            if !self.parsable {
                let pad = width.saturating_sub(utf16_len(&text));
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        trim_end_js(&out).to_owned()
    }
}

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
