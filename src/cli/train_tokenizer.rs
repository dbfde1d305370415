//! `magnets train-tokenizer`: train the VQ autoencoder on the train split (CPU, burn-flex with
//! autodiff), resuming from the checkpoint folder if it holds a checkpoint, then write the
//! shipped f16 weights and print held-out PSNR and codebook usage.

use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};
use magnets::data::{DEFAULT_DATASET, EmojiDataset, Split, to_chw_f32};
use magnets::tokenizer::TokenizerConfig;
use magnets::tokenizer::model::Tokenizer;
use magnets::tokenizer::train::{TrainConfig, Trainer, evaluate};
use magnets::weights::StoredDtype;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, default_value = DEFAULT_DATASET)]
    pub data: PathBuf,
    #[arg(long, default_value_t = 1500)]
    pub steps: usize,
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, default_value_t = 512)]
    pub codebook: usize,
    #[arg(long, default_value_t = 32)]
    pub code_dim: usize,
    #[arg(long, default_value_t = 128)]
    pub hidden: usize,
    /// Checkpoint folder (resumes from it when it holds a checkpoint).
    #[arg(long, default_value = "data/tokenizer-ckpt")]
    pub checkpoint_dir: PathBuf,
    #[arg(long, default_value_t = 100)]
    pub checkpoint_every: usize,
    /// Stop and save after this many minutes.
    #[arg(long)]
    pub max_minutes: Option<f64>,
    /// Shipped weights (f16).
    #[arg(long, default_value = "models/tokenizer.safetensors")]
    pub out: PathBuf,
    /// Start from these weights (e.g. models/tokenizer.safetensors) instead of a random init.
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// burn device to train on: flex (default), tch (LibTorch's conv kernels, `--features
    /// tch`), wgpu, cuda.
    #[arg(long, default_value = "flex")]
    pub device: String,
    /// Log a line every N steps (for runs whose stderr is a file).
    #[arg(long, default_value_t = 25)]
    pub log_every: usize,
}

/// A `--device` for the convolutional trainers (tokenizer, classifier): a burn device in f32.
pub fn burn_f32_device(spec: &str) -> magnets::Result<burn::tensor::Device> {
    use super::train::device::TrainDevice;
    match TrainDevice::parse(spec)? {
        TrainDevice::Burn(d, magnets::reference::MatmulPrecision::F32) => Ok(d),
        _ => Err(magnets::Error::Other(format!("--device {spec}: this trainer runs on a burn device in f32 (flex, tch, wgpu, cuda)"))),
    }
}

pub fn run(a: Args) -> magnets::Result<()> {
    use super::common::check_count;
    check_count("--batch", a.batch, 4096)?;
    check_count("--checkpoint-every", a.checkpoint_every, usize::MAX)?;
    check_count("--log-every", a.log_every, usize::MAX)?;
    let ds = EmojiDataset::load(&a.data)?;
    let train = ds.subset(&ds.indices(Split::Train));
    let held = ds.subset(&ds.indices(Split::HeldOut));
    let config = TokenizerConfig { codebook: a.codebook, code_dim: a.code_dim, hidden: a.hidden, ..Default::default() };
    config.validate().map_err(|e| magnets::Error::Weights(format!("--codebook/--code-dim/--hidden: {}", e.detail())))?;
    let tc = TrainConfig {
        steps: a.steps,
        batch: a.batch,
        lr: a.lr,
        seed: a.seed,
        checkpoint_dir: a.checkpoint_dir.clone(),
        checkpoint_every: a.checkpoint_every,
        max_minutes: a.max_minutes,
        init: a.init.clone(),
        ..Default::default()
    };
    let train_device = burn_f32_device(&a.device)?;
    let device = burn::tensor::Device::flex();
    let mut trainer = Trainer::new(config.clone(), tc, &train_device.autodiff())?;
    let bar = ProgressBar::new(a.steps as u64);
    bar.set_style(
        ProgressStyle::with_template("[{elapsed_precise}] {bar:30} {pos}/{len} {msg} (eta {eta})")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_position(trainer.state.step as u64);
    let train_chw = to_chw_f32(&train.images);
    let (mut ema_loss, mut ema_psnr, mut ema_ppl) = (0.0f32, 0.0f32, 0.0f32);
    let t0 = std::time::Instant::now();
    let first = trainer.state.step;
    trainer.run(&train_chw, |step, s| {
        let w = if step == first + 1 { 1.0 } else { 0.05 };
        ema_loss += w * (s.loss - ema_loss);
        ema_psnr += w * (s.psnr - ema_psnr);
        ema_ppl += w * (s.perplexity - ema_ppl);
        bar.set_position(step as u64);
        bar.set_message(format!("loss {ema_loss:.4} psnr {ema_psnr:.1} dB ppl {ema_ppl:.0}"));
        if step % a.log_every == 0 {
            eprintln!(
                "step {step} loss {ema_loss:.4} psnr {ema_psnr:.2} ppl {ema_ppl:.0} used/batch {} ({:.2} s/step)",
                s.used_in_batch,
                t0.elapsed().as_secs_f64() / (step - first) as f64
            );
        }
    })?;
    bar.finish();
    eprintln!("codebook restarts so far: {}", trainer.state.restarts);
    let w = trainer.weights()?;
    if let Some(dir) = a.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        magnets::files::create_dir(dir)?;
    }
    w.save(&a.out, StoredDtype::F16)?;
    // Evaluate the shipped (f16) file, i.e. what everybody else will use.
    let shipped = magnets::tokenizer::TokenizerWeights::load(&a.out)?;
    let tok = Tokenizer::new(&shipped, &device);
    let (ho, _, _) = evaluate(&tok, &to_chw_f32(&held.images))?;
    let (tr, _, _) = evaluate(&tok, &train_chw)?;
    outln!("{}", serde_json::json!({"step": trainer.state.step, "held_out": ho, "train": tr, "restarts": trainer.state.restarts}))?;
    eprintln!("wrote {}", a.out.display());
    Ok(())
}
