//! OpenAI CLIP byte-level BPE tokenizer (EyeCLIP's text tower), matching open_clip's
//! `tokenize`: HTML entities unescaped, whitespace collapsed, lower-cased, BPE over the
//! bundled `bpe_simple_vocab_16e6` vocabulary (49,408 tokens, shipped inside the
//! `instant-clip-tokenizer` crate: no download), `<start_of_text>` … `<end_of_text>`,
//! truncated to the context length with `<end_of_text>` kept last, zero-padded.
//!
//! Not reproduced: open_clip first runs `ftfy.fix_text`, which repairs mojibake (text decoded
//! with the wrong encoding); typed prompts and reports do not contain it.

use instant_clip_tokenizer::{Token, Tokenizer};

/// Context length of OpenAI CLIP text towers.
pub const CONTEXT_LENGTH: usize = 77;

/// The CLIP tokenizer with its bundled vocabulary.
pub struct ClipTokenizer {
    inner: Tokenizer,
}

impl Default for ClipTokenizer {
    fn default() -> Self {
        Self::new()
    }
}

impl ClipTokenizer {
    /// Loads the bundled OpenAI vocabulary.
    pub fn new() -> ClipTokenizer {
        ClipTokenizer {
            inner: Tokenizer::new(),
        }
    }

    /// Id of `<start_of_text>` (49406).
    pub fn start_of_text(&self) -> u32 {
        u32::from(self.inner.start_of_text().to_u16())
    }

    /// Id of `<end_of_text>` (49407).
    pub fn end_of_text(&self) -> u32 {
        u32::from(self.inner.end_of_text().to_u16())
    }

    /// Token ids of `text`, exactly `context_length` long: SOT, tokens, EOT, zeros; a text
    /// too long is cut so that EOT stays the last token.
    pub fn tokenize(&self, text: &str, context_length: usize) -> Vec<u32> {
        let cleaned = clean(text);
        let mut tokens: Vec<Token> = vec![self.inner.start_of_text()];
        self.inner.encode(&cleaned, &mut tokens);
        tokens.push(self.inner.end_of_text());
        let mut ids: Vec<u32> = tokens.into_iter().map(|t| u32::from(t.to_u16())).collect();
        if ids.len() > context_length {
            ids.truncate(context_length);
            if let Some(last) = ids.last_mut() {
                *last = self.end_of_text();
            }
        }
        ids.resize(context_length, 0);
        ids
    }

    /// Position of `<end_of_text>` in tokenized ids: where the text tower pools.
    pub fn end_of_text_position(&self, ids: &[u32]) -> Option<usize> {
        ids.iter().position(|&id| id == self.end_of_text())
    }
}

/// open_clip's `basic_clean` (without ftfy) + `whitespace_clean` + lower-casing.
fn clean(text: &str) -> String {
    // open_clip unescapes twice (`html.unescape(html.unescape(text))`).
    let once = html_escape::decode_html_entities(text);
    let twice = html_escape::decode_html_entities(&once);
    let collapsed = twice.split_whitespace().collect::<Vec<_>>().join(" ");
    collapsed.to_lowercase()
}
