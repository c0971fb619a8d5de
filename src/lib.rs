//! wireseam: a packet capture and dissector that explains TCP.
//!
//! Data flows one way: [`capture`] (sources yield `(meta, &[u8])`) → [`decode`] (stateless, lax,
//! borrowed views) → [`track`] (the only protocol state) → [`output`] (sinks over `io::Write`).
//! [`cli`] turns arguments into plain configuration; nothing below it sees clap types.
#![deny(unsafe_code)]

pub mod analyze;
pub mod app;
pub mod capture;
pub mod cli;
pub mod decode;
pub mod demo;
pub mod gen;
pub mod numbers;
pub mod output;
pub mod pipeline;
pub mod track;
