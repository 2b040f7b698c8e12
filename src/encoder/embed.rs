//! Embeddings from a loaded pack: images preprocessed as the pack says, texts through the
//! tokenizer of the pack's text tower. Vectors are returned as the model outputs them (not
//! normalised).

use burn::prelude::*;

use super::clip_tokenizer::ClipTokenizer;
use super::pack::{Architecture, LoadedPack};
use super::wordpiece::WordPieceTokenizer;

/// Why a text cannot be embedded with a pack.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The pack's text tower was not trained with the tokenizer's vocabulary.
    #[error(
        "the pack's text tower has a vocabulary of {pack}, its tokenizer has {needed}: this pack cannot embed text"
    )]
    Vocabulary {
        /// The pack's vocabulary size.
        pack: usize,
        /// The tokenizer's.
        needed: usize,
    },
    /// The pack is an image model only.
    #[error(
        "this model ({0}) has no text encoder (no text tower): prompts, zero-shot scoring and text search need one"
    )]
    NoTextTower(String),
    /// The shipped vocabulary is broken (a build problem).
    #[error("the shipped tokenizer vocabulary cannot be used: {0}")]
    Tokenizer(String),
    /// The heatmap method does not apply to this architecture.
    #[error("{method} is not available for {model}: {reason}")]
    NotForArchitecture {
        /// The method.
        method: &'static str,
        /// The pack's architecture, in words.
        model: String,
        /// Why, and what to use instead.
        reason: &'static str,
    },
    /// The result could not be read back from the device.
    #[error("the embedding could not be read back from the device: {0}")]
    Readback(String),
}

fn to_vec(tensor: Tensor<2>) -> Result<Vec<f32>, EmbedError> {
    tensor
        .into_data()
        .try_to_vec::<f32>()
        .map_err(|e| EmbedError::Readback(format!("{e:?}")))
}

/// Size of the OpenAI CLIP vocabulary the CLIP tokenizer produces ids for.
pub const CLIP_VOCABULARY: usize = 49_408;

/// Embeds one RGB image: the image tower's feature (see [`super::pack::PackModel::encode_image`]).
pub fn embed_image(
    pack: &LoadedPack,
    image: &image::RgbImage,
    device: &Device,
) -> Result<Vec<f32>, EmbedError> {
    let size = pack.manifest.preprocessing.size() as usize;
    let values = pack.manifest.preprocessing.apply(image);
    let input = Tensor::<4>::from_data(TensorData::new(values, [1, 3, size, size]), device);
    to_vec(pack.model.encode_image(input))
}

/// A text's vectors in every space the pack has.
#[derive(Debug, Clone, PartialEq)]
pub struct TextVectors {
    /// Against image-level vectors: CLIP's text embedding; RET-CLIP's patient-level one (its
    /// single-image rule).
    pub image: Vec<f32>,
    /// Against left-eye vectors (tripartite packs).
    pub left: Option<Vec<f32>>,
    /// Against right-eye vectors (tripartite packs).
    pub right: Option<Vec<f32>>,
    /// Against patient vectors (tripartite packs).
    pub patient: Option<Vec<f32>>,
}

/// Turns texts into token ids for one pack's text tower.
pub enum TextTokenizer {
    /// OpenAI BPE.
    Clip(ClipTokenizer),
    /// BERT WordPiece (Chinese vocabulary).
    WordPiece(WordPieceTokenizer),
}

impl TextTokenizer {
    /// The tokenizer `pack`'s text tower was trained with; an error if it has none or its
    /// vocabulary is not the shipped one.
    pub fn for_pack(pack: &LoadedPack) -> Result<(TextTokenizer, usize), EmbedError> {
        match &pack.manifest.architecture {
            Architecture::OpenaiClip { config } | Architecture::ClipTripartite { config } => {
                if config.text.vocab_size != CLIP_VOCABULARY {
                    return Err(EmbedError::Vocabulary {
                        pack: config.text.vocab_size,
                        needed: CLIP_VOCABULARY,
                    });
                }
                Ok((
                    TextTokenizer::Clip(ClipTokenizer::new()),
                    config.text.context_length,
                ))
            }
            Architecture::RetClip { config } => {
                let tokenizer = WordPieceTokenizer::chinese()
                    .map_err(|e| EmbedError::Tokenizer(e.to_string()))?;
                if config.text.vocab_size != tokenizer.vocab_size() {
                    return Err(EmbedError::Vocabulary {
                        pack: config.text.vocab_size,
                        needed: tokenizer.vocab_size(),
                    });
                }
                let context = config
                    .context_length
                    .min(config.text.max_position_embeddings);
                Ok((TextTokenizer::WordPiece(tokenizer), context))
            }
            Architecture::TimmVit { .. } | Architecture::Resnet { .. } => {
                Err(EmbedError::NoTextTower(pack.manifest.name.clone()))
            }
        }
    }

    /// Token ids, padded to `context_length`.
    pub fn tokenize(&self, text: &str, context_length: usize) -> Vec<u32> {
        match self {
            TextTokenizer::Clip(t) => t.tokenize(text, context_length),
            TextTokenizer::WordPiece(t) => t.tokenize(text, context_length),
        }
    }
}

/// A `[rows, width]` tensor read back as rows.
pub(crate) fn to_rows(tensor: Tensor<2>) -> Result<Vec<Vec<f32>>, EmbedError> {
    let [rows, width] = tensor.dims();
    let values = to_vec(tensor)?;
    Ok((0..rows)
        .map(|i| values[i * width..(i + 1) * width].to_vec())
        .collect())
}

/// Embeds texts (prompts, report lines) in every space `pack` has, in one batch.
pub fn text_vectors(
    pack: &LoadedPack,
    texts: &[&str],
    device: &Device,
) -> Result<Vec<TextVectors>, EmbedError> {
    if texts.is_empty() {
        return Ok(Vec::new());
    }
    let (tokenizer, context) = TextTokenizer::for_pack(pack)?;
    let ids: Vec<i64> = texts
        .iter()
        .flat_map(|t| tokenizer.tokenize(t, context).into_iter().map(i64::from))
        .collect();
    let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, [texts.len(), context]), device);
    let (image, tripartite) = pack
        .model
        .encode_text_spaces(ids)
        .ok_or_else(|| EmbedError::NoTextTower(pack.manifest.name.clone()))?;
    let (mut left, mut right, mut patient) = (Vec::new(), Vec::new(), Vec::new());
    if let Some(t) = tripartite {
        left = to_rows(t.left)?;
        right = to_rows(t.right)?;
        patient = to_rows(t.patient)?;
    }
    Ok(to_rows(image)?
        .into_iter()
        .enumerate()
        .map(|(i, image)| TextVectors {
            image,
            left: left.get(i).cloned(),
            right: right.get(i).cloned(),
            patient: patient.get(i).cloned(),
        })
        .collect())
}
