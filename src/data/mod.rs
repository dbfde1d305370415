//! The emoji dataset (DESIGN §5): 32×32 RGB emoji art from two vendors, 9 category labels and
//! a fixed train / held-out split, stored as one compact safetensors file of `u8` arrays.
//!
//! Pipeline (`magnets data`, [`pipeline::build`]): `npm pack` the two pinned packages, check their
//! SHA-256, read `package/emoji.json` and `package/img/<vendor>/64/*.png` straight from the
//! tarball, composite alpha over white, box-filter 64→32 (once), label, split, write.
//! `magnets data --all-art` ([`pipeline::build_all_art`]) adds six SVG sets ([`iconify`],
//! [`ICONIFY_PACKAGES`]) as further vendors of the same emoji, and writes OpenMoji
//! ([`STYLE_TEST_PACKAGE`]) to a file of its own that only measurements read.
//!
//! Policies (also in docs/RESULTS.md):
//! - **Skin tones**: only the base entries of `emoji.json` are used; every `skin_variations`
//!   image is dropped (they would make "People & Body" ~60% of the data with near-duplicates).
//! - **Categories**: the 9 groups of [`CATEGORIES`]; "Component" (skin-tone swatches, hair
//!   parts) is dropped.
//! - **Split**: held-out iff the first 4 bytes of SHA-256(`short_name`) as a big-endian u32,
//!   mod 10, are 0 (~10%). Every vendor's image of one emoji lands on the same side, and the
//!   split does not depend on the order or on which other emoji exist.

pub mod anim;
pub mod iconify;
pub mod noto_anim;
pub mod pipeline;

use std::collections::HashMap;
use std::path::Path;

use safetensors::{Dtype, SafeTensors, tensor::TensorView};

use crate::error::{Error, Result};

/// Lower-case hex of a SHA-256 digest: how the pinned packages, models/manifest.json and the
/// model-tied JSON files (eval table, palette) name a file's content.
pub fn hex_digest(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// [`hex_digest`] of the SHA-256 of a file, streamed (tarballs and datasets are tens of MB);
/// errors name the file.
pub fn sha256_file(path: &Path) -> Result<String> {
    use sha2::Digest;
    let mut f = std::fs::File::open(path).map_err(|e| Error::Data(format!("cannot open {}: {e}", path.display())))?;
    let mut h = sha2::Sha256::new();
    std::io::copy(&mut f, &mut h).map_err(|e| Error::Data(format!("cannot read {}: {e}", path.display())))?;
    Ok(hex_digest(&h.finalize()))
}

/// [`hex_digest`] of SHA-256(`bytes`).
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex_digest(&sha2::Sha256::digest(bytes))
}

/// The 9 category labels, in label-id order ("Component" is dropped).
pub const CATEGORIES: [&str; 9] = [
    "Smileys & Emotion",
    "People & Body",
    "Animals & Nature",
    "Food & Drink",
    "Travel & Places",
    "Activities",
    "Objects",
    "Symbols",
    "Flags",
];

/// The two PNG art packages, pinned by version and SHA-256 of the `npm pack` tarball.
pub const PACKAGES: [Package; 2] = [
    Package {
        npm_name: "emoji-datasource-twitter",
        version: "16.0.0",
        vendor: "twitter",
        sha256: "f64a530c63bca463bd8317fdc4615ce63a53a0c65018e4ce2d848aaba7a28877",
        credit: "Twemoji graphics © Twitter, Inc. and other contributors",
        licence: "CC-BY-4.0",
    },
    Package {
        npm_name: "emoji-datasource-google",
        version: "16.0.0",
        vendor: "google",
        sha256: "fb5fd131b362aab7a55542d2a147a79708cce0a8b1c1bbacd470172708b5c438",
        credit: "Noto Emoji graphics © Google LLC",
        licence: "Apache-2.0",
    },
];

