//! The statistics behind FID-emoji, in plain Rust (f64): mean/covariance, a symmetric
//! eigendecomposition (cyclic Jacobi), the Fréchet distance between two Gaussians, and k-NN
//! manifold precision/recall (Kynkäänniemi et al. 2019), and a binomial interval for accuracies.

/// Mean `[d]` and covariance `[d, d]` (unbiased, n−1) of `n` feature rows of length `d`.
pub fn mean_cov(x: &[f32], d: usize) -> (Vec<f64>, Vec<f64>) {
    let n = x.len() / d;
    let mut mu = vec![0.0; d];
    for r in x.chunks_exact(d) {
        for (m, &v) in mu.iter_mut().zip(r) {
            *m += v as f64;
        }
    }
    mu.iter_mut().for_each(|m| *m /= n.max(1) as f64);
    let mut cov = vec![0.0; d * d];
    for r in x.chunks_exact(d) {
        let c: Vec<f64> = r.iter().zip(&mu).map(|(&v, m)| v as f64 - m).collect();
        for i in 0..d {
            let ci = c[i];
            for j in i..d {
                cov[i * d + j] += ci * c[j];
            }
        }
    }
    let denom = (n.max(2) - 1) as f64;
    for i in 0..d {
        for j in i..d {
            let v = cov[i * d + j] / denom;
            cov[i * d + j] = v;
            cov[j * d + i] = v;
        }
    }
    (mu, cov)
}

/// Eigenvalues and eigenvectors (columns of `v`, row-major `[d, d]`) of a symmetric matrix,
/// by cyclic Jacobi rotations. Accurate to ~1e-12 relative for the 128×128 matrices here.
pub fn sym_eigen(a: &[f64], d: usize) -> (Vec<f64>, Vec<f64>) {
    let mut a = a.to_vec();
    let mut v = vec![0.0; d * d];
    for i in 0..d {
        v[i * d + i] = 1.0;
    }
    let scale: f64 = a.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-300);
    for _sweep in 0..60 {
        let off: f64 = (0..d).flat_map(|i| (0..d).filter(move |&j| j != i).map(move |j| (i, j))).map(|(i, j)| a[i * d + j].powi(2)).sum();
        if off.sqrt() <= 1e-14 * scale {
            break;
        }
        for p in 0..d {
            for q in p + 1..d {
                let apq = a[p * d + q];
                if apq.abs() <= 1e-300 {
                    continue;
                }
                let (app, aqq) = (a[p * d + p], a[q * d + q]);
                let theta = (aqq - app) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                // A ← Jᵀ A J on rows/columns p and q.
                for k in 0..d {
                    let (akp, akq) = (a[k * d + p], a[k * d + q]);
                    a[k * d + p] = c * akp - s * akq;
                    a[k * d + q] = s * akp + c * akq;
                }
                for k in 0..d {
                    let (apk, aqk) = (a[p * d + k], a[q * d + k]);
                    a[p * d + k] = c * apk - s * aqk;
                    a[q * d + k] = s * apk + c * aqk;
                }
                for k in 0..d {
                    let (vkp, vkq) = (v[k * d + p], v[k * d + q]);
                    v[k * d + p] = c * vkp - s * vkq;
                    v[k * d + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..d).map(|i| a[i * d + i]).collect(), v)
}

/// Square root of a symmetric PSD matrix (negative eigenvalues from round-off clamp to 0).
pub fn sqrtm_psd(a: &[f64], d: usize) -> Vec<f64> {
    let (w, v) = sym_eigen(a, d);
    let s: Vec<f64> = w.iter().map(|&x| x.max(0.0).sqrt()).collect();
    let mut out = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..d {
            out[i * d + j] = (0..d).map(|k| v[i * d + k] * s[k] * v[j * d + k]).sum();
        }
    }
    out
}

fn matmul(a: &[f64], b: &[f64], d: usize) -> Vec<f64> {
    let mut out = vec![0.0; d * d];
    for i in 0..d {
        for k in 0..d {
            let aik = a[i * d + k];
            for j in 0..d {
                out[i * d + j] += aik * b[k * d + j];
            }
        }
    }
    out
}

/// Fréchet distance between N(μ1, Σ1) and N(μ2, Σ2):
/// |μ1 − μ2|² + tr Σ1 + tr Σ2 − 2 tr (Σ1^½ Σ2 Σ1^½)^½ (the symmetric form, so only symmetric
/// eigendecompositions are needed).
pub fn frechet_distance(mu1: &[f64], s1: &[f64], mu2: &[f64], s2: &[f64]) -> f64 {
    let d = mu1.len();
    let dm: f64 = mu1.iter().zip(mu2).map(|(a, b)| (a - b).powi(2)).sum();
    let tr = |s: &[f64]| (0..d).map(|i| s[i * d + i]).sum::<f64>();
    let r1 = sqrtm_psd(s1, d);
    let mut m = matmul(&matmul(&r1, s2, d), &r1, d);
    // Symmetrise against round-off before the eigendecomposition.
    for i in 0..d {
        for j in i + 1..d {
            let v = 0.5 * (m[i * d + j] + m[j * d + i]);
            m[i * d + j] = v;
            m[j * d + i] = v;
        }
    }
    let (w, _) = sym_eigen(&m, d);
    let tr_sqrt: f64 = w.iter().map(|&x| x.max(0.0).sqrt()).sum();
    (dm + tr(s1) + tr(s2) - 2.0 * tr_sqrt).max(0.0)
}

fn sq_dist(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Squared distance of each row to its k-th nearest other row (the manifold radius²).
pub fn knn_radii(x: &[f32], d: usize, k: usize) -> Vec<f32> {
    let n = x.len() / d;
    (0..n)
        .map(|i| {
            let mut ds: Vec<f32> = (0..n).filter(|&j| j != i).map(|j| sq_dist(&x[i * d..(i + 1) * d], &x[j * d..(j + 1) * d])).collect();
            if ds.is_empty() {
                return 0.0;
            }
            let kk = k.min(ds.len()) - 1;
            ds.select_nth_unstable_by(kk, |a, b| a.total_cmp(b));
            ds[kk]
        })
        .collect()
}

/// Fraction of `query` rows inside the manifold of `support` (a ball of the given radius² around
/// every support row).
pub fn coverage(query: &[f32], support: &[f32], radii: &[f32], d: usize) -> f64 {
    let nq = query.len() / d;
    if nq == 0 {
        return 0.0;
    }
    let inside = query
        .chunks_exact(d)
        .filter(|q| support.chunks_exact(d).zip(radii).any(|(s, &r)| sq_dist(q, s) <= r))
        .count();
    inside as f64 / nq as f64
}

/// The 95% Wilson score interval of a proportion `correct / total`: an accuracy measured on a
/// fixed set of images carries this much sampling error. `(0, 1)` for an empty set.
pub fn wilson_interval(correct: usize, total: usize) -> (f64, f64) {
    if total == 0 {
        return (0.0, 1.0);
    }
    const Z: f64 = 1.959_963_984_540_054;
    let (n, p) = (total as f64, correct as f64 / total as f64);
    let z2n = Z * Z / n;
    let centre = (p + z2n / 2.0) / (1.0 + z2n);
    let half = Z * (p * (1.0 - p) / n + z2n / (4.0 * n)).sqrt() / (1.0 + z2n);
    ((centre - half).max(0.0), (centre + half).min(1.0))
}
