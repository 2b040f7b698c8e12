//! Nearest-neighbour search over a library's vectors: exact for small libraries, an HNSW index
//! (USearch) above [`EXACT_SEARCH_MAX`] vectors. Both rank by cosine similarity and take a
//! filter on keys (modality, eye, finding are checked by the caller's predicate).
//!
//! Why USearch: a maintained HNSW implementation (Unum) with SIMD distance kernels, filtered
//! search, concurrent insertion and single-file save/load, used by several databases; its
//! recall and latency are measured against FAISS in `BENCHMARKS.md`.

use std::path::Path;

use super::error::LibraryError;
use crate::encoder::session::normalized;
use crate::path_error::AtPath;

/// Up to this many vectors, search is exact (a scan of ≤ 20 000 × 512 values takes a few
/// milliseconds); above it, the HNSW index is used.
pub const EXACT_SEARCH_MAX: usize = 20_000;

/// HNSW build and search parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HnswParams {
    /// Edges per node (M).
    pub connectivity: usize,
    /// Candidate list while inserting (efConstruction).
    pub expansion_add: usize,
    /// Candidate list while searching (ef).
    pub expansion_search: usize,
}

impl Default for HnswParams {
    /// M = 16, efConstruction = 128, ef = 256: on the 1 M benchmark (BENCHMARKS.md) ef 128
    /// gave recall@10 0.935 and ef 256 gave 0.975 at 1.1 ms per query.
    fn default() -> Self {
        HnswParams {
            connectivity: 16,
            expansion_add: 128,
            expansion_search: 256,
        }
    }
}

/// One neighbour: its key and cosine similarity to the query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Neighbour {
    /// The vector's key (image or eye id).
    pub key: u64,
    /// Cosine similarity in [-1, 1].
    pub similarity: f32,
}

/// Exact or approximate search over normalised vectors.
pub enum VectorIndex {
    /// Every vector compared.
    Exact(ExactIndex),
    /// HNSW graph.
    Hnsw(HnswIndex),
}

/// Normalised vectors in one matrix.
pub struct ExactIndex {
    dim: usize,
    keys: Vec<u64>,
    vectors: Vec<f32>,
}

/// A USearch HNSW index (cosine, f32).
pub struct HnswIndex {
    index: usearch::Index,
}

/// A boxed cause of an index failure.
type IndexCause = Box<dyn std::error::Error + Send + Sync>;

fn index_error(e: impl Into<IndexCause>) -> LibraryError {
    LibraryError::Index {
        at: None,
        source: e.into(),
    }
}

fn index_file_error<E: Into<IndexCause>>(path: &Path) -> impl FnOnce(E) -> LibraryError {
    move |e| LibraryError::Index {
        at: Some(path.to_path_buf()),
        source: e.into(),
    }
}

impl ExactIndex {
    /// An index of `keys` with their `vectors` (`keys.len() × dim`, row-major).
    pub fn new(dim: usize, keys: Vec<u64>, vectors: &[f32]) -> Self {
        let vectors = vectors.chunks(dim.max(1)).flat_map(normalized).collect();
        ExactIndex { dim, keys, vectors }
    }

    /// The `k` most similar vectors whose key passes `keep`, best first.
    pub fn search(&self, query: &[f32], k: usize, keep: &dyn Fn(u64) -> bool) -> Vec<Neighbour> {
        let query = normalized(query);
        let mut scored: Vec<Neighbour> = self
            .keys
            .iter()
            .zip(self.vectors.chunks(self.dim.max(1)))
            .filter(|(key, _)| keep(**key))
            .map(|(&key, row)| Neighbour {
                key,
                similarity: row.iter().zip(&query).map(|(a, b)| a * b).sum(),
            })
            .collect();
        let k = k.min(scored.len());
        if k == 0 {
            return Vec::new();
        }
        scored.select_nth_unstable_by(k - 1, |a, b| b.similarity.total_cmp(&a.similarity));
        scored.truncate(k);
        scored.sort_by(|a, b| b.similarity.total_cmp(&a.similarity));
        scored
    }
}

impl HnswIndex {
    fn options(dim: usize, params: HnswParams) -> usearch::IndexOptions {
        usearch::IndexOptions {
            dimensions: dim,
            metric: usearch::MetricKind::Cos,
            quantization: usearch::ScalarKind::F32,
            connectivity: params.connectivity,
            expansion_add: params.expansion_add,
            expansion_search: params.expansion_search,
            multi: false,
        }
    }

    /// Builds the graph from `keys` and their vectors on `threads` named threads.
    pub fn build(
        dim: usize,
        keys: &[u64],
        vectors: &[f32],
        params: HnswParams,
        threads: usize,
    ) -> Result<Self, LibraryError> {
        let index = usearch::Index::new(&Self::options(dim, params)).map_err(index_error)?;
        let threads = threads.max(1);
        index
            .reserve_capacity_and_threads(keys.len(), threads)
            .map_err(index_error)?;
        let failure: std::sync::Mutex<Option<IndexCause>> = std::sync::Mutex::new(None);
        std::thread::scope(|scope| {
            for t in 0..threads {
                let (index, failure) = (&index, &failure);
                let spawned = std::thread::Builder::new()
                    .name(format!("fovea-index-{t}"))
                    .spawn_scoped(scope, move || {
                        for i in (t..keys.len()).step_by(threads) {
                            let row = &vectors[i * dim..(i + 1) * dim];
                            if let Err(e) = index.add(keys[i], row) {
                                if let Ok(mut slot) = failure.lock() {
                                    slot.get_or_insert(e.into());
                                }
                                return;
                            }
                        }
                    });
                if let Err(e) = spawned
                    && let Ok(mut slot) = failure.lock()
                {
                    slot.get_or_insert(e.into());
                }
            }
        });
        if let Some(cause) = failure.into_inner().ok().flatten() {
            return Err(index_error(cause));
        }
        Ok(HnswIndex { index })
    }

