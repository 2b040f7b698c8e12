//! Embeddings from a loaded pack: images preprocessed as the pack says, texts through the CLIP
//! tokenizer. Vectors are returned as the model outputs them (not normalised).

use burn::prelude::*;

use super::clip_tokenizer::ClipTokenizer;
use super::pack::{Architecture, LoadedPack};

/// Why a text cannot be embedded with a pack.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The pack's text tower was not trained with the CLIP vocabulary.
    #[error(
        "the pack's text tower has a vocabulary of {pack}, the CLIP tokenizer needs {needed}: this pack cannot embed text"
    )]
    Vocabulary {
        /// The pack's vocabulary size.
        pack: usize,
        /// The tokenizer's.
        needed: usize,
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

/// Size of the OpenAI CLIP vocabulary the tokenizer produces ids for.
pub const CLIP_VOCABULARY: usize = 49_408;

/// Embeds one RGB image.
pub fn embed_image(
    pack: &LoadedPack,
    image: &image::RgbImage,
    device: &Device,
) -> Result<Vec<f32>, EmbedError> {
    let size = pack.manifest.preprocessing.size as usize;
    let values = pack.manifest.preprocessing.apply(image);
    let input = Tensor::<4>::from_data(TensorData::new(values, [1, 3, size, size]), device);
    to_vec(pack.model.encode_image(input))
}

/// Embeds one text (a prompt or a report line).
pub fn embed_text(
    pack: &LoadedPack,
    tokenizer: &ClipTokenizer,
    text: &str,
    device: &Device,
) -> Result<Vec<f32>, EmbedError> {
    let Architecture::OpenaiClip { config } = &pack.manifest.architecture;
    if config.text.vocab_size != CLIP_VOCABULARY {
        return Err(EmbedError::Vocabulary {
            pack: config.text.vocab_size,
            needed: CLIP_VOCABULARY,
        });
    }
    let ids: Vec<i64> = tokenizer
        .tokenize(text, config.text.context_length)
        .into_iter()
        .map(i64::from)
        .collect();
    let input = Tensor::<2, Int>::from_data(
        TensorData::new(ids, [1, config.text.context_length]),
        device,
    );
    to_vec(pack.model.encode_text(input))
}
