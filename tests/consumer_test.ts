// The consumer check: a project outside the workspace imports the packages by
// their published names (`jsr:@flint/...`, linked to these folders with
// deno.json's "links", as a JSR install would resolve them with each
// package's own import map), type-checks and runs.

import assert from "node:assert/strict";

const root = new URL("../", import.meta.url).pathname;
const config = JSON.parse(await Deno.readTextFile(`${root}/deno.json`));
const packages = [".", ...(config.workspace as string[])].filter((folder) => {
  const member = JSON.parse(Deno.readTextFileSync(`${root}/${folder}/deno.json`));
  return typeof member.name === "string";
});

Deno.test("a project outside the workspace imports @flint packages by their published names, checks and runs", async () => {
  const dir = await Deno.makeTempDir({ prefix: "flint-consumer-" });
  try {
    await Deno.writeTextFile(
      `${dir}/deno.json`,
      JSON.stringify({
        imports: { "@flint/torch": "jsr:@flint/torch@^0.1.0", "@flint/models": "jsr:@flint/models@^0.1.0" },
        links: packages.map((folder) => `${root}/${folder}`),
      }),
    );
    await Deno.copyFile(new URL("./consumer/main.ts", import.meta.url), `${dir}/main.ts`);
    const deno = (args: string[]) =>
      new Deno.Command(Deno.execPath(), { args, cwd: dir, stdout: "piped", stderr: "piped" }).output();
    const check = await deno(["check", "main.ts"]);
    assert.equal(check.code, 0, new TextDecoder().decode(check.stderr));
    const run = await deno(["run", "-A", "main.ts"]);
    assert.equal(run.code, 0, new TextDecoder().decode(run.stderr));
    const result = JSON.parse(new TextDecoder().decode(run.stdout).trim().split("\n").at(-1)!);
    assert.deepEqual(result, { fell: true, logits: [1, 3], keys: ["0.weight", "0.bias", "2.weight", "2.bias"] });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
