//! `magnets fid-gap`: how much worse (or better) rows are than a baseline row of the same
//! draws, with a paired bootstrap interval on each gap (`magnets::metrics::paired`). The rows
//! come from `magnets eval --features-out` (images; the FID reference is rebuilt from
//! `--classifier` and `--data`) or `magnets eval-clips --features-out` (predicted frames; from
//! `--classifier` and `--clips`): the files the rows were scored with, checked by hash.

use std::path::PathBuf;

use magnets::metrics::paired::{Draws, Reference, SampleFeatures};

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
    /// Emoji dataset whose held-out split is the FID reference (rows of images).
    #[arg(long, default_value = magnets::data::DEFAULT_DATASET)]
    pub data: PathBuf,
    /// Clip file whose held-out clips' predicted frames are the reference (rows of
    /// `magnets eval-clips`, frame-FID): the `--clips` they were scored against.
    #[arg(long)]
    pub clips: Option<PathBuf>,
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
    // Predicted frames are scored against held-out clips, images against held-out images.
    let of_clips = baseline.draws().reference == Reference::Clips;
    let (reference_flag, reference_file) = match (&a.clips, of_clips) {
        (Some(clips), true) => ("--clips", clips),
        (None, false) => ("--data", &a.data),
        (None, true) => return Err(magnets::Error::Other(format!("{baseline_name}: frames of predicted clips; name their --clips file"))),
        (Some(_), false) => return Err(magnets::Error::Other(format!("{baseline_name}: images, not predicted frames; --clips is for `eval-clips` rows"))),
    };
    let (classifier_sha, data_sha) = (magnets::data::sha256_file(&a.classifier)?, magnets::data::sha256_file(reference_file)?);
    // The reference is rebuilt from these files: they must be the ones the rows were scored with.
    if baseline.draws().classifier_sha256 != classifier_sha || baseline.draws().data_sha256 != data_sha {
        return Err(magnets::Error::Data(format!(
            "{baseline_name}: scored with another classifier or reference than --classifier {} {reference_flag} {}",
            a.classifier.display(),
            reference_file.display()
        )));
    }
    for (name, row) in other_names.iter().zip(&rows) {
        row.check_paired_with(&baseline).map_err(|e| e.within(format!("{name} vs {baseline_name}")))?;
    }
    let ev = if of_clips {
        let given = baseline.draws().clip.as_ref().map(|c| c.context_frames).ok_or_else(|| {
            magnets::Error::Data(format!("{baseline_name}: no `context_frames` in its metadata"))
        })?;
        let classifier = magnets::metrics::classifier::Classifier::load(&a.classifier, &burn::tensor::Device::flex())?;
        let clips = magnets::data::anim::AnimDataset::load(reference_file)?;
        magnets::metrics::QualityEvaluator::for_clips(classifier, &clips, given as usize)?
    } else {
        magnets::metrics::QualityEvaluator::load(&a.classifier, &a.data)?
    }
    .with_bootstrap(a.replicates);
    let compute = if of_clips { "gflops_per_clip" } else { "gflops_per_image" };
    let describe = |d: &Draws| serde_json::json!({ "schedule": d.schedule, "cache": d.cache, compute: d.other.get(compute) });
    let unit = if of_clips { "predicted frames" } else { "images" };
    let mut out_rows = Vec::new();
    for (name, row) in other_names.iter().zip(&rows) {
        let gap = if a.fixed_reference {
            ev.fid_gap_on_this_reference(&baseline.features, &row.features)?
        } else {
            ev.fid_gap(&baseline.features, &row.features)?
        };
        if !a.json {
            outln!(
                "{} (cache {}) vs {}, {} {unit} each: FID {:.2} vs {:.2}, gap {:+.1}% [paired 95%: {:+.1}%, {:+.1}%; unpaired {:+.1}%, {:+.1}%]",
                row.draws().schedule,
                row.draws().cache,
                baseline.draws().schedule,
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
        let mut entry = describe(row.draws());
        entry["file"] = name.clone().into();
        entry["gap"] = serde_json::to_value(&gap).expect("serialisable");
        out_rows.push(entry);
    }
    if a.json {
        let mut base = describe(baseline.draws());
        base["file"] = baseline_name.clone().into();
        let b = baseline.draws();
        let draws = serde_json::json!({
            "samples": baseline.samples(), "per_clip": b.other.get("per_clip"),
            "seeds": baseline.runs.iter().map(|r| r.seeds).collect::<Vec<_>>(), "pooled_parts": baseline.runs.len(),
            "batch": b.batch, "weights": b.weights, "temperature": b.temperature, "noise": b.noise,
            "guidance": b.guidance, "guidance_schedule": b.guidance_schedule,
        });
        outln!("{}", serde_json::json!({ "baseline": base, "draws": draws, "fixed_reference": a.fixed_reference, "rows": out_rows }))?;
    }
    Ok(())
}

fn names(paths: &[PathBuf]) -> String {
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(",")
}
