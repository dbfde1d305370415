//! `magnets fid-gap`: how much worse (or better) rows are than a baseline row of the same
//! draws, with a paired bootstrap interval on each gap (`magnets::metrics::paired`). The rows
//! come from `magnets eval --features-out`; the FID reference is rebuilt from `--classifier`
//! and `--data`, which must be the files the rows were scored with.

use std::path::PathBuf;

use magnets::metrics::paired::SampleFeatures;

#[derive(clap::Args)]
pub struct Args {
    /// The baseline row's features (e.g. XL12 without the cache). A comma-separated list pools
    /// runs of the row on disjoint seeds into one row (`a.safetensors,b.safetensors`).
    #[arg(long, value_delimiter = ',', required = true)]
    pub baseline: Vec<PathBuf>,
    /// A row to compare with it; repeatable. Each must decode the same draws (samples, seed, batch):
    /// when the baseline is pooled, list this row's runs in the same order, comma-separated.
    #[arg(long, required = true)]
    pub other: Vec<String>,
    /// FID-emoji classifier weights the rows were scored with.
    #[arg(long, default_value = magnets::metrics::DEFAULT_CLASSIFIER)]
    pub classifier: PathBuf,
    /// Emoji dataset whose held-out split is the FID reference.
    #[arg(long, default_value = magnets::data::DEFAULT_DATASET)]
    pub data: PathBuf,
    /// Bootstrap replicates behind each interval.
    #[arg(long, default_value_t = magnets::metrics::BOOTSTRAP_REPLICATES)]
    pub replicates: usize,
    /// Hold the real reference images fixed: the interval then covers only the generated draws,
    /// i.e. the gap as this instrument's reference set measures it (by default the reference is
    /// resampled too, and its noise does not shrink with more samples per row).
    #[arg(long)]
    pub fixed_reference: bool,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: Args) -> magnets::Result<()> {
    super::common::check_count("--replicates", a.replicates, 10_000)?;
    if a.replicates < 2 {
        return Err(magnets::Error::Other("--replicates: use at least 2".into()));
    }
    let pooled = |paths: &[PathBuf]| {
        let parts = paths.iter().map(|p| SampleFeatures::load(p)).collect::<magnets::Result<Vec<_>>>()?;
        SampleFeatures::pool(parts).map_err(|e| e.within(names(paths)))
    };
    let baseline_name = names(&a.baseline);
    let baseline = pooled(&a.baseline)?;
    let other_paths: Vec<Vec<PathBuf>> = a.other.iter().map(|list| list.split(',').map(PathBuf::from).collect()).collect();
    let rows = other_paths.iter().map(|paths| pooled(paths)).collect::<magnets::Result<Vec<_>>>()?;
    let other_names: Vec<String> = other_paths.iter().map(|paths| names(paths)).collect();
    let (classifier_sha, data_sha) = (magnets::data::sha256_file(&a.classifier)?, magnets::data::sha256_file(&a.data)?);
    // The reference is rebuilt from these files: they must be the ones the rows were scored with.
    if baseline.about["classifier_sha256"] != classifier_sha.as_str() || baseline.about["data_sha256"] != data_sha.as_str() {
        return Err(magnets::Error::Data(format!(
            "{baseline_name}: scored with another classifier or dataset than --classifier {} --data {}",
            a.classifier.display(),
            a.data.display()
        )));
    }
    for (name, row) in other_names.iter().zip(&rows) {
        row.check_paired_with(&baseline).map_err(|e| e.within(format!("{name} vs {baseline_name}")))?;
    }
    let ev = magnets::metrics::QualityEvaluator::load(&a.classifier, &a.data)?.with_bootstrap(a.replicates);
    let describe = |about: &serde_json::Value| serde_json::json!({ "schedule": about["schedule"], "cache": about["cache"], "gflops_per_image": about["gflops_per_image"] });
    let mut out_rows = Vec::new();
    for (name, row) in other_names.iter().zip(&rows) {
        let gap = if a.fixed_reference {
            ev.fid_gap_on_this_reference(&baseline.features, &row.features)?
        } else {
            ev.fid_gap(&baseline.features, &row.features)?
        };
        if !a.json {
            outln!(
                "{} (cache {}) vs {}, {} images each: FID {:.2} vs {:.2}, gap {:+.1}% [paired 95%: {:+.1}%, {:+.1}%; unpaired {:+.1}%, {:+.1}%]",
                row.about["schedule"].as_str().unwrap_or("?"),
                row.about["cache"].as_str().unwrap_or("?"),
                baseline.about["schedule"].as_str().unwrap_or("?"),
                gap.count,
                gap.fid,
                gap.fid_baseline,
                100.0 * gap.gap,
                100.0 * gap.gap_ci95[0],
                100.0 * gap.gap_ci95[1],
                100.0 * gap.gap_ci95_unpaired[0],
                100.0 * gap.gap_ci95_unpaired[1],
            )?;
        }
        let mut entry = describe(&row.about);
        entry["file"] = name.clone().into();
        entry["gap"] = serde_json::to_value(&gap).expect("serialisable");
        out_rows.push(entry);
    }
    if a.json {
        let mut base = describe(&baseline.about);
        base["file"] = baseline_name.clone().into();
        let draws: serde_json::Map<String, serde_json::Value> =
            ["samples", "seed", "seeds", "pooled_parts", "batch", "weights", "temperature", "noise", "guidance", "guidance_schedule"]
                .iter()
                .map(|k| (k.to_string(), baseline.about[*k].clone()))
                .collect();
        outln!("{}", serde_json::json!({ "baseline": base, "draws": draws, "fixed_reference": a.fixed_reference, "rows": out_rows }))?;
    }
    Ok(())
}

fn names(paths: &[PathBuf]) -> String {
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(",")
}
