// `deno publish --dry-run` for every package of the workspace. A workspace
// root that is itself a package (@flint/torch) only publishes itself, so the
// members are checked from their own folders.

const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
const root = new URL("../", import.meta.url).pathname;
const folders = [".", ...(config.workspace as string[])];
let failed = 0;
for (const folder of folders) {
  const member = JSON.parse(await Deno.readTextFile(`${root}/${folder}/deno.json`));
  if (!member.name) continue; // tests/, bench/, examples/ are not published
  const extra = Deno.args.includes("--allow-dirty") ? ["--allow-dirty"] : [];
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["publish", "--dry-run", ...extra],
    cwd: `${root}/${folder}`,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  const ok = code === 0;
  if (!ok) failed++;
  console.log(`${ok ? "ok  " : "FAIL"} ${member.name}@${member.version} (${folder})`);
  if (!ok) console.log(text);
}
Deno.exit(failed === 0 ? 0 : 1);
