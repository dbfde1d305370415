//! The transformer engine's buffers, created once for `max_batch` sequences, and which of
//! them each [`Stage`] binds.

use super::context::GpuContext;
use super::limits::Footprint;
use super::readback::readback_buffer;
use super::record::Stage;

pub struct EngineBuffers {
    pub weights: wgpu::Buffer,
    /// The step's row index ([`super::record::RecordedStep::index`]).
    pub index: wgpu::Buffer,
    pub x: wgpu::Buffer,
    pub a: wgpu::Buffer,
    pub o: wgpu::Buffer,
    pub h: wgpu::Buffer,
    /// `[K cache (L·B·S·D) | V cache (L·B·S·D) | q (B·S·D)]`, B = max_batch.
    pub kvq: wgpu::Buffer,
    pub logits: wgpu::Buffer,
    pub staging: wgpu::Buffer,
    pub proposals: wgpu::Buffer,
    /// Two, so that a step submitted ahead can copy its proposals while the host maps the last one's.
    pub proposals_staging: [wgpu::Buffer; 2],
    /// `[ids by position | the next step's index]` of a decode that runs ahead of the host.
    pub look_ahead: wgpu::Buffer,
}

impl EngineBuffers {
    pub fn new(ctx: &GpuContext, fp: &Footprint) -> Self {
        let none = wgpu::BufferUsages::empty();
        let src = wgpu::BufferUsages::COPY_SRC;
        let storage = |label, bytes, extra| ctx.storage_buffer(label, bytes, extra);
        EngineBuffers {
            weights: storage("weights", fp.weights, none),
            index: storage("row index", fp.index, none),
            x: storage("x", fp.hidden, none),
            a: storage("a", fp.hidden, none),
            o: storage("o", fp.hidden, none),
            h: storage("h", fp.mlp, none),
            kvq: storage("k/v cache + q", fp.kvq, none),
            logits: storage("logits", fp.logits, src),
            staging: readback_buffer(&ctx.device, "logits readback", fp.logits),
            proposals: storage("proposals", fp.proposals, src),
            proposals_staging: [0, 1].map(|_| readback_buffer(&ctx.device, "proposals readback", fp.proposals)),
            look_ahead: storage("look-ahead", fp.look_ahead, src),
        }
    }

    /// The storage buffers `stage` binds at bindings 1..=4 (the last one is written).
    pub fn bound(&self, stage: Stage) -> [&wgpu::Buffer; 4] {
        let (w, i) = (&self.weights, &self.index);
        match stage {
            Stage::Embed => [w, w, i, &self.x],
            Stage::FinalNorm => [w, &self.x, i, &self.a],
            Stage::Qkv => [w, &self.x, i, &self.kvq],
            Stage::Attention => [&self.kvq, &self.kvq, &self.kvq, &self.o],
            Stage::Wo => [w, &self.o, i, &self.x],
            Stage::W1 => [w, &self.x, i, &self.h],
            Stage::W2 => [w, &self.h, i, &self.x],
            Stage::Head => [w, &self.a, i, &self.logits],
            Stage::Sample => [&self.logits, &self.logits, i, &self.proposals],
            Stage::Advance => [&self.proposals, &self.proposals, i, &self.look_ahead],
        }
    }
}
