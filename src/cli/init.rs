//! `magnets init`: random weights for a config (tests and engine work use these).

use std::path::PathBuf;

use magnets::config::ModelConfig;
use magnets::weights::{StoredDtype, Weights};

#[derive(clap::Args)]
pub struct Args {
    /// Config JSON with the keys of DESIGN §2.
    #[arg(long)]
    config: PathBuf,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long)]
    out: PathBuf,
    /// Store as f32 instead of f16.
    #[arg(long)]
    f32: bool,
}

pub fn run(a: Args) -> magnets::Result<()> {
    let config = ModelConfig::load(&a.config)?;
    let w = Weights::init(&config, a.seed)?;
    w.save(&a.out, if a.f32 { StoredDtype::F32 } else { StoredDtype::F16 })?;
    eprintln!("wrote {} ({} parameters)", a.out.display(), config.parameter_count());
    Ok(())
}
