//! `magnets train-classifier`: train the FID-emoji feature network on the train split (or, with
//! `--train-on all`, on every real image, the way Inception was trained on ImageNet's train set
//! and FID taken on its val set) and report its accuracy on the held-out emoji (overall, per
//! category, per vendor) and, with `--style-test`, on an art style it never saw (every emoji of
//! one vendor): with `--train-on all` that is the only unseen test.

use std::path::PathBuf;

use burn::module::Module;
use magnets::data::{CATEGORIES, DEFAULT_DATASET, EmojiDataset, Split};
use magnets::metrics::DEFAULT_CLASSIFIER;
use magnets::metrics::augment::Augment;
use magnets::metrics::classifier::{Classifier, ClassifierTrainConfig, train};

/// Which real images the classifier learns from.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TrainOn {
    /// The train split; the held-out emoji stay unseen.
    Train,
    /// Train and held-out splits: train and reference images sit alike in the feature space.
    All,
}

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, default_value = DEFAULT_DATASET)]
    pub data: PathBuf,
    #[arg(long, default_value_t = 12)]
    pub epochs: usize,
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    #[arg(long, default_value_t = 2e-3)]
    pub lr: f64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Stop after the epoch that crosses this many minutes.
    #[arg(long)]
    pub max_minutes: Option<f64>,
    /// Start from these classifier weights instead of a random init.
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// A dataset file of one art style never trained on (`magnets data --all-art` writes
    /// data/emoji32-openmoji.safetensors): its category accuracy is reported every epoch.
    #[arg(long)]
    pub style_test: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "train")]
    pub train_on: TrainOn,
    /// Leave this vendor's images out of training and report its accuracy every epoch: a
    /// second unseen art style for choosing settings, so that the `--style-test` set is only
    /// read for the final report.
    #[arg(long)]
    pub hold_out_vendor: Option<String>,
    /// Width multiplier of a fresh classifier's inner convolutions (1 = the shipped size; the
    /// 128 features FID reads stay 128).
    #[arg(long, default_value_t = 1)]
    pub width: usize,
    /// none, geometric (flips and ±2 px shifts) or style (geometric plus vendor-style changes:
    /// size, colour, flat colour, outlines, softness).
    #[arg(long, default_value = "geometric")]
    pub augment: Augment,
    /// Also write a PNG of what the augmentation does: 16 train images (top row) and seven
    /// augmented draws of each below.
    #[arg(long)]
    pub augment_sheet: Option<PathBuf>,
    #[arg(long, default_value = DEFAULT_CLASSIFIER)]
    pub out: PathBuf,
    /// burn device to train on: flex (default), tch (LibTorch, `--features tch`), wgpu, cuda.
    #[arg(long, default_value = "flex")]
    pub device: String,
}

fn accuracy(model: &Classifier, ds: &EmojiDataset, device: &burn::tensor::Device) -> magnets::Result<Vec<u32>> {
    Ok(model.features_and_predictions(&ds.images, device)?.1)
}

/// Images named correctly, then `(correct, total)` per category and per vendor.
fn tally(preds: &[u32], ds: &EmojiDataset) -> (usize, [[usize; 2]; 9], Vec<[usize; 2]>) {
    let mut per = [[0usize; 2]; 9];
    let mut vend = vec![[0usize; 2]; ds.vendors.len()];
    for (i, (p, &l)) in preds.iter().zip(&ds.labels).enumerate() {
        let ok = (*p == l as u32) as usize;
        per[l as usize][0] += ok;
        per[l as usize][1] += 1;
        vend[ds.vendor[i] as usize][0] += ok;
        vend[ds.vendor[i] as usize][1] += 1;
    }
    (per.iter().map(|c| c[0]).sum(), per, vend)
}

/// The fraction of `ds` named correctly.
fn fraction(correct: usize, ds: &EmojiDataset) -> f64 {
    correct as f64 / ds.len().max(1) as f64
}

fn report(title: &str, preds: &[u32], ds: &EmojiDataset) -> magnets::Result<f64> {
    let (correct, per, vend) = tally(preds, ds);
    let total = fraction(correct, ds);
    let (lo, hi) = magnets::metrics::stats::wilson_interval(correct, ds.len());
    outln!("{title}: accuracy {total:.4} [95% interval {lo:.4}, {hi:.4}] ({correct}/{} images)", ds.len())?;
    outln!("| category | correct |\n|---|---:|")?;
    for (c, name) in CATEGORIES.iter().enumerate() {
        outln!("| {name} | {}/{} |", per[c][0], per[c][1])?;
    }
    if ds.vendors.len() > 1 {
        outln!("| vendor | correct |\n|---|---:|")?;
        for (v, name) in ds.vendors.iter().enumerate() {
            outln!("| {name} | {}/{} |", vend[v][0], vend[v][1])?;
        }
    }
    Ok(total)
}

/// The `--augment-sheet` picture: one column per image, the original on top.
fn write_augment_sheet(ds: &EmojiDataset, augment: Augment, out: &std::path::Path) -> magnets::Result<()> {
    const COLUMNS: usize = 16;
    const DRAWS: usize = 7;
    let picks: Vec<usize> = (0..COLUMNS).map(|c| c * ds.len() / COLUMNS).collect();
    let mut rng = 0xA0_u64;
    let mut cells = Vec::with_capacity(COLUMNS * (DRAWS + 1));
    for row in 0..=DRAWS {
        for &i in &picks {
            let im = ds.image(i);
            let px = if row == 0 { im.to_vec() } else { augment.apply(im, &mut rng) };
            cells.push(px.iter().map(|&v| v as f32 / 255.0).collect());
        }
    }
    super::eval::write_image_grid(&cells, COLUMNS, out)
}

