//! `magnets web-assets`: what the page needs from the tokenizer, written next to it in models/:
//! - the decoder-only tokenizer (the page never encodes; the encoder is half the file), which
//!   scripts/build-web.sh serves as `www/models/tokenizer.safetensors`;
//! - its colour per code (`tokenizer::code_palette`), which the page paints token grids with
//!   until their pixels are decoded: `{"codebook": K, "tokenizer_sha256": "…", "rgb": [r0, g0,
//!   b0, r1, …]}`, tied to the decoder-only file's sha256 (the file the page loads).

use std::path::PathBuf;

use magnets::tokenizer::TokenizerWeights;
use magnets::weights::StoredDtype;

#[derive(clap::Args)]
pub struct Args {
    /// The full tokenizer (models/tokenizer.safetensors).
    #[arg(long, default_value = "models/tokenizer.safetensors")]
    pub tokenizer: PathBuf,
    #[arg(long, default_value = "models/tokenizer-decoder.safetensors")]
    pub decoder_out: PathBuf,
    #[arg(long, default_value = "models/tokenizer.palette.json")]
    pub palette_out: PathBuf,
}

pub fn run(a: Args) -> magnets::Result<()> {
    let full = TokenizerWeights::load(&a.tokenizer)?;
    let decoder = full.decoder_only();
    // f16 like the shipped file: its values are f16 already, so this is exact.
    let bytes = decoder.to_safetensors(StoredDtype::F16)?;
    magnets::files::write(&a.decoder_out, &bytes)?;
    eprintln!("wrote {} ({} bytes, decoder + codebook)", a.decoder_out.display(), bytes.len());

    let palette = magnets::tokenizer::code_palette(&decoder).map_err(|e| e.blame_file(&a.tokenizer))?;
    let sha = magnets::data::sha256_hex(&bytes);
    let rgb: Vec<u8> = palette.iter().flatten().copied().collect();
    let json = serde_json::json!({ "codebook": decoder.config.codebook, "tokenizer_sha256": sha, "rgb": rgb });
    magnets::files::write(&a.palette_out, format!("{json}\n"))?;
    eprintln!("wrote {} ({} codes)", a.palette_out.display(), palette.len());
    Ok(())
}
