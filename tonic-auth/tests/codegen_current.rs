//! The generated Rust of the test service (`tests/gen/baton.testing.v1.rs`) is exactly
//! what `proto/baton/testing/v1/` compiles to, with no system `protoc`: `protox` parses
//! the schema in pure Rust and `tonic-prost-build` generates from its descriptors. It is
//! checked in so that tonic-auth needs no build script (and its users no build-time
//! dependency) for a test-only service.
//!
//! After changing the schema, regenerate with
//! `BATON_REGENERATE=1 cargo test -p tonic-auth --test codegen_current`.

use std::fs;
use std::path::{Path, PathBuf};

const PROTO_ROOT: &str = "../proto";
const SCHEMA: &str = "baton/testing/v1/echo.proto";
const CHECKED_IN: &str = "tests/gen/baton.testing.v1.rs";

fn generate() -> String {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let proto_root = manifest.join(PROTO_ROOT);
    let descriptors = protox::compile([SCHEMA], [&proto_root]).expect("the schema compiles");
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("tonic-auth-codegen-{}", std::process::id()));
    fs::create_dir_all(&out_dir).expect("create temp out dir");
    tonic_prost_build::configure()
        .out_dir(&out_dir)
        .compile_fds(descriptors)
        .expect("tonic-prost-build generates");
    let generated =
        fs::read_to_string(out_dir.join("baton.testing.v1.rs")).expect("generated file");
    fs::remove_dir_all(&out_dir).expect("remove temp out dir");
    generated
}

#[test]
fn checked_in_code_matches_schema() {
    let generated = generate();
    assert!(generated.contains("pub mod echo_service_server"));
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(CHECKED_IN);
    if std::env::var("BATON_REGENERATE").as_deref() == Ok("1") {
        fs::write(&path, &generated).expect("write generated code");
        return;
    }
    let checked_in = fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "{CHECKED_IN} is out of date with proto/{SCHEMA}; regenerate with \
         `BATON_REGENERATE=1 cargo test -p tonic-auth --test codegen_current`"
    );
}
