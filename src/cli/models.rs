//! `magnets models`: the shipped models (`magnets::registry`), each with its size and whether
//! its files are here.

use magnets::registry::{Registry, Sampling};
use magnets::sampling::GuidanceSchedule;

#[derive(clap::Args)]
pub struct Args {
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// `magnets models`: the list, the default marked, each model's size and whether its files are here.
pub fn run(a: Args) -> magnets::Result<()> {
    let r = Registry::load()?;
    let mut rows = Vec::new();
    for m in &r.models {
        // A missing file is reported, not an error: a clone may ship without a model.
        let params = magnets::weights::Weights::load(&m.weights_path()).ok().map(|w| w.config.parameter_count());
        let tokenizer = m.tokenizer_path().is_file();
        rows.push(serde_json::json!({
            "id": m.id, "name": m.name, "about": m.about, "default": m.id == r.default, "light": m.light, "kind": m.kind,
            "sampling": m.sampling.unwrap_or_default(),
            "weights": m.weights_path(), "tokenizer": m.tokenizer_path(),
            "parameters": params, "tokenizer_present": tokenizer,
        }));
        if !a.json {
            let mark = if m.id == r.default { " (default)" } else { "" };
            let size = params.map_or("weights missing".to_string(), |p| format!("{:.2} M parameters", p as f64 / 1e6));
            outln!("{}{mark}: {} — {}; {size}", m.id, m.name, m.about)?;
            outln!("    {}  +  {}{}", m.weights_path().display(), m.tokenizer_path().display(), if tokenizer { "" } else { " (missing)" })?;
            let Sampling { temperature, tau, guidance, guidance_schedule } = m.sampling.unwrap_or_default();
            let ramp = if guidance_schedule == GuidanceSchedule::Constant { "" } else { " (linear ramp)" };
            outln!("    decodes with temperature {temperature}, τ {tau}, guidance {guidance}{ramp} (flags override)")?;
        }
    }
    if a.json {
        outln!("{}", serde_json::json!({ "default": r.default, "models": rows }))?;
    }
    Ok(())
}