/// The SVG sets of `magnets data --all-art` (see [`iconify`]), pinned like [`PACKAGES`].
pub const ICONIFY_PACKAGES: [Package; 6] = [
    Package {
        npm_name: "@iconify-json/fluent-emoji-flat",
        version: "1.2.6",
        vendor: "fluent-flat",
        sha256: "7d064769dee690815f823bc5bcc511d957198caf9f5edd8dd9c1aa48a6aeb175",
        credit: "Fluent Emoji (Flat) © Microsoft Corporation",
        licence: "MIT",
    },
    Package {
        npm_name: "@iconify-json/fluent-emoji",
        version: "1.2.7",
        vendor: "fluent-color",
        sha256: "8044210dbf11e016d4de85f15d01a243423bd832457e7e2491df1b751c0e272b",
        credit: "Fluent Emoji (Color) © Microsoft Corporation",
        licence: "MIT",
    },
    Package {
        npm_name: "@iconify-json/noto-v1",
        version: "1.2.5",
        vendor: "noto-v1",
        sha256: "2bf62c26c2c2884aa99e90aec942cdaee17a5921f05690694f4978ad4b017c37",
        credit: "Noto Emoji (v1, the older style) © Google Inc.",
        licence: "Apache-2.0",
    },
    Package {
        npm_name: "@iconify-json/emojione",
        version: "1.2.3",
        vendor: "emojione",
        sha256: "26a14f44284407e8bcde91799388dca2bfd91dbcd55a97f425524a1c5b73610e",
        credit: "Emoji One 2 (Emojitwo) © Ranks.com and the Emojitwo contributors",
        licence: "CC-BY-4.0",
    },
    Package {
        npm_name: "@iconify-json/fxemoji",
        version: "1.2.2",
        vendor: "fxemoji",
        sha256: "f3e72b3c59d05e1db03b7e308d55c0d05bd7ba3f625a90da1b79313c12858eef",
        credit: "Firefox OS Emoji © Mozilla",
        licence: "Apache-2.0",
    },
    Package {
        npm_name: "@iconify-json/streamline-emojis",
        version: "1.2.4",
        vendor: "streamline",
        sha256: "5dac87c876b322500989828c5823143e0100d78881627a2e4081a4b897cbfdbc",
        credit: "Streamline Emojis © Webalys (Streamline)",
        licence: "CC-BY-4.0",
    },
];

/// OpenMoji (CC BY-SA 4.0) is rendered into its own file and used only to *measure* (the FID
/// classifier's accuracy on an art style it never saw): nothing is trained on it, so no shipped
/// weights are an adaptation of share-alike art.
pub const STYLE_TEST_PACKAGE: Package = Package {
    npm_name: "@iconify-json/openmoji",
    version: "1.2.29",
    vendor: "openmoji",
    sha256: "03181e2c156cab35cf4a62f1f7886bd971d59212e75ac3f189d5a4cae3930fc5",
    credit: "OpenMoji © HfG Schwäbisch Gmünd and the OpenMoji contributors",
    licence: "CC-BY-SA-4.0",
};

#[derive(Debug, Clone, Copy)]
pub struct Package {
    pub npm_name: &'static str,
    pub version: &'static str,
    /// The vendor label in the dataset (for the PNG packages also the folder under
    /// `package/img/` and the suffix of the `has_img_*` flag).
    pub vendor: &'static str,
    pub sha256: &'static str,
    /// Copyright line and SPDX licence, for the credits.
    pub credit: &'static str,
    pub licence: &'static str,
}

impl Package {
    /// File name `npm pack` writes (`@scope/name` → `scope-name-VERSION.tgz`).
    pub fn tarball_name(&self) -> String {
        format!("{}-{}.tgz", self.npm_name.trim_start_matches('@').replace('/', "-"), self.version)
    }
}

pub const IMAGE_SIZE: usize = 32;
/// Bytes per image: 32×32 RGB, row-major, channels last (HWC).
pub const IMAGE_BYTES: usize = IMAGE_SIZE * IMAGE_SIZE * 3;
/// Default location of the dataset file.
pub const DEFAULT_DATASET: &str = "data/emoji32.safetensors";
/// `magnets data --all-art`: the two PNG vendors and the six iconify sets (train + held-out).
pub const ALL_ART_DATASET: &str = "data/emoji32-all.safetensors";
/// `magnets data --all-art`: OpenMoji alone, the art style no model is trained on.
pub const STYLE_TEST_DATASET: &str = "data/emoji32-openmoji.safetensors";
const METADATA_KEY: &str = "magnets.dataset";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    Train,
    HeldOut,
}

/// Which side of the split an emoji is on (see the module docs).
pub fn split_of(short_name: &str) -> Split {
    use sha2::Digest;
    let h = sha2::Sha256::digest(short_name.as_bytes());
    if u32::from_be_bytes([h[0], h[1], h[2], h[3]]) % 10 == 0 { Split::HeldOut } else { Split::Train }
}

