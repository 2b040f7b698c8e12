//! The case library: reference cases with known findings, embedded with one model pack, and
//! retrieval of the most similar images and eyes for the one under review.
//!
//! On disk a library is a folder:
//! - `library.redb` — the store ([`store`]): per image its vector, labels, modality, eye, a
//!   de-identified case id and a JPEG thumbnail; per eye its fused vector; the pack it was built
//!   with. [redb](https://docs.rs/redb) is an embedded, pure-Rust, ACID key-value store: every
//!   patient is added in one transaction, so a crash or kill leaves the library as it was
//!   before, or with the patients already committed — never half a patient.
//! - `images.usearch`, `eyes.usearch` (+ `.json`) — HNSW indexes ([`index`], USearch), only
//!   for libraries larger than [`index::EXACT_SEARCH_MAX`]; derived from the store, saved by
//!   rename, rebuilt when they do not match the store's generation.
//!
//! Layering: library → analysis (to embed and grade studies) → encoder → study. Knows no
//! burn types and no egui.

pub mod build;
pub mod deid;
pub mod error;
pub mod index;
pub mod labels;
pub mod record;
pub mod search;
pub mod store;

pub use error::LibraryError;
pub use record::{CaseEye, CaseImage, LibraryMeta};
pub use search::{Aggregate, Filter, Hit};
pub use store::Library;
