//! The library's store: one redb file with a table per kind of record. Every change is one
//! write transaction (redb commits are atomic and crash-safe), and bumps the library's
//! generation so indexes saved beside it can tell whether they are current.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{
    Database, ReadOnlyDatabase, ReadTransaction, ReadableDatabase, ReadableTable,
    ReadableTableMetadata, TableDefinition,
};

use super::deid;
use super::error::LibraryError;
use super::record::{CaseEye, CaseImage, FORMAT_VERSION, LibraryMeta};
use crate::path_error::AtPath;

pub(crate) const META: TableDefinition<&str, &str> = TableDefinition::new("meta");
pub(crate) const IMAGES: TableDefinition<u64, &str> = TableDefinition::new("images");
pub(crate) const IMAGE_VECTORS: TableDefinition<u64, &[u8]> = TableDefinition::new("image_vectors");
pub(crate) const THUMBNAILS: TableDefinition<u64, &[u8]> = TableDefinition::new("thumbnails");
pub(crate) const EYES: TableDefinition<u64, &str> = TableDefinition::new("eyes");
pub(crate) const EYE_VECTORS: TableDefinition<u64, &[u8]> = TableDefinition::new("eye_vectors");
/// SHA-256 of a source file's bytes (+ frame) → image id: the same file is not added twice.
pub(crate) const SOURCES: TableDefinition<&str, u64> = TableDefinition::new("sources");

const META_KEY: &str = "library";
/// The store's file name inside a library folder.
pub const STORE_FILE: &str = "library.redb";

/// An image to add.
#[derive(Debug, Clone)]
pub struct NewImage {
    /// Its record (`eye_id` is filled in when added).
    pub record: CaseImage,
    /// Its image-level vector.
    pub vector: Vec<f32>,
    /// JPEG thumbnail.
    pub thumbnail_jpeg: Vec<u8>,
    /// Fingerprint of the source (file bytes and frame).
    pub source_sha256: String,
}

/// An eye to add: the fused vector of some of the case's images.
#[derive(Debug, Clone)]
pub struct NewEye {
    /// Its record (`image_ids` are filled in when added).
    pub record: CaseEye,
    /// The fused vector.
    pub vector: Vec<f32>,
    /// Which of the case's images (indices into [`NewCase::images`]) were fused.
    pub images: Vec<usize>,
}

/// One patient's images and eyes, added in one transaction.
#[derive(Debug, Clone, Default)]
pub struct NewCase {
    /// Images.
    pub images: Vec<NewImage>,
    /// Eyes.
    pub eyes: Vec<NewEye>,
}

/// What one [`Library::add_case`] stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Added {
    /// Images stored.
    pub images: usize,
    /// Eyes stored.
    pub eyes: usize,
    /// Images already in the library (same source), skipped.
    pub duplicates: usize,
}

/// The redb file, open for writing (one process at a time: `build`, `add`) or for reading
/// (shared: search, info, the viewer — any number of processes).
pub(crate) enum Store {
    Writable(Database),
    ReadOnly(ReadOnlyDatabase),
}

impl Store {
    pub(crate) fn begin_read(&self) -> Result<ReadTransaction, redb::TransactionError> {
        match self {
            Store::Writable(db) => db.begin_read(),
            Store::ReadOnly(db) => db.begin_read(),
        }
    }
}

/// An open case library.
pub struct Library {
    dir: PathBuf,
    pub(crate) db: Arc<Store>,
    meta: LibraryMeta,
}

