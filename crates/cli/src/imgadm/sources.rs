//! `imgadm sources`: list and edit the node's image sources, with the
//! messages scripts match (`Added "imgapi" image source "URL"`, `Already
//! have …, no change`, `Deleted …`, `Do not have …, no change`).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

use basalt_node::images::import::ping;
use basalt_node::images::sources::{Change, Source, SourceType, Sources};
use basalt_node::paths::Paths;
use serde_json::{Value, json};

use super::{Failure, Outcome, parse};
use crate::output::stdout;

fn source_type(p: &crate::getopt::Parsed) -> Result<SourceType, Failure> {
    let t = p.value('t').unwrap_or("imgapi");
    SourceType::parse(t).ok_or_else(|| {
        Failure::Usage(format!(
            "invalid source type: \"{t}\" (must be one of \"imgapi\", \"docker\")"
        ))
    })
}

/// `imgadm sources [-j] [-v] [-a URL [-t TYPE] [-k] [-f]] [-d URL] [-e] [-c]`.
pub fn sources(args: &[String]) -> Outcome {
    let p = parse(args, "jvkfec", "adt")?;
    let paths = Paths::from_env();
    let changes = p.value('a').is_some() || p.value('d').is_some() || p.has('e');
    let mut sources = if changes {
        Sources::edit(&paths)?
    } else {
        Sources::load(&paths)?
    };
    let edits = usize::from(p.value('a').is_some())
        + usize::from(p.value('d').is_some())
        + usize::from(p.has('e'));
    if edits > 1 {
        return Err(Failure::Usage(
            "cannot specify more than one of \"-a\", \"-d\" and \"-e\"".into(),
        ));
    }
    if let Some(url) = p.value('a') {
        let mut source = Source::new(url, source_type(&p)?);
        source.insecure = p.has('k');
        if !url.starts_with("http://") && !url.starts_with("https://") {
            return Err(Failure::Usage(format!(
                "invalid source URL: \"{url}\" (must be http or https)"
            )));
        }
        let known = sources.list().iter().any(|s| s.is_at(&source.url));
        if !known && !p.has('f') && source.kind == SourceType::Imgapi {
            ping(&source)?;
        }
        match sources.add(source)? {
            Change::Done(s) => stdout(&format!(
                "Added \"{}\" image source \"{}\"\n",
                s.kind.as_str(),
                s.url
            )),
            Change::Unchanged(s) => {
                let s = s.expect("an unchanged add names the source");
                stdout(&format!(
                    "Already have \"{}\" image source \"{url}\", no change\n",
                    s.kind.as_str()
                ));
            }
        }
        return Ok(());
    }
    if let Some(url) = p.value('d') {
        match sources.delete(url)? {
            Change::Done(s) => stdout(&format!(
                "Deleted \"{}\" image source \"{url}\"\n",
                s.kind.as_str()
            )),
            Change::Unchanged(_) => {
                stdout(&format!("Do not have image source \"{url}\", no change\n"))
            }
        }
        return Ok(());
    }
    if p.has('e') {
        return edit(&mut sources, p.has('f'));
    }
    if p.has('c') {
        let mut failed = false;
        for s in sources.list() {
            match ping(s) {
                Ok(()) => stdout(&format!("{} {} ok\n", s.url, s.kind.as_str())),
                Err(e) => {
                    failed = true;
                    stdout(&format!("{} {} error: {e}\n", s.url, s.kind.as_str()));
                }
            }
        }
        return if failed {
            Err(Failure::Other {
                code: "SourcePing",
                message: "one or more sources did not answer as an IMGAPI".into(),
                status: 1,
            })
        } else {
            Ok(())
        };
    }
    let list = sources.list();
    if p.has('j') {
        let v: Vec<Value> = list
            .iter()
            .map(|s| {
                let mut v = json!({"url": s.url, "type": s.kind.as_str()});
                if s.insecure {
                    v["insecure"] = json!(true);
                }
                v
            })
            .collect();
        stdout(&super::pretty(&Value::Array(v)));
    } else if p.has('v') {
        let w = list.iter().map(|s| s.url.len()).max().unwrap_or(0);
        let text: String = list
            .iter()
            .map(|s| format!("{:<w$}  {}\n", s.url, s.kind.as_str()))
            .collect();
        stdout(&text);
    } else {
        let text: String = list.iter().map(|s| format!("{}\n", s.url)).collect();
        stdout(&text);
    }
    Ok(())
}

/// `-e`: the sources as `URL TYPE` lines in `$EDITOR`.
fn edit(sources: &mut Sources, force: bool) -> Outcome {
    let before: Vec<Source> = sources.list().to_vec();
    let mut text: String = before
        .iter()
        .map(|s| format!("{} {}\n", s.url, s.kind.as_str()))
        .collect();
    text.push_str("\n#\n# Enter sources, one per line: URL [TYPE] (TYPE is imgapi or docker).\n# Comments beginning with \"#\" are stripped.\n#\n");
    let tmp = std::env::temp_dir().join(format!("imgadm-sources-{}.txt", std::process::id()));
    let io = |e: std::io::Error| Failure::Other {
        code: "InternalError",
        message: format!("{}: {e}", tmp.display()),
        status: 1,
    };
    // A new file only (a name planted in the temporary directory is not
    // followed), readable by root alone.
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(io)?;
    let editor = std::env::var("EDITOR").unwrap_or_else(|_| "/usr/bin/vi".into());
    let status = std::process::Command::new("/bin/sh")
        .args(["-c", &format!("{editor} \"$1\""), "sh"])
        .arg(&tmp)
        .status();
    let after = std::fs::read_to_string(&tmp);
    let _ = std::fs::remove_file(&tmp);
    if !status.is_ok_and(|s| s.success()) {
        stdout("Error editing image sources (ignoring)\n");
        return Ok(());
    }
    let mut list = Vec::new();
    for line in after.map_err(io)?.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let mut words = line.split_whitespace();
        let url = words.next().unwrap_or_default();
        let kind = match words.next() {
            None => SourceType::Imgapi,
            Some(t) => SourceType::parse(t)
                .ok_or_else(|| Failure::Usage(format!("invalid source type: \"{t}\"")))?,
        };
        let mut source = Source::new(url, kind);
        // What the lines cannot say is kept from before.
        source.insecure = before.iter().any(|b| b.is_at(url) && b.insecure);
        list.push(source);
    }
    if list == before {
        stdout("Image sources unchanged\n");
        return Ok(());
    }
    let added: Vec<&Source> = list.iter().filter(|s| !before.contains(s)).collect();
    if !force {
        for s in added.iter().filter(|s| s.kind == SourceType::Imgapi) {
            ping(s)?;
        }
    }
    let removed: Vec<&Source> = before.iter().filter(|s| !list.contains(s)).collect();
    let mut out = String::new();
    for s in &removed {
        out.push_str(&format!(
            "Deleted \"{}\" image source \"{}\"\n",
            s.kind.as_str(),
            s.url
        ));
    }
    for s in &added {
        out.push_str(&format!(
            "Added \"{}\" image source \"{}\"\n",
            s.kind.as_str(),
            s.url
        ));
    }
    if added.is_empty() && removed.is_empty() {
        out.push_str("Reordered image sources\n");
    }
    sources.replace(list)?;
    stdout(&out);
    Ok(())
}
