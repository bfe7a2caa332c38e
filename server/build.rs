//! Turns the PostgreSQL half of the integration suite on when a server is given, so a
//! run without one lists those tests as ignored, with the reason, instead of passing
//! them silently.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(pg_tests)");
    println!("cargo::rerun-if-env-changed=CHARGELOG_TEST_POSTGRES_URL");
    if std::env::var_os("CHARGELOG_TEST_POSTGRES_URL").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=pg_tests");
    }
}
