//! Refuses PyTorch checkpoints whose pickle names anything but tensors, containers and
//! `torch.nn` module classes — before the file is read for weights.
//!
//! Fovea never executes a pickle: burn's reader interprets the tensor-rebuilding calls and
//! keeps every other call as an inert placeholder. But a file that names `os.system` or
//! `builtins.eval` is not a model someone saved; it is an attack on Python users, and loading
//! its tensors would lend it credibility. So every global the pickle names (`GLOBAL`,
//! `STACK_GLOBAL`, `INST`) must be on [`allowed`]: the names `torch.save` writes for state
//! dicts and for whole models (`torch.save(model)`: module classes from `torch.nn`,
//! `torchvision.models`, `timm.models`, plus `DataParallel` and `torch.device`), like PyTorch's
//! own `weights_only` unpickler with module classes added. Extension-registry opcodes
//! (`EXT1/2/4`, which name callables by number) are refused, as is a `STACK_GLOBAL` whose names
//! are not plain strings.
//!
//! The scan follows the pickle's stack exactly — every opcode's arguments and stack effect (the
//! table of Python's `pickletools`) — tracking only which entries are strings, so a name built
//! from memoised strings is resolved, not guessed. A `torch.save` file is a zip with
//! `<archive>/data.pkl`; the legacy format is five pickles in a row at the file's start.

use std::io::Read;
use std::path::Path;

/// Why a checkpoint's pickle is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuditError {
    /// It names a callable outside the allowed ones.
    #[error(
        "refused: the checkpoint's pickle names `{0}`, which is not a tensor, a container or a torch.nn module class. Fovea never runs code from a checkpoint and does not read files that ask for it. If you trust the file, re-save its weights in Python as a state dict (torch.save(model.state_dict(), path)) or as safetensors"
    )]
    Forbidden(String),
    /// It uses an opcode this audit cannot check.
    #[error("refused: the checkpoint's pickle uses the {0} opcode, which can name any callable")]
    Opcode(&'static str),
    /// The pickle is malformed or truncated.
    #[error("not a readable PyTorch file: {0}")]
    Malformed(String),
}

