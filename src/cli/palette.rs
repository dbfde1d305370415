//! `magnets palette`: the tokenizer's typical colour per code, as JSON for the page, which paints
//! token grids with it until their pixels are decoded (`tokenizer::code_palette`).
//! Output: `{"codebook": K, "tokenizer_sha256": "…", "rgb": [r0, g0, b0, r1, …]}`.

use std::path::PathBuf;

use sha2::Digest;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, default_value = "models/tokenizer.safetensors")]
    pub tokenizer: PathBuf,
    #[arg(long, default_value = "models/tokenizer.palette.json")]
    pub out: PathBuf,
}

pub fn run(a: Args) -> magnets::Result<()> {
    let bytes = std::fs::read(&a.tokenizer)
        .map_err(|e| magnets::Error::Weights(format!("cannot read {}: {e}", a.tokenizer.display())))?;
    let w = magnets::tokenizer::TokenizerWeights::from_safetensors(&bytes)?;
    let palette = magnets::tokenizer::code_palette(&w)?;
    let sha: String = sha2::Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
    let rgb: Vec<u8> = palette.iter().flatten().copied().collect();
    let json = serde_json::json!({ "codebook": w.config.codebook, "tokenizer_sha256": sha, "rgb": rgb });
    std::fs::write(&a.out, format!("{json}\n"))?;
    eprintln!("wrote {} ({} codes)", a.out.display(), palette.len());
    Ok(())
}
