//! The burn model's parameters under their DESIGN §2 names. A parameter's name is its field
//! path (`blocks.0.attn.wq`: field `blocks`, element 0, field `attn`, field `wq`), so loading
//! and saving walk the module structure; no list of names is written out here.

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor, TensorData};

use crate::error::{Error, Result};
use crate::weights::{HostTensor, Weights};

/// Where parameters are loaded from: validated weights, onto a device.
pub struct Source<'a> {
    pub weights: &'a Weights,
    pub device: &'a Device,
}

impl Source<'_> {
    /// Whether any tensor is named `path` or sits under it.
    fn has(&self, path: &str) -> bool {
        self.weights.tensors.keys().any(|k| k.strip_prefix(path).is_some_and(|rest| rest.is_empty() || rest.starts_with('.')))
    }
}

/// A module (or parameter) built from the tensors at and under `path`.
pub trait Load: Sized {
    fn load(src: &Source<'_>, path: &str) -> Self;
}

impl<const D: usize> Load for Param<Tensor<D>> {
    fn load(src: &Source<'_>, path: &str) -> Self {
        let t = src.weights.get(path);
        Param::from_tensor(Tensor::from_data(TensorData::new(t.data.clone(), t.shape.clone()), src.device))
    }
}

/// Elements `path.0`, `path.1`, … for as long as the weights hold them.
impl<T: Load> Load for Vec<T> {
    fn load(src: &Source<'_>, path: &str) -> Self {
        (0..).map(|i| format!("{path}.{i}")).take_while(|p| src.has(p)).map(|p| T::load(src, &p)).collect()
    }
}

/// `path.field` (just `field` at the top level).
pub fn child(path: &str, field: &str) -> String {
    if path.is_empty() { field.to_string() } else { format!("{path}.{field}") }
}

/// Declares a burn module and its [`Load`], which reads field `f` from `path.f`: the path under
/// which burn's visitors, and so [`named_tensors`], see that field. Each field is written once.
macro_rules! named_module {
    ($(#[$meta:meta])* pub struct $name:ident { $($(#[$fmeta:meta])* pub $field:ident: $ty:ty,)* }) => {
        $(#[$meta])*
        #[derive(burn::module::Module, Debug)]
        pub struct $name {
            $($(#[$fmeta])* pub $field: $ty,)*
        }

        impl $crate::reference::named::Load for $name {
            fn load(src: &$crate::reference::named::Source<'_>, path: &str) -> Self {
                use $crate::reference::named::{Load, child};
                $name { $($field: Load::load(src, &child(path, stringify!($field))),)* }
            }
        }
    };
}
pub(crate) use named_module;

/// Every float parameter of `module` with its name, in module order.
pub fn named_tensors<M: Module>(module: &M) -> Result<Vec<(String, HostTensor)>> {
    let mut save = Save { path: Vec::new(), out: Vec::new() };
    module.visit(&mut save);
    save.out.into_iter().map(|(name, t)| Ok((name, t?))).collect()
}

struct Save {
    path: Vec<String>,
    out: Vec<(String, Result<HostTensor>)>,
}

impl ModuleVisitor for Save {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let data = param.val().into_data();
        let shape = data.shape().to_vec();
        let host = data
            .try_to_vec::<f32>()
            .map(|v| HostTensor::new(shape, v))
            .map_err(|e| Error::Engine(format!("read parameter: {e:?}")));
        self.out.push((self.path.join("."), host));
    }
}
