//! Random secrets, and comparing them without telling how much of a guess was right.

use sha2::Sha256;

/// A fresh random secret, as text.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    // The operating system's generator; without it nothing here is safe, so stop.
    getrandom::fill(&mut bytes)
        .unwrap_or_else(|e| panic!("the system random number generator failed: {e}"));
    hex::encode(bytes)
}

/// Whether two secrets are equal, in time that depends on neither where they differ nor
/// how long their common prefix is: both go through one keyed HMAC, and `verify_slice`
/// compares the tags in constant time.
pub fn same_secret(a: &[u8], b: &[u8]) -> bool {
    use hmac::{KeyInit, Mac};
    let keyed = || {
        <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(b"chargelog secret comparison")
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"))
    };
    let mut tag = keyed();
    tag.update(a);
    let tag = tag.finalize().into_bytes();
    let mut other = keyed();
    other.update(b);
    other.verify_slice(&tag).is_ok()
}
