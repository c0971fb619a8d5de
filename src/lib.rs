//! wireseam: a packet capture and dissector that explains TCP.
//!
//! Data flows one way: [`capture`] (sources yield `(meta, &[u8])`) → [`decode`] (stateless, lax,
//! borrowed views) → [`track`] (all protocol state; every flow id is minted here) → [`analyze`]
//! (reassembly, framers, the receiving application's view) → [`output`] (sinks over
//! `io::Write`). [`pipeline`] sequences the stages for every run mode in one frame core
//! ([`pipeline::frame_core`]); [`cli`] turns arguments into plain configuration, and nothing below
//! it sees clap types. [`gen`] makes traffic, [`demo`] is the guided tour.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod analyze;
pub mod app;
pub mod capture;
pub mod cli;
pub mod decode;
pub mod demo;
pub mod gen;
pub mod golden;
pub mod lab;
pub mod numbers;
pub mod output;
pub mod pipeline;
pub mod track;
