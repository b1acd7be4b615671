//! getopt-style parsing shared by the commands: single-letter flags that
//! may be grouped (`-Hp`), options with a value (`-o x` or `-ox`), and
//! operands (anything else, including `key=value` words). Each command
//! words the two errors its own way.

/// What a command line holds.
#[derive(Debug, Default)]
pub struct Parsed {
    /// The flags given, in order.
    pub flags: Vec<char>,
    /// Options with their values, in order.
    pub values: Vec<(char, String)>,
    /// Everything else, in order.
    pub operands: Vec<String>,
}

/// A command line getopt refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GetoptError {
    /// An option that takes a value came last.
    MissingValue(char),
    /// A letter the command does not know.
    Unknown(char),
}

/// Parses `args` knowing the letters of `flags` and of `with_value`.
pub fn parse(args: &[String], flags: &str, with_value: &str) -> Result<Parsed, GetoptError> {
    let mut p = Parsed::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let Some(opts) = a
            .strip_prefix('-')
            .filter(|o| !o.is_empty() && !a.contains('='))
        else {
            p.operands.push(a.clone());
            continue;
        };
        for (i, c) in opts.char_indices() {
            if with_value.contains(c) {
                let rest = &opts[i + c.len_utf8()..];
                let v = if rest.is_empty() {
                    it.next().cloned().ok_or(GetoptError::MissingValue(c))?
                } else {
                    rest.to_owned()
                };
                p.values.push((c, v));
                break;
            } else if flags.contains(c) {
                p.flags.push(c);
            } else {
                return Err(GetoptError::Unknown(c));
            }
        }
    }
    Ok(p)
}

impl Parsed {
    /// Whether flag `c` was given.
    pub fn has(&self, c: char) -> bool {
        self.flags.contains(&c)
    }

    /// The last value given for option `c`.
    pub fn value(&self, c: char) -> Option<&str> {
        self.values
            .iter()
            .rev()
            .find(|(k, _)| *k == c)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flags_values_operands() {
        let p = parse(
            &args(&["-Hp", "-o", "name,used", "-sname", "zones", "a=b", "-x=y"]),
            "Hp",
            "os",
        )
        .unwrap();
        assert!(p.has('H') && p.has('p') && !p.has('r'));
        assert_eq!(p.value('o'), Some("name,used"));
        assert_eq!(p.value('s'), Some("name"));
        assert_eq!(p.operands, ["zones", "a=b", "-x=y"]);
        assert_eq!(
            parse(&args(&["-o"]), "", "o").unwrap_err(),
            GetoptError::MissingValue('o')
        );
        assert_eq!(
            parse(&args(&["-z"]), "", "").unwrap_err(),
            GetoptError::Unknown('z')
        );
    }
}
