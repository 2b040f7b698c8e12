//! Zero-shot free text: the user types a finding ("macular hole") and gets a score per image and
//! per eye against a neutral prompt. Text vectors are cached. A pack whose text tower embeds
//! every text alike (reported for the released EyeCLIP text tower) gets zero-shot disabled with
//! a message instead of meaningless scores.
//!
//! Score = `sigmoid(scale · (cos(v, text) − cos(v, neutral)))` with the pack's first finding's
//! scale (the demo model's prompt scale) or `exp(logit_scale)` for imported CLIP packs. These
//! scores are **not calibrated**: they rank images, they are not probabilities of disease.

use std::collections::HashMap;

use super::findings::{Level, cosine};
use crate::encoder::embed::EmbedError;
use crate::encoder::session::{EncoderSession, TextVectors};

/// The neutral prompt free text is compared against.
pub const NEUTRAL_PROMPT: &str = "normal fundus";

/// Texts that any working text tower embeds differently.
const PROBES: &[&str] = &[
    "normal fundus",
    "proliferative diabetic retinopathy",
    "glaucomatous optic disc cupping",
    "macular hole",
    "geographic atrophy",
    "a photograph of a cat",
];

/// Mean pairwise cosine above which a text tower is degenerate.
pub const DEGENERATE_COSINE: f64 = 0.98;

/// The mean pairwise cosine of `vectors` when it is above [`DEGENERATE_COSINE`].
pub fn degenerate(vectors: &[Vec<f32>]) -> Option<f64> {
    let mut sum = 0.0;
    let mut pairs = 0.0;
    for (i, a) in vectors.iter().enumerate() {
        for b in &vectors[i + 1..] {
            sum += cosine(a, b);
            pairs += 1.0;
        }
    }
    let mean = if pairs > 0.0 { sum / pairs } else { 0.0 };
    (mean > DEGENERATE_COSINE).then_some(mean)
}

/// Why zero-shot cannot be used with a pack.
#[derive(Debug, thiserror::Error)]
pub enum ZeroShotError {
    /// The pack has no usable text tower.
    #[error("zero-shot text is disabled for this pack: {0}")]
    Disabled(String),
    /// The model failed.
    #[error(transparent)]
    Model(#[from] EmbedError),
}

/// Cached text vectors of one pack.
pub struct ZeroShot {
    neutral: TextVectors,
    cache: HashMap<String, TextVectors>,
    scale: f64,
}

impl ZeroShot {
    /// Checks the pack's text tower and embeds the neutral prompt.
    pub fn new(session: &EncoderSession) -> Result<Self, ZeroShotError> {
        if !session.has_text() {
            return Err(ZeroShotError::Disabled(
                "it has no text encoder".to_string(),
            ));
        }
        let probes = session.text_vectors(PROBES)?;
        let images: Vec<Vec<f32>> = probes.iter().map(|t| t.image.clone()).collect();
        if let Some(mean) = degenerate(&images) {
            return Err(ZeroShotError::Disabled(format!(
                "its text tower embeds all texts alike (mean cosine {mean:.3} between unrelated texts), so free-text scores would mean nothing"
            )));
        }
        let manifest = session.manifest();
        let scale = manifest
            .findings
            .first()
            .and_then(|f| f.scale)
            .map(f64::from)
            .or_else(|| {
                manifest
                    .logit_scales
                    .get("logit_scale")
                    .map(|s| f64::from(*s).exp())
            })
            .unwrap_or(100.0);
        let neutral = session.text_vectors(&[NEUTRAL_PROMPT])?.remove(0);
        Ok(ZeroShot {
            neutral,
            cache: HashMap::new(),
            scale,
        })
    }

    /// The text's vectors, from the cache or the model.
    pub fn vectors(
        &mut self,
        session: &EncoderSession,
        text: &str,
    ) -> Result<&TextVectors, ZeroShotError> {
        let key = text.trim().to_string();
        if !self.cache.contains_key(&key) {
            let vectors = session.text_vectors(&[key.as_str()])?.remove(0);
            self.cache.insert(key.clone(), vectors);
        }
        self.cache
            .get(&key)
            .ok_or_else(|| ZeroShotError::Disabled("text cache lost an entry".to_string()))
    }

    /// Texts cached so far.
    pub fn cached(&self) -> usize {
        self.cache.len()
    }

    /// The uncalibrated score of `text` for `vector` at `level`.
    pub fn score(
        &mut self,
        session: &EncoderSession,
        text: &str,
        vector: &[f32],
        level: Level,
    ) -> Result<f64, ZeroShotError> {
        let scale = self.scale;
        let neutral = cosine(vector, level.text(&self.neutral));
        let vectors = self.vectors(session, text)?;
        let logit = scale * (cosine(vector, level.text(vectors)) - neutral);
        Ok(super::findings::sigmoid(logit))
    }
}
