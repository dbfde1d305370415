//! `magnets forward`: logits for a JSON request, for cross-implementation parity checks.

use std::path::PathBuf;

use magnets::engine::{Engine, ForwardRequest};
use serde::Deserialize;

use magnets::decode::MAX_IMAGES;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    weights: Option<PathBuf>,
    /// `{"tokens": [[id; N]; B], "classes": [id; B], "width": "S", "positions": [[pos; m]; B]?}`.
    #[arg(long)]
    request: PathBuf,
    #[arg(long, value_enum, default_value_t = super::common::EngineChoice::Cpu)]
    engine: super::common::EngineChoice,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    tokens: Vec<Vec<u32>>,
    classes: Vec<u32>,
    width: String,
    /// Image positions (0-based, like `tokens`) to return logits for; default all.
    #[serde(default)]
    positions: Option<Vec<Vec<u32>>>,
}

pub fn run(a: Args) -> magnets::Result<()> {
    let weights_file = super::common::weights_path(&a.weights)?;
    let weights = magnets::weights::Weights::load(&weights_file)?;
    let config = weights.config.clone();
    let bad = |m: String| magnets::Error::Other(format!("{}: {m}", a.request.display()));
    let text = magnets::files::read_text_capped(&a.request, magnets::files::MAX_JSON_BYTES)?;
    let req: Request = serde_json::from_str(&text).map_err(|e| bad(format!("request JSON: {e}")))?;
    let n = config.tokens();
    let batch = req.tokens.len();
    let most = 2 * MAX_IMAGES;
    if batch == 0 || batch > most || req.classes.len() != batch || req.tokens.iter().any(|t| t.len() != n) {
        return Err(bad(format!("request needs B rows of {n} tokens and B classes, 1 <= B <= {most}")));
    }
    let width = config
        .width_index(&req.width)
        .ok_or_else(|| bad(format!("unknown width `{}`; have {}", req.width, config.width_names.join(", "))))?;
    let positions: Vec<Vec<u32>> = req.positions.unwrap_or_else(|| vec![(0..n as u32).collect(); batch]);
    let m = positions.first().map_or(0, |p| p.len());
    if positions.len() != batch || m == 0 || positions.iter().any(|p| p.len() != m || p.iter().any(|&i| i as usize >= n)) {
        return Err(bad(format!(
            "positions must list, for each of the {batch} sequences, the same non-zero number of image positions 0..{n}"
        )));
    }
    let tokens: Vec<u32> = req.tokens.concat();
    let logit_rows: Vec<u32> = positions.iter().flatten().map(|&i| i + 1).collect();
    let fwd = ForwardRequest { width, batch, tokens: &tokens, classes: &req.classes, rows: None, logit_rows: &logit_rows };
    let logits = match a.engine {
        super::common::EngineChoice::Cpu | super::common::EngineChoice::Torch => a.engine.reference(&weights).and_then(|mut e| {
            pollster::block_on(async {
                e.begin(batch).await?;
                e.forward(&fwd).await
            })
        }),
        super::common::EngineChoice::Gpu => super::gpu_engine(&weights, |e| {
            pollster::block_on(async {
                e.begin(batch).await?;
                e.forward(&fwd).await
            })
        }),
    }
    .map_err(|e| bad(e.to_string()))?;
    // JSON has no NaN: serde would print null, a silently wrong answer.
    let ctx = magnets::engine::StepContext { step: 1, total_steps: 1, images: batch };
    magnets::engine::check_finite_logits(&logits, ctx).map_err(|e| e.blame_file(&weights_file))?;
    let k = config.codebook;
    let nested: Vec<Vec<&[f32]>> = (0..batch).map(|b| (0..m).map(|j| &logits[(b * m + j) * k..(b * m + j + 1) * k]).collect()).collect();
    outln!("{}", serde_json::json!({ "logits": nested }))?;
    Ok(())
}
