//! The WGSL sources and their specialisation per model: tile widths, head size, codebook
//! size and weight storage are compile-time constants in the shaders, rewritten here before
//! compilation. Every rewrite is checked: a marker line edited in a shader is an error, not a
//! kernel silently left unspecialised.

use super::dispatch::slots;
use super::weights::WeightStorage;
use crate::config::ModelConfig;
use crate::error::{Error, Result};

pub const SHADER_EMBED: &str = include_str!("../../shaders/embed.wgsl");
pub const SHADER_LAYERNORM: &str = include_str!("../../shaders/layernorm.wgsl");
pub const SHADER_MATMUL: &str = include_str!("../../shaders/matmul.wgsl");
pub const SHADER_ATTENTION: &str = include_str!("../../shaders/attention.wgsl");
pub const SHADER_SAMPLE: &str = include_str!("../../shaders/sample.wgsl");
pub const SHADER_ADVANCE: &str = include_str!("../../shaders/advance.wgsl");
pub const SHADER_DECODER: &str = include_str!("../../shaders/decoder.wgsl");

/// Every WGSL source with its file name, for validation tests.
pub fn shader_sources() -> Vec<(&'static str, String)> {
    [
        ("embed.wgsl", SHADER_EMBED),
        ("layernorm.wgsl", SHADER_LAYERNORM),
        ("matmul.wgsl", SHADER_MATMUL),
        ("attention.wgsl", SHADER_ATTENTION),
        ("sample.wgsl", SHADER_SAMPLE),
        ("advance.wgsl", SHADER_ADVANCE),
        ("decoder.wgsl", SHADER_DECODER),
    ]
    .map(|(name, src)| (name, src.to_string()))
    .into()
}

/// `source` with its one line that reads `line` (ignoring indentation) replaced by `with`;
/// an error when there is no such line or more than one.
pub fn replace_line(source: &str, line: &str, with: &str) -> Result<String> {
    let found = source.lines().filter(|l| l.trim() == line).count();
    if found != 1 {
        return Err(Error::Engine(format!("shader specialisation: expected exactly one line `{line}`, found {found}")));
    }
    let mut out: Vec<&str> = source.lines().map(|l| if l.trim() == line { with } else { l }).collect();
    if source.ends_with('\n') {
        out.push("");
    }
    Ok(out.join("\n"))
}

/// `source` with the value of its `const NAME: u32 = …;` declaration set to `value`; an error
/// when the constant is not declared exactly once in that form.
pub fn set_const(source: &str, name: &str, value: u32) -> Result<String> {
    let prefix = format!("const {name}: u32 = ");
    let lines: Vec<&str> = source.lines().filter(|l| l.trim_start().starts_with(&prefix)).collect();
    match lines[..] {
        [line] => replace_line(source, line.trim(), &format!("{prefix}{value}u;")),
        _ => Err(Error::Engine(format!(
            "shader specialisation: expected one `{prefix}…;` declaration, found {}",
            lines.len()
        ))),
    }
}

/// The matmul shader with `wx` threads across (a tile of 4·wx columns × 64 rows).
pub fn matmul_source(wx: u32) -> Result<String> {
    set_const(SHADER_MATMUL, "WX", wx)
}

/// The attention shader for `head_dim`, with as many keys per workgroup tile as keep its K and
/// V tiles within 8 KiB of workgroup memory (at most 32).
pub fn attention_source(head_dim: usize) -> Result<String> {
    let padded = head_dim.div_ceil(4) * 4;
    let keys_per_tile = (1024 / padded).clamp(1, 32);
    set_const(&set_const(SHADER_ATTENTION, "HEAD_DIM", head_dim as u32)?, "KT", keys_per_tile as u32)
}

/// Workgroup memory the sampling kernel needs for a codebook of `codebook` codes (the row of
/// exps plus two 64-entry reductions).
pub fn sample_workgroup_bytes(codebook: usize) -> u64 {
    4 * codebook as u64 + 2 * 4 * 64
}

/// The sampling shader for a codebook of `codebook` codes (its workgroup holds one row).
pub fn sample_source(codebook: usize) -> Result<String> {
    set_const(SHADER_SAMPLE, "KCAP", codebook.max(1) as u32)
}

slots! {
    /// The transformer engine's compute pipelines.
    pub enum Kernel {
        Embed = "embed",
        LayerNorm = "layernorm",
        Matmul = "matmul",
        Attention = "attention",
        /// 8 threads across: 32-column tiles, for narrow products.
        Matmul32 = "matmul n32",
        /// 4 threads across: 16-column tiles.
        Matmul16 = "matmul n16",
        Sample = "sample",
        Advance = "advance",
    }
}

impl Kernel {
    /// The matmul variant for a product `n` columns wide, and its tile width.
    pub fn matmul_for(n: u32) -> (Kernel, u32) {
        match n {
            0..=16 => (Kernel::Matmul16, 16),
            17..=32 => (Kernel::Matmul32, 32),
            _ => (Kernel::Matmul, 64),
        }
    }

    /// This kernel's WGSL for `config`, weights in `storage`, the sampler sized for
    /// `sample_codebook` codes.
    pub fn source(self, config: &ModelConfig, storage: WeightStorage, sample_codebook: usize) -> Result<String> {
        match self {
            Kernel::Embed => storage.kernel_source(SHADER_EMBED),
            Kernel::LayerNorm => storage.kernel_source(SHADER_LAYERNORM),
            Kernel::Matmul => storage.kernel_source(SHADER_MATMUL),
            Kernel::Matmul32 => storage.kernel_source(&matmul_source(8)?),
            Kernel::Matmul16 => storage.kernel_source(&matmul_source(4)?),
            Kernel::Attention => attention_source(config.head_dim),
            Kernel::Sample => sample_source(sample_codebook),
            Kernel::Advance => set_const(SHADER_ADVANCE, "MAX_TOKENS", crate::config::MAX_TOKENS as u32),
        }
    }
}