/// The whole dataset in memory. Images are `[N, 32, 32, 3]` u8 (HWC).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EmojiDataset {
    pub images: Vec<u8>,
    /// Category id (index into [`CATEGORIES`]).
    pub labels: Vec<u8>,
    /// 0 = train, 1 = held-out.
    pub split: Vec<u8>,
    /// Index into `vendors`.
    pub vendor: Vec<u8>,
    pub vendors: Vec<String>,
    /// `short_name` of each image.
    pub names: Vec<String>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Meta {
    categories: Vec<String>,
    vendors: Vec<String>,
    names: Vec<String>,
}

impl EmojiDataset {
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
    /// The `i`-th image, 3072 bytes HWC.
    pub fn image(&self, i: usize) -> &[u8] {
        &self.images[i * IMAGE_BYTES..(i + 1) * IMAGE_BYTES]
    }
    /// Indices of the images on one side of the split.
    pub fn indices(&self, split: Split) -> Vec<usize> {
        let want = (split == Split::HeldOut) as u8;
        (0..self.len()).filter(|&i| self.split[i] == want).collect()
    }
    /// A dataset of the given images (in that order).
    pub fn subset(&self, idx: &[usize]) -> EmojiDataset {
        let mut out = EmojiDataset { vendors: self.vendors.clone(), ..Default::default() };
        for &i in idx {
            out.images.extend_from_slice(self.image(i));
            out.labels.push(self.labels[i]);
            out.split.push(self.split[i]);
            out.vendor.push(self.vendor[i]);
            out.names.push(self.names[i].clone());
        }
        out
    }

    /// Count per (category, split): `[category][0 = train, 1 = held-out]`.
    pub fn counts(&self) -> [[usize; 2]; 9] {
        let mut c = [[0; 2]; 9];
        for i in 0..self.len() {
            c[self.labels[i] as usize][self.split[i] as usize] += 1;
        }
        c
    }

    pub fn validate(&self) -> Result<()> {
        let n = self.labels.len();
        if self.images.len() != n * IMAGE_BYTES
            || self.split.len() != n
            || self.vendor.len() != n
            || self.names.len() != n
        {
            return Err(Error::Data(format!("dataset arrays disagree on the image count ({n} labels)")));
        }
        check_labels_and_split(&self.labels, &self.split)?;
        if self.vendor.iter().any(|&v| v as usize >= self.vendors.len()) {
            return Err(Error::Data("vendor index out of range".into()));
        }
        Ok(())
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        self.validate()?;
        let n = self.len();
        let meta = Meta {
            categories: CATEGORIES.iter().map(|s| s.to_string()).collect(),
            vendors: self.vendors.clone(),
            names: self.names.clone(),
        };
        let arrays = [
            ("images", vec![n, IMAGE_SIZE, IMAGE_SIZE, 3], &self.images[..]),
            ("labels", vec![n], &self.labels),
            ("split", vec![n], &self.split),
            ("vendor", vec![n], &self.vendor),
        ];
        u8_arrays_to_bytes(&arrays, METADATA_KEY, &meta)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let (st, meta): (_, Meta) = u8_arrays_from_bytes(bytes, METADATA_KEY)?;
        if meta.categories != CATEGORIES {
            return Err(Error::Data("dataset was built with other category names".into()));
        }
        let get = |k: &str| u8_array(&st, k);
        let ds = EmojiDataset {
            images: get("images")?,
            labels: get("labels")?,
            split: get("split")?,
            vendor: get("vendor")?,
            vendors: meta.vendors,
            names: meta.names,
        };
        ds.validate()?;
        Ok(ds)
    }

    pub fn load(path: &Path) -> Result<Self> {
        let bytes = crate::files::read_capped(path, 1 << 30)
            .map_err(|e| Error::Data(format!("{} (run `magnets data` first)", e.detail())))?;
        Self::from_bytes(&bytes).map_err(|e| Error::Data(format!("{}: {e}", path.display())))
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        write_file_atomic(path, &self.to_bytes()?)
    }
}

/// Every label is a category id and every split value 0 or 1.
pub fn check_labels_and_split(labels: &[u8], split: &[u8]) -> Result<()> {
    if let Some(l) = labels.iter().find(|&&l| l as usize >= CATEGORIES.len()) {
        return Err(Error::Data(format!("label {l} is not a category id (0..9)")));
    }
    if split.iter().any(|&s| s > 1) {
        return Err(Error::Data("split values must be 0 (train) or 1 (held-out)".into()));
    }
    Ok(())
}

