//! `magnets init`: random weights for a config (tests and engine work use these), or trained
//! weights reshaped as the start of another run: a category-only model split by art style, an
//! image model lifted into a clip model, a clip model given more (or fewer) first frames, or a
//! model nested at other sub-model widths, or grown deeper; or trained weights stored again in another precision
//! (`--from W --int8`: the page's download, half of f16's bytes).

use std::path::PathBuf;

use magnets::config::ModelConfig;
use magnets::weights::{StoredDtype, Weights};

#[derive(clap::Args)]
pub struct Args {
    /// Config JSON with the keys of DESIGN §2 (a random init).
    #[arg(long, required_unless_present = "from", conflicts_with = "from")]
    config: Option<PathBuf>,
    /// Start from these trained weights instead (with --styles, --clip, --context-frames, --widths,
    /// --depth, or alone to store them again with --int8 or --f32).
    #[arg(long)]
    from: Option<PathBuf>,
    /// Art styles to split every class of --from by (comma-separated, in the order of the
    /// vendor names the training tokens use): class `category·S + style` starts as its category.
    #[arg(long, value_delimiter = ',', requires = "from", conflicts_with = "clip")]
    styles: Vec<String>,
    /// Lift the image model --from into the clip model of this config (the same model but for
    /// `frames` and `context_frames`): every frame's positions start as the image's.
    #[arg(long, requires = "from")]
    clip: Option<PathBuf>,
    /// Give the clip model --from this many first frames instead (weights unchanged).
    #[arg(long, requires = "from", conflicts_with_all = ["clip", "styles"])]
    context_frames: Option<usize>,
    /// Nest the model --from at these sub-model widths instead (comma-separated, one per width
    /// name, the last the model's dim; weights unchanged): the start of a run that trains them.
    #[arg(long, value_delimiter = ',', requires = "from", conflicts_with_all = ["clip", "styles", "context_frames"])]
    widths: Vec<usize>,
    /// Grow the model --from to this depth (a multiple of its own): each block is followed by
    /// copies of itself whose output projections start at zero, so the deeper model starts as
    /// the same function (the start of a run that trains it).
    #[arg(long, requires = "from", conflicts_with_all = ["clip", "styles", "context_frames", "widths"])]
    depth: Option<usize>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long)]
    out: PathBuf,
    /// Store as f32 instead of f16.
    #[arg(long, conflicts_with = "int8")]
    f32: bool,
    /// Store every matrix as int8 with a scale per column (vectors as f16): half of f16's bytes;
    /// the values decode to f16 (see `weights::int8`).
    #[arg(long)]
    int8: bool,
}

pub fn run(a: Args) -> magnets::Result<()> {
    let w = match (&a.config, &a.from, &a.clip, a.context_frames, a.depth) {
        (Some(c), ..) => Weights::init(&ModelConfig::load(c)?, a.seed)?,
        (None, Some(f), Some(clip), ..) => Weights::load(f)?
            .lift_to_clip(&ModelConfig::load(clip)?, a.seed)
            .map_err(|e| e.within(format_args!("--from {} --clip {}", f.display(), clip.display())))?,
        (None, Some(f), None, Some(n), _) => Weights::load(f)?
            .with_context_frames(n)
            .map_err(|e| e.within(format_args!("--from {} --context-frames", f.display())))?,
        (None, Some(f), None, None, None) if !a.widths.is_empty() => Weights::load(f)?
            .with_widths(a.widths.clone())
            .map_err(|e| e.within(format_args!("--from {} --widths", f.display())))?,
        (None, Some(f), None, None, Some(depth)) => Weights::load(f)?
            .with_depth(depth)
            .map_err(|e| e.within(format_args!("--from {} --depth", f.display())))?,
        (None, Some(f), None, None, None) if !a.styles.is_empty() => Weights::load(f)?
            .split_by_style(&a.styles)
            .map_err(|e| e.within(format_args!("--from {} --styles", f.display())))?,
        (None, Some(f), None, None, None) if a.int8 || a.f32 => Weights::load(f)?,
        _ => return Err(magnets::Error::Other(
            "give --config FILE, --from WEIGHTS --styles A,B, --from WEIGHTS --clip CONFIG, --from CLIP_WEIGHTS --context-frames N, \
             --from WEIGHTS --widths A,B,C,D, --from WEIGHTS --depth N or --from WEIGHTS --int8 (or --f32)"
                .into(),
        )),
    };
    let dtype = match (a.f32, a.int8) {
        (true, _) => StoredDtype::F32,
        (_, true) => StoredDtype::Int8,
        _ => StoredDtype::F16,
    };
    w.save(&a.out, dtype)?;
    eprintln!(
        "wrote {} ({} parameters, {} classes, {} frame(s))",
        a.out.display(),
        w.config.parameter_count(),
        w.config.classes,
        w.config.frames
    );
    Ok(())
}
