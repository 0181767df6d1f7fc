// Writes the files Flint's savers produce for tests/fixtures/make_weight_fixtures.py,
// which loads them with PyTorch (`torch.load(path, weights_only=True)`) and
// records what PyTorch sees. The writers are deterministic, so the tests
// check that today's output is byte-identical to these files, and the
// recorded PyTorch result still applies.
//
//   deno run -A models/io/testdata/write_flint_files.ts tests/fixtures/weights

import * as torch from "@flint/torch";
import { encodePth, encodeSafetensors, type SourceDType, type StateDict } from "@flint/models";

/** The state dict the fixtures are written from: every Flint dtype, a parameter, a tied tensor, odd shapes. */
export function flintStateDict(): StateDict {
  const w = torch.arange(12).reshape(3, 4).mul(0.25).sub(1);
  return {
    "conv.weight": new torch.Parameter(torch.arange(24).reshape(2, 3, 2, 2).div(7)),
    "frozen": new torch.Parameter(torch.tensor([1.5, -2]), false),
    "fc.weight": w,
    "fc.tied": w,
    "double": torch.tensor([1 / 3, -1e300, 5e-324], { dtype: "float64" }),
    "count": torch.tensor([7, -2147483648, 2147483647], { dtype: "int32" }),
    "mask": torch.tensor([true, false, true]),
    "scalar": torch.tensor(3.25),
    "empty": torch.zeros(0, 3),
    "special": torch.tensor([Infinity, -Infinity, NaN, -0, 65504, 1e-8]),
    "half": torch.tensor([0.1, -2.5, 70000, 1e-6]),
    "bhalf": torch.tensor([0.1, -2.5, 3e38, 1e-6]),
    "i32": torch.tensor([1, -1, 100], { dtype: "int32" }),
  };
}

/** The per-key dtypes the fixtures are written with (the rest take the defaults). */
export const FLINT_DTYPES: Record<string, SourceDType> = { half: "float16", bhalf: "bfloat16", i32: "int32" };

if (import.meta.main) {
  const dir = Deno.args[0] ?? "tests/fixtures/weights";
  const sd = flintStateDict();
  await Deno.writeFile(`${dir}/flint_written.pth`, await encodePth(sd, { dtypes: FLINT_DTYPES }));
  await Deno.writeFile(`${dir}/flint_written_zip64.pth`, await encodePth(sd, { dtypes: FLINT_DTYPES, zip64: true }));
  await Deno.writeFile(
    `${dir}/flint_written.safetensors`,
    await encodeSafetensors(sd, { dtypes: FLINT_DTYPES, metadata: { format: "pt", written_by: "flint" } }),
  );
  console.log(`wrote ${dir}/flint_written.pth, flint_written_zip64.pth and flint_written.safetensors`);
}
