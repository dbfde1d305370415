//! Where a run trains (`--device`), and building or resuming a trainer there.

use magnets::reference::MatmulPrecision;
use magnets::train::{TrainLoop, TrainOptions, Trainer};
use magnets::weights::Weights;

/// Where a run trains: a burn device (the reference trainer), or LibTorch's own autograd
/// (`torch`), each with the precision of its matmuls.
pub enum TrainDevice {
    Burn(burn::tensor::Device, MatmulPrecision),
    #[cfg_attr(not(feature = "tch"), allow(dead_code))]
    Torch(MatmulPrecision),
}

impl TrainDevice {
    /// A `--device` value, e.g. `flex`, `tch-bf16` (burn on LibTorch, bf16 matmuls with f32
    /// master weights), `torch-bf16` (LibTorch's autograd and fused kernels), `wgpu`, `cuda`.
    pub fn parse(spec: &str) -> magnets::Result<TrainDevice> {
        let (name, precision) = match spec.strip_suffix("-bf16") {
            Some(name) => (name, MatmulPrecision::Bf16),
            None => (spec, MatmulPrecision::F32),
        };
        let needs_tch = |flag: &str| {
            magnets::Error::Other(format!("--device {flag} needs a build with `--features tch` (scripts/magnets-fast.sh; README, \"Training\")"))
        };
        let device = match name {
            "flex" | "cpu" => burn::tensor::Device::flex(),
            "wgpu" => burn::tensor::Device::wgpu(burn::tensor::DeviceKind::DefaultDevice),
            #[cfg(feature = "cuda")]
            "cuda" => burn::tensor::Device::cuda(0),
            #[cfg(not(feature = "cuda"))]
            "cuda" => return Err(magnets::Error::Other("--device cuda needs a build with `--features cuda`".into())),
            // burn-tch is deprecated upstream; kept as a comparison point for `torch`.
            #[cfg(feature = "tch")]
            #[allow(deprecated)]
            "tch" => burn::tensor::Device::libtorch(),
            #[cfg(feature = "tch")]
            "torch" => return Ok(TrainDevice::Torch(precision)),
            #[cfg(not(feature = "tch"))]
            "tch" | "torch" => return Err(needs_tch(name)),
            other => {
                return Err(magnets::Error::Other(format!(
                    "--device `{other}`: use flex, torch, tch, wgpu or cuda, optionally with -bf16 (e.g. torch-bf16)"
                )));
            }
        };
        let _ = needs_tch;
        Ok(TrainDevice::Burn(device, precision))
    }

    /// A fresh trainer from `weights` on this device.
    pub fn new_trainer(&self, weights: &Weights, options: TrainOptions) -> magnets::Result<Box<dyn TrainLoop>> {
        match self {
            TrainDevice::Burn(dev, precision) => {
                let mut t = Trainer::new(weights, options, dev.clone())?;
                t.precision = *precision;
                Ok(Box::new(t))
            }
            #[cfg(feature = "tch")]
            TrainDevice::Torch(precision) => Ok(Box::new(magnets::train::torch::TorchTrainer::new(weights, options, *precision)?)),
            #[cfg(not(feature = "tch"))]
            TrainDevice::Torch(_) => unreachable!("`parse` refuses torch without the tch feature"),
        }
    }

    /// A trainer resumed from the checkpoint in `dir` (either trainer's).
    pub fn resume_trainer(&self, dir: &std::path::Path) -> magnets::Result<Box<dyn TrainLoop>> {
        match self {
            TrainDevice::Burn(dev, precision) => {
                let mut t = Trainer::load_checkpoint(dir, None, dev.clone())?;
                t.precision = *precision;
                Ok(Box::new(t))
            }
            #[cfg(feature = "tch")]
            TrainDevice::Torch(precision) => Ok(Box::new(magnets::train::torch::TorchTrainer::load_checkpoint(dir, None, *precision)?)),
            #[cfg(not(feature = "tch"))]
            TrainDevice::Torch(_) => unreachable!("`parse` refuses torch without the tch feature"),
        }
    }
}
