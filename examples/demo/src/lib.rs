//! The demo is the binary (`src/main.rs`). This library target holds no
//! code: it exists so that the examples in the workspace README compile and
//! run as doctests (`cargo test -p demo --doc`), with the demo's
//! dependencies, which are every adapter with its features.

#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct WorkspaceReadmeDoctests;
