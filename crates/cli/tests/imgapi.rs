//! Images between nodes: node A serves its images over IMGAPI on
//! loopback, node B adds it as a source, lists, imports (with progress on
//! a terminal, none off one) and boots a zone from what it imported; a
//! corrupted transfer is refused with nothing left; an image created from
//! a changed zone (whole, and incremental over its origin) is published
//! to A and imported by B with the changes there.

mod common;

use std::io::BufRead;
use std::process::Stdio;

use common::Run;
use common::zones::Zones;
use serde_json::Value;

#[path = "support/served.rs"]
mod served;

use served::Served;

/// `imgadm serve` of a node (publishing allowed or not).
fn serve(node: &Zones, publish: bool) -> Served {
    let mut cmd = node.root.command(env!("CARGO_BIN_EXE_imgadm"));
    cmd.args(["serve", "--listen", "127.0.0.1:0"]);
    if publish {
        cmd.arg("--allow-publish");
    }
    Served::start(cmd)
}

fn ok(r: &Run, what: &str) -> String {
    assert_eq!(r.code, 0, "{what}: {}{}", r.stdout, r.stderr);
    r.stdout.clone()
}

/// Node B's sources: only `url`.
fn only_source(b: &Zones, url: &str) {
    let r = b.imgadm(&["sources", "-d", "https://images.smartos.org"]);
    assert_eq!(
        ok(&r, "sources -d"),
        "Deleted \"imgapi\" image source \"https://images.smartos.org\"\n"
    );
    let r = b.imgadm(&["sources", "-a", url]);
    assert_eq!(
        ok(&r, "sources -a"),
        format!("Added \"imgapi\" image source \"{url}\"\n")
    );
    let r = b.imgadm(&["sources", "-a", url]);
    assert_eq!(
        ok(&r, "sources -a again"),
        format!("Already have \"imgapi\" image source \"{url}\", no change\n")
    );
    assert_eq!(ok(&b.imgadm(&["sources"]), "sources"), format!("{url}\n"));
}

/// What B holds of image `uuid`: its dataset (or a partial one), its
/// record, its kept file, a download.
fn traces(b: &Zones, uuid: &str) -> Vec<String> {
    let mut found = Vec::new();
    for p in [
        format!("zones/{uuid}"),
        format!("zones/{uuid}-partial"),
        format!("var/imgadm/images/zones-{uuid}.json"),
        format!("var/imgadm/files/{uuid}.file"),
        format!("var/imgadm/downloads/{uuid}.file"),
    ] {
        if b.path().join(&p).exists() {
            found.push(p);
        }
    }
    found
}