pub fn run(a: Args) -> magnets::Result<()> {
    super::common::check_count("--batch", a.batch, 4096)?;
    super::common::check_count("--epochs", a.epochs, 100_000)?;
    if !(1..=magnets::metrics::classifier::MAX_WIDTH).contains(&a.width) {
        return Err(magnets::Error::Other(format!("--width {}: use 1 to {}", a.width, magnets::metrics::classifier::MAX_WIDTH)));
    }
    let ds = EmojiDataset::load(&a.data)?;
    let selection_vendor = match &a.hold_out_vendor {
        Some(name) => Some(ds.vendors.iter().position(|v| v == name).ok_or_else(|| {
            magnets::Error::Other(format!("--hold-out-vendor {name:?}: {} has the vendors {:?}", a.data.display(), ds.vendors))
        })?),
        None => None,
    };
    let of_vendor = |keep: bool| -> Vec<usize> {
        (0..ds.len()).filter(|&i| selection_vendor.is_none_or(|v| (ds.vendor[i] as usize == v) == keep)).collect()
    };
    let selection = selection_vendor.map(|_| ds.subset(&of_vendor(true)));
    let trainable = ds.subset(&of_vendor(false));
    // The held-out emoji of the vendors trained on: a held-out vendor is its own test.
    let ho = trainable.subset(&trainable.indices(Split::HeldOut));
    let tr = match a.train_on {
        TrainOn::Train => trainable.subset(&trainable.indices(Split::Train)),
        TrainOn::All => trainable,
    };
    // How the held-out emoji are labelled: in the final report and in each epoch's line.
    let (held_title, held_tag) = match a.train_on {
        TrainOn::Train => ("held-out emoji (never trained on)", "held-out acc"),
        TrainOn::All => ("held-out emoji (trained on: --train-on all)", "held-out acc (seen)"),
    };
    let style = a.style_test.as_deref().map(EmojiDataset::load).transpose()?;
    if let Some(sheet) = &a.augment_sheet {
        write_augment_sheet(&tr, a.augment, sheet)?;
        eprintln!("wrote {}", sheet.display());
    }
    let cfg = ClassifierTrainConfig {
        epochs: a.epochs,
        batch: a.batch,
        lr: a.lr,
        seed: a.seed,
        augment: a.augment,
        max_minutes: a.max_minutes,
        init: a.init.clone(),
        width: a.width,
        device: super::train_tokenizer::burn_f32_device(&a.device)?,
    };
    // Evaluate where the model trains: a model on one backend cannot read tensors of another.
    let device = cfg.device.clone();
    let bar = indicatif::ProgressBar::new(a.epochs as u64);
    bar.set_style(indicatif::ProgressStyle::with_template("[{elapsed_precise}] {bar:30} epoch {pos}/{len} {msg}").expect("valid template"));
    let t0 = std::time::Instant::now();
    let model = train(&tr.images, &tr.labels, &cfg, |epoch, loss, acc, m| {
        let m = m.valid();
        let score = |d: &EmojiDataset| accuracy(&m, d, &device).map(|p| fraction(tally(&p, d).0, d)).unwrap_or(f64::NAN);
        let held = score(&ho);
        let sel = selection.as_ref().map(|s| format!(" held-out vendor acc {:.3}", score(s))).unwrap_or_default();
        let st = style.as_ref().map(|s| format!(" style-test acc {:.3}", score(s))).unwrap_or_default();
        let st = format!("{sel}{st}");
        bar.set_position(epoch as u64);
        bar.set_message(format!("loss {loss:.3} train acc {acc:.3} {held_tag} {held:.3}{st}"));
        eprintln!("epoch {epoch} loss {loss:.3} train acc {acc:.3} {held_tag} {held:.3}{st} ({:.0} s)", t0.elapsed().as_secs_f64());
    })?;
    bar.finish();
    let model = model.to_device(&device);
    if let Some(dir) = a.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        magnets::files::create_dir(dir)?;
    }
    magnets::files::write(&a.out, model.to_safetensors()?)?;
    let held = report(held_title, &accuracy(&model, &ho, &device)?, &ho)?;
    let selection_acc = match &selection {
        Some(s) => Some(report(&format!("held-out vendor {:?} (never trained on)", a.hold_out_vendor.as_deref().unwrap_or("")), &accuracy(&model, s, &device)?, s)?),
        None => None,
    };
    let style_acc = match &style {
        Some(s) => Some(report(&format!("held-out art style {:?} (every emoji, vendor never trained on)", s.vendors), &accuracy(&model, s, &device)?, s)?),
        None => None,
    };
    outln!("{}", serde_json::json!({"held_out_accuracy": held, "held_out_trained_on": a.train_on == TrainOn::All, "held_out_vendor_accuracy": selection_acc, "style_test_accuracy": style_acc, "train_images": tr.len(), "width": a.width}))?;
    eprintln!("wrote {}", a.out.display());
    Ok(())
}