/// Writes `bytes` to `path` (creating its folder) by writing a temporary file and renaming it,
/// so an interrupted run never leaves a half file that looks done.
pub fn write_file_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(|e| Error::Data(format!("cannot write {}: {e}", tmp.display())))?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// A safetensors file of named `u8` arrays `(name, shape, data)` with one JSON metadata entry.
pub fn u8_arrays_to_bytes(arrays: &[(&str, Vec<usize>, &[u8])], meta_key: &str, meta: &impl serde::Serialize) -> Result<Vec<u8>> {
    let views = arrays
        .iter()
        .map(|(k, s, d)| Ok((k.to_string(), TensorView::new(Dtype::U8, s.clone(), d).map_err(|e| Error::Data(format!("array `{k}`: {e}")))?)))
        .collect::<Result<Vec<_>>>()?;
    let mut md = HashMap::new();
    md.insert(meta_key.to_string(), serde_json::to_string(meta).expect("serialisable"));
    safetensors::serialize(views, Some(md)).map_err(|e| Error::Data(format!("serialise dataset: {e}")))
}

/// The inverse of [`u8_arrays_to_bytes`]: the tensors and the parsed `meta_key` metadata.
pub fn u8_arrays_from_bytes<'a, M: serde::de::DeserializeOwned>(bytes: &'a [u8], meta_key: &str) -> Result<(SafeTensors<'a>, M)> {
    let st = SafeTensors::deserialize(bytes).map_err(|e| Error::Data(format!("not a dataset file: {e}")))?;
    let (_, md) = SafeTensors::read_metadata(bytes).map_err(|e| Error::Data(format!("not a dataset file: {e}")))?;
    let meta = md
        .metadata()
        .as_ref()
        .and_then(|m| m.get(meta_key))
        .ok_or_else(|| Error::Data(format!("no `{meta_key}` metadata")))
        .and_then(|s| serde_json::from_str(s).map_err(|e| Error::Data(format!("bad `{meta_key}` metadata: {e}"))))?;
    Ok((st, meta))
}

/// One `u8` array of a dataset file, by name.
pub fn u8_array(st: &SafeTensors, k: &str) -> Result<Vec<u8>> {
    let t = st.tensor(k).map_err(|_| Error::Data(format!("missing array `{k}`")))?;
    if t.dtype() != Dtype::U8 {
        return Err(Error::Data(format!("array `{k}` is {:?}, expected U8", t.dtype())));
    }
    Ok(t.data().to_vec())
}

/// Images (HWC u8) → f32 in [0, 1], channels first `[N, 3, 32, 32]` (the layout the burn
/// models take).
pub fn to_chw_f32(images: &[u8]) -> Vec<f32> {
    let n = images.len() / IMAGE_BYTES;
    let hw = IMAGE_SIZE * IMAGE_SIZE;
    let mut out = vec![0.0; images.len()];
    for i in 0..n {
        for p in 0..hw {
            for c in 0..3 {
                out[i * IMAGE_BYTES + c * hw + p] = images[i * IMAGE_BYTES + p * 3 + c] as f32 / 255.0;
            }
        }
    }
    out
}

/// Loads every `*.png` in a folder (sorted by name) as 32×32 RGB (alpha over white; other
/// sizes that are a multiple of 32 are box-filtered down). Used by `eval-images`.
pub fn load_png_dir(dir: &Path) -> Result<(Vec<String>, Vec<u8>)> {
    let rd = std::fs::read_dir(dir).map_err(|e| Error::Data(format!("cannot read folder {}: {e}", dir.display())))?;
    let mut paths: Vec<_> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("png")))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(Error::Data(format!("no .png files in {}", dir.display())));
    }
    let mut names = Vec::new();
    let mut images = Vec::with_capacity(paths.len() * IMAGE_BYTES);
    for p in paths {
        let bytes = crate::files::read_capped(&p, 16 * crate::files::MIB).map_err(|e| Error::Data(e.detail()))?;
        images.extend_from_slice(&pipeline::decode_png_32(&bytes, &p.display().to_string())?);
        names.push(p.file_name().unwrap_or_default().to_string_lossy().into_owned());
    }
    Ok((names, images))
}

/// Writes a HWC u8 RGB image as PNG.
pub fn write_png(path: &Path, rgb: &[u8], width: u32, height: u32) -> Result<()> {
    image::save_buffer(path, rgb, width, height, image::ExtendedColorType::Rgb8)
        .map_err(|e| Error::Data(format!("cannot write {}: {e}", path.display())))
}
