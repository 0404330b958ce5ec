//! The demo services' generated Rust (`src/gen/baton.demo.v1.rs`) and the file descriptor
//! set their gRPC reflection serves (`src/gen/baton.demo.v1.binpb`) are exactly what
//! `proto/baton/demo/v1/` compiles to, with no system `protoc`: `protox` parses the
//! schema in pure Rust and `tonic-prost-build` generates from its descriptors. Both are
//! checked in so that the examples need no build script.
//!
//! After changing the schema, regenerate with
//! `BATON_REGENERATE=1 cargo test -p examples --test codegen_current`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};

use prost::Message;

const PROTO_ROOT: &str = "../proto";
const SCHEMAS: [&str; 3] = [
    "baton/demo/v1/hop.proto",
    "baton/demo/v1/documents.proto",
    "baton/demo/v1/audit.proto",
];
const CHECKED_IN_CODE: &str = "src/gen/baton.demo.v1.rs";
const CHECKED_IN_DESCRIPTORS: &str = "src/gen/baton.demo.v1.binpb";

fn generate() -> (String, Vec<u8>) {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let proto_root = manifest.join(PROTO_ROOT);
    let descriptors = protox::compile(SCHEMAS, [&proto_root]).expect("the schema compiles");
    let encoded = descriptors.encode_to_vec();
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("examples-codegen-{}", std::process::id()));
    fs::create_dir_all(&out_dir).expect("create temp out dir");
    tonic_prost_build::configure()
        .out_dir(&out_dir)
        .compile_fds(descriptors)
        .expect("tonic-prost-build generates");
    let generated = fs::read_to_string(out_dir.join("baton.demo.v1.rs")).expect("generated file");
    fs::remove_dir_all(&out_dir).expect("remove temp out dir");
    (generated, encoded)
}

#[test]
fn checked_in_code_and_descriptors_match_the_schema() {
    let (code, descriptors) = generate();
    assert!(code.contains("pub mod documents_service_server"));
    assert!(code.contains("pub mod audit_service_server"));
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    if std::env::var("BATON_REGENERATE").as_deref() == Ok("1") {
        fs::write(manifest.join(CHECKED_IN_CODE), &code).expect("write generated code");
        fs::write(manifest.join(CHECKED_IN_DESCRIPTORS), &descriptors)
            .expect("write descriptor set");
        return;
    }
    let regenerate =
        "regenerate with `BATON_REGENERATE=1 cargo test -p examples --test codegen_current`";
    let checked_in = fs::read_to_string(manifest.join(CHECKED_IN_CODE)).unwrap_or_default();
    assert!(
        checked_in == code,
        "{CHECKED_IN_CODE} is out of date with proto/baton/demo/v1; {regenerate}"
    );
    let checked_in = fs::read(manifest.join(CHECKED_IN_DESCRIPTORS)).unwrap_or_default();
    assert!(
        checked_in == descriptors,
        "{CHECKED_IN_DESCRIPTORS} is out of date with proto/baton/demo/v1; {regenerate}"
    );
}