/// Whether a global may appear in a checkpoint (see the module docs).
pub fn allowed(module: &str, name: &str) -> bool {
    const EXACT: &[(&str, &str)] = &[
        ("collections", "OrderedDict"),
        ("builtins", "set"),
        ("builtins", "frozenset"),
        ("__builtin__", "set"),
        ("__builtin__", "frozenset"),
        ("_codecs", "encode"),
        ("torch._utils", "_rebuild_tensor"),
        ("torch._utils", "_rebuild_tensor_v2"),
        ("torch._utils", "_rebuild_tensor_v3"),
        ("torch._utils", "_rebuild_parameter"),
        ("torch._utils", "_rebuild_parameter_with_state"),
        ("torch._tensor", "_rebuild_from_type_v2"),
        ("torch.nn.parameter", "Parameter"),
        ("torch", "device"),
        ("torch", "Size"),
        ("torch", "Tensor"),
        ("torch.storage", "UntypedStorage"),
        ("torch.storage", "TypedStorage"),
        // Training scripts' metadata beside the weights (RETFound's `args`, numpy scalars).
        ("argparse", "Namespace"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy", "dtype"),
    ];
    const DTYPES: &[&str] = &[
        "float16", "float32", "float64", "bfloat16", "half", "float", "double", "int8", "int16",
        "int32", "int64", "uint8", "bool", "long", "int",
    ];
    const MODULE_PREFIXES: &[&str] = &[
        "torch.nn.modules.",
        "torch.nn.parallel.",
        "torchvision.models.",
        "timm.models.",
        "timm.layers.",
    ];
    EXACT.contains(&(module, name))
        || (module == "torch" && (name.ends_with("Storage") || DTYPES.contains(&name)))
        || (MODULE_PREFIXES.iter().any(|p| module.starts_with(p))
            && name.chars().next().is_some_and(char::is_uppercase))
}

/// Audits the pickle(s) of the PyTorch file at `path`.
pub fn audit_file(path: &Path) -> Result<(), AuditError> {
    let io = |e: std::io::Error| AuditError::Malformed(e.to_string());
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut magic = [0_u8; 2];
    file.read_exact(&mut magic).map_err(io)?;
    if &magic == b"PK" {
        let mut archive = zip::ZipArchive::new(std::fs::File::open(path).map_err(io)?)
            .map_err(|e| AuditError::Malformed(format!("not a readable zip archive: {e}")))?;
        let name = archive
            .file_names()
            .filter_map(Result::ok)
            .find(|n| n == "data.pkl" || n.ends_with("/data.pkl"))
            .map(|n| n.to_string())
            .ok_or_else(|| AuditError::Malformed("the archive has no data.pkl".to_string()))?;
        let mut pickle = Vec::new();
        archive
            .by_name(&name)
            .map_err(|e| AuditError::Malformed(e.to_string()))?
            .read_to_end(&mut pickle)
            .map_err(|e| AuditError::Malformed(format!("{name}: {e}")))?;
        audit(&pickle).map(|_| ())
    } else {
        // Legacy format: magic number, protocol, system info, the object, storage keys — all
        // before the tensor data, so the file's first part holds them.
        let mut head = Vec::new();
        std::fs::File::open(path)
            .map_err(io)?
            .take(LEGACY_HEAD_BYTES)
            .read_to_end(&mut head)
            .map_err(io)?;
        let mut at = 0;
        for _ in 0..5 {
            at += audit(&head[at..])?;
        }
        Ok(())
    }
}

/// How much of a legacy-format file is scanned for its five pickles.
const LEGACY_HEAD_BYTES: u64 = 256 << 20;

/// What the scan knows of a stack entry.
#[derive(Debug, Clone)]
enum Entry {
    Mark,
    Text(String),
    Other,
}

/// How an opcode's argument is laid out.
#[derive(Clone, Copy)]
enum Arg {
    None,
    Fixed(usize),
    /// A little-endian length of this many bytes, then that many bytes.
    Counted(usize),
    Line,
    TwoLines,
}

/// Stack effect: pop this many (or to the mark), then push this many.
#[derive(Clone, Copy)]
enum Pop {
    N(usize),
    ToMark,
}

/// Scans one pickle from its start; returns its length in bytes (up to and with `STOP`).
pub fn audit(pickle: &[u8]) -> Result<usize, AuditError> {
    let mut stack: Vec<Entry> = Vec::new();
    let mut memo: std::collections::HashMap<u64, Entry> = std::collections::HashMap::new();
    let mut at = 0;
    let short = || AuditError::Malformed("the pickle ends early".to_string());
    loop {
        let op = *pickle.get(at).ok_or_else(short)?;
        at += 1;
        let (arg, pop, push) = opcode(op)?;
        let payload: &[u8] = match arg {
            Arg::None => &[],
            Arg::Fixed(n) => {
                let p = pickle.get(at..at + n).ok_or_else(short)?;
                at += n;
                p
            }
            Arg::Counted(n) => {
                let len_bytes = pickle.get(at..at + n).ok_or_else(short)?;
                let mut len = [0_u8; 8];
                len[..n].copy_from_slice(len_bytes);
                let len = usize::try_from(u64::from_le_bytes(len)).map_err(|_| short())?;
                at += n;
                let end = at.checked_add(len).ok_or_else(short)?;
                let p = pickle.get(at..end).ok_or_else(short)?;
                at = end;
                p
            }
            Arg::Line | Arg::TwoLines => {
                let lines = if matches!(arg, Arg::TwoLines) { 2 } else { 1 };
                let start = at;
                for _ in 0..lines {
                    let nl = pickle[at..]
                        .iter()
                        .position(|&b| b == b'\n')
                        .ok_or_else(short)?;
                    at += nl + 1;
                }
                &pickle[start..at]
            }
        };
        let text = || String::from_utf8_lossy(payload).trim_end().to_string();
        let mut pushed = Entry::Other;
        match op {
            b'.' => return Ok(at),
            // GLOBAL and INST: "module\nname\n".
            b'c' | b'i' => {
                let line = text();
                let (module, name) = line.split_once('\n').ok_or_else(short)?;
                check(module, name)?;
            }
            0x93 => {
                let name = stack.pop();
                let module = stack.pop();
                match (module, name) {
                    (Some(Entry::Text(module)), Some(Entry::Text(name))) => check(&module, &name)?,
                    _ => return Err(AuditError::Opcode("STACK_GLOBAL (with computed names)")),
                }
            }
            // Strings: BINUNICODE, SHORT_BINUNICODE, BINUNICODE8, UNICODE, and py2 STRINGs.
            b'X' | 0x8c | 0x8d | b'V' | b'T' | b'U' | b'S' => {
                pushed = Entry::Text(String::from_utf8_lossy(payload).trim_end().to_string());
            }
            // Memo: PUT/BINPUT/LONG_BINPUT/MEMOIZE store the top; GET/BINGET/LONG_BINGET push.
            b'p' | b'q' | b'r' | 0x94 => {
                let key = match op {
                    b'p' => text().parse().map_err(|_| short())?,
                    0x94 => memo.len() as u64,
                    _ => little_endian(payload),
                };
                let top = stack.last().cloned().ok_or_else(short)?;
                memo.insert(key, top);
            }
            b'g' | b'h' | b'j' => {
                let key = if op == b'g' {
                    text().parse().map_err(|_| short())?
                } else {
                    little_endian(payload)
                };
                pushed = memo.get(&key).cloned().ok_or_else(short)?;
            }
            b'2' => pushed = stack.last().cloned().ok_or_else(short)?,
            _ => {}
        }
        match pop {
            Pop::N(n) => {
                if stack.len() < n {
                    return Err(short());
                }
                stack.truncate(stack.len() - n);
            }
            Pop::ToMark => {
                let mark = stack
                    .iter()
                    .rposition(|e| matches!(e, Entry::Mark))
                    .ok_or_else(|| AuditError::Malformed("no mark on the stack".to_string()))?;
                stack.truncate(mark);
            }
        }
        if op == b'(' {
            stack.push(Entry::Mark);
        } else if push {
            stack.push(pushed);
        }
    }
}

fn check(module: &str, name: &str) -> Result<(), AuditError> {
    if allowed(module, name) {
        Ok(())
    } else {
        Err(AuditError::Forbidden(format!("{module}.{name}")))
    }
}

fn little_endian(bytes: &[u8]) -> u64 {
    let mut b = [0_u8; 8];
    b[..bytes.len().min(8)].copy_from_slice(&bytes[..bytes.len().min(8)]);
    u64::from_le_bytes(b)
}

/// An opcode's argument layout, what it pops and whether it pushes (`MARK` is handled apart).
fn opcode(op: u8) -> Result<(Arg, Pop, bool), AuditError> {
    use Arg::{Counted, Fixed, Line, TwoLines};
    let none = Arg::None;
    Ok(match op {
        b'(' => (none, Pop::N(0), false),                       // MARK
        b'.' => (none, Pop::N(0), false),                       // STOP
        b'0' => (none, Pop::N(1), false),                       // POP
        b'1' => (none, Pop::ToMark, false),                     // POP_MARK
        b'2' => (none, Pop::N(0), true),                        // DUP
        b'F' | b'I' | b'L' => (Line, Pop::N(0), true),          // FLOAT INT LONG
        b'J' => (Fixed(4), Pop::N(0), true),                    // BININT
        b'K' => (Fixed(1), Pop::N(0), true),                    // BININT1
        b'M' => (Fixed(2), Pop::N(0), true),                    // BININT2
        b'N' | 0x88 | 0x89 => (none, Pop::N(0), true),          // NONE NEWTRUE NEWFALSE
        b'P' => (Line, Pop::N(0), true),                        // PERSID
        b'Q' => (none, Pop::N(1), true),                        // BINPERSID
        b'R' => (none, Pop::N(2), true),                        // REDUCE
        b'S' | b'V' => (Line, Pop::N(0), true),                 // STRING UNICODE
        b'T' | b'X' | b'B' => (Counted(4), Pop::N(0), true),    // BINSTRING BINUNICODE BINBYTES
        b'U' | b'C' | 0x8c => (Counted(1), Pop::N(0), true),    // SHORT_BIN{STRING,BYTES,UNICODE}
        0x8d | 0x8e | 0x96 => (Counted(8), Pop::N(0), true),    // BINUNICODE8 BINBYTES8 BYTEARRAY8
        b'a' => (none, Pop::N(1), false),                       // APPEND
        b'b' => (none, Pop::N(1), false),                       // BUILD
        b'c' => (TwoLines, Pop::N(0), true),                    // GLOBAL
        b'd' | b'l' | b't' | 0x91 => (none, Pop::ToMark, true), // DICT LIST TUPLE FROZENSET
        b'}' | b']' | b')' | 0x8f => (none, Pop::N(0), true),   // EMPTY_{DICT,LIST,TUPLE,SET}
        b'e' | b'u' | 0x90 => (none, Pop::ToMark, false),       // APPENDS SETITEMS ADDITEMS
        b'g' => (Line, Pop::N(0), true),                        // GET
        b'h' => (Fixed(1), Pop::N(0), true),                    // BINGET
        b'j' => (Fixed(4), Pop::N(0), true),                    // LONG_BINGET
        b'i' => (TwoLines, Pop::ToMark, true),                  // INST
        b'o' => (none, Pop::ToMark, true),                      // OBJ
        b'p' => (Line, Pop::N(0), false),                       // PUT
        b'q' => (Fixed(1), Pop::N(0), false),                   // BINPUT
        b'r' => (Fixed(4), Pop::N(0), false),                   // LONG_BINPUT
        0x94 => (none, Pop::N(0), false),                       // MEMOIZE
        b's' => (none, Pop::N(2), false),                       // SETITEM
        b'G' => (Fixed(8), Pop::N(0), true),                    // BINFLOAT
        0x80 => (Fixed(1), Pop::N(0), false),                   // PROTO
        0x95 => (Fixed(8), Pop::N(0), false),                   // FRAME
        0x81 => (none, Pop::N(2), true),                        // NEWOBJ
        0x92 => (none, Pop::N(3), true),                        // NEWOBJ_EX
        0x85 => (none, Pop::N(1), true),                        // TUPLE1
        0x86 => (none, Pop::N(2), true),                        // TUPLE2
        0x87 => (none, Pop::N(3), true),                        // TUPLE3
        0x8a => (Counted(1), Pop::N(0), true),                  // LONG1
        0x8b => (Counted(4), Pop::N(0), true),                  // LONG4
        0x93 => (none, Pop::N(0), true),                        // STACK_GLOBAL (pops its own two)
        0x97 => (none, Pop::N(0), true),                        // NEXT_BUFFER
        0x98 => (none, Pop::N(0), false),                       // READONLY_BUFFER
        0x82 => return Err(AuditError::Opcode("EXT1")),
        0x83 => return Err(AuditError::Opcode("EXT2")),
        0x84 => return Err(AuditError::Opcode("EXT4")),
        other => {
            return Err(AuditError::Malformed(format!(
                "unknown pickle opcode 0x{other:02x}"
            )));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `pickle.dumps(os.system, protocol=2)`-style: GLOBAL 'posix system'.
    #[test]
    fn a_global_outside_the_list_is_refused_by_name() {
        let pickle = b"\x80\x02cposix\nsystem\nq\x00.";
        assert_eq!(
            audit(pickle),
            Err(AuditError::Forbidden("posix.system".to_string()))
        );
        let fine = b"\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01.";
        assert_eq!(audit(fine), Ok(fine.len()));
    }

    /// Protocol 4: names pushed as strings (one through the memo), then STACK_GLOBAL.
    #[test]
    fn stack_global_names_are_resolved_through_the_memo() {
        // SHORT_BINUNICODE 'builtins', MEMOIZE, POP, BINGET 0, SHORT_BINUNICODE 'eval', STACK_GLOBAL
        let evil = b"\x80\x04\x8c\x08builtins\x94\x30h\x00\x8c\x04eval\x93.";
        assert_eq!(
            audit(evil),
            Err(AuditError::Forbidden("builtins.eval".to_string()))
        );
        let ok = b"\x80\x04\x8c\x0bcollections\x94\x8c\x0bOrderedDict\x94\x93).";
        assert!(audit(ok).is_ok());
        assert_eq!(
            audit(b"\x80\x04K\x01K\x02\x93."),
            Err(AuditError::Opcode("STACK_GLOBAL (with computed names)"))
        );
        assert_eq!(audit(b"\x80\x02\x82\x01."), Err(AuditError::Opcode("EXT1")));
    }

    #[test]
    fn truncated_pickles_are_malformed_not_accepted() {
        assert!(matches!(
            audit(b"\x80\x02ccollec"),
            Err(AuditError::Malformed(_))
        ));
        assert!(matches!(
            audit(b"\x80\x02X\xff\x00\x00\x00ab"),
            Err(AuditError::Malformed(_))
        ));
    }

    #[test]
    fn module_classes_are_allowed_and_functions_beside_them_are_not() {
        assert!(allowed("torchvision.models.resnet", "ResNet"));
        assert!(allowed("torch.nn.parallel.data_parallel", "DataParallel"));
        assert!(allowed("torch", "HalfStorage"));
        assert!(!allowed("torchvision.models.resnet", "resnet50"));
        assert!(!allowed("torch", "load"));
        assert!(!allowed("__main__", "Net"));
    }
}