    /// Loads a saved index.
    pub fn load(path: &Path, dim: usize, params: HnswParams) -> Result<Self, LibraryError> {
        let index = usearch::Index::new(&Self::options(dim, params)).map_err(index_error)?;
        index
            .load(&path.to_string_lossy())
            .map_err(index_file_error(path))?;
        if index.dimensions() != dim {
            return Err(LibraryError::Dimension {
                expected: dim,
                got: index.dimensions(),
            });
        }
        index.change_expansion_search(params.expansion_search);
        Ok(HnswIndex { index })
    }

    /// Saves to `path` through a temporary file renamed into place.
    pub fn save(&self, path: &Path) -> Result<(), LibraryError> {
        let staging = path.with_extension("usearch.partial");
        self.index
            .save(&staging.to_string_lossy())
            .map_err(index_file_error(&staging))?;
        Ok(std::fs::rename(&staging, path).at_path(path)?)
    }

    /// Vectors in the graph.
    pub fn len(&self) -> usize {
        self.index.size()
    }

    /// Whether the graph is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sets the search candidate list (ef).
    pub fn set_expansion_search(&self, expansion: usize) {
        self.index.change_expansion_search(expansion);
    }

    /// The `k` most similar vectors whose key passes `keep`, best first.
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        keep: &dyn Fn(u64) -> bool,
    ) -> Result<Vec<Neighbour>, LibraryError> {
        let matches = self
            .index
            .filtered_search(query, k, keep)
            .map_err(index_error)?;
        Ok(matches
            .keys
            .iter()
            .zip(&matches.distances)
            .map(|(&key, &distance)| Neighbour {
                key,
                similarity: 1.0 - distance,
            })
            .collect())
    }
}

impl VectorIndex {
    /// Exact search for up to [`EXACT_SEARCH_MAX`] vectors, HNSW above.
    pub fn build(dim: usize, keys: Vec<u64>, vectors: &[f32]) -> Result<Self, LibraryError> {
        if keys.len() <= EXACT_SEARCH_MAX {
            Ok(VectorIndex::Exact(ExactIndex::new(dim, keys, vectors)))
        } else {
            let threads = std::thread::available_parallelism().map_or(2, usize::from);
            HnswIndex::build(dim, &keys, vectors, HnswParams::default(), threads)
                .map(VectorIndex::Hnsw)
        }
    }

    /// Which kind of search this is, for people.
    pub fn kind(&self) -> &'static str {
        match self {
            VectorIndex::Exact(_) => "exact",
            VectorIndex::Hnsw(_) => "HNSW (USearch)",
        }
    }

    /// The `k` most similar vectors whose key passes `keep`, best first.
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        keep: &dyn Fn(u64) -> bool,
    ) -> Result<Vec<Neighbour>, LibraryError> {
        match self {
            VectorIndex::Exact(index) => Ok(index.search(query, k, keep)),
            VectorIndex::Hnsw(index) => index.search(query, k, keep),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn random_vectors(n: usize, dim: usize, seed: u64) -> Vec<f32> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        (0..n * dim).map(|_| rng.random_range(-1.0..1.0)).collect()
    }

    #[test]
    fn exact_search_ranks_by_cosine_and_filters() {
        let vectors = [1.0, 0.0, 0.0, 1.0, 0.7, 0.7, -1.0, 0.0];
        let index = ExactIndex::new(2, vec![10, 11, 12, 13], &vectors);
        let hits = index.search(&[2.0, 0.1], 3, &|_| true);
        let keys: Vec<u64> = hits.iter().map(|h| h.key).collect();
        assert_eq!(keys, [10, 12, 11]);
        assert!((hits[0].similarity - 0.998_752).abs() < 1e-4);
        let odd = index.search(&[2.0, 0.1], 3, &|k| k % 2 == 1);
        assert_eq!(odd.iter().map(|h| h.key).collect::<Vec<_>>(), [11, 13]);
    }

    #[test]
    fn hnsw_finds_what_exact_search_finds_and_survives_save_and_load() {
        let (n, dim) = (3000, 32);
        let vectors = random_vectors(n, dim, 7);
        let keys: Vec<u64> = (0..n as u64).map(|k| k * 3 + 1).collect();
        let exact = ExactIndex::new(dim, keys.clone(), &vectors);
        let hnsw = HnswIndex::build(dim, &keys, &vectors, HnswParams::default(), 2).expect("build");
        assert_eq!(hnsw.len(), n);
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("images.usearch");
        hnsw.save(&path).expect("save");
        let loaded = HnswIndex::load(&path, dim, HnswParams::default()).expect("load");
        let queries = random_vectors(50, dim, 8);
        let mut found = 0;
        for query in queries.chunks(dim) {
            let truth: Vec<u64> = exact
                .search(query, 10, &|_| true)
                .iter()
                .map(|h| h.key)
                .collect();
            let approx = loaded.search(query, 10, &|_| true).expect("search");
            assert!(
                (approx[0].similarity - exact.search(query, 1, &|_| true)[0].similarity).abs()
                    < 0.05
            );
            found += approx.iter().filter(|h| truth.contains(&h.key)).count();
        }
        let recall = found as f64 / 500.0;
        assert!(recall >= 0.95, "recall@10 {recall}");
        let filtered = loaded
            .search(&vectors[..dim], 5, &|k| k % 2 == 0)
            .expect("filtered");
        assert!(!filtered.is_empty() && filtered.iter().all(|h| h.key % 2 == 0));
    }
}
