//! `magnets forward`: logits for a JSON request, for cross-implementation parity checks.

use std::path::PathBuf;

use magnets::engine::{Engine, ForwardRequest};
use magnets::reference::ReferenceEngine;
use serde::Deserialize;

use super::common::load_weights;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    weights: Option<PathBuf>,
    /// `{"tokens": [[id; N]; B], "classes": [id; B], "width": "S", "rows": [[pos; r]; B]?}`.
    #[arg(long)]
    request: PathBuf,
    #[arg(long, default_value = "cpu", value_parser = ["cpu", "gpu"])]
    engine: String,
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
    let weights = load_weights(&a.weights)?;
    let config = weights.config.clone();
    let text = std::fs::read_to_string(&a.request)
        .map_err(|e| magnets::Error::Other(format!("cannot read {}: {e}", a.request.display())))?;
    let req: Request = serde_json::from_str(&text).map_err(|e| magnets::Error::Other(format!("request JSON: {e}")))?;
    let n = config.tokens();
    let batch = req.tokens.len();
    if batch == 0 || req.classes.len() != batch || req.tokens.iter().any(|t| t.len() != n) {
        return Err(magnets::Error::Other(format!("request needs B rows of {n} tokens and B classes")));
    }
    let width = config
        .width_index(&req.width)
        .ok_or_else(|| magnets::Error::Other(format!("unknown width `{}`; have {}", req.width, config.width_names.join(", "))))?;
    let positions: Vec<Vec<u32>> = req.positions.unwrap_or_else(|| vec![(0..n as u32).collect(); batch]);
    let m = positions[0].len();
    if positions.len() != batch || positions.iter().any(|p| p.len() != m || p.iter().any(|&i| i as usize >= n)) {
        return Err(magnets::Error::Other("positions must give the same count of image positions per sequence".into()));
    }
    let tokens: Vec<u32> = req.tokens.concat();
    let logit_rows: Vec<u32> = positions.iter().flatten().map(|&i| i + 1).collect();
    let fwd = ForwardRequest { width, batch, tokens: &tokens, classes: &req.classes, rows: None, logit_rows: &logit_rows };
    let logits = match a.engine.as_str() {
        "cpu" => {
            let mut e = ReferenceEngine::cpu(&weights);
            pollster::block_on(async {
                e.begin(batch).await?;
                e.forward(&fwd).await
            })?
        }
        _ => super::gpu_engine(&weights, |e| {
            pollster::block_on(async {
                e.begin(batch).await?;
                e.forward(&fwd).await
            })
        })?,
    };
    let k = config.codebook;
    let nested: Vec<Vec<&[f32]>> = (0..batch).map(|b| (0..m).map(|j| &logits[(b * m + j) * k..(b * m + j + 1) * k]).collect()).collect();
    println!("{}", serde_json::json!({ "logits": nested }));
    Ok(())
}