/// What a new library records about the pack and its vectors.
#[derive(Debug, Clone)]
pub struct NewLibrary {
    /// Pack name.
    pub pack_name: String,
    /// Pack version.
    pub pack_version: String,
    /// Pack weights SHA-256.
    pub pack_sha256: String,
    /// Trained on synthetic data only.
    pub synthetic_pack: bool,
    /// Image vector length (0: set by the first case added).
    pub image_dim: usize,
    /// Eye vector length (0: set by the first case added).
    pub eye_dim: usize,
    /// Keep patient identifiers (asked for explicitly).
    pub keep_identifiers: bool,
    /// Finding ids, in display order.
    pub finding_ids: Vec<String>,
    /// The secret case ids are derived with. `None` (what `fovea library build` uses): a
    /// fresh one. Give one only to derive the same case ids again (a reproducible test
    /// fixture): whoever holds it can check case ids against a list of patient ids.
    pub salt: Option<String>,
}

pub(crate) fn to_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub(crate) fn from_bytes(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

impl Library {
    /// Creates a library in `dir` (which must not exist or be empty).
    pub fn create(dir: &Path, new: NewLibrary) -> Result<Self, LibraryError> {
        let occupied = std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some());
        if occupied {
            return Err(LibraryError::Occupied(dir.to_path_buf()));
        }
        std::fs::create_dir_all(dir).at_path(dir)?;
        let store_error = |e: redb::Error| store_error(dir, e);
        let db = Database::create(dir.join(STORE_FILE)).map_err(|e| store_error(e.into()))?;
        let meta = LibraryMeta {
            format_version: FORMAT_VERSION,
            pack_name: new.pack_name,
            pack_version: new.pack_version,
            pack_sha256: new.pack_sha256,
            synthetic_pack: new.synthetic_pack,
            image_dim: new.image_dim,
            eye_dim: new.eye_dim,
            salt: new.salt.unwrap_or_else(|| deid::new_salt(dir)),
            keep_identifiers: new.keep_identifiers,
            generation: 0,
            next_image_id: 1,
            next_eye_id: 1,
            finding_ids: new.finding_ids,
        };
        let library = Library {
            dir: dir.to_path_buf(),
            db: Arc::new(Store::Writable(db)),
            meta,
        };
        library
            .write(|txn, meta| {
                txn.open_table(IMAGES)?;
                txn.open_table(IMAGE_VECTORS)?;
                txn.open_table(THUMBNAILS)?;
                txn.open_table(EYES)?;
                txn.open_table(EYE_VECTORS)?;
                txn.open_table(SOURCES)?;
                Ok(meta.clone())
            })
            .map(|_| ())?;
        Ok(library)
    }

    /// Opens the library in `dir` to add to it (no other process may have it open).
    pub fn open(dir: &Path) -> Result<Self, LibraryError> {
        Self::open_with(dir, |path| Database::open(path).map(Store::Writable))
    }

    /// Opens the library in `dir` for searching: shared with other readers, works on a
    /// read-only install; refuses writes.
    pub fn open_read_only(dir: &Path) -> Result<Self, LibraryError> {
        Self::open_with(dir, |path| {
            ReadOnlyDatabase::open(path).map(Store::ReadOnly)
        })
    }

    fn open_with(
        dir: &Path,
        open: impl FnOnce(&Path) -> Result<Store, redb::DatabaseError>,
    ) -> Result<Self, LibraryError> {
        let path = dir.join(STORE_FILE);
        if !path.is_file() {
            return Err(LibraryError::NotALibrary(dir.to_path_buf()));
        }
        let db = open(&path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => LibraryError::Busy(dir.to_path_buf()),
            e => store_error(dir, e.into()),
        })?;
        let meta = read_meta(dir, &db)?;
        Ok(Library {
            dir: dir.to_path_buf(),
            db: Arc::new(db),
            meta,
        })
    }

    /// The library's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Its record.
    pub fn meta(&self) -> &LibraryMeta {
        &self.meta
    }

    /// Refuses a pack other than the library's.
    pub fn check_pack(&self, name: &str, sha256: &str) -> Result<(), LibraryError> {
        if self.meta.pack_sha256 == sha256 {
            return Ok(());
        }
        Err(LibraryError::OtherPack {
            library: self.meta.pack_name.clone(),
            library_sha: short(&self.meta.pack_sha256),
            pack: name.to_string(),
            pack_sha: short(sha256),
        })
    }

    /// The case id of a patient in this library.
    pub fn case_id(&self, patient_id: &str) -> String {
        deid::case_id(&self.meta.salt, patient_id)
    }

    /// Adds one patient's images and eyes in one transaction: all of it or none of it.
    pub fn add_case(&mut self, case: NewCase) -> Result<Added, LibraryError> {
        for image in &case.images {
            self.check_dim(self.meta.image_dim, image.vector.len())?;
        }
        for eye in &case.eyes {
            self.check_dim(self.meta.eye_dim, eye.vector.len())?;
        }
        let (added, meta) = self.write(|txn, meta| {
            let mut added = Added::default();
            if let Some(first) = case.images.first()
                && meta.image_dim == 0
            {
                meta.image_dim = first.vector.len();
            }
            if let Some(first) = case.eyes.first()
                && meta.eye_dim == 0
            {
                meta.eye_dim = first.vector.len();
            }
            let mut ids: Vec<Option<u64>> = Vec::with_capacity(case.images.len());
            let mut sources = txn.open_table(SOURCES)?;
            for image in &case.images {
                if sources.get(image.source_sha256.as_str())?.is_some() {
                    added.duplicates += 1;
                    ids.push(None);
                } else {
                    let id = meta.next_image_id;
                    meta.next_image_id += 1;
                    sources.insert(image.source_sha256.as_str(), id)?;
                    ids.push(Some(id));
                }
            }
            drop(sources);
            let mut eye_of_image: Vec<Option<u64>> = vec![None; case.images.len()];
            let mut eyes = txn.open_table(EYES)?;
            let mut eye_vectors = txn.open_table(EYE_VECTORS)?;
            for eye in &case.eyes {
                let image_ids: Vec<u64> = eye.images.iter().filter_map(|&i| ids[i]).collect();
                if image_ids.is_empty() {
                    continue;
                }
                let id = meta.next_eye_id;
                meta.next_eye_id += 1;
                let mut record = eye.record.clone();
                record.image_ids = image_ids;
                eyes.insert(id, to_json(&record)?.as_str())?;
                eye_vectors.insert(id, to_bytes(&eye.vector).as_slice())?;
                for &i in &eye.images {
                    eye_of_image[i] = Some(id);
                }
                added.eyes += 1;
            }
            drop((eyes, eye_vectors));
            let mut images = txn.open_table(IMAGES)?;
            let mut vectors = txn.open_table(IMAGE_VECTORS)?;
            let mut thumbnails = txn.open_table(THUMBNAILS)?;
            for ((image, id), eye_id) in case.images.iter().zip(&ids).zip(eye_of_image) {
                let Some(id) = *id else { continue };
                let mut record = image.record.clone();
                record.eye_id = eye_id;
                images.insert(id, to_json(&record)?.as_str())?;
                vectors.insert(id, to_bytes(&image.vector).as_slice())?;
                thumbnails.insert(id, image.thumbnail_jpeg.as_slice())?;
                added.images += 1;
            }
            Ok(added)
        })?;
        self.meta = meta;
        Ok(added)
    }

    fn check_dim(&self, expected: usize, got: usize) -> Result<(), LibraryError> {
        // 0: no vector stored yet; the first case sets the length.
        if expected == 0 || expected == got {
            Ok(())
        } else {
            Err(LibraryError::Dimension { expected, got })
        }
    }

    /// Runs `change` in a write transaction with a copy of the meta record (generation bumped),
    /// stores that record and commits; returns the result and the committed record.
    fn write<T>(
        &self,
        change: impl FnOnce(&redb::WriteTransaction, &mut LibraryMeta) -> Result<T, StepError>,
    ) -> Result<(T, LibraryMeta), LibraryError> {
        let result = (|| -> Result<(T, LibraryMeta), StepError> {
            let Store::Writable(db) = self.db.as_ref() else {
                return Err(StepError::Library(LibraryError::ReadOnly(self.dir.clone())));
            };
            let txn = db.begin_write().map_err(redb::Error::from)?;
            let mut meta = self.meta.clone();
            meta.generation += 1;
            let out = change(&txn, &mut meta)?;
            {
                let mut table = txn.open_table(META).map_err(redb::Error::from)?;
                table
                    .insert(META_KEY, to_json(&meta)?.as_str())
                    .map_err(redb::Error::from)?;
            }
            txn.commit().map_err(redb::Error::from)?;
            Ok((out, meta))
        })();
        result.map_err(|e| match e {
            StepError::Store(e) => store_error(&self.dir, e),
            StepError::Library(e) => e,
        })
    }

    /// Number of images and eyes.
    pub fn counts(&self) -> Result<(u64, u64), LibraryError> {
        let read = || -> Result<(u64, u64), redb::Error> {
            let txn = self.db.begin_read()?;
            Ok((txn.open_table(IMAGES)?.len()?, txn.open_table(EYES)?.len()?))
        };
        read().map_err(|e| store_error(&self.dir, e))
    }

    /// Checks that the store is whole: every image has its vector and thumbnail, every eye
    /// its vector and existing images, every source fingerprint an existing image. Returns
    /// the problems found (none for a library only Fovea wrote, even after a crash).
    pub fn verify(&self) -> Result<Vec<String>, LibraryError> {
        let read = || -> Result<Vec<String>, redb::Error> {
            let txn = self.db.begin_read()?;
            let images = txn.open_table(IMAGES)?;
            let vectors = txn.open_table(IMAGE_VECTORS)?;
            let thumbnails = txn.open_table(THUMBNAILS)?;
            let eyes = txn.open_table(EYES)?;
            let eye_vectors = txn.open_table(EYE_VECTORS)?;
            let sources = txn.open_table(SOURCES)?;
            let mut problems = Vec::new();
            for item in images.iter()? {
                let (id, _) = item?;
                let id = id.value();
                match vectors.get(id)? {
                    Some(v) if v.value().len() == 4 * self.meta.image_dim => {}
                    _ => {
                        problems.push(format!("image {id}: vector missing or of the wrong length"))
                    }
                }
                if thumbnails.get(id)?.is_none() {
                    problems.push(format!("image {id}: no thumbnail"));
                }
            }
            for item in eyes.iter()? {
                let (id, json) = item?;
                let id = id.value();
                if eye_vectors.get(id)?.is_none() {
                    problems.push(format!("eye {id}: no vector"));
                }
                match serde_json::from_str::<CaseEye>(json.value()) {
                    Ok(eye) => {
                        for image in eye.image_ids {
                            if images.get(image)?.is_none() {
                                problems.push(format!("eye {id}: image {image} missing"));
                            }
                        }
                    }
                    Err(e) => problems.push(format!("eye {id}: {e}")),
                }
            }
            for item in sources.iter()? {
                let (_, image) = item?;
                if images.get(image.value())?.is_none() {
                    problems.push(format!(
                        "source of image {} without the image",
                        image.value()
                    ));
                }
            }
            Ok(problems)
        };
        read().map_err(|e| store_error(&self.dir, e))
    }

    /// The JPEG thumbnail of an image.
    pub fn thumbnail(&self, image_id: u64) -> Result<Option<Vec<u8>>, LibraryError> {
        thumbnail(&self.db, &self.dir, image_id)
    }
}

