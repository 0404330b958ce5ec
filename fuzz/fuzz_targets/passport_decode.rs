//! Arbitrary bytes into every passport decoder: plain, signed, and the header form.
//! Whatever is accepted must re-encode and decode to the same passport.
#![no_main]

use libfuzzer_sys::fuzz_target;
use principal::Timestamp;
use principal_proto::{
    KeyId, Passport, PassportForm, PassportKeyRing, PassportSigningKey, TrustedPeer, fixtures,
    header,
};

fuzz_target!(|data: &[u8]| {
    let now = Timestamp::from_unix_seconds(1_700_000_000);
    let options = fixtures::reference_decode_options().expect("fixture options");
    // Decoding an unsigned passport needs the caller's statement about its peer.
    let peer = TrustedPeer::allowlisted("spiffe://baton.test/gateway").expect("peer");
    let ring = PassportKeyRing::new(
        PassportSigningKey::hmac_sha256(KeyId::new("fuzz").expect("kid"), &[7; 32]).expect("key"),
    );

    if let Ok(passport) = Passport::decode_unsigned(data, &options, now, peer) {
        // A verifier routing by form must send every unsigned passport to the peer check.
        assert_eq!(PassportForm::of(data), PassportForm::Unsigned);
        let again = Passport::decode_unsigned(&passport.encode(), &options, now, peer).expect("re-decode");
        assert_eq!(again, passport);
    }
    // Without the secret nothing may verify.
    assert!(ring.verifier().verify(data, &options, now).is_err());

    if let Ok(bytes) = header::decode_header_value(data, options.max_bytes() * 2) {
        let text = header::encode_header_value(&bytes);
        assert_eq!(header::decode_header_value(text.as_bytes(), usize::MAX).expect("re-decode"), bytes);
    }
    assert!(ring.verifier().verify_header(data, &options, now).is_err());
});
