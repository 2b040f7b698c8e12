//! Retrieval: the most similar reference images or eyes to a vector (an image's, an eye's
//! fused one, or a typed finding's text vector), with filters, and the aggregate shown next to
//! the model's own probability ("7 of the 10 most similar eyes have referable DR").

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::error::LibraryError;
use super::index::{EXACT_SEARCH_MAX, HnswIndex, HnswParams, VectorIndex};
use super::record::{CaseEye, CaseImage, LibraryMeta};
use super::store::{self, Library};
use crate::encoder::session::normalized;
use crate::path_error::AtPath;
use crate::study::{Eye, Modality};

/// Which cases may be returned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only this modality (images; for eyes: eyes that have an image of it).
    pub modality: Option<Modality>,
    /// Only this eye.
    pub eye: Option<Eye>,
    /// Only cases with this finding.
    pub finding: Option<String>,
}

impl Filter {
    fn keeps(&self, modality: &[Modality], eye: Eye, findings: &[String]) -> bool {
        self.modality.is_none_or(|m| modality.contains(&m))
            && self.eye.is_none_or(|e| e == eye)
            && self
                .finding
                .as_ref()
                .is_none_or(|f| findings.iter().any(|g| g == f))
    }
}

/// One similar case.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit<R> {
    /// Image or eye id in the library.
    pub id: u64,
    /// Cosine similarity to the query.
    pub similarity: f32,
    /// The case.
    pub record: R,
}

/// How many of the hits have one finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Aggregate {
    /// The finding.
    pub finding_id: String,
    /// Hits with it.
    pub with: usize,
    /// Hits.
    pub of: usize,
}

impl Aggregate {
    /// "7 of the 10 most similar eyes have referable diabetic retinopathy".
    pub fn sentence(&self, finding_name: &str, unit: &str) -> String {
        format!(
            "{} of the {} most similar {unit} have {finding_name}",
            self.with, self.of
        )
    }
}

/// Per finding id, how many of `hits` (their findings) have it.
pub fn aggregate(finding_ids: &[String], hits: &[&[String]]) -> Vec<Aggregate> {
    finding_ids
        .iter()
        .map(|id| Aggregate {
            finding_id: id.clone(),
            with: hits.iter().filter(|f| f.contains(id)).count(),
            of: hits.len(),
        })
        .collect()
}

struct Collection<R> {
    records: HashMap<u64, R>,
    index: VectorIndex,
    /// Subtracted from normalised vectors and queries before comparing (eyes: see
    /// [`centred`]); `None` compares as stored (images, which text queries also search).
    centre: Option<Vec<f32>>,
}

/// The mean of the normalised rows of `vectors`, and the rows normalised with it subtracted.
///
/// Fused eye embeddings of one model all point much the same way (cosines of 0.99+ between
/// unrelated eyes): the shared direction says "an eye", not which eye. Subtracting the
/// library's mean leaves what differs between eyes, so neighbours are ranked by it and
/// similarities spread over [-1, 1].
fn centred(dim: usize, vectors: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let rows: Vec<Vec<f32>> = vectors.chunks(dim.max(1)).map(normalized).collect();
    let mut mean = vec![0.0_f32; dim];
    for row in &rows {
        for (m, x) in mean.iter_mut().zip(row) {
            *m += x / rows.len() as f32;
        }
    }
    let out = rows
        .iter()
        .flat_map(|row| {
            row.iter()
                .zip(&mean)
                .map(|(x, m)| x - m)
                .collect::<Vec<_>>()
        })
        .collect();
    (mean, out)
}

impl<R: Clone> Collection<R> {
    /// The `k` records most similar to `query` among those `keep` accepts, best first.
    fn similar(
        &self,
        query: &[f32],
        k: usize,
        keep: impl Fn(&R) -> bool,
    ) -> Result<Vec<Hit<R>>, LibraryError> {
        let passes = |key: u64| self.records.get(&key).is_some_and(&keep);
        let query: Vec<f32> = match &self.centre {
            Some(centre) => normalized(query)
                .iter()
                .zip(centre)
                .map(|(x, m)| x - m)
                .collect(),
            None => query.to_vec(),
        };
        let neighbours = self.index.search(&query, k, &passes)?;
        Ok(neighbours
            .into_iter()
            .filter_map(|n| {
                self.records.get(&n.key).map(|r| Hit {
                    id: n.key,
                    similarity: n.similarity,
                    record: r.clone(),
                })
            })
            .collect())
    }
}

/// A library loaded for retrieval: records in memory, exact or HNSW search.
pub struct Searcher {
    dir: PathBuf,
    db: Arc<store::Store>,
    meta: LibraryMeta,
    images: Collection<CaseImage>,
    eyes: Collection<CaseEye>,
}

#[derive(Serialize, Deserialize)]
struct IndexStamp {
    generation: u64,
    count: usize,
}