pub(crate) fn thumbnail(
    db: &Store,
    dir: &Path,
    image_id: u64,
) -> Result<Option<Vec<u8>>, LibraryError> {
    let read = || -> Result<Option<Vec<u8>>, redb::Error> {
        let txn = db.begin_read()?;
        let table = txn.open_table(THUMBNAILS)?;
        Ok(table.get(image_id)?.map(|v| v.value().to_vec()))
    };
    read().map_err(|e| store_error(dir, e))
}

/// Errors inside a transaction: the store's or ours.
pub(crate) enum StepError {
    Store(redb::Error),
    Library(LibraryError),
}

impl<E: Into<redb::Error>> From<E> for StepError {
    fn from(e: E) -> Self {
        StepError::Store(e.into())
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StepError> {
    serde_json::to_string(value).map_err(|source| {
        StepError::Library(LibraryError::Record {
            key: "new".into(),
            source,
        })
    })
}

pub(crate) fn store_error(dir: &Path, e: redb::Error) -> LibraryError {
    LibraryError::Store {
        path: dir.to_path_buf(),
        source: Box::new(e),
    }
}

fn read_meta(dir: &Path, db: &Store) -> Result<LibraryMeta, LibraryError> {
    let read = || -> Result<Option<String>, redb::Error> {
        let txn = db.begin_read()?;
        let table = txn.open_table(META)?;
        Ok(table.get(META_KEY)?.map(|v| v.value().to_string()))
    };
    let json = read()
        .map_err(|e| store_error(dir, e))?
        .ok_or_else(|| LibraryError::NotALibrary(dir.to_path_buf()))?;
    let meta: LibraryMeta = serde_json::from_str(&json).map_err(|source| LibraryError::Record {
        key: META_KEY.into(),
        source,
    })?;
    if meta.format_version != FORMAT_VERSION {
        return Err(LibraryError::RecordVersion {
            key: META_KEY.into(),
            found: meta.format_version,
            reads: FORMAT_VERSION,
        });
    }
    Ok(meta)
}

/// Records with their keys and vectors (`keys.len() × dim` values), in key order.
pub(crate) struct Stored<R> {
    pub keys: Vec<u64>,
    pub records: Vec<R>,
    pub vectors: Vec<f32>,
}

/// Every record of `table` with its vector from `vectors`, in key order.
pub(crate) fn load_collection<R: serde::de::DeserializeOwned>(
    db: &Store,
    dir: &Path,
    table: TableDefinition<u64, &str>,
    vectors: TableDefinition<u64, &[u8]>,
) -> Result<Stored<R>, LibraryError> {
    let read = || -> Result<Stored<String>, redb::Error> {
        let txn = db.begin_read()?;
        let records = txn.open_table(table)?;
        let vector_table = txn.open_table(vectors)?;
        let (mut keys, mut jsons, mut values) = (Vec::new(), Vec::new(), Vec::new());
        for item in records.iter()? {
            let (key, json) = item?;
            let key = key.value();
            if let Some(v) = vector_table.get(key)? {
                keys.push(key);
                jsons.push(json.value().to_string());
                values.extend(from_bytes(v.value()));
            }
        }
        Ok(Stored {
            keys,
            records: jsons,
            vectors: values,
        })
    };
    let stored = read().map_err(|e| store_error(dir, e))?;
    let records = stored
        .keys
        .iter()
        .zip(stored.records)
        .map(|(key, json)| {
            serde_json::from_str(&json).map_err(|source| LibraryError::Record {
                key: key.to_string(),
                source,
            })
        })
        .collect::<Result<Vec<R>, _>>()?;
    Ok(Stored {
        keys: stored.keys,
        records,
        vectors: stored.vectors,
    })
}

fn short(sha: &str) -> String {
    sha.chars().take(12).collect()
}

/// Records of images and eyes, for [`super::search`].
pub(crate) fn load_images(library: &Library) -> Result<Stored<CaseImage>, LibraryError> {
    load_collection(&library.db, &library.dir, IMAGES, IMAGE_VECTORS)
}

pub(crate) fn load_eyes(library: &Library) -> Result<Stored<CaseEye>, LibraryError> {
    load_collection(&library.db, &library.dir, EYES, EYE_VECTORS)
}
