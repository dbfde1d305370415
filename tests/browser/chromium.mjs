// How the page tests and scripts/page-bench.mjs start headless Chromium: the binary and its
// flags, with WebGPU (SwiftShader without a GPU) or with WebGPU disabled (the CPU fallback).
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const COMMON = ['--headless=new', '--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];
export const WEBGPU = ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=native'];
export const NO_WEBGPU = ['--disable-blink-features=WebGPU', '--disable-gpu'];
