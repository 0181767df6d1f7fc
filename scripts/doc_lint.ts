// `deno doc --lint` over every published package's entry points: every
// export documented, no private types in public signatures.

const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
const root = new URL("../", import.meta.url).pathname;
const entries: string[] = [];
for (const folder of [".", ...(config.workspace as string[])]) {
  const member = JSON.parse(await Deno.readTextFile(`${root}/${folder}/deno.json`));
  if (!member.name) continue;
  const exports = typeof member.exports === "string" ? { ".": member.exports } : member.exports;
  for (const path of Object.values(exports) as string[]) entries.push(`${folder}/${path}`.replace("/./", "/"));
}
const { code } = await new Deno.Command(Deno.execPath(), { args: ["doc", "--lint", ...entries], cwd: root }).output();
if (code !== 0) {
  // Re-run to show the report.
  await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--lint", ...entries],
    cwd: root,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
}
console.log(code === 0 ? `doc lint clean over ${entries.length} entry points` : "doc lint found problems");
Deno.exit(code);
