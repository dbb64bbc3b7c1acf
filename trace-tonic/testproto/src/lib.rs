//! The `echo.v1.Echo` service of trace-tonic's tests, generated at build
//! time from `proto/echo.proto` (see `build.rs`).

#![allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]

tonic::include_proto!("echo.v1");
