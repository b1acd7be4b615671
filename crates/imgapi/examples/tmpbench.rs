use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use basalt_imgapi::server::{self, Catalog, CatalogError, ServerOptions};
use serde_json::{Value, json};
struct C(PathBuf);
const U: &str = "00000000-0000-4000-8000-000000000001";
impl Catalog for C {
    fn images(&self) -> Result<Vec<Value>, CatalogError> { Ok(vec![json!({"uuid": U})]) }
    fn image(&self, _: &str) -> Result<Option<Value>, CatalogError> { Ok(Some(json!({"uuid": U}))) }
    fn file(&self, _: &str) -> Result<Option<(PathBuf, u64)>, CatalogError> { let l = std::fs::metadata(&self.0).unwrap().len(); Ok(Some((self.0.clone(), l))) }
    fn publish(&self, _: Value, _: &Path) -> Result<Value, CatalogError> { unimplemented!() }
}
fn main() {
    let path = PathBuf::from(std::env::args().nth(1).unwrap());
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let h = server::spawn(l, Arc::new(C(path)), ServerOptions::default()).unwrap();
    let url = format!("http://{}", h.local_addr());
    println!("{url}/images/{U}/file");
    if std::env::args().nth(2).is_some() {
        let c = basalt_imgapi::Client::new(&url, Default::default()).unwrap();
        for _ in 0..3 {
        let t = std::time::Instant::now();
        let mut d = c.file(U, 0).unwrap();
        let mut buf = vec![0u8; 1 << 20]; let mut n = 0u64;
        loop { let k = d.read(&mut buf).unwrap(); if k == 0 { break } n += k as u64; }
        println!("client: {} MB/s", n as f64 / t.elapsed().as_secs_f64() / 1e6);
        }
    }
    std::thread::sleep(std::time::Duration::from_secs(30));
}
