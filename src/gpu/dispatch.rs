//! A recorded dispatch and its parameter block, kept apart from wgpu so that what a step
//! dispatches can be built and checked without a device.

use super::params::KernelParams;

/// Every kernel binds the same five slots: 0 = per-dispatch parameters (uniform, dynamic
/// offset, up to this many bytes), 1..=3 = read-only storage, 4 = the read-write output.
pub const PARAM_BYTES: usize = 128;

/// Workgroups per grid dimension we use at most (the WebGPU default limit is 65535).
pub const MAX_GROUPS_PER_DIM: u32 = 65_535;

/// Declares a fieldless enum whose variants index a table (pipelines, bind groups), with
/// `ALL` in index order and a human name per variant (for profiles and labels).
macro_rules! slots {
    ($(#[$m:meta])* $vis:vis enum $name:ident { $($(#[$vm:meta])* $variant:ident = $label:literal,)* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        $vis enum $name { $($(#[$vm])* $variant,)* }
        impl $name {
            /// Every variant, in table order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];
            pub fn name(self) -> &'static str {
                match self { $($name::$variant => $label,)* }
            }
        }
        impl From<$name> for usize {
            fn from(v: $name) -> usize {
                v as usize
            }
        }
    };
}
pub(crate) use slots;

/// One kernel's parameters, zero-padded to the uniform slot size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParamBlock([u8; PARAM_BYTES]);

impl ParamBlock {
    pub fn of<P: KernelParams>(params: &P) -> Self {
        const { assert!(std::mem::size_of::<P>() <= PARAM_BYTES) };
        let mut block = [0u8; PARAM_BYTES];
        block[..std::mem::size_of::<P>()].copy_from_slice(bytemuck::bytes_of(params));
        ParamBlock(block)
    }

    /// The parameters back as `P` (for tests and debugging).
    pub fn read<P: KernelParams>(&self) -> P {
        bytemuck::pod_read_unaligned(&self.0[..std::mem::size_of::<P>()])
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// A recorded dispatch: which kernel, which bind group, its parameters, how many workgroups,
/// and the FLOPs (2 × multiply-adds) it performs.
#[derive(Clone, Debug)]
pub struct Dispatch<K, G> {
    pub kernel: K,
    pub group: G,
    pub params: ParamBlock,
    pub groups: (u32, u32, u32),
    pub flops: u64,
}

impl<K, G> Dispatch<K, G> {
    pub fn new<P: KernelParams>(kernel: K, group: G, params: &P, groups: (u32, u32, u32)) -> Self {
        Dispatch { kernel, group, params: ParamBlock::of(params), groups, flops: 0 }
    }

    /// A 1-D count of workgroups, folded by [`grid`].
    pub fn linear<P: KernelParams>(kernel: K, group: G, params: &P, workgroups: u32) -> Self {
        let (x, y) = grid(workgroups);
        Self::new(kernel, group, params, (x, y, 1))
    }

    pub fn with_flops(self, flops: u64) -> Self {
        Dispatch { flops, ..self }
    }
}

/// The parameter blocks of `dispatches` laid out for one upload, each at a multiple of
/// `align` bytes (the device's dynamic uniform offset alignment): dispatch i binds offset i·align.
pub fn pack_params<K, G>(dispatches: &[Dispatch<K, G>], align: usize) -> Vec<u8> {
    debug_assert!(align >= PARAM_BYTES);
    let len = match dispatches.len() {
        0 => 0,
        n => (n - 1) * align + PARAM_BYTES,
    };
    let mut out = vec![0u8; len];
    for (i, d) in dispatches.iter().enumerate() {
        out[i * align..i * align + PARAM_BYTES].copy_from_slice(d.params.bytes());
    }
    out
}

/// A 1-D count of workgroups folded into (x, y) within the per-dimension limit; kernels
/// recover the linear index as `wid.y · nwg.x + wid.x` and bounds-check.
pub fn grid(groups: u32) -> (u32, u32) {
    let groups = groups.max(1);
    if groups <= MAX_GROUPS_PER_DIM { (groups, 1) } else { (MAX_GROUPS_PER_DIM, groups.div_ceil(MAX_GROUPS_PER_DIM)) }
}
