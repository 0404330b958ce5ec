//! Decodes the reference passport in a loop, for instruction counts under
//! `valgrind --tool=callgrind` (stable on a loaded machine, unlike wall time):
//!
//! ```text
//! cargo build --release -p principal-proto --example decode_loop --features fixtures
//! valgrind --tool=callgrind target/release/examples/decode_loop unsigned 10000
//! ```
//!
//! Modes: `unsigned` (`Passport::decode`), `hmac` (HMAC verify + decode).
//! Running with 0 iterations gives the setup cost to subtract. (Under
//! valgrind, aws-lc runs SHA-256 without the CPU's SHA extensions, so the
//! `hmac` count overstates its share.)
#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use principal::Timestamp;
use principal_proto::{
    KeyId, Passport, PassportKeyRing, PassportSigningKey, TrustedPeer, fixtures,
};

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "unsigned".to_owned());
    let iterations: u32 = args.next().map_or(10_000, |n| n.parse().unwrap());
    let now = Timestamp::from_unix_seconds(1_700_000_000);
    let passport = fixtures::reference_passport(now).unwrap();
    let options = fixtures::reference_decode_options().unwrap();
    let encoded = passport.encode();
    let ring = PassportKeyRing::new(
        PassportSigningKey::hmac_sha256(KeyId::new("hmac-1").unwrap(), &[7; 32]).unwrap(),
    );
    let signed = ring.sign(&passport).unwrap();
    // What a service states after its mTLS peer passed the allowlist.
    let peer = TrustedPeer::allowlisted("spiffe://baton.test/gateway").unwrap();
    for _ in 0..iterations {
        match mode.as_str() {
            "unsigned" => {
                black_box(
                    Passport::decode_unsigned(black_box(&encoded), &options, now, peer).unwrap(),
                );
            }
            "hmac" => {
                black_box(
                    ring.verifier()
                        .verify(black_box(&signed), &options, now)
                        .unwrap(),
                );
            }
            other => panic!("unknown mode {other}"),
        }
    }
}
