//! The generated Rust checked in under `src/gen/` is exactly what `proto/`
//! compiles to, with no system `protoc`: `protox` parses the schema in pure
//! Rust and `prost-build` generates from its descriptors.
//!
//! The descriptor set `proto/testdata/descriptor_set.binpb` (for generators
//! and checkers in other languages, such as `proto/testdata/check.py`, which
//! then need no `protoc` either) is also what `proto/` compiles to.
//!
//! After changing `proto/`, regenerate both with
//! `BATON_REGENERATE=1 cargo test -p principal-proto --test codegen_current`.

use std::fs;
use std::path::{Path, PathBuf};

/// This crate's schema, relative to this crate: `proto/` also holds other
/// crates' schemas (tonic-auth's test service), which are not part of it.
const PROTO_ROOT: &str = "../proto";
/// The package directory of this crate's schema, under [`PROTO_ROOT`].
const PACKAGE_DIR: &str = "baton/principal";

/// The checked-in file, relative to this crate.
const CHECKED_IN: &str = "src/gen/baton.principal.v1.rs";

/// Every `.proto` file under `root`, relative to it, sorted (stable output).
fn proto_files(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, found: &mut Vec<String>) {
        for entry in fs::read_dir(dir).expect("read proto dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                walk(root, &path, found);
            } else if path.extension().is_some_and(|ext| ext == "proto") {
                let relative = path.strip_prefix(root).expect("under root");
                found.push(relative.to_str().expect("utf-8 path").replace('\\', "/"));
            }
        }
    }
    let mut found = Vec::new();
    walk(root, &root.join(PACKAGE_DIR), &mut found);
    found.sort();
    found
}

/// The checked-in descriptor set, relative to this crate.
const DESCRIPTOR_SET: &str = "../proto/testdata/descriptor_set.binpb";

/// The encoded `FileDescriptorSet` of `proto/`, with no source info (spans
/// and comments), so that it changes only when the schema does.
fn descriptor_set() -> Vec<u8> {
    let proto_root = Path::new(env!("CARGO_MANIFEST_DIR")).join(PROTO_ROOT);
    let files = proto_files(&proto_root);
    let mut compiler = protox::Compiler::new([&proto_root]).expect("proto/ is readable");
    compiler
        .include_imports(true)
        .include_source_info(false)
        .open_files(&files)
        .expect("proto/ compiles");
    compiler.encode_file_descriptor_set()
}

#[test]
fn checked_in_descriptor_set_matches_schema() {
    let generated = descriptor_set();
    assert!(
        generated.len() > 100,
        "descriptor set is suspiciously small"
    );
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(DESCRIPTOR_SET);
    if std::env::var("BATON_REGENERATE").as_deref() == Ok("1") {
        fs::write(&path, &generated).expect("write descriptor set");
        return;
    }
    let checked_in = fs::read(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "proto/testdata/descriptor_set.binpb is out of date with proto/; regenerate with \
         `BATON_REGENERATE=1 cargo test -p principal-proto --test codegen_current`"
    );
}

fn generate() -> String {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let proto_root = manifest.join(PROTO_ROOT);
    let files = proto_files(&proto_root);
    assert!(
        !files.is_empty(),
        "no .proto files under {}",
        proto_root.display()
    );
    let descriptors = protox::compile(&files, [&proto_root]).expect("proto/ compiles");

    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("principal-proto-codegen-{}", std::process::id()));
    fs::create_dir_all(&out_dir).expect("create temp out dir");
    prost_build::Config::new()
        .out_dir(&out_dir)
        .compile_fds(descriptors)
        .expect("prost-build generates");
    let generated =
        fs::read_to_string(out_dir.join("baton.principal.v1.rs")).expect("generated file");
    fs::remove_dir_all(&out_dir).expect("remove temp out dir");
    generated
}

#[test]
fn checked_in_code_matches_schema() {
    let generated = generate();
    let checked_in_path = Path::new(env!("CARGO_MANIFEST_DIR")).join(CHECKED_IN);

    if std::env::var("BATON_REGENERATE").as_deref() == Ok("1") {
        fs::create_dir_all(checked_in_path.parent().expect("has parent")).expect("create src/gen");
        fs::write(&checked_in_path, &generated).expect("write generated code");
        return;
    }

    let checked_in = fs::read_to_string(&checked_in_path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "{CHECKED_IN} is out of date with proto/; regenerate with \
         `BATON_REGENERATE=1 cargo test -p principal-proto --test codegen_current`"
    );
}
