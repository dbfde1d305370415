//! `magnets generate`: decode a batch of images with a schedule; writes the trace (tokens,
//! per-step widths, rows, FLOPs, timings) as JSON, and PNGs when a tokenizer is given.

use std::path::PathBuf;

use magnets::decode::{DecodeRequest, DecodeTrace, decode};
use magnets::reference::ReferenceEngine;

use super::common::{DecodeArgs, load_weights};

#[derive(clap::Args)]
pub struct Args {
    /// Weights file; defaults to the shipped model.
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Class id or name per image, comma separated; a single value is repeated `--batch` times.
    /// `null` (or the class count) asks for unconditional images.
    #[arg(long, default_value = "0")]
    pub class: String,
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u32,
    #[command(flatten)]
    pub decode: DecodeArgs,
    /// Output directory: trace.json (+ PNGs with a tokenizer).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// VQ tokenizer weights, to write PNGs.
    #[arg(long)]
    pub tokenizer: Option<PathBuf>,
}

pub fn parse_classes(text: &str, batch: usize, config: &magnets::config::ModelConfig) -> magnets::Result<Vec<u32>> {
    let one = |s: &str| -> magnets::Result<u32> {
        let s = s.trim();
        if s == "null" {
            return Ok(config.null_class());
        }
        if let Ok(i) = s.parse::<u32>() {
            if i <= config.null_class() {
                return Ok(i);
            }
        }
        config
            .class_names
            .iter()
            .position(|n| n.eq_ignore_ascii_case(s))
            .map(|i| i as u32)
            .ok_or_else(|| magnets::Error::Decode(format!("unknown class `{s}`; classes: {}", config.class_names.join(", "))))
    };
    let list: Vec<u32> = text.split(',').map(one).collect::<magnets::Result<_>>()?;
    Ok(if list.len() == 1 { vec![list[0]; batch.max(1)] } else { list })
}

pub fn run(a: Args) -> magnets::Result<()> {
    let weights = load_weights(&a.weights)?;
    let config = weights.config.clone();
    let req = DecodeRequest {
        schedule: a.decode.schedule(&config)?,
        cache: a.decode.cache_policy()?,
        classes: parse_classes(&a.class, a.batch, &config)?,
        sampling: a.decode.sampling(a.seed),
    };
    let print_step = |s: &magnets::decode::StepTrace| {
        eprintln!(
            "step {:>3} {:>3} {:<7} rows {:>4} masked {:>4}→{:<4} {:>9.4} GFLOPs {:>8.1} ms",
            s.cost.step,
            s.cost.width_name,
            if s.cost.refresh { "refresh" } else { "cached" },
            s.cost.rows,
            s.cost.masked_before,
            s.cost.masked_after,
            s.cost.flops as f64 / 1e9,
            s.ms
        )
    };
    let trace: DecodeTrace = match a.decode.gpu() {
        false => {
            let mut e = ReferenceEngine::cpu(&weights);
            pollster::block_on(decode(&mut e, &req, print_step))?
        }
        _ => super::gpu_engine(&weights, |e| pollster::block_on(decode(e, &req, print_step)))?,
    };
    eprintln!(
        "{}: {} images, {:.4} GFLOPs/image vs baseline {:.4} ({:.2}x less), {:.1} ms",
        trace.engine,
        trace.classes.len(),
        trace.total_flops as f64 / 1e9,
        trace.baseline_flops as f64 / 1e9,
        trace.flops_ratio(),
        trace.ms
    );
    match &a.out {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            std::fs::write(dir.join("trace.json"), serde_json::to_string(&trace).expect("serialisable"))?;
            if let Some(tok) = &a.tokenizer {
                super::write_pngs(tok, &trace.tokens, dir)?;
            }
            eprintln!("wrote {}", dir.join("trace.json").display());
        }
        None => println!("{}", serde_json::json!({ "tokens": trace.tokens, "total_flops": trace.total_flops, "baseline_flops": trace.baseline_flops })),
    }
    Ok(())
}
