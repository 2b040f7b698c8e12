//! BERT's WordPiece tokenizer as Chinese-CLIP / RET-CLIP run it, with the Chinese BERT
//! vocabulary (21,128 entries) shipped in `assets/vocab/` (no download).
//!
//! Basic tokenization: drop NUL, U+FFFD and control characters, turn whitespace into spaces,
//! put spaces around CJK ideographs, split on whitespace, lower-case, strip accents (NFD, drop
//! non-spacing marks), split off punctuation (ASCII symbols and Unicode `P*`). Then greedy
//! longest-match-first word pieces (`##` marks a continuation); a word with no split, or longer
//! than 200 characters, becomes `[UNK]`. Inputs are `[CLS] tokens… [SEP]`, truncated to the
//! context length and padded with `[PAD]` (0). Verified token for token against `cn_clip`.

use std::collections::HashMap;

use unicode_general_category::{GeneralCategory, get_general_category};
use unicode_normalization::UnicodeNormalization;

/// The Chinese BERT vocabulary RET-CLIP was trained with (one token per line, id = line).
const CHINESE_VOCAB: &str = include_str!("../../assets/vocab/bert_chinese_vocab.txt");

/// Longest word WordPiece splits (Chinese-CLIP's setting).
const MAX_CHARS_PER_WORD: usize = 200;

/// A WordPiece tokenizer over one vocabulary.
#[derive(Debug, Clone)]
pub struct WordPieceTokenizer {
    vocab: HashMap<String, u32>,
    cls: u32,
    sep: u32,
    unk: u32,
    pad: u32,
}

/// Why a vocabulary cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("the vocabulary lacks the special token {0}")]
pub struct MissingSpecialToken(pub &'static str);

impl WordPieceTokenizer {
    /// The tokenizer with the shipped Chinese BERT vocabulary.
    pub fn chinese() -> Result<Self, MissingSpecialToken> {
        Self::from_vocab(CHINESE_VOCAB)
    }

    /// A tokenizer over `vocab` (one token per line; id = line number).
    pub fn from_vocab(vocab: &str) -> Result<Self, MissingSpecialToken> {
        let vocab: HashMap<String, u32> = vocab
            .lines()
            .enumerate()
            .map(|(i, token)| (token.trim_end_matches('\r').to_string(), i as u32))
            .collect();
        let special =
            |token: &'static str| vocab.get(token).copied().ok_or(MissingSpecialToken(token));
        Ok(WordPieceTokenizer {
            cls: special("[CLS]")?,
            sep: special("[SEP]")?,
            unk: special("[UNK]")?,
            pad: special("[PAD]")?,
            vocab,
        })
    }

    /// Entries in the vocabulary.
    pub fn vocab_size(&self) -> usize {
        self.vocab.len()
    }

    /// The padding id.
    pub fn pad_id(&self) -> u32 {
        self.pad
    }

    /// The word pieces of `text` (no `[CLS]`/`[SEP]`).
    pub fn pieces(&self, text: &str) -> Vec<String> {
        basic_tokens(text)
            .iter()
            .flat_map(|word| self.word_pieces(word))
            .collect()
    }

    /// `[CLS] ids… [SEP]`, truncated and padded with `[PAD]` to `context_length`.
    pub fn tokenize(&self, text: &str, context_length: usize) -> Vec<u32> {
        let body = context_length.saturating_sub(2);
        let mut ids = vec![self.cls];
        ids.extend(
            self.pieces(text)
                .iter()
                .take(body)
                .map(|piece| self.vocab.get(piece).copied().unwrap_or(self.unk)),
        );
        ids.push(self.sep);
        ids.resize(context_length, self.pad);
        ids.truncate(context_length);
        ids
    }

    fn word_pieces(&self, word: &str) -> Vec<String> {
        let chars: Vec<char> = word.chars().collect();
        if chars.len() > MAX_CHARS_PER_WORD {
            return vec!["[UNK]".to_string()];
        }
        let mut pieces = Vec::new();
        let mut start = 0;
        while start < chars.len() {
            let found = (start + 1..=chars.len()).rev().find_map(|end| {
                let piece: String = chars[start..end].iter().collect();
                let piece = if start > 0 {
                    format!("##{piece}")
                } else {
                    piece
                };
                self.vocab.contains_key(&piece).then_some((piece, end))
            });
            match found {
                Some((piece, end)) => {
                    pieces.push(piece);
                    start = end;
                }
                None => return vec!["[UNK]".to_string()],
            }
        }
        pieces
    }
}

/// BERT's basic tokenizer (lower-casing variant).
fn basic_tokens(text: &str) -> Vec<String> {
    let mut cleaned = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '\0' || c == '\u{fffd}' || is_control(c) {
            continue;
        }
        if is_whitespace(c) {
            cleaned.push(' ');
        } else if is_cjk(c) {
            cleaned.push(' ');
            cleaned.push(c);
            cleaned.push(' ');
        } else {
            cleaned.push(c);
        }
    }
    let mut out = Vec::new();
    for word in cleaned.split_whitespace() {
        let lowered: String = word
            .to_lowercase()
            .nfd()
            .filter(|c| get_general_category(*c) != GeneralCategory::NonspacingMark)
            .collect();
        let mut current = String::new();
        for c in lowered.chars() {
            if is_punctuation(c) {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
                out.push(c.to_string());
            } else {
                current.push(c);
            }
        }
        if !current.is_empty() {
            out.push(current);
        }
    }
    // BERT splits on whitespace again after this; stripping accents can leave none.
    out.into_iter().filter(|t| !t.trim().is_empty()).collect()
}

fn is_whitespace(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
        || get_general_category(c) == GeneralCategory::SpaceSeparator
}

fn is_control(c: char) -> bool {
    if matches!(c, '\t' | '\n' | '\r') {
        return false;
    }
    matches!(
        get_general_category(c),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::Surrogate
            | GeneralCategory::PrivateUse
            | GeneralCategory::Unassigned
    )
}

fn is_punctuation(c: char) -> bool {
    let cp = c as u32;
    if (33..=47).contains(&cp)
        || (58..=64).contains(&cp)
        || (91..=96).contains(&cp)
        || (123..=126).contains(&cp)
    {
        return true;
    }
    matches!(
        get_general_category(c),
        GeneralCategory::ConnectorPunctuation
            | GeneralCategory::DashPunctuation
            | GeneralCategory::OpenPunctuation
            | GeneralCategory::ClosePunctuation
            | GeneralCategory::InitialPunctuation
            | GeneralCategory::FinalPunctuation
            | GeneralCategory::OtherPunctuation
    )
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x4E00..=0x9FFF
        | 0x3400..=0x4DBF
        | 0x20000..=0x2A6DF
        | 0x2A700..=0x2B73F
        | 0x2B740..=0x2B81F
        | 0x2B820..=0x2CEAF
        | 0xF900..=0xFAFF
        | 0x2F800..=0x2FA1F)
}
