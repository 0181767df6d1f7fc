// Prints the WebGPU adapter Deno finds, or exits 1 when there is none: CI
// uses it to decide whether Mesa's software Vulkan driver must be installed.

const adapter = await navigator.gpu?.requestAdapter();
if (!adapter) {
  console.error("no WebGPU adapter");
  Deno.exit(1);
}
console.log(
  `WebGPU adapter: ${adapter.info.description || adapter.info.vendor} (fallback: ${adapter.info.isFallbackAdapter})`,
);
