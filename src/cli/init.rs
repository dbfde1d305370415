//! `magnets init`: random weights for a config (tests and engine work use these), or a trained
//! category-only model split by art style as the start of a style-conditioned run.

use std::path::PathBuf;

use magnets::config::ModelConfig;
use magnets::weights::{StoredDtype, Weights};

#[derive(clap::Args)]
pub struct Args {
    /// Config JSON with the keys of DESIGN §2 (a random init).
    #[arg(long, required_unless_present = "from", conflicts_with = "from")]
    config: Option<PathBuf>,
    /// Start from these trained weights instead (with --styles).
    #[arg(long, requires = "styles")]
    from: Option<PathBuf>,
    /// Art styles to split every class of --from by (comma-separated, in the order of the
    /// vendor names the training tokens use): class `category·S + style` starts as its category.
    #[arg(long, value_delimiter = ',', requires = "from")]
    styles: Vec<String>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long)]
    out: PathBuf,
    /// Store as f32 instead of f16.
    #[arg(long)]
    f32: bool,
}

pub fn run(a: Args) -> magnets::Result<()> {
    let w = match (&a.config, &a.from) {
        (Some(c), _) => Weights::init(&ModelConfig::load(c)?, a.seed)?,
        (None, Some(f)) => Weights::load(f)?
            .split_by_style(&a.styles)
            .map_err(|e| magnets::Error::Weights(format!("--from {} --styles: {}", f.display(), e.detail())))?,
        (None, None) => return Err(magnets::Error::Other("give --config FILE or --from WEIGHTS --styles A,B".into())),
    };
    w.save(&a.out, if a.f32 { StoredDtype::F32 } else { StoredDtype::F16 })?;
    eprintln!("wrote {} ({} parameters, {} classes)", a.out.display(), w.config.parameter_count(), w.config.classes);
    Ok(())
}