/// The index of one collection: exact when small; else the saved HNSW index when its stamp
/// matches the store's generation, or a new one (saved for next time when the folder is
/// writable — a failed save is logged, the search still works).
fn collection_index(
    dir: &Path,
    name: &str,
    generation: u64,
    dim: usize,
    keys: Vec<u64>,
    vectors: &[f32],
) -> Result<VectorIndex, LibraryError> {
    if keys.len() <= EXACT_SEARCH_MAX {
        return VectorIndex::build(dim, keys, vectors);
    }
    let index_path = dir.join(format!("{name}.usearch"));
    let stamp_path = dir.join(format!("{name}.json"));
    let current = IndexStamp {
        generation,
        count: keys.len(),
    };
    let stamp: Option<IndexStamp> = std::fs::read(&stamp_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    if stamp.is_some_and(|s| s.generation == current.generation && s.count == current.count)
        && let Ok(index) = HnswIndex::load(&index_path, dim, HnswParams::default())
    {
        return Ok(VectorIndex::Hnsw(index));
    }
    let built = VectorIndex::build(dim, keys, vectors)?;
    if let VectorIndex::Hnsw(index) = &built {
        let saved = index.save(&index_path).and_then(|()| {
            let json = serde_json::to_vec(&current).map_err(|e| LibraryError::Index {
                at: Some(stamp_path.clone()),
                source: e.into(),
            })?;
            Ok(std::fs::write(&stamp_path, json).at_path(&stamp_path)?)
        });
        if let Err(e) = saved {
            log::warn!("the {name} index was not saved and will be rebuilt next time: {e}");
        }
    }
    Ok(built)
}

impl Searcher {
    /// Loads `library` for retrieval.
    pub fn open(library: &Library) -> Result<Self, LibraryError> {
        let meta = library.meta().clone();
        let stored = store::load_images(library)?;
        let images = Collection {
            records: stored.keys.iter().copied().zip(stored.records).collect(),
            index: collection_index(
                library.dir(),
                "images",
                meta.generation,
                meta.image_dim,
                stored.keys,
                &stored.vectors,
            )?,
            centre: None,
        };
        let stored = store::load_eyes(library)?;
        let (centre, vectors) = centred(meta.eye_dim, &stored.vectors);
        let eyes = Collection {
            records: stored.keys.iter().copied().zip(stored.records).collect(),
            index: collection_index(
                library.dir(),
                "eyes",
                meta.generation,
                meta.eye_dim,
                stored.keys,
                &vectors,
            )?,
            centre: Some(centre),
        };
        Ok(Searcher {
            dir: library.dir().to_path_buf(),
            db: library.db.clone(),
            meta,
            images,
            eyes,
        })
    }

    /// The library's record.
    pub fn meta(&self) -> &LibraryMeta {
        &self.meta
    }

    /// Images and eyes loaded.
    pub fn counts(&self) -> (usize, usize) {
        (self.images.records.len(), self.eyes.records.len())
    }

    /// "exact" or "HNSW (USearch)" for images and eyes.
    pub fn index_kinds(&self) -> (&'static str, &'static str) {
        (self.images.index.kind(), self.eyes.index.kind())
    }

    fn check(&self, expected: usize, query: &[f32]) -> Result<(), LibraryError> {
        // 0: the library is empty, nothing to find.
        if expected == 0 || query.len() == expected {
            Ok(())
        } else {
            Err(LibraryError::Dimension {
                expected,
                got: query.len(),
            })
        }
    }

    /// The `k` reference images most similar to an image-level vector (an image's, or a
    /// typed finding's text vector), passing `filter`.
    pub fn similar_images(
        &self,
        query: &[f32],
        k: usize,
        filter: &Filter,
    ) -> Result<Vec<Hit<CaseImage>>, LibraryError> {
        self.check(self.meta.image_dim, query)?;
        self.images.similar(query, k, |r| {
            filter.keeps(std::slice::from_ref(&r.modality), r.eye, &r.findings)
        })
    }

    /// The `k` reference eyes most similar to an eye's fused vector, passing `filter`.
    pub fn similar_eyes(
        &self,
        query: &[f32],
        k: usize,
        filter: &Filter,
    ) -> Result<Vec<Hit<CaseEye>>, LibraryError> {
        self.check(self.meta.eye_dim, query)?;
        self.eyes.similar(query, k, |r| {
            filter.keeps(&r.modalities, r.eye, &r.findings)
        })
    }

    /// The JPEG thumbnail of a reference image (of an eye: its first image's).
    pub fn thumbnail(&self, image_id: u64) -> Result<Option<Vec<u8>>, LibraryError> {
        store::thumbnail(&self.db, &self.dir, image_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregates_count_hits_per_finding_and_read_as_a_sentence() {
        let ids = ["referable_dr".to_string(), "amd".to_string()];
        let a = vec!["referable_dr".to_string()];
        let b = vec!["referable_dr".to_string(), "amd".to_string()];
        let none: Vec<String> = Vec::new();
        let hits: Vec<&[String]> = vec![&a, &b, &none];
        let counts = aggregate(&ids, &hits);
        assert_eq!((counts[0].with, counts[0].of), (2, 3));
        assert_eq!((counts[1].with, counts[1].of), (1, 3));
        assert_eq!(
            counts[0].sentence("referable diabetic retinopathy", "eyes"),
            "2 of the 3 most similar eyes have referable diabetic retinopathy"
        );
    }
}
