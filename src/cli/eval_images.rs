//! `magnets eval-images`: FID-emoji, precision, recall (and class accuracy with labels) of a
//! folder of PNGs against the held-out set (or the train split with `--reference train`).

use std::path::PathBuf;

use magnets::data::{CATEGORIES, DEFAULT_DATASET, EmojiDataset, Split};
use magnets::metrics::classifier::Classifier;
use magnets::metrics::{DEFAULT_CLASSIFIER, QualityEvaluator};

#[derive(clap::Args)]
pub struct Args {
    /// Folder of PNGs (32×32, or a multiple of 32 that is box-filtered down; alpha over white).
    #[arg(long)]
    pub images: Option<PathBuf>,
    /// Score a split of the dataset itself instead of a folder (train or held-out).
    #[arg(long, value_enum)]
    pub split: Option<SplitChoice>,
    /// Labels: a JSON file with one category id (or name) per image in file-name order, or
    /// `names` to read `..._<class id>.png`-style suffixes from the file names.
    #[arg(long)]
    pub labels: Option<String>,
    /// Reference set.
    #[arg(long, value_enum, default_value_t = SplitChoice::HeldOut)]
    pub reference: SplitChoice,
    #[arg(long, default_value = DEFAULT_DATASET)]
    pub data: PathBuf,
    #[arg(long, default_value = DEFAULT_CLASSIFIER)]
    pub classifier: PathBuf,
    /// Score only N images, evenly spaced in order (size-matched floors: FID grows as N shrinks).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Bootstrap replicates behind the printed FID interval (`fid_ci95`; 0: none).
    #[arg(long, default_value_t = magnets::metrics::BOOTSTRAP_REPLICATES)]
    pub bootstrap: usize,
    /// Print JSON only.
    #[arg(long)]
    pub json: bool,
}

/// `--split`, `--reference`: a split of the dataset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SplitChoice {
    Train,
    HeldOut,
}

fn parse_label(s: &str) -> Option<u32> {
    s.parse::<u32>().ok().filter(|&v| (v as usize) < CATEGORIES.len()).or_else(|| CATEGORIES.iter().position(|c| *c == s).map(|v| v as u32))
}

pub fn run(a: Args) -> magnets::Result<()> {
    let err = |m: String| magnets::Error::Data(m);
    if a.limit.is_some_and(|k| k < 2) {
        return Err(err(format!("--limit {}: FID needs at least 2 images", a.limit.unwrap_or(0))));
    }
    let ds = EmojiDataset::load(&a.data)?;
    let split = |s: SplitChoice| match s {
        SplitChoice::Train => Split::Train,
        SplitChoice::HeldOut => Split::HeldOut,
    };
    let reference = ds.subset(&ds.indices(split(a.reference)));
    let ev = QualityEvaluator::with_reference(Classifier::load(&a.classifier, &burn::tensor::Device::flex())?, &reference.images)?.with_bootstrap(a.bootstrap);
    let (names, images, mut labels) = match (&a.images, &a.split) {
        (Some(dir), None) => {
            let (names, images) = magnets::data::load_png_dir(dir)?;
            (names, images, None)
        }
        (None, Some(s)) => {
            let sub = ds.subset(&ds.indices(split(*s)));
            let labels: Vec<u32> = sub.labels.iter().map(|&l| l as u32).collect();
            (sub.names.clone(), sub.images, Some(labels))
        }
        _ => return Err(err("give exactly one of --images DIR or --split".into())),
    };
    if let Some(spec) = &a.labels {
        let l: Vec<u32> = if spec == "names" {
            names
                .iter()
                .map(|n| {
                    let stem = n.trim_end_matches(".png");
                    stem.rsplit(['_', '-']).next().and_then(parse_label).ok_or_else(|| err(format!("{n}: no `_<class id>` suffix")))
                })
                .collect::<magnets::Result<_>>()?
        } else {
            let text = magnets::files::read_text_capped(std::path::Path::new(spec), magnets::files::MAX_JSON_BYTES)?;
            let v: Vec<serde_json::Value> = serde_json::from_str(&text).map_err(|e| err(format!("{spec}: expected a JSON array: {e}")))?;
            v.iter()
                .map(|x| match x {
                    serde_json::Value::Number(n) => n.as_u64().and_then(|n| parse_label(&n.to_string())),
                    serde_json::Value::String(s) => parse_label(s),
                    _ => None,
                })
                .collect::<Option<Vec<u32>>>()
                .ok_or_else(|| err(format!("{spec}: every label must be a category id 0..9 or name")))?
        };
        labels = Some(l);
    }
    let count = images.len() / magnets::data::IMAGE_BYTES;
    if let Some(k) = a.limit {
        if k > count {
            return Err(err(format!("--limit {k}: there are only {count} images")));
        }
    }
    let (images, labels) = match a.limit {
        Some(k) if k < count => {
            let n = count;
            let pick: Vec<usize> = (0..k).map(|i| i * n / k).collect();
            let imgs: Vec<u8> = pick.iter().flat_map(|&i| images[i * magnets::data::IMAGE_BYTES..(i + 1) * magnets::data::IMAGE_BYTES].iter().copied()).collect();
            // Mismatched label counts pass through unchanged and are refused by the evaluator.
            let labs = labels.map(|l| if l.len() == n { pick.iter().map(|&i| l[i]).collect::<Vec<u32>>() } else { l });
            (imgs, labs)
        }
        _ => (images, labels),
    };
    let m = ev.evaluate_flat(&images, labels.as_deref())?;
    if a.json {
        outln!("{}", serde_json::to_string(&m).expect("serialisable"))?;
    } else {
        outln!("{} images vs {} reference ({}):", m.count, ev.reference_count(), if a.reference == SplitChoice::Train { "train" } else { "held-out" })?;
        outln!("{}", serde_json::to_string_pretty(&m).expect("serialisable"))?;
    }
    Ok(())
}
