//! rshm: the C ABI of rshm-core, built as `librshm.a`; `make` links `librshm.so` from it
//! (scripts/link-shared.sh: soname `librshm.so.0`, symbols under the version node
//! `RSHM_0.1` of src/librshm.map). The exported functions are thin shells in `ffi`;
//! `include/rshm.h` is generated from them by build.rs.
//!
//! Rust programs use the `rshm-core` crate instead: it is the same core with a safe API
//! and no C exports.

mod ffi;
