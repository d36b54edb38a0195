//! Compiles every .proto under `tuan/` with a vendored protoc, so no system package is needed.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // SAFETY: build scripts are single-threaded; nothing else reads the environment concurrently.
    unsafe { std::env::set_var("PROTOC", protoc) };

    // The directory, not each file: cargo then also notices protos added later.
    println!("cargo:rerun-if-changed=tuan");
    let protos = proto_files("tuan")?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    // Type names let events be stored and routed by their full protobuf name.
    let mut config = prost_build::Config::new();
    config.enable_type_names();
    tonic_prost_build::configure().file_descriptor_set_path(out.join("tuan_descriptor.bin")).compile_with_config(
        config,
        &protos,
        &[PathBuf::from(".")],
    )?;
    Ok(())
}

fn proto_files(dir: &str) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut stack = vec![PathBuf::from(dir)];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(d)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "proto") {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}
