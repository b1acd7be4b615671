//! Reading a JSON payload from `-f <file>` or stdin, as vmadm does: `-f -`
//! is stdin, a terminal on stdin is refused, a missing file and bad JSON
//! have their own messages.

use std::io::{IsTerminal, Read};

use serde_json::{Map, Value};

use super::Failure;

/// Where a payload comes from.
pub enum Source {
    /// A file.
    File(String),
    /// Standard input.
    Stdin,
}

/// Splits `-f <file>` out of `args`; stdin when absent or `-`.
pub fn take_file(args: &[String]) -> Result<(Source, Vec<String>), Failure> {
    let mut rest = Vec::new();
    let mut source = Source::Stdin;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "-f" {
            let f = it
                .next()
                .ok_or_else(|| Failure::Usage("option -f requires a filename".into()))?;
            source = if f == "-" {
                Source::Stdin
            } else {
                Source::File(f.clone())
            };
        } else if let Some(f) = a.strip_prefix("-f") {
            source = if f == "-" {
                Source::Stdin
            } else {
                Source::File(f.to_owned())
            };
        } else {
            rest.push(a.clone());
        }
    }
    Ok((source, rest))
}

/// Reads and parses the payload. `tty_message` is the usage error for a
/// terminal on stdin.
pub fn read(source: &Source, tty_message: &str) -> Result<Map<String, Value>, Failure> {
    let text = match source {
        Source::File(name) => match std::fs::read_to_string(name) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Failure::Operation(format!("File: {name} does not exist.")));
            }
            Err(e) => return Err(Failure::Operation(format!("File: {name}: {e}"))),
        },
        Source::Stdin => {
            if std::io::stdin().is_terminal() {
                return Err(Failure::Usage(tty_message.to_owned()));
            }
            let mut t = String::new();
            std::io::stdin()
                .read_to_string(&mut t)
                .map_err(|e| Failure::Operation(format!("Invalid JSON payload: {e}")))?;
            t
        }
    };
    parse(&text)
}

/// Parses payload text; anything but a JSON object is refused.
pub fn parse(text: &str) -> Result<Map<String, Value>, Failure> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(Failure::Operation(
            "Invalid JSON payload: the payload must be a JSON object".into(),
        )),
        Err(e) => Err(Failure::Operation(format!("Invalid JSON payload: {e}"))),
    }
}
