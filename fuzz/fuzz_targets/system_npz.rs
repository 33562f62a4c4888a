//! A system file (`--system FILE.npz`): `FeatureSystem::load_with_initial` on arbitrary bytes.
//! Accepted files hold the system invariants; refused ones are one-line input errors.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    gstarve_fuzz::check_system_file("system.npz", data);
});
