//! Arbitrary bytes as JWT claims JSON, through every mapping preset. Whatever maps to a
//! Principal must go back to claims and map to the same Principal.
#![no_main]

use libfuzzer_sys::fuzz_target;
use principal::ClaimMapping;

fuzz_target!(|data: &[u8]| {
    for mapping in [
        ClaimMapping::generic(),
        ClaimMapping::keycloak(),
        ClaimMapping::baton(),
    ] {
        if let Ok(principal) = mapping.principal_from_json(data) {
            // `to_claims` is the inverse of the Baton preset, whichever preset mapped.
            let again = ClaimMapping::baton()
                .principal_from_claims(&principal.to_claims())
                .expect("a mapped principal re-maps");
            assert_eq!(again, principal);
        }
    }
});