#[test]
fn a_node_imports_from_another_and_boots_what_it_imported() {
    common::require(&["script"]);
    let a = Zones::new("imgapi-a");
    let b = Zones::without_image("imgapi-b", "1G");
    let server = serve(&a, false);
    let image = a.image.clone();
    only_source(&b, &server.url);

    let r = b.imgadm(&["sources", "-a", "http://127.0.0.1:9/"]);
    assert_eq!(r.code, 1, "a source that does not answer is refused: {r:?}");
    assert!(r.stderr.contains("(SourcePing)"), "{}", r.stderr);

    let avail = ok(&b.imgadm(&["avail", "-H", "-o", "uuid,source"]), "avail");
    assert_eq!(avail, format!("{image}  {}\n", server.url));
    let json: Value = serde_json::from_str(&ok(&b.imgadm(&["avail", "-j"]), "avail -j")).unwrap();
    assert_eq!(json[0]["manifest"]["uuid"], image.as_str());

    let r = b.imgadm(&["import", "00000000-0000-4000-8000-000000000001"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .starts_with("imgadm import: error (ActiveImageNotFound): "),
        "{}",
        r.stderr
    );

    // A corrupted file is fetched twice, then refused: nothing is left.
    let kept = a.path().join(format!("var/imgadm/files/{image}.file"));
    let good = std::fs::read(&kept).unwrap();
    let mut bad = good.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x55;
    std::fs::write(&kept, &bad).unwrap();
    let r = b.imgadm(&["import", "-q", &image]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("error (Download)") && r.stderr.contains("corrupt"),
        "{}",
        r.stderr
    );
    assert_eq!(traces(&b, &image), Vec::<String>::new());
    std::fs::write(&kept, &good).unwrap();

    // A download a killed import left is resumed where it stopped; one
    // whose bytes are wrong is fetched again; either way nothing is left
    // but the image.
    let downloads = b.path().join("var/imgadm/downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let partial = downloads.join(format!("{image}.file"));
    for (case, head) in [
        ("resumed", good[..good.len() / 3].to_vec()),
        ("corrupt", bad[..bad.len() * 2 / 3].to_vec()),
    ] {
        std::fs::write(&partial, &head).unwrap();
        ok(&b.imgadm(&["import", "-q", &image]), case);
        assert!(!partial.exists(), "{case}: the download stayed");
        assert_eq!(
            std::fs::read(b.path().join(format!("var/imgadm/files/{image}.file"))).unwrap(),
            good,
            "{case}"
        );
        ok(&b.imgadm(&["delete", &image]), "delete");
        assert_eq!(traces(&b, &image), Vec::<String>::new(), "{case}");
    }

    // On a terminal, a progress bar with rate and time left.
    let imgadm = env!("CARGO_BIN_EXE_imgadm");
    let out = b
        .root
        .command("script")
        .args(["-qec", &format!("{imgadm} import {image}"), "/dev/null"])
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{shown}");
    assert!(
        shown.contains("ETA"),
        "no progress bar on a terminal: {shown}"
    );
    let last = shown
        .trim_end()
        .lines()
        .last()
        .unwrap_or_default()
        .to_owned();
    assert!(
        last.starts_with(&format!("Imported image {image} (")),
        "{shown}"
    );

    let got: Value = serde_json::from_str(&ok(&b.imgadm(&["get", &image]), "get")).unwrap();
    assert_eq!(got["source"], server.url.as_str());
    let theirs: Value = serde_json::from_str(&ok(&a.imgadm(&["get", &image]), "get")).unwrap();
    assert_eq!(got["manifest"], theirs["manifest"]);
    assert_eq!(
        std::fs::read(b.path().join(format!("var/imgadm/files/{image}.file"))).unwrap(),
        good
    );

    let r = b.imgadm(&["import", &image]);
    assert_eq!(
        ok(&r, "import again"),
        format!(
            "Image {image} ({}@{}) is already installed, skipping\n",
            theirs["manifest"]["name"].as_str().unwrap(),
            theirs["manifest"]["version"].as_str().unwrap()
        )
    );

    // update: a manifest changed on the node is put back as the source
    // has it.
    let record = b
        .path()
        .join(format!("var/imgadm/images/zones-{image}.json"));
    let text = std::fs::read_to_string(&record).unwrap();
    let mut changed: Value = serde_json::from_str(&text).unwrap();
    changed["manifest"]["description"] = "edited here".into();
    std::fs::write(&record, changed.to_string()).unwrap();
    let r = b.imgadm(&["update", "-n"]);
    assert!(
        ok(&r, "update -n").starts_with(&format!("Would update image {image} (")),
        "{r:?}"
    );
    let r = b.imgadm(&["update"]);
    assert!(
        ok(&r, "update").starts_with(&format!("Updated image {image} (")),
        "{r:?}"
    );
    let got: Value = serde_json::from_str(&ok(&b.imgadm(&["get", &image]), "get")).unwrap();
    assert_eq!(got["manifest"], theirs["manifest"]);
    assert_eq!(ok(&b.imgadm(&["update"]), "update again"), "");

    let vm = b.create("");
    assert_eq!(b.state(&vm), "running");
    assert_eq!(ok(&b.zlogin(&vm, "echo imported"), "zlogin"), "imported\n");

    // Off a terminal: messages, no bar.
    let c = Zones::without_image("imgapi-c", "1G");
    only_source(&c, &server.url);
    let r = c.imgadm(&["import", &image]);
    let out = ok(&r, "import");
    assert!(!out.contains("ETA") && r.stderr.is_empty(), "{r:?}");
    assert!(out.starts_with(&format!("Importing {image} (")), "{out}");
}

#[test]
fn an_image_of_a_changed_zone_imports_on_another_node_whole_or_incremental() {
    let a = Zones::new("imgapi-create-a");
    let server = serve(&a, true);
    let vm = a.create("");
    let r = a.zlogin(
        &vm,
        "echo changed > /root/marker && mkdir -p /opt/app && echo v1 > /opt/app/version && rm /etc/os-release",
    );
    ok(&r, "change the zone");
    ok(&a.vmadm(&["stop", &vm]), "stop");
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();

    let r = a.imgadm(&[
        "create",
        "-c",
        "gzip",
        "-o",
        dir,
        &vm,
        "name=whole",
        "version=1.0.0",
    ]);
    ok(&r, "create");
    let r = a.imgadm(&[
        "create",
        "-i",
        "-c",
        "gzip",
        "-o",
        dir,
        &vm,
        "name=delta",
        "version=1.0.0",
    ]);
    ok(&r, "create -i");
    let size = |name: &str| std::fs::metadata(out.path().join(name)).unwrap().len();
    let (whole, delta) = (size("whole-1.0.0.zfs.gz"), size("delta-1.0.0.zfs.gz"));
    assert!(
        delta * 4 < whole,
        "incremental {delta} bytes, whole {whole}"
    );
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(out.path().join("delta-1.0.0.imgmanifest")).unwrap())
            .unwrap();
    assert_eq!(manifest["origin"], a.image.as_str());
    assert_eq!(manifest["files"][0]["size"], delta);
    let delta_uuid = manifest["uuid"].as_str().unwrap().to_owned();
    let whole: Value =
        serde_json::from_slice(&std::fs::read(out.path().join("whole-1.0.0.imgmanifest")).unwrap())
            .unwrap();
    assert_eq!(whole["origin"], Value::Null);
    let whole_uuid = whole["uuid"].as_str().unwrap().to_owned();

    for name in ["whole", "delta"] {
        let m = format!("{dir}/{name}-1.0.0.imgmanifest");
        let f = format!("{dir}/{name}-1.0.0.zfs.gz");
        let r = a.imgadm(&["publish", "-m", &m, "-f", &f, &server.url]);
        assert!(ok(&r, "publish").starts_with("Published image "), "{r:?}");
    }

    // B has nothing: the delta's origin comes first.
    let b = Zones::without_image("imgapi-create-b", "1G");
    only_source(&b, &server.url);
    let r = b.imgadm(&["import", &delta_uuid]);
    let said = ok(&r, "import delta");
    assert!(
        said.contains("Must download and install 2 images"),
        "{said}"
    );
    assert!(
        said.trim_end()
            .ends_with(&format!("Imported image {delta_uuid} (delta@1.0.0)")),
        "{said}"
    );
    let anc = ok(
        &b.imgadm(&["ancestry", "-H", "-o", "uuid", &delta_uuid]),
        "ancestry",
    );
    assert_eq!(anc, format!("{delta_uuid}\n{}\n", b.image));
    let zone = b.create_json(serde_json::json!({"image_uuid": delta_uuid}));
    let seen = ok(
        &b.zlogin(
            &zone,
            "cat /root/marker /opt/app/version; test ! -e /etc/os-release || echo os-release",
        ),
        "zlogin",
    );
    assert_eq!(seen, "changed\nv1\n");

    // The whole image stands alone.
    ok(&b.imgadm(&["import", "-q", &whole_uuid]), "import whole");
    let zone = b.create_json(serde_json::json!({"image_uuid": whole_uuid}));
    let seen = ok(
        &b.zlogin(
            &zone,
            "cat /root/marker; test ! -e /etc/os-release || echo os-release",
        ),
        "zlogin",
    );
    assert_eq!(seen, "changed\n");
}

#[test]
fn basaltd_serves_the_images_when_configured() {
    let a = Zones::new("imgapi-basaltd");
    let config = a.path().join("usbkey/config");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("imgapi_listen=127.0.0.1:0\n");
    std::fs::write(&config, text).unwrap();
    let mut child = a
        .root
        .command(env!("CARGO_BIN_EXE_basaltd"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = lines.next().unwrap().unwrap();
    assert!(ready.starts_with("basaltd: ready"), "{ready}");
    let serving = lines.next().unwrap().unwrap();
    let url = serving
        .strip_prefix("basaltd: serving images on ")
        .unwrap_or_else(|| panic!("basaltd said {serving:?}"))
        .to_owned();
    let b = Zones::without_image("imgapi-basaltd-b", "1G");
    only_source(&b, &url);
    let avail = b.imgadm(&["avail", "-H", "-o", "uuid"]);
    // Even killed, basaltd takes its image server with it.
    let _ = child.kill();
    let _ = child.wait();
    let addr = url.trim_start_matches("http://").to_owned();
    let mut gone = false;
    for _ in 0..100 {
        if std::net::TcpStream::connect(&addr).is_err() {
            gone = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(ok(&avail, "avail"), format!("{}\n", a.image));
    assert!(gone, "the image server outlived basaltd at {addr}");
}

/// An https source: its certificate is checked (a self-signed one is
/// refused), and `-k` or `IMGADM_INSECURE=1` accept it, as on SmartOS.
#[test]
fn an_https_source_is_checked_and_insecure_accepts_a_self_signed_one() {
    common::require(&["openssl", "python3"]);
    let dir = tempfile::tempdir().unwrap();
    let (key, cert) = (dir.path().join("key.pem"), dir.path().join("cert.pem"));
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(made.success(), "openssl req failed");
    // A TLS server that answers /ping as an IMGAPI does, on loopback.
    let script = r#"
import http.server, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b'{"ping": "pong", "version": "1.0.0", "imgapi": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
c.load_cert_chain(sys.argv[1], sys.argv[2])
s.socket = c.wrap_socket(s.socket, server_side=True)
print(s.server_address[1], flush=True)
s.serve_forever()
"#;
    let mut cmd = std::process::Command::new("python3");
    cmd.args(["-c", script]).arg(&cert).arg(&key);
    let mut child = cmd.stdout(Stdio::piped()).spawn().unwrap();
    let mut port = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut port)
        .unwrap();
    let url = format!("https://127.0.0.1:{}", port.trim());

    let b = Zones::without_image("imgapi-tls", "1G");
    let refused = b.imgadm(&["sources", "-a", &url]);
    let with_k = b.imgadm(&["sources", "-a", &url, "-k"]);
    let listed = b.imgadm(&["sources", "-j"]);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        refused.stderr.contains("(SourcePing)")
            && refused.stderr.to_lowercase().contains("certificate"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        ok(&with_k, "sources -a -k"),
        format!("Added \"imgapi\" image source \"{url}\"\n")
    );
    let v: Value = serde_json::from_str(&ok(&listed, "sources -j")).unwrap();
    assert!(
        v.as_array()
            .unwrap()
            .iter()
            .any(|s| s["url"] == url.as_str() && s["insecure"] == true),
        "{v}"
    );
}

#[test]
fn sources_are_edited_in_an_editor() {
    let mut root = common::Root::new("imgapi-sources-edit");
    let imgadm = env!("CARGO_BIN_EXE_imgadm");
    let url = "http://192.0.2.9:9090";
    let r = root.run(imgadm, &["sources", "-f", "-k", "-a", url]);
    assert_eq!(
        r.stdout,
        format!("Added \"imgapi\" image source \"{url}\"\n"),
        "{r:?}"
    );
    // The editor deletes the first line: the default source.
    root.set_env("EDITOR", "sed -i 1d");
    let r = root.run(imgadm, &["sources", "-e", "-f"]);
    assert_eq!(
        r.stdout, "Deleted \"imgapi\" image source \"https://images.smartos.org\"\n",
        "{r:?}"
    );
    let r = root.run(imgadm, &["sources", "-j"]);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        v,
        serde_json::json!([{"url": url, "type": "imgapi", "insecure": true}])
    );
    // An editor that changes nothing changes nothing.
    root.set_env("EDITOR", "true");
    let r = root.run(imgadm, &["sources", "-e"]);
    assert_eq!(r.stdout, "Image sources unchanged\n", "{r:?}");
}

#[test]
fn an_image_without_its_file_is_served_from_its_final_snapshot() {
    let a = Zones::new("imgapi-nofile-a");
    let image = a.image.clone();
    // As if installed before the node kept files.
    std::fs::remove_file(a.path().join(format!("var/imgadm/files/{image}.file"))).unwrap();
    let server = serve(&a, false);
    let b = Zones::without_image("imgapi-nofile-b", "1G");
    only_source(&b, &server.url);
    ok(&b.imgadm(&["import", "-q", &image]), "import");
    let theirs: Value = serde_json::from_str(&ok(&a.imgadm(&["get", &image]), "get")).unwrap();
    let ours: Value = serde_json::from_str(&ok(&b.imgadm(&["get", &image]), "get")).unwrap();
    assert_eq!(ours["manifest"], theirs["manifest"]);
    let made = std::fs::read(a.path().join(format!("var/imgadm/files/{image}.file"))).unwrap();
    assert_eq!(
        theirs["manifest"]["files"][0]["sha1"],
        common::images::sha1_hex(&made).as_str()
    );
    let vm = b.create("");
    assert_eq!(ok(&b.zlogin(&vm, "echo made"), "zlogin"), "made\n");
}
