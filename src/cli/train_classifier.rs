//! `magnets train-classifier`: train the FID-emoji feature network on the train split and
//! report held-out accuracy (overall and per category).

use std::path::PathBuf;

use magnets::data::{CATEGORIES, DEFAULT_DATASET, EmojiDataset, Split};
use magnets::metrics::DEFAULT_CLASSIFIER;
use burn::module::Module;
use magnets::metrics::classifier::{ClassifierTrainConfig, train};

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
    #[arg(long, default_value = DEFAULT_CLASSIFIER)]
    pub out: PathBuf,
}

pub fn run(a: Args) -> magnets::Result<()> {
    super::common::check_count("--batch", a.batch, 4096)?;
    super::common::check_count("--epochs", a.epochs, 100_000)?;
    let ds = EmojiDataset::load(&a.data)?;
    let tr = ds.subset(&ds.indices(Split::Train));
    let ho = ds.subset(&ds.indices(Split::HeldOut));
    let cfg = ClassifierTrainConfig { epochs: a.epochs, batch: a.batch, lr: a.lr, seed: a.seed, augment: true, max_minutes: a.max_minutes };
    let device = burn::tensor::Device::flex();
    let bar = indicatif::ProgressBar::new(a.epochs as u64);
    bar.set_style(indicatif::ProgressStyle::with_template("[{elapsed_precise}] {bar:30} epoch {pos}/{len} {msg}").expect("valid template"));
    let t0 = std::time::Instant::now();
    let model = train(&tr.images, &tr.labels, &cfg, |epoch, loss, acc, m| {
        let held = m
            .valid()
            .features_and_predictions(&ho.images, &device)
            .map(|(_, p)| p.iter().zip(&ho.labels).filter(|(a, b)| **a == **b as u32).count() as f32 / ho.len() as f32)
            .unwrap_or(f32::NAN);
        bar.set_position(epoch as u64);
        bar.set_message(format!("loss {loss:.3} train acc {acc:.3} held-out acc {held:.3}"));
        eprintln!("epoch {epoch} loss {loss:.3} train acc {acc:.3} held-out acc {held:.3} ({:.0} s)", t0.elapsed().as_secs_f64());
    })?;
    bar.finish();
    let model = model.to_device(&device);
    if let Some(dir) = a.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        magnets::files::create_dir(dir)?;
    }
    magnets::files::write(&a.out, model.to_safetensors()?)?;
    let (_, preds) = model.features_and_predictions(&ho.images, &device)?;
    let mut per = [[0usize; 2]; 9];
    for (p, &l) in preds.iter().zip(&ho.labels) {
        per[l as usize][1] += 1;
        per[l as usize][0] += (*p == l as u32) as usize;
    }
    let total = per.iter().map(|c| c[0]).sum::<usize>() as f64 / ho.len() as f64;
    println!("held-out accuracy {total:.4} ({} images)", ho.len());
    for (c, name) in CATEGORIES.iter().enumerate() {
        println!("| {name} | {}/{} |", per[c][0], per[c][1]);
    }
    eprintln!("wrote {}", a.out.display());
    Ok(())
}
